"""Clients that do not read what the server sends them: the server stops reading from such a
connection while its unsent output is over the high-water mark (so a client cannot make the server
write to itself without reading), never makes a sender wait for it, and cuts it once its unread
output passes ``max_unsent_bytes``; the client then resumes from its last ``seq``."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from chatserver.config import Settings, load_settings
from chatserver.transport.direct_ws import HIGH_WATER

from ..support import LiveServer, agent, make_settings, prechat, wait_until
from .raw_socket import PING, Polling, frame, raw_visitor, server_websocket

PONG_FRAME = bytes([0x8A, 125]) + b"p" * 125  # the server's answer to a ping of 125 bytes


# A WebSocket opened directly and one that upgraded a long-polling connection.
def _small_bound(tmp_path: Path) -> Settings:
    """A small max_unsent_bytes (it must hold a co-browse replay, so the co-browse buffer is small
    too), and no rate limit on the agent's messages."""
    return make_settings(tmp_path, max_unsent_bytes=1_200_000, cobrowse_max_buffer_bytes=64 * 1024,
                         message_rate=100_000.0, message_burst=100_000, event_rate=100_000.0, event_burst=100_000)


BOTH_PATHS = pytest.mark.parametrize("upgrade", [False, True], ids=["direct", "upgraded"])


@BOTH_PATHS
async def test_a_client_that_sends_pings_and_never_reads_is_no_longer_read_from(
    server: LiveServer, upgrade: bool,
) -> None:
    async with raw_visitor(server, receive_buffer=16 * 1024, upgrade=upgrade) as raw:
        ws = server_websocket(server)
        # 26 MB of pings: far more than the kernel's buffers hold on both sides.
        count = 200_000
        raw.send(frame(PING, b"p" * 125) * count)
        sending = asyncio.create_task(raw.writer.drain())
        await wait_until(lambda: not ws._transport.is_reading(), what="the server to stop reading")
        # It holds about the high-water mark for the client, and what one read brought in.
        assert ws._transport.get_write_buffer_size() < HIGH_WATER + 512 * 1024
        # Once the client reads, so does the server: every ping is answered, and it serves on.
        assert await asyncio.wait_for(raw.reader.readexactly(count * len(PONG_FRAME)), 30) == PONG_FRAME * count
        await sending
        raw.send_text('42/visitor,1["session:resume",{}]')
        assert (await raw.ack(1))[0]["ok"] is True


@BOTH_PATHS
async def test_a_client_that_does_not_read_holds_up_no_sender_and_is_cut(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, upgrade: bool,
) -> None:
    settings = _small_bound(tmp_path)
    server = LiveServer(settings)
    await server.start()
    try:
        console = await agent(server, await server.add_agent("Alice"))
        token = await server.visitor_token()
        hub = server.parts.transport.hub
        body = "x" * settings.max_message_chars
        async with raw_visitor(server, token=token, receive_buffer=16 * 1024, upgrade=upgrade) as raw:
            raw.send_text("42/visitor,1" + json.dumps(["chat:start", prechat()]))
            [started] = await raw.ack(1)
            cid = started["conversation"]["id"]
            await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
            await console.call("conversation:join", {"conversation_id": cid, "after_seq": 0})
            # The shopper reads nothing more. Each of the agent's messages is stored and
            # acknowledged at once (delivering it to the shopper waits for nothing), until what the
            # shopper left unread passes max_unsent_bytes and its connection is cut.
            sent = 0
            while any(c.namespace == "/visitor" for c in hub.connections.values()):
                assert sent < 4000, "the connection of a client that does not read was never cut"
                ack = await console.call("message:send", {"conversation_id": cid, "client_msg_id": f"a-{sent}",
                                                          "body": body})
                assert ack.get("ok"), (sent, ack)
                sent += 1
            # Cut: the shopper reads what the kernel had taken of it, then the connection ends.
            while await asyncio.wait_for(raw.reader.read(1 << 20), 5):
                pass
        # Logged once, without anything the connection carried.
        cuts = [r for r in caplog.records if r.getMessage().startswith("WebSocket cut")]
        assert len(cuts) == 1 and cuts[0].levelno == logging.WARNING
        assert "xxxx" not in caplog.text
        # Nothing stored is lost: back, the shopper gets every message after the last it had.
        async with raw_visitor(server, token=token) as again:
            again.send_text("42/visitor,2" + json.dumps(["conversation:join", {"conversation_id": cid,
                                                                                "after_seq": 3}]))
            seqs, joined = [], None
            while joined is None or len(seqs) < sent:
                text = await again.text()
                if text.startswith('42/visitor,["message:new"'):
                    seqs.append(json.loads(text[len("42/visitor,"):])[1]["seq"])
                elif text.startswith("43/visitor,2"):
                    [joined] = json.loads(text[len("43/visitor,2"):])
            assert joined["last_seq"] == 3 + sent
            assert seqs == list(range(4, 4 + sent))
    finally:
        await server.close()


