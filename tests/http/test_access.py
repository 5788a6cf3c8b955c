"""The access log (chatserver/http/access.py): a line per request with its route, never its path,
the client the trusted proxies name, Socket.IO's requests at DEBUG, refused requests always."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import socketio

from chatserver.logs import line_fields

from ..raw_http import closed_by_server, connect
from ..support import LiveServer, make_settings

SECRET = "s3cretTOKENinTheQuery"


def _access(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "chatserver.access"]


async def test_a_line_per_request_names_its_route_status_and_client_never_its_path(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="chatserver.access")
    server = LiveServer(make_settings(tmp_path, trusted_proxies=("127.0.0.1",)))
    await server.start()
    try:
        assert (await server.request("GET", f"/healthz?token={SECRET}"))[0] == 200
        status, _ = await server.request("GET", f"/api/conversations/{SECRET}",
                                         headers={"X-Forwarded-For": "203.0.113.9"})
        assert status == 401
        assert (await server.request("GET", f"/no/such/{SECRET}"))[0] == 404
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(server.url, namespaces=["/visitor"], transports=["polling"], wait_timeout=5,
                             auth={"token": SECRET})  # refused (no such visitor), after its polling requests
    except socketio.exceptions.ConnectionError:
        pass
    finally:
        await server.close()
    lines = [(r.levelno, line_fields(r.getMessage())) for r in _access(caplog)]
    assert all(SECRET not in r.getMessage() for r in caplog.records)
    info = [fields for level, fields in lines if level == logging.INFO]
    assert [(f["method"], f["route"], f["status"]) for f in info] == [
        ("GET", "/healthz", 200), ("GET", "/api/conversations/{conversation_id}", 401), ("GET", "-", 404)]
    # The peer is a trusted proxy: the client is the address it names (or the peer, when it names none).
    assert [f["client"] for f in info] == ["127.0.0.1", "203.0.113.9", "127.0.0.1"]
    assert all(isinstance(f["duration_ms"], (int, float)) and f["duration_ms"] >= 0 for f in info)
    polls = [fields for level, fields in lines if level == logging.DEBUG]
    assert polls and all(f["route"] == "/socket.io/" for f in polls)


async def test_refused_requests_are_written_even_with_the_access_log_off(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="chatserver.access")
    server = LiveServer(make_settings(tmp_path, access_log=False, visitor_sessions_per_minute=1))
    await server.start()
    try:
        assert (await server.request("GET", "/healthz"))[0] == 200
        assert (await server.request("POST", "/api/visitor/sessions"))[0] == 201
        assert (await server.request("POST", "/api/visitor/sessions"))[0] == 429
        status, _ = await server.request("POST", "/api/visitor/sessions", data=b"x" * 200_000,
                                         headers={"Content-Type": "application/json"})
        assert status == 413
    finally:
        await server.close()
    records = _access(caplog)
    assert [(r.levelno, line_fields(r.getMessage())["status"]) for r in records] == [
        (logging.INFO, 429), (logging.INFO, 413)]
    assert all(r.getMessage().startswith("request refused method=POST route=/api/visitor/sessions ")
               for r in records)


async def test_a_request_that_breaks_http_names_no_route(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="chatserver.access")
    server = LiveServer(make_settings(tmp_path))
    await server.start()
    try:
        reader, writer = await connect(server.port)
        writer.write(b"GET /MARKER HTTP/1.1\r\nHost: 127.0.0.1\r\nMARKER header without a colon\r\n\r\n")
        assert await closed_by_server(reader, 10)
        writer.close()
    finally:
        await server.close()
    [record] = _access(caplog)
    assert line_fields(record.getMessage())["route"] == "-" and line_fields(record.getMessage())["status"] == 400
    assert "MARKER" not in record.getMessage()
