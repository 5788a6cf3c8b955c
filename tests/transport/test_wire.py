"""The Socket.IO v4 wire format as a raw WebSocket client sees it: the server's own packet decoder
(transport/sio_packets.py) and ACK encoder (transport/socketio_server.py) answer as python-socketio would,
and odd JSON and odd event names get a structured error (test_malformed_packets.py has the rest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from chatserver.transport.dispatch import Events

from ..support import LiveServer, agent, make_settings, prechat, visitor, wait_until
from .raw_socket import BINARY, frame, raw_visitor


class RawVisitor:
    """A visitor on /visitor over a bare WebSocket: Engine.IO and Socket.IO packets by hand."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    @classmethod
    async def connect(cls, server: LiveServer, http: aiohttp.ClientSession) -> RawVisitor:
        token = await server.visitor_token()
        ws = await http.ws_connect(f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket")
        opened = await ws.receive_str(timeout=5)
        assert opened.startswith("0{") and "sid" in json.loads(opened[1:])
        await ws.send_str("40/visitor," + json.dumps({"token": token}))
        connected = await ws.receive_str(timeout=5)
        assert connected.startswith("40/visitor,{"), connected
        return cls(ws)

    async def send(self, text: str) -> None:
        await self.ws.send_str(text)

    async def next_packet(self, prefix: str) -> str:
        """The next Engine.IO message starting with ``prefix`` (pings are answered)."""
        while True:
            text = await self.ws.receive_str(timeout=5)
            if text == "2":
                await self.ws.send_str("3")
                continue
            if text.startswith(prefix):
                return text

    async def ack(self, ack_id: int) -> Any:
        text = await self.next_packet(f"43/visitor,{ack_id}[")
        return json.loads(text[len(f"43/visitor,{ack_id}"):])


async def test_an_event_with_an_ack_id_is_answered_in_the_standard_format(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        raw = await RawVisitor.connect(server, http)
        await raw.send('42/visitor,7["session:resume",{}]')
        [reply] = await raw.ack(7)
        assert reply["ok"] is True and reply["conversation"] is None
        # Without an ack id, an error comes back as an "error" event.
        await raw.send('42/visitor,["no:such:event",{}]')
        text = await raw.next_packet('42/visitor,["error",')
        event, payload = json.loads(text[len("42/visitor,"):])
        assert event == "error" and payload["error"]["code"] == "unknown_event" and payload["event"] == "no:such:event"
        await raw.ws.close()


async def test_json_the_fast_parser_refuses_still_gets_a_structured_error(server: LiveServer) -> None:
    login = await server.add_agent()
    console = await agent(server, login)
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat()))["conversation"]["id"]
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    async with aiohttp.ClientSession() as http:
        raw = await RawVisitor.connect(server, http)
        # NaN is not JSON (python's json module would take it): refused like any bad payload.
        await raw.send(f'42/visitor,1["message:send",{{"conversation_id":"{cid}","client_msg_id":"a","body":NaN}}]')
        [reply] = await raw.ack(1)
        assert reply["error"]["code"] == "invalid_payload"
        # A lone surrogate (half an emoji) cannot be stored: refused, nothing changes.
        await raw.send('42/visitor,2["chat:start",{"name":"\\ud83d","question":"broken \\ud83d text"}]')
        [reply] = await raw.ack(2)
        assert reply["error"]["code"] == "invalid_payload", reply
        # An event name that is not a string.
        await raw.send("42/visitor,3[42,{}]")
        [reply] = await raw.ack(3)
        assert reply["error"]["code"] == "unknown_event"
        await raw.send('42/visitor,4["session:resume",{}]')
        [reply] = await raw.ack(4)
        assert reply["ok"] is True and reply["conversation"] is None  # the bad chat:start stored nothing
        await raw.ws.close()
    transcript = await server.parts.stores.conversations.transcript(cid)
    assert transcript is not None and [m.body for m in transcript.messages if m.kind == "text"] == [
        prechat()["question"]]



