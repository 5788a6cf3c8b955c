"""Delivery (transport/delivery.py) over a real SQLite store: every subscribed connection gets
each message once and in order, whether it is written at once (``emit_now``) or goes through the
emit that may suspend, and a live message never overtakes a replay or a gap being filled."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chatserver import constants as C
from chatserver.domain.models import Message
from chatserver.domain.ports import ConversationStore
from chatserver.storage.sqlite import SQLiteStores
from chatserver.transport.delivery import Delivery

from ..storage.support import new_conversation, visitor_message

VISITOR, AGENT = "visitor-sid", "agent-sid"


@pytest.fixture
async def conversations(tmp_path: Path) -> AsyncIterator[ConversationStore]:
    stores = SQLiteStores.at(tmp_path / "chat.db")
    await stores.database.open()
    try:
        await stores.conversations.create_conversation(new_conversation(), [])
        yield stores.conversations
    finally:
        await stores.database.close()


class Wire:
    """What each connection was sent (sequence numbers, in order) and which way: at once while
    ``at_once``, else through ``emit``, which waits for ``gate`` while it is set."""

    def __init__(self) -> None:
        self.sent: dict[str, list[int]] = defaultdict(list)
        self.ways: list[str] = []
        self.at_once = True
        self.gate: asyncio.Event | None = None

    def emit_now(self, event: str, data: Any, sid: str, namespace: str) -> bool:
        if not self.at_once:
            return False
        self._record(event, data, sid, "now")
        return True

    async def emit(self, event: str, data: Any, sid: str, namespace: str) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self._record(event, data, sid, "emit")

    def _record(self, event: str, data: Any, sid: str, way: str) -> None:
        assert event == C.EV_MESSAGE_NEW
        self.sent[sid].append(data["seq"])
        self.ways.append(way)


async def store(conversations: ConversationStore, n: int) -> Message:
    _, message, created = await conversations.append_message(visitor_message(f"m{n}", f"id{n}"))
    assert created
    return message


async def test_live_messages_are_written_at_once_in_order_and_not_to_their_sender(
    conversations: ConversationStore,
) -> None:
    wire = Wire()
    delivery = Delivery(conversations, wire.emit, emit_now=wire.emit_now)
    for sid, namespace in ((VISITOR, C.VISITOR_NAMESPACE), (AGENT, C.AGENT_NAMESPACE)):
        assert await delivery.join(sid, namespace, "p", "c1", 0) == 0
    for n in range(1, 4):
        message = await store(conversations, n)
        await delivery.deliver(message, VISITOR)
        await delivery.deliver(message, VISITOR)  # a second time (another process sent it too): nothing
    assert wire.sent == {AGENT: [1, 2, 3]}
    assert wire.ways == ["now"] * 3
    # The sender's watermark moved with its own messages: joining again after them replays nothing.
    assert await delivery.join(VISITOR, C.VISITOR_NAMESPACE, "p", "c1", 3) == 3
    assert wire.sent == {AGENT: [1, 2, 3]}


async def test_a_connection_not_written_at_once_gets_its_messages_through_emit(
    conversations: ConversationStore,
) -> None:
    wire = Wire()
    wire.at_once = False  # long-polling, or a ping out: the packet goes the way that may suspend
    delivery = Delivery(conversations, wire.emit, emit_now=wire.emit_now)
    await delivery.join(AGENT, C.AGENT_NAMESPACE, "a1", "c1", 0)
    for n in range(1, 4):
        await delivery.deliver(await store(conversations, n), None)
    assert wire.sent == {AGENT: [1, 2, 3]}
    assert wire.ways == ["emit"] * 3


async def test_a_live_message_waits_for_the_replay_in_progress(conversations: ConversationStore) -> None:
    wire = Wire()
    delivery = Delivery(conversations, wire.emit, emit_now=wire.emit_now)
    for n in range(1, 4):
        await store(conversations, n)
    wire.gate = asyncio.Event()  # the replay's first message waits to be written
    join = asyncio.create_task(delivery.join(AGENT, C.AGENT_NAMESPACE, "a1", "c1", 0))
    await asyncio.sleep(0.05)
    assert wire.sent == {}
    live = asyncio.create_task(delivery.deliver(await store(conversations, 4), None))
    await asyncio.sleep(0.05)
    assert wire.sent == {}  # not written at once past the replay
    wire.gate.set()
    assert await join == 3
    await live
    assert wire.sent == {AGENT: [1, 2, 3, 4]}


async def test_a_gap_is_filled_from_storage_before_the_message_that_shows_it(
    conversations: ConversationStore,
) -> None:
    wire = Wire()
    delivery = Delivery(conversations, wire.emit, emit_now=wire.emit_now)
    await delivery.join(AGENT, C.AGENT_NAMESPACE, "a1", "c1", 0)
    first = await store(conversations, 1)
    second = await store(conversations, 2)
    await delivery.deliver(second, None)  # committed by a concurrent sender, delivered first
    await delivery.deliver(first, None)
    assert wire.sent == {AGENT: [1, 2]}
    assert wire.ways == ["emit", "emit"]  # the gap and the message behind it, in the lock's order


async def test_without_emit_now_every_message_goes_through_emit(conversations: ConversationStore) -> None:
    wire = Wire()
    delivery = Delivery(conversations, wire.emit)
    await delivery.join(AGENT, C.AGENT_NAMESPACE, "a1", "c1", 0)
    for n in range(1, 3):
        await delivery.deliver(await store(conversations, n), None)
    assert wire.sent == {AGENT: [1, 2]}
    assert wire.ways == ["emit", "emit"]
