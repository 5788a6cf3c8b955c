"""Redis and PostgreSQL down when ``chatserver serve`` starts (chatserver/app.py, ``when_reachable``):
the server waits for them up to ``start_timeout``, one warning line per try naming what and where
(never the password), and becomes ready once they answer; with ``start_timeout`` 0 it stops at once
with one line and status 1; a signal stops the wait."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from chatserver.http.serving import STOP_NOW_TIMEOUT

from .postgres_server import PostgresServer
from .processes import ServerProcess
from .redis_server import RedisServer, free_port

PASSWORD = "s3cret-redis-pw"


def _wait_for_lines(process: ServerProcess, text: str, count: int = 1, timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in process.log.read_text().splitlines() if text in line]
        if len(lines) >= count:
            return lines
        assert process.process is not None and process.process.poll() is None, process.log.read_text()
        assert time.monotonic() < deadline, f"{text!r} not logged {count} times"
        time.sleep(0.05)


def _ended(process: ServerProcess, timeout: float = 30.0) -> tuple[int, list[str]]:
    """The exit status of a process that stops by itself, and the last lines it wrote."""
    assert process.process is not None
    status = process.process.wait(timeout=timeout)
    process.process = None
    return status, process.log.read_text().splitlines()


def test_the_server_waits_for_redis_and_becomes_ready_once_it_answers(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis", password=PASSWORD)  # not started yet
    server = ServerProcess(tmp_path, redis.url, CHATSERVER_START_TIMEOUT="60")
    server._spawn()
    try:
        [first, _] = _wait_for_lines(server, "is unreachable", count=2)
        assert f"WARNING chatserver Redis at redis://127.0.0.1:{redis.port}/0 is unreachable" in first
        assert "next try in 1s" in first
        assert not server.ready()
        redis.start()
        try:
            assert server.wait_ready()
        finally:
            server.stop()
            redis.stop()
    finally:
        server.stop()
    log = server.log.read_text()
    assert PASSWORD not in log and "Traceback" not in log


def test_without_waiting_an_unreachable_redis_stops_the_start_with_one_line(tmp_path: Path) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"
    server = ServerProcess(tmp_path, url, CHATSERVER_START_TIMEOUT="0")
    server._spawn()
    status, lines = _ended(server)
    assert status == 1
    assert lines[-1].startswith(f"chatserver: error: Redis at redis://127.0.0.1:{url.rsplit(':', 1)[1]} is "
                                "unreachable (")
    assert lines[-1].endswith("start_timeout=0: not waiting")
    assert not any("Traceback" in line or PASSWORD in line for line in lines)


def test_the_server_waits_for_postgresql_or_stops_at_once_without_waiting(tmp_path: Path) -> None:
    postgres = PostgresServer()
    postgres.start()
    try:
        url = postgres.new_database()
        postgres.stop()
        refused = ServerProcess(tmp_path / "at-once", None, CHATSERVER_DATABASE_URL=url, CHATSERVER_START_TIMEOUT="0")
        refused.data_dir.mkdir()
        refused._spawn()
        status, lines = _ended(refused)
        assert status == 1 and not any("Traceback" in line for line in lines)
        assert lines[-1].startswith(f"chatserver: error: PostgreSQL at {url} is unreachable (")

        waiting = ServerProcess(tmp_path, None, CHATSERVER_DATABASE_URL=url, CHATSERVER_START_TIMEOUT="60")
        waiting._spawn()
        try:
            [line] = _wait_for_lines(waiting, "is unreachable")
            assert f"WARNING chatserver PostgreSQL at {url} is unreachable" in line and "next try in 1s" in line
            postgres.start()
            assert waiting.wait_ready()
        finally:
            waiting.stop()
        assert "Traceback" not in waiting.log.read_text()
    finally:
        postgres.remove()


def test_a_signal_stops_the_wait_at_once(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, f"redis://127.0.0.1:{free_port()}/0", CHATSERVER_START_TIMEOUT="600")
    server._spawn()
    _wait_for_lines(server, "is unreachable")
    assert server.process is not None
    server.process.send_signal(signal.SIGTERM)
    status, lines = _ended(server, timeout=STOP_NOW_TIMEOUT + 15)
    assert status == 128 + signal.SIGTERM
    assert not any("Traceback" in line for line in lines)