async def test_an_open_connection_keeps_no_copy_of_its_request_headers(server: LiveServer) -> None:
    async with aiohttp.ClientSession(headers={"Cookie": "session=secret", "User-Agent": "probe"}) as http:
        raw = await RawVisitor.connect(server, http)
        environs = list(server.parts.transport.hub.sio.environ.values())
        assert len(environs) == 1
        assert set(environs[0]) <= {"REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "wsgi.url_scheme", "HTTP_HOST",
                                    "HTTP_ORIGIN"}
        assert environs[0]["REQUEST_METHOD"] == "GET" and environs[0]["PATH_INFO"] == "/socket.io/"
        await raw.send('42/visitor,1["session:resume",{}]')
        assert (await raw.ack(1))[0]["ok"] is True
        await raw.ws.close()


async def test_a_client_that_stops_answering_pings_is_disconnected(server: LiveServer) -> None:
    eio = server.parts.transport.hub.sio.eio
    eio.ping_interval, eio.ping_timeout = 0.2, 0.3  # read when each connection pings
    hub = server.parts.transport.hub
    async with aiohttp.ClientSession() as http:
        alive = await RawVisitor.connect(server, http)
        silent = await RawVisitor.connect(server, http)
        assert len(hub.connections) == 2
        # The live one answers every ping for several rounds and stays; the silent one is dropped.
        pings = 0
        while pings < 5:
            text = await alive.ws.receive_str(timeout=5)
            if text == "2":
                pings += 1
                await alive.send("3")
        message = await silent.ws.receive(timeout=5)
        while message.type == aiohttp.WSMsgType.TEXT:  # its pings, unanswered
            assert message.data == "2"
            message = await silent.ws.receive(timeout=5)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await wait_until(lambda: len(hub.connections) == 1, timeout=5, what="the silent visitor disconnected")
        await alive.send('42/visitor,9["session:resume",{}]')
        [reply] = await alive.ack(9)
        assert reply["ok"] is True
        await alive.ws.close()


async def test_an_answer_that_holds_bytes_is_a_binary_ack(tmp_path: Path) -> None:
    # No shipped handler answers bytes (cobrowse:events, the one binary event, answers {ok, seq}: a
    # plain ACK); one that does must be answered as Socket.IO v4 says: a BINARY_ACK whose
    # placeholders the attachments that follow fill, as socket.io-client and python-socketio
    # expect (not the bytes as base64 text in a plain ACK).
    async def echo(connection: Any, data: Any) -> dict[str, Any]:
        return {"echo": data["blob"], "nested": [data["blob"][:1]], "size": len(data["blob"])}

    # An event whose handler answers bytes (added for this test, as an embedding application would).
    live = LiveServer(make_settings(tmp_path), events=[Events("/visitor", {"test:echo": echo})])
    await live.start()
    try:
        blob = bytes(range(256))
        shopper = await visitor(live)
        reply = await shopper.call("test:echo", {"blob": blob})  # a BINARY_EVENT with an ack
        assert reply == {"ok": True, "echo": blob, "nested": [blob[:1]], "size": 256}
        # On the wire: the header with placeholders, then one binary frame per attachment (on a
        # WebSocket opened at once, and on one that upgraded a long-polling connection).
        for upgrade in (False, True):
            async with raw_visitor(live, upgrade=upgrade) as raw:
                raw.send_text('451-/visitor,5["test:echo",{"blob":{"_placeholder":true,"num":0}}]')
                raw.send(frame(BINARY, b"\x00\xffxy"))
                header = await raw.text()
                assert header == ('462-/visitor,5[{"ok":true,"echo":{"_placeholder":true,"num":0},'
                                  '"nested":[{"_placeholder":true,"num":1}],"size":4}]'), header
                assert [await raw.read_frame(), await raw.read_frame()] == [(BINARY, b"\x00\xffxy"),
                                                                            (BINARY, b"\x00")]
                # An answer without bytes stays a plain ACK.
                raw.send_text('42/visitor,6["session:resume",{}]')
                assert (await raw.ack(6))[0]["ok"] is True
    finally:
        await live.close()
