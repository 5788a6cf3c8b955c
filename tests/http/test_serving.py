"""The listening edge (chatserver/http/serving.py): a client has ``header_timeout`` seconds to send
a request head, on a new connection, on a keep-alive one and for a WebSocket handshake; a request
being handled, or a WebSocket once open, is not cut by that bound; a request that breaks HTTP is
refused with one line in the log, without a traceback or what the client sent."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import aiohttp
import pytest
from aiohttp.http_exceptions import BadHttpMessage

from chatserver.http.serving import ServerLog

from ..raw_http import closed_by_server, connect, read_response, request_head
from ..support import LiveServer, make_settings


async def test_a_request_head_not_finished_in_time_is_closed_first_or_keep_alive(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path, header_timeout=0.5))
    await server.start()
    try:
        # A new connection that sends part of a head, then a byte at a time (slowloris).
        slow_reader, slow_writer = await connect(server.port)
        slow_writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")

        async def trickle() -> None:
            while not slow_writer.is_closing():
                slow_writer.write(b"a")
                await asyncio.sleep(0.1)

        trickling = asyncio.create_task(trickle())
        # A keep-alive connection: its first request is answered, its second head never ends.
        reader, writer = await connect(server.port)
        writer.write(request_head("GET", "/healthz", server.port))
        assert (await read_response(reader)).status == 200
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        # An idle connection that never sends anything.
        idle_reader, idle_writer = await connect(server.port)
        try:
            for closing in (slow_reader, reader, idle_reader):
                assert await closed_by_server(closing, 10)
        finally:
            trickling.cancel()
            for w in (slow_writer, writer, idle_writer):
                w.close()
        status, _ = await server.request("GET", "/healthz")
        assert status == 200
    finally:
        await server.close()


async def test_a_request_being_handled_is_not_cut_by_the_head_bound(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path, header_timeout=0.5))
    await server.start()
    try:
        status, body = await server.request("GET", "/socket.io/?EIO=4&transport=polling")
        sid = json.loads(body[1:])["sid"]
        # A long poll waits for the server's next packet...
        poll_reader, poll_writer = await connect(server.port)
        poll_writer.write(request_head("GET", f"/socket.io/?EIO=4&transport=polling&sid={sid}", server.port))
        # ...past the head bound (a connection opened with it, sending nothing, is closed first)...
        idle_reader, idle_writer = await connect(server.port)
        assert await closed_by_server(idle_reader, 10)
        idle_writer.close()
        # ...and still gets it.
        token = await server.visitor_token()
        status, _ = await server.request("POST", f"/socket.io/?EIO=4&transport=polling&sid={sid}",
                                         data=("40/visitor," + json.dumps({"token": token})).encode())
        assert status == 200
        response = await read_response(poll_reader)
        assert response.status == 200 and response.body.startswith(b"40/visitor,{"), response
        poll_writer.close()
    finally:
        await server.close()


async def test_the_head_bound_holds_for_a_websocket_handshake_not_for_an_open_websocket(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path, header_timeout=0.5))
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            # A WebSocket open on the direct path, and a handshake whose head never ends.
            ws = await http.ws_connect(f"{server.url}/socket.io/?EIO=4&transport=websocket")
            assert (await ws.receive_str(timeout=5)).startswith("0{")
            reader, writer = await connect(server.port)
            writer.write(b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Upgrade: websocket\r\nConnection: Upgrade\r\n")
            assert await closed_by_server(reader, 10)
            writer.close()
            # The open WebSocket, idle all that time, goes on.
            await ws.send_str("40/visitor," + json.dumps({"token": await server.visitor_token()}))
            assert (await ws.receive_str(timeout=5)).startswith("40/visitor,{")
            await ws.close()
    finally:
        await server.close()


async def test_a_request_that_breaks_http_is_refused_without_a_traceback_or_its_bytes_in_the_log(
        server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    broken = [
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nMARKER header without a colon\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Value: \x01MARKER\r\n\r\n",
        b"GET /MARKER" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",  # a request line too long
        b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nMARKER\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nMARKER / HTTP/1.1\r\n\r\n",  # a second request line
    ]
    for request in broken:
        reader, writer = await connect(server.port)
        writer.write(request)
        assert await closed_by_server(reader, 10), request
        writer.close()
    assert (await server.request("GET", "/healthz"))[0] == 200
    records = [r for r in caplog.records if r.name.startswith("aiohttp")]
    assert records  # aiohttp did report them...
    for record in records:  # ...in one line each, at DEBUG, naming no more than the error's type
        assert record.levelno == logging.DEBUG and record.exc_info is None, record.getMessage()
        assert "MARKER" not in record.getMessage() and "exception=" in record.getMessage()


def test_the_servers_own_errors_keep_their_type_and_stack_but_not_their_text(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    quoted = "MARKER from a request"
    try:
        raise ValueError(quoted)
    except ValueError as exc:
        ServerLog().exception("Error handling request from %s", "192.0.2.1", exc_info=exc)
    ServerLog().exception("Error handling request from %s", "192.0.2.1", exc_info=BadHttpMessage("MARKER"))
    ServerLog().warning("plain %s", "text")
    own, clients, plain = caplog.records
    assert own.levelno == logging.ERROR and own.exc_info is None
    assert own.getMessage().startswith("Error handling request from 192.0.2.1 exception=ValueError\n")
    assert "test_serving.py" in own.getMessage() and "MARKER" not in own.getMessage()
    assert clients.levelno == logging.DEBUG and "MARKER" not in clients.getMessage()
    assert clients.getMessage().endswith("exception=BadHttpMessage")
    assert (plain.levelno, plain.getMessage()) == (logging.WARNING, "plain text")