async def test_a_polling_client_that_does_not_poll_is_cut(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = _small_bound(tmp_path)
    server = LiveServer(settings)
    await server.start()
    try:
        console = await agent(server, await server.add_agent("Alice"))
        token = await server.visitor_token()
        hub = server.parts.transport.hub
        polling = await Polling.open(server)
        await polling.join(token)
        assert await polling.post("42/visitor,1" + json.dumps(["chat:start", prechat()])) == 200
        started = None
        while started is None:
            status, packets = await polling.get()
            assert status == 200, packets
            for text in packets:
                if text.startswith("43/visitor,1["):
                    [started] = json.loads(text[len("43/visitor,1"):])
        cid = started["conversation"]["id"]
        await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
        await console.call("conversation:join", {"conversation_id": cid, "after_seq": 0})
        # The shopper polls no more: the agent's messages wait for it, each acknowledged at once,
        # until they pass max_unsent_bytes and the connection is cut.
        body = "x" * settings.max_message_chars
        sent = 0
        while any(c.namespace == "/visitor" for c in hub.connections.values()):
            assert sent < 1000, "the connection of a client that does not poll was never cut"
            ack = await console.call("message:send", {"conversation_id": cid, "client_msg_id": f"a-{sent}",
                                                      "body": body})
            assert ack.get("ok"), (sent, ack)
            sent += 1
        await wait_until(lambda: polling.sid not in hub.sio.eio.sockets, timeout=5, what="its socket forgotten")
        assert (await polling.get())[0] == 400  # the connection is gone
        cuts = [r for r in caplog.records if r.getMessage().startswith("Long-polling connection cut")]
        assert len(cuts) == 1 and cuts[0].levelno == logging.WARNING
        assert "xxxx" not in caplog.text
        # Nothing stored is lost: back, the shopper gets every message after the one it asks from.
        # (A replay is written at once, so it must fit in max_unsent_bytes itself: here the last
        # 100 messages.)
        after = 3 + sent - 100
        again = await Polling.open(server)
        await again.join(token)
        assert await again.post("42/visitor,2" + json.dumps(["conversation:join", {"conversation_id": cid,
                                                                                    "after_seq": after}])) == 200
        seqs, joined = [], None
        while joined is None or len(seqs) < 100:
            status, packets = await again.get()
            assert status == 200, packets
            for text in packets:
                if text.startswith('42/visitor,["message:new"'):
                    seqs.append(json.loads(text[len("42/visitor,"):])[1]["seq"])
                elif text.startswith("43/visitor,2"):
                    [joined] = json.loads(text[len("43/visitor,2"):])
        assert joined["last_seq"] == 3 + sent
        assert seqs == list(range(after + 1, 4 + sent))
    finally:
        await server.close()


def test_the_bound_must_hold_a_late_joiners_co_browse_replay() -> None:
    replay = 2 * 16 * 1024 * 1024 + 1_000_000  # twice cobrowse_max_buffer_bytes, and a message
    assert load_settings({"max_unsent_bytes": replay}, environ={}).max_unsent_bytes == replay
    with pytest.raises(ValueError, match="max_unsent_bytes"):
        load_settings({"max_unsent_bytes": replay - 1}, environ={})
