"""Read marks without a server: only a mark that moves is stored and announced, and the marks of
one reader that arrive while one of theirs is being stored go as one."""

from __future__ import annotations

import asyncio

import pytest

from chatserver.domain.actor import Actor
from chatserver.domain.clock import ManualClock
from chatserver.domain.models import Conversation, PartyKind
from chatserver.domain.ports import NewMessage
from chatserver.domain.queue import WaitingQueue
from chatserver.domain.read_marks import ReadMarks
from chatserver.domain.routing import Dispatcher
from chatserver.domain.tasks import TaskSupervisor
from chatserver.errors import NotFound
from chatserver.storage.sqlite import SQLiteStores

from .conftest import RecordingNotifier, add_agent, waiting_chat


@pytest.fixture
def read_marks(stores: SQLiteStores, notifier: RecordingNotifier, tasks: TaskSupervisor) -> ReadMarks:
    return ReadMarks(conversations=stores.conversations, notifier=notifier, tasks=tasks)


async def _chat_with_messages(stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, dispatcher: Dispatcher,
                              count: int) -> tuple[Conversation, Actor]:
    """A chat ann holds, with ``count`` messages from the visitor after the join; ann acting."""
    ann = await add_agent(stores.agents, clock, "ann")
    chat = await dispatcher.take(ann, (await waiting_chat(stores.conversations, queue, clock, "v")).id)
    for i in range(count):
        await stores.conversations.append_message(NewMessage(conversation_id=chat.id, kind="text",
                                                             sender_kind=PartyKind.VISITOR,
                                              sender_id=chat.visitor_id, sender_name=None, body=f"m{i}",
                                              created_at=clock.now(), client_msg_id=f"m{i}"))
    return chat, Actor(kind=PartyKind.AGENT, id=ann.id, name=ann.name)


async def test_a_mark_is_announced_only_when_it_moves(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, notifier: RecordingNotifier,
        dispatcher: Dispatcher, read_marks: ReadMarks) -> None:
    chat, ann = await _chat_with_messages(stores, queue, clock, dispatcher, 3)
    notifier.events.clear()
    assert await read_marks.mark_read(ann, chat.id, 2) == 2
    assert await read_marks.mark_read(ann, chat.id, 1) == 2  # never lowered
    assert await read_marks.mark_read(ann, chat.id, 99) == 4  # never past the last message
    assert notifier.of("read") == [(chat.id, "agent", 2), (chat.id, "agent", 4)]


async def test_marks_of_one_reader_arriving_together_are_stored_and_announced_once(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, notifier: RecordingNotifier,
        dispatcher: Dispatcher, read_marks: ReadMarks, tasks: TaskSupervisor) -> None:
    chat, ann = await _chat_with_messages(stores, queue, clock, dispatcher, 6)
    notifier.events.clear()
    first = asyncio.ensure_future(read_marks.mark_read(ann, chat.id, 2))
    await asyncio.sleep(0)  # the first mark is being stored
    rest = [asyncio.ensure_future(read_marks.mark_read(ann, chat.id, seq)) for seq in (4, 6, 5)]
    await asyncio.sleep(0)
    assert read_marks.waiting_mark((chat.id, PartyKind.AGENT, ann.id)) == 6
    assert await first == 2
    assert await asyncio.gather(*rest) == [6, 6, 6]
    await tasks.idle()
    assert notifier.of("read") == [(chat.id, "agent", 2), (chat.id, "agent", 6)]
    assert read_marks.waiting_mark((chat.id, PartyKind.AGENT, ann.id)) is None


async def test_a_failed_mark_fails_every_caller_waiting_for_it(
        stores: SQLiteStores, clock: ManualClock, read_marks: ReadMarks) -> None:
    visitor = Actor(kind=PartyKind.VISITOR, id="nobody")
    first = asyncio.ensure_future(read_marks.mark_read(visitor, "no-such-chat", 1))
    await asyncio.sleep(0)
    waiting = asyncio.ensure_future(read_marks.mark_read(visitor, "no-such-chat", 2))
    await asyncio.sleep(0)
    assert read_marks.waiting_mark(("no-such-chat", PartyKind.VISITOR, "nobody")) == 2
    results = await asyncio.gather(first, waiting, return_exceptions=True)
    assert [type(r) for r in results] == [NotFound, NotFound]
