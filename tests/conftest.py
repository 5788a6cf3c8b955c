from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from .redis_server import RedisServer
from .support import LiveServer, make_settings


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


@pytest.fixture(params=["memory", "redis"])
def backend_settings(request: pytest.FixtureRequest) -> dict[str, str]:
    """The settings that select a backend: every end-to-end test runs on both."""
    if request.param == "memory":
        return {}
    return {"redis_url": request.getfixturevalue("redis_url")}


@pytest.fixture
async def server(tmp_path: Path, backend_settings: dict[str, str]) -> AsyncIterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path, **backend_settings))
    await live.start()
    try:
        yield live
    finally:
        await live.close()
