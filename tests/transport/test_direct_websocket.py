"""WebSockets on DirectWebSocket (chatserver/transport/direct_ws.py), opened directly or by
upgrading a long-polling connection: once open, a connection is no longer an aiohttp request; its
frames are read and written as RFC 6455 says, and a frame the protocol forbids closes the
connection with the matching close code, storing nothing. Both paths keep the same promises."""

from __future__ import annotations

import base64
import gc
import json
import logging

import aiohttp
import pytest
from aiohttp import web

from ..support import LiveServer, prechat, wait_until
from .raw_socket import CLOSE, CONTINUATION, PING, PONG, TEXT, frame, raw_visitor

# The tests of promises both paths keep run on each.
BOTH_PATHS = pytest.mark.parametrize("upgrade", [False, True], ids=["direct", "upgraded"])


def _socket_io_requests(port: int) -> list[web.BaseRequest]:
    """The Socket.IO request objects still alive for the server on ``port`` (a pytest worker runs
    other tests' servers too, whose requests a traceback or a log record may keep for a while)."""
    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, web.BaseRequest) and o.path == "/socket.io/"
            and o.headers.get("Host", "").endswith(f":{port}")]


async def test_an_open_websocket_is_no_longer_an_aiohttp_request(server: LiveServer) -> None:
    hub = server.parts.transport.hub
    token = await server.visitor_token()
    assert server.runner is not None and server.runner.server is not None
    aiohttp_connections = len(server.runner.server.connections)  # the test client's keep-alive one
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket")
        assert ws.compress == 0  # the client offered permessage-deflate; the server declined
        assert (await ws.receive_str(timeout=5)).startswith("0{")
        await ws.send_str("40/visitor," + json.dumps({"token": token}))
        assert (await ws.receive_str(timeout=5)).startswith("40/visitor,{")
        await ws.send_str('42/visitor,1["session:resume",{}]')
        assert (await ws.receive_str(timeout=5)).startswith('43/visitor,1[{"ok":true')
        assert len(hub.connections) == 1
        # aiohttp holds nothing of it: not among its server's connections, and no request object
        # for it is left (the response aiohttp tried to send for it found no connection).
        assert len(server.runner.server.connections) == aiohttp_connections
        assert _socket_io_requests(server.port) == []
        await ws.close()
        assert ws.close_code == 1000
    await wait_until(lambda: not hub.connections, timeout=5, what="the visitor's connection forgotten")


async def test_what_the_client_sends_with_its_handshake_is_not_lost(server: LiveServer) -> None:
    token = await server.visitor_token()
    # The Socket.IO connect in the same TCP write as the HTTP request (aiohttp's parser holds it
    # back): handled once the WebSocket is open.
    connect = frame(TEXT, ("40/visitor," + json.dumps({"token": token})).encode())
    async with raw_visitor(server, with_request=connect, join=False) as raw:
        assert (await raw.text()).startswith("40/visitor,{")


@BOTH_PATHS
async def test_fragments_pings_and_many_messages_at_once(server: LiveServer, upgrade: bool) -> None:
    async with raw_visitor(server, upgrade=upgrade) as raw:
        # One message in three fragments, a ping between two of them: the pong comes back with the
        # ping's data, then the whole message is handled.
        message = b'42/visitor,1["session:resume",{}]'
        raw.send(frame(TEXT, message[:5], fin=False) + frame(CONTINUATION, message[5:12], fin=False)
                 + frame(PING, b"are you there") + frame(CONTINUATION, message[12:]))
        assert await raw.read_frame() == (PONG, b"are you there")
        assert (await raw.ack(1))[0]["ok"] is True
        # 300 events in one write, more than are read ahead: every one answered, in order.
        raw.send(b"".join(frame(TEXT, f'42/visitor,{i}["session:resume",{{}}]'.encode()) for i in range(2, 302)))
        ids = []
        while len(ids) < 300:
            text = await raw.text()
            assert text.startswith("43/visitor,"), text
            ids.append(int(text[len("43/visitor,"):text.index("[")]))
        assert ids == list(range(2, 302))
        # A close frame is answered with the same code, and the connection ends.
        raw.send(frame(CLOSE, (1000).to_bytes(2, "big") + b"bye"))
        assert await raw.closed_with(answer=False) == 1000
    await wait_until(lambda: not server.parts.transport.hub.connections, timeout=5, what="the connection forgotten")


