"""The Socket.IO endpoint's HTTP requests (chatserver/transport/engineio_http.py): long-polling
POSTs over the size limit are answered 413 at once and their connections freed; payloads that
are not Engine.IO are refused whole; requests the reference Engine.IO server refuses are refused,
in the project's shape; the OPEN packet gives the ping times as configured; nothing a client
sent reaches the log."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from ..raw_http import connect, open_sockets, read_response, request_head
from ..support import LiveServer, make_settings, wait_until

MAX = 1_000_000  # max_http_buffer_size's default


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
    chunked = b"%x\r\n%s\r\n" % (MAX + 1, b"4" * (MAX + 1))
    requests = {  # name: (sid, header, body, status)
        "declared, a session's": (sid, f"Content-Length: {5 * MAX}", part, 413),
        "declared, no session": ("nosuchsession", f"Content-Length: {5 * MAX}", part, 413),
        "chunked, a session's": (sid, "Transfer-Encoding: chunked", chunked, 413),
        # Without a session nothing of the body is read: refused as such at once.
        "chunked, no session": ("", "Transfer-Encoding: chunked", chunked, 400),
    }
    baseline = open_sockets()
    connections = []
    for name, (session, header, body, status) in requests.items():
        reader, writer = await connect(server.port)
        query = f"&sid={session}" if session else ""
        writer.write(request_head("POST", f"/socket.io/?EIO=4&transport=polling{query}", server.port,
                                  "Content-Type: text/plain;charset=UTF-8", header) + body)
        # Answered while the client still holds the connection open with the body unfinished.
        response = await read_response(reader)
        assert response.status == status, (name, response)
        assert response.headers["connection"] == "close", name
        if status == 413:
            assert response.json()["error"] == {"code": "payload_too_large", "message": f"the body is larger "
                                                f"than {MAX} bytes", "details": {"max_bytes": MAX}}, name
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


async def ask(server: LiveServer, method: str, query: str, **headers: str) -> tuple[int, dict[str, str], Any]:
    assert server.http is not None
    async with server.http.request(method, f"{server.url}/socket.io/?{query}", headers=headers,
                                   timeout=aiohttp.ClientTimeout(total=5)) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, dict(resp.headers), body


async def test_requests_the_reference_server_refuses_are_refused_in_the_projects_shape(
        server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sid = await open_polling_session(server)
    ws_headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    refused = [  # method, query, headers, status
        ("GET", "EIO=4", {}, 400),  # no transport (python-engineio took it as polling)
        ("GET", "EIO=4&transport=MARKER", {}, 400),
        ("PUT", "EIO=4&transport=polling", {}, 400),  # an unknown method (it was 405)
        ("HEAD", "EIO=4&transport=polling", {}, 400),
        ("DELETE", f"EIO=4&transport=polling&sid={sid}", {}, 400),
        ("GET", "EIO=3&transport=polling", {}, 400),
        ("GET", "transport=polling", {}, 400),
        ("GET", f"EIO=3&transport=polling&sid={sid}", {}, 400),  # a session's request must say EIO=4 too
        ("GET", "EIO=4&transport=polling&j=MARKER", {}, 400),
        ("GET", "EIO=4&transport=polling&j=%D9%A3", {}, 400),  # an Arabic-Indic digit: int() took it
        ("GET", "EIO=4&transport=polling&sid=MARKER", {}, 400),  # an unknown session (it was echoed)
        ("POST", "EIO=4&transport=polling", {}, 400),  # a POST without a session
        ("POST", f"EIO=4&transport=websocket&sid={sid}", {}, 400),  # it was handled as a polling POST
        ("GET", "EIO=4&transport=websocket", {}, 400),  # no WebSocket handshake
        ("GET", "EIO=4&transport=polling", {"Origin": "https://MARKER.example"}, 403),  # it was 400, echoed
        ("GET", "EIO=4&transport=websocket", {**ws_headers, "Origin": "https://MARKER.example"}, 403),
    ]
    for method, query, headers, status in refused:
        got, response_headers, body = await ask(server, method, query, **headers)
        assert got == status, (method, query, got, body)
        if method != "HEAD":
            assert body["error"]["code"] == ("forbidden" if status == 403 else "invalid_payload"), (method, query)
            assert "MARKER" not in body["error"]["message"]
        assert response_headers["Connection"] == "close", (method, query)
    # What the reference takes is still taken: a CORS preflight, a JSONP index, the session's poll.
    assert (await ask(server, "OPTIONS", "EIO=4&transport=polling"))[0] == 200
    status, _, body = await ask(server, "GET", "EIO=4&transport=polling&j=3")
    assert status == 200 and body.startswith('___eio[3]("0{'), body
    nothing_of("MARKER", caplog)


async def test_a_second_poll_while_one_waits_is_refused_and_the_first_still_answered(server: LiveServer) -> None:
    sid = await open_polling_session(server)
    path = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    first_reader, first_writer = await connect(server.port)
    first_writer.write(request_head("GET", path, server.port))
    await first_writer.drain()
    reader, writer = await connect(server.port)  # a connection later: the first poll waits by now
    writer.write(request_head("GET", path, server.port))
    response = await read_response(reader)
    assert response.status == 400 and response.json()["error"] == {
        "code": "invalid_payload", "message": "another request of this session is under way"}
    writer.close()
    token = await server.visitor_token()
    assert await post(server, sid, ("40/visitor," + json.dumps({"token": token})).encode()) == (200, "OK")
    first = await read_response(first_reader)
    assert first.status == 200 and first.body.startswith(b"40/visitor,{"), first
    first_writer.close()


async def test_a_closed_sessions_requests_are_refused_without_a_traceback(
        server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sid = await open_polling_session(server)
    assert await post(server, sid, b"1") == (200, "OK")  # the client closes the session
    for method in ("GET", "POST"):
        status, _, body = await ask(server, method, f"EIO=4&transport=polling&sid={sid}")
        assert status == 400 and body["error"]["message"] == "unknown session", (method, body)
    nothing_of(sid, caplog)


async def test_the_open_packet_gives_the_ping_times_as_configured(tmp_path: Path) -> None:
    # python-engineio wrote int(0.25) * 1000 = 0 and int(1.001 * 1000) = 1000.
    server = LiveServer(make_settings(tmp_path, ping_interval=0.25, ping_timeout=1.001))
    await server.start()
    try:
        status, body = await server.request("GET", "/socket.io/?EIO=4&transport=polling")
        assert status == 200
        opened = json.loads(body[1:])
        assert (opened["pingInterval"], opened["pingTimeout"]) == (250, 1001)
        assert server.http is not None
        ws = await server.http.ws_connect(f"{server.url}/socket.io/?EIO=4&transport=websocket")
        opened = json.loads((await ws.receive_str(timeout=5))[1:])
        assert (opened["pingInterval"], opened["pingTimeout"]) == (250, 1001)
        assert await ws.receive_str(timeout=5) == "2"  # and the server pings at that pace
        await ws.close()
    finally:
        await server.close()


@pytest.mark.parametrize("transports", [["polling"], ["polling", "websocket"]])
async def test_python_socketio_over_long_polling_and_its_upgrade_goes_through(
        tmp_path: Path, transports: list[str]) -> None:
    # Short ping times: a polling client's disconnect waits for the poll the server holds (up to
    # ping_interval + ping_timeout; so it did before the endpoint).
    server = LiveServer(make_settings(tmp_path, ping_interval=0.5, ping_timeout=1))
    await server.start()
    client = socketio.AsyncClient(reconnection=False)
    try:
        await client.connect(server.url, namespaces=["/visitor"], auth={"token": await server.visitor_token()},
                             transports=transports, wait_timeout=5)
        reply = await client.call("session:resume", {}, namespace="/visitor", timeout=5)
        assert reply["ok"] is True
        await wait_until(lambda: client.transport() == transports[-1], what=f"the {transports[-1]} transport")
        reply = await client.call("session:resume", {}, namespace="/visitor", timeout=5)
        assert reply["ok"] is True
    finally:
        await client.disconnect()
        await server.close()
