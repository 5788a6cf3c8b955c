"""The comparison's reference relays, driven by python-socketio clients: they relay what the
ping-pong sends, and the storing Node relay has every message in its SQLite file, in order,
before the other side sees it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import socketio

from loadtests import loadgen
from loadtests.errors import LoadTestError
from loadtests.loadgen import ReferenceRelay


async def _pair(url: str, room: str) -> tuple[socketio.AsyncClient, socketio.AsyncClient, asyncio.Queue[str]]:
    received: asyncio.Queue[str] = asyncio.Queue()
    sender, receiver = socketio.AsyncClient(reconnection=False), socketio.AsyncClient(reconnection=False)
    receiver.on("msg", received.put_nowait)
    for client in (sender, receiver):
        await client.connect(url, transports=["websocket"])
        assert await client.call("join", room, timeout=5) == {"ok": True}
    return sender, receiver, received


@pytest.mark.parametrize("kind", ["node", "node_sqlite", "aiohttp"])
async def test_a_reference_relay_passes_messages_to_the_other_member_of_the_room(kind: str) -> None:
    async with ReferenceRelay(kind) as relay:
        sender, receiver, received = await _pair(relay.url, "r1")
        try:
            for n in range(5):
                await sender.emit("msg", ("r1", f"p:{n}"))
            got = [await asyncio.wait_for(received.get(), 5) for _ in range(5)]
        finally:
            await sender.disconnect()
            await receiver.disconnect()
    assert got == [f"p:{n}" for n in range(5)]


async def test_the_node_relay_passes_binary_cobrowse_batches_to_the_other_member_unchanged() -> None:
    async with ReferenceRelay("node") as relay:
        sender, receiver, _ = await _pair(relay.url, "r3")
        batches: asyncio.Queue[dict[str, object]] = asyncio.Queue()
        echoed: asyncio.Queue[dict[str, object]] = asyncio.Queue()
        receiver.on("cobrowse:events", batches.put_nowait)
        sender.on("cobrowse:events", echoed.put_nowait)
        sent = [{"session_id": "r3", "seq": n, "snapshot": False, "part": 0, "parts": 1, "t": 1.5,
                 "data": bytes([n]) * 300} for n in range(1, 6)]
        try:
            for batch in sent:
                await sender.emit("cobrowse:events", ("r3", batch))
            got = [await asyncio.wait_for(batches.get(), 5) for _ in sent]
        finally:
            await sender.disconnect()
            await receiver.disconnect()
    assert got == sent and echoed.empty()


async def test_the_storing_relay_has_every_message_stored_before_it_is_relayed(tmp_path: Path) -> None:
    async with ReferenceRelay("node_sqlite", data_dir=tmp_path) as relay:
        sender, receiver, received = await _pair(relay.url, "r7")
        try:
            for n in range(20):
                await sender.emit("msg", ("r7", f"p:{n}"))
            await sender.emit("msg", ("not-a-room", "lost"))  # a room nobody joined: not stored, not relayed
            for n in range(20):
                assert await asyncio.wait_for(received.get(), 5) == f"p:{n}"
                # Relayed after COMMIT: another connection already reads it.
                with sqlite3.connect(relay.database) as db:
                    stored = db.execute("SELECT body FROM messages WHERE room_id = 'r7' AND seq = ?",
                                        (n + 1,)).fetchone()
                assert stored == (f"p:{n}",)
        finally:
            await sender.disconnect()
            await receiver.disconnect()
    with sqlite3.connect(relay.database) as db:
        rows = db.execute("SELECT room_id, seq, body FROM messages ORDER BY room_id, seq").fetchall()
        assert db.execute("SELECT id, last_seq FROM rooms").fetchall() == [("r7", 20)]
    assert rows == [("r7", n + 1, f"p:{n}") for n in range(20)]
    assert received.empty()


async def test_the_storing_relays_temporary_database_is_removed_afterwards() -> None:
    async with ReferenceRelay("node_sqlite") as relay:
        database = relay.database
        sender, receiver, received = await _pair(relay.url, "r2")
        try:
            await sender.emit("msg", ("r2", "p:1"))
            assert await asyncio.wait_for(received.get(), 5) == "p:1"
            assert database.exists()
        finally:
            await sender.disconnect()
            await receiver.disconnect()
    assert not database.parent.exists()


async def test_the_storing_relay_without_its_sqlite_binding_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(loadgen, "BETTER_SQLITE3", tmp_path / "missing.node")
    with pytest.raises(LoadTestError, match="C\\+\\+ compiler"):
        async with ReferenceRelay("node_sqlite"):
            pass
