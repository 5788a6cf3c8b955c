"""The Socket.IO endpoint's HTTP requests (chatserver/transport/engineio_http.py): long-polling
POSTs over the size limit are answered 413 at once and their connections freed; payloads that
are not Engine.IO are refused whole; nothing a client sent reaches the log."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from ..offline_support import wait_until
from ..raw_http import connect, open_sockets, read_response, request_head
from ..support import LiveServer

MAX = 1_000_000  # max_http_buffer_size's default


@pytest.fixture
def backend_settings() -> dict[str, str]:
    """The embedded server only: HTTP handling does not depend on the backend."""
    return {}


async def open_polling_session(server: LiveServer) -> str:
    status, body = await server.request("GET", "/socket.io/?EIO=4&transport=polling")
    assert status == 200 and body.startswith("0{"), body
    return str(json.loads(body[1:])["sid"])


async def post(server: LiveServer, sid: str, body: bytes) -> tuple[int, Any]:
    return await server.request("POST", f"/socket.io/?EIO=4&transport=polling&sid={sid}", data=body,
                                headers={"Content-Type": "text/plain;charset=UTF-8"})


async def poll(server: LiveServer, sid: str) -> list[str]:
    status, body = await server.request("GET", f"/socket.io/?EIO=4&transport=polling&sid={sid}")
    assert status == 200, body
    return str(body).split("\x1e")


def nothing_of(marker: str, caplog: pytest.LogCaptureFixture) -> None:
    """No log record holds ``marker`` (a piece of what the client sent) or a traceback."""
    for record in caplog.records:
        assert marker not in record.getMessage(), record.getMessage()
        assert record.exc_info is None and record.exc_text is None, record.getMessage()


async def test_an_over_size_polling_post_is_answered_413_at_once_and_its_connection_freed(
        server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sid = await open_polling_session(server)
    part = b"4" + b"OVERSIZE" * 25_000  # 200 KB of a body that is never finished
    requests = {
        "declared, a session's": (sid, f"Content-Length: {5 * MAX}", part),
        "declared, no session": ("nosuchsession", f"Content-Length: {5 * MAX}", part),
        "chunked, a session's": (sid, "Transfer-Encoding: chunked", b"%x\r\n%s\r\n" % (MAX + 1, b"4" * (MAX + 1))),
        "chunked, no session": ("", "Transfer-Encoding: chunked", b"%x\r\n%s\r\n" % (MAX + 1, b"4" * (MAX + 1))),
    }
    baseline = open_sockets()
    connections = []
    for name, (session, header, body) in requests.items():
        reader, writer = await connect(server.port)
        query = f"&sid={session}" if session else ""
        writer.write(request_head("POST", f"/socket.io/?EIO=4&transport=polling{query}", server.port,
                                  "Content-Type: text/plain;charset=UTF-8", header) + body)
        # Answered while the client still holds the connection open with the body unfinished.
        response = await read_response(reader)
        assert response.status == 413, (name, response)
        assert response.json()["error"] == {"code": "payload_too_large", "message": f"the body is larger than "
                                            f"{MAX} bytes", "details": {"max_bytes": MAX}}, name
        assert response.headers["connection"] == "close", name
        connections.append(writer)
    # The session the over-size bodies named goes on.
    assert await post(server, sid, b"3") == (200, "OK")
    for writer in connections:
        writer.close()
    # Once the clients left, the server holds none of their connections.
    await wait_until(lambda: open_sockets() <= baseline, what="the server to close the refused connections")
    nothing_of("OVERSIZE", caplog)


async def test_a_payload_that_is_not_engine_io_is_refused_whole(server: LiveServer,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = await server.visitor_token()
    connect_packet = "40/visitor," + json.dumps({"token": token})
    sid = await open_polling_session(server)
    refused = [
        b"4MARKER\x1e6",  # a NOOP, which clients never send (python-engineio left the request hanging)
        b"0MARKER", b"2", b"5",  # OPEN, PING (the server pings in v4), UPGRADE (only over a WebSocket)
        b"xMARKER",  # no packet type
        b"4MARKER\x1e\x1e4",  # an empty packet
        "\x1e".join(["4MARKER"] * 17).encode(),  # more packets than a payload holds
        b"4MARKER\xff\xfe",  # not UTF-8
        b"4" + b"[" * 100_000,  # JSON nested deeper than a parser goes
        b"",
    ]
    for body in refused:
        # The valid CONNECT in front of the bad packet is not acted on either.
        status, answer = await post(server, sid, connect_packet.encode() + b"\x1e" + body)
        assert status == 400 and answer["error"]["code"] == "invalid_payload", (body[:20], status, answer)
    status, answer = await post(server, sid, b"")
    assert status == 400 and answer["error"]["code"] == "invalid_payload"
    # The session is intact, and joins /visitor once: none of the refused CONNECTs counted.
    assert await post(server, sid, connect_packet.encode()) == (200, "OK")
    [joined] = await poll(server, sid)
    assert joined.startswith("40/visitor,{")
    nothing_of("MARKER", caplog)


async def test_a_post_cut_short_leaves_no_traceback(
        server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sid = await open_polling_session(server)
    path = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    baseline = open_sockets()
    _, writer = await connect(server.port)
    writer.write(request_head("POST", path, server.port, "Content-Length: 100") + b"4MARKER")
    await writer.drain()
    writer.close()  # gone before the body is whole
    # Once the server has closed it (the request is over), nothing was logged of it.
    await wait_until(lambda: open_sockets() <= baseline, what="the server to close the connection")
    assert await post(server, sid, b"3") == (200, "OK")
    nothing_of("MARKER", caplog)


async def test_a_post_body_arriving_in_pieces_is_read_whole(server: LiveServer) -> None:
    """python-engineio read a body with one ``read(Content-Length)``, which returns what has
    arrived so far: a payload sent in several TCP segments was cut."""
    sid = await open_polling_session(server)
    body = ("40/visitor," + json.dumps({"token": await server.visitor_token()})).encode()
    reader, writer = await connect(server.port)
    writer.write(request_head("POST", f"/socket.io/?EIO=4&transport=polling&sid={sid}", server.port,
                              "Content-Type: text/plain;charset=UTF-8", f"Content-Length: {len(body)}") + body[:12])
    await writer.drain()
    await asyncio.sleep(0.2)  # the first piece is read before the rest is sent
    writer.write(body[12:])
    assert (await read_response(reader)).status == 200
    writer.close()
    [joined] = await poll(server, sid)
    assert joined.startswith("40/visitor,{"), joined