@pytest.mark.parametrize("name", ["connect", "disconnect", "connect_error", "__disconnect_final", "*"])
async def test_an_event_named_as_socket_io_reserves_is_refused_as_unknown(server: LiveServer, name: str) -> None:
    # socket.io-client refuses to emit these names; a client of its own can send them. They must
    # not reach the connect or disconnect handlers (with arguments from the client).
    async with raw_visitor(server) as raw:
        raw.send_text(f"42/visitor,7{json.dumps([name, {'token': 'x'}])}")
        [answer] = await raw.ack(7)
        assert answer["error"]["code"] == "unknown_event", answer
        raw.send_text('42/visitor,8["session:resume",{}]')
        assert (await raw.ack(8))[0]["ok"] is True  # still connected, still served
    assert len(server.parts.transport.hub.connections) <= 1


@BOTH_PATHS
async def test_a_connection_the_server_ends_gets_the_close_packet_then_a_close_frame(
    server: LiveServer, upgrade: bool,
) -> None:
    hub = server.parts.transport.hub
    async with raw_visitor(server, upgrade=upgrade) as raw:
        [eio_sid] = list(hub.sio.eio.sockets)
        await hub.sio.eio.disconnect(eio_sid)
        assert await raw.closed_with() == 1000  # answered, and the server closed the connection
        assert raw.texts_before_close[-1:] == ["1"]  # Engine.IO's CLOSE came first
    await wait_until(lambda: not hub.connections, timeout=5, what="the connection forgotten")


@pytest.mark.parametrize(("data", "code"), [
    (frame(TEXT, b'42/visitor,1["session:resume",{}]', mask=False), 1002),  # a client must mask
    (frame(TEXT, b"4", rsv=4), 1002),  # compression was not agreed
    (frame(0x3, b"x"), 1002),  # no such opcode
    (frame(CONTINUATION, b"x"), 1002),  # continues nothing
    (frame(TEXT, b"42", fin=False) + frame(TEXT, b"x"), 1002),  # a message inside a fragmented one
    (frame(PING, b"x" * 126), 1002),  # control frames carry at most 125 bytes
    (frame(PING, b"x", fin=False), 1002),  # and are never fragmented
    (frame(CLOSE, b"\x03"), 1002),  # a close code is two bytes
    (frame(CLOSE, (999).to_bytes(2, "big")), 1002),  # and one of the allowed ones: not below 1000,
    (frame(CLOSE, (1004).to_bytes(2, "big")), 1002),  # reserved,
    (frame(CLOSE, (1005).to_bytes(2, "big")), 1002),  # nor the codes only ever reported locally,
    (frame(CLOSE, (1006).to_bytes(2, "big")), 1002),
    (frame(CLOSE, (1015).to_bytes(2, "big")), 1002),
    (frame(CLOSE, (5000).to_bytes(2, "big")), 1002),  # nor past the private range
    (frame(TEXT, b'42/visitor,["session:resume",{"x":"\xff"}]'), 1007),  # text must be UTF-8
    (frame(TEXT, b"", length=1_000_001), 1009),  # over max_http_buffer_size: refused on its header
    (frame(TEXT, b"x" * 600_000, fin=False) + frame(CONTINUATION, b"x" * 400_001), 1009),  # in fragments
], ids=["unmasked", "reserved-bit", "bad-opcode", "stray-continuation", "interleaved", "long-ping",
        "fragmented-ping", "short-close", "close-999", "close-1004", "close-1005", "close-1006", "close-1015",
        "close-5000", "not-utf8", "too-big", "too-big-in-fragments"])
@BOTH_PATHS
async def test_a_frame_the_protocol_forbids_closes_the_connection_with_its_code(
    server: LiveServer, data: bytes, code: int, upgrade: bool,
) -> None:
    hub = server.parts.transport.hub
    async with raw_visitor(server, upgrade=upgrade) as raw:
        assert len(hub.connections) == 1
        raw.send(data)
        assert await raw.closed_with() == code
    await wait_until(lambda: not hub.connections, timeout=5, what="the refused connection forgotten")
    # The server goes on serving.
    async with raw_visitor(server, upgrade=upgrade) as other:
        other.send_text('42/visitor,1["session:resume",{}]')
        assert (await other.ack(1))[0]["ok"] is True


@BOTH_PATHS
async def test_a_message_over_the_size_limit_stores_nothing(server: LiveServer, upgrade: bool) -> None:
    async with raw_visitor(server, upgrade=upgrade) as raw:
        raw.send_text("42/visitor,1" + json.dumps(["chat:start", prechat()]))
        [started] = await raw.ack(1)
        cid = started["conversation"]["id"]
        body = "x" * server.settings.max_http_buffer_size
        raw.send_text("42/visitor,2" + json.dumps(["message:send", {"conversation_id": cid, "client_msg_id": "big",
                                                                   "body": body}]))
        assert await raw.closed_with() == 1009
    transcript = await server.parts.stores.conversations.transcript(cid)
    assert transcript is not None
    assert [m.body for m in transcript.messages if m.kind == "text"] == [prechat()["question"]]


