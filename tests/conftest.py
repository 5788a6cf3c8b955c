from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from .e2e.widget import WIDGET_SIZES, build_widget
from .postgres_server import PostgresServer
from .redis_server import RedisServer
from .support import LiveServer, make_settings

# Markers by where a test lives, so that `pytest -m "not e2e and not slow"` is the quick loop:
# e2e, a real Chromium; slow, several server processes, command-line processes, fuzzing or
# load runs.
TESTS = Path(__file__).resolve().parent
E2E = ("e2e/",)
SLOW = ("loadtests/", "test_cluster.py", "test_cluster_cobrowse.py", "test_hosts.py", "test_cli.py",
        "test_cli_customers.py", "test_logs.py", "http/test_schemathesis.py", "test_signals.py",
        "test_start_dependencies.py", "test_migrate.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        where = item.path.relative_to(TESTS).as_posix()
        if where.startswith(E2E):
            item.add_marker(pytest.mark.e2e)
        if where.startswith(SLOW):
            item.add_marker(pytest.mark.slow)


def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory shared by every process of this test run: an xdist worker's base temporary
    directory is inside the run's."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def widget_built(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The front ends built from the current sources, once per run."""
    build_widget(run_dir(tmp_path_factory))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.flush()
    return redis_server.url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of this test process's own (tests/postgres_server.py)."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a new, empty database of the test's own."""
    return postgres_server.new_database()


# Which backends a test's server runs on. The rule: a test runs on every backend (mark it
# ``both_backends``, a module with ``pytestmark``) when what it checks goes through the routing
# state, presence, the event bus or the database's writes under several processes, whose
# implementations differ: routing and the queue, presence, grace periods and reconnects, delivery
# of events to other connections, the co-browse relay, readiness. Those run on the embedded
# backend (memory + SQLite), on Redis with the SQLite file, and on Redis with PostgreSQL (the
# production set-up of several hosts). Everything else (validation, HTTP and wire details, static
# pages) runs once, on the embedded backend; what the stores do is tested on both databases in
# tests/storage/.
BACKENDS = ("memory", "redis", "postgresql")
# The backend of every other test: the embedded one. CHATSERVER_TESTS_DATABASE=postgresql runs
# them on PostgreSQL instead (with the in-memory routing state): a check by hand that the whole
# suite holds on PostgreSQL, not part of make test (docs/architecture.md). The few tests that
# reach into the SQLite file itself are skipped then.
DEFAULT_BACKEND = "memory-postgresql" if os.environ.get("CHATSERVER_TESTS_DATABASE") == "postgresql" else "memory"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``DEFAULT_BACKEND``, or each of BACKENDS in turn for a test marked ``both_backends``."""
    return str(getattr(request, "param", DEFAULT_BACKEND))


@pytest.fixture
def backend_settings(backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """The settings that select the test's backend."""
    if backend == "memory":
        return {}
    if backend == "memory-postgresql":
        return {"database_url": request.getfixturevalue("postgres_url")}
    settings = {"redis_url": request.getfixturevalue("redis_url")}
    if backend == "postgresql":
        settings["database_url"] = request.getfixturevalue("postgres_url")
    return settings


@pytest.fixture
async def server(tmp_path: Path, backend_settings: dict[str, str]) -> AsyncIterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path, **backend_settings))
    await live.start()
    try:
        yield live
    finally:
        await live.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for report in terminalreporter.stats.get("passed", []):
        for name, sizes in getattr(report, "user_properties", []):
            if name == WIDGET_SIZES:
                terminalreporter.section("visitor widget, gzipped sizes")
                for path, size in sizes.items():
                    terminalreporter.write_line(f"{path}: {size:,} bytes gzipped")