@pytest.mark.parametrize(("headers", "status"), [
    ({"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}, 400),  # no key
    ({"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "8",
      "Sec-WebSocket-Key": base64.b64encode(bytes(16)).decode()}, 426),  # another version (RFC 6455 4.4)
    ({"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": base64.b64encode(bytes(16)).decode()},
     426),  # no version
], ids=["no-key", "version-8", "no-version"])
async def test_a_request_that_is_no_websocket_handshake_is_refused(
    server: LiveServer, headers: dict[str, str], status: int,
) -> None:
    url = f"http://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        assert response.status == status
        if status == 426:  # the version this server speaks
            assert response.headers["Sec-WebSocket-Version"] == "13"
    # No Engine.IO socket is left behind.
    assert server.parts.transport.hub.sio.eio.sockets == {}


def exact_size_event(server: LiveServer, ack_id: int) -> bytes:
    """An EVENT of exactly ``max_http_buffer_size`` bytes that the server answers (``session:resume``
    with an unknown field: ``invalid_payload``)."""
    head, tail = f'42/visitor,{ack_id}["session:resume",{{"pad":"'.encode(), b'"}]'
    return head + b"x" * (server.settings.max_http_buffer_size - len(head) - len(tail)) + tail


@BOTH_PATHS
async def test_a_message_of_exactly_the_size_limit_is_handled(server: LiveServer, upgrade: bool) -> None:
    async with raw_visitor(server, upgrade=upgrade) as raw:
        raw.send(frame(TEXT, exact_size_event(server, 1)))
        [answer] = await raw.ack(1)
        assert answer["error"]["code"] == "invalid_payload"


@BOTH_PATHS
async def test_control_frames_inside_a_fragmented_message_do_not_count_towards_its_size(
    server: LiveServer, upgrade: bool,
) -> None:
    async with raw_visitor(server, upgrade=upgrade) as raw:
        # A message of exactly the limit in two fragments, a ping of 125 bytes between them.
        message = exact_size_event(server, 1)
        raw.send(frame(TEXT, message[:-5], fin=False) + frame(PING, b"p" * 125) + frame(CONTINUATION, message[-5:]))
        assert await raw.read_frame() == (PONG, b"p" * 125)
        [answer] = await raw.ack(1)
        assert answer["error"]["code"] == "invalid_payload"
        # A close frame in the middle of such a message is answered with its own code.
        raw.send(frame(TEXT, message[:-5], fin=False) + frame(CLOSE, (4000).to_bytes(2, "big")))
        assert await raw.closed_with(answer=False) == 4000


@pytest.mark.parametrize("text", ["", "xSECRET", "9SECRET", "2", "2SECRET", "bSECRET"],
                         ids=["empty", "no-packet-type", "unknown-packet-type", "client-ping", "client-ping-data",
                              "bad-base64"])
@BOTH_PATHS
async def test_a_message_that_is_no_engine_io_packet_closes_the_connection(
    server: LiveServer, caplog: pytest.LogCaptureFixture, text: str, upgrade: bool,
) -> None:
    # As the reference engine.io server: a packet it cannot parse (and a ping: in Engine.IO v4
    # only the server pings) ends the connection; here with 1002, no traceback, none of it logged.
    caplog.set_level(logging.INFO)
    hub = server.parts.transport.hub
    async with raw_visitor(server, upgrade=upgrade) as raw:
        raw.send_text(text)
        assert await raw.closed_with() == 1002
    await wait_until(lambda: not hub.connections, timeout=5, what="the refused connection forgotten")
    assert "Traceback" not in caplog.text and "SECRET" not in caplog.text
    assert [r.getMessage() for r in caplog.records if "closed with 1002" in r.getMessage()]


@pytest.mark.parametrize("text", ["0", "5", "6", "3"], ids=["open", "upgrade", "noop", "unasked-pong"])
@BOTH_PATHS
async def test_packets_the_reference_server_ignores_are_ignored(server: LiveServer, text: str, upgrade: bool) -> None:
    async with raw_visitor(server, upgrade=upgrade) as raw:
        raw.send_text(text)
        raw.send_text('42/visitor,1["session:resume",{}]')
        assert (await raw.ack(1))[0]["ok"] is True  # nothing came back for it, and the connection serves on
