"""The conversation lifecycle without a server: start, message, page, typing, rate, close, and
the periodic sweep, through ``ChatService`` over real ports."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from chatserver.domain.actor import Actor
from chatserver.domain.clock import ManualClock
from chatserver.domain.conversations import ChatService
from chatserver.domain.grace import GracePeriods
from chatserver.domain.locks import KeyedLocks
from chatserver.domain.models import AgentStatus, ConversationStatus, PageContext, PartyKind, PreChat
from chatserver.domain.presence import PresenceChanges
from chatserver.domain.queue import WaitingQueue
from chatserver.domain.repair import RoutingRepair
from chatserver.domain.routing import Dispatcher, RoutingPolicy
from chatserver.domain.tasks import TaskSupervisor
from chatserver.errors import ConversationClosed, ConversationNotClosed, Forbidden, InvalidPayload, NotFound
from chatserver.storage.memory import MemoryRoutingState
from chatserver.storage.sqlite import SQLiteStores

from .conftest import RecordingNotifier, add_agent


@pytest.fixture
def prepared() -> list[str]:
    """The visitors ``prepare_visitor`` was called for (customer records link them)."""
    return []


@pytest.fixture
async def service(stores: SQLiteStores, routing: MemoryRoutingState, notifier: RecordingNotifier, clock: ManualClock,
                  policy: RoutingPolicy, locks: KeyedLocks, repair: RoutingRepair, tasks: TaskSupervisor,
                  queue: WaitingQueue, dispatcher: Dispatcher, grace: GracePeriods, changes: PresenceChanges,
                  prepared: list[str]) -> AsyncIterator[ChatService]:
    ids = itertools.count(1)

    async def prepare(visitor_id: str, prechat: PreChat) -> None:
        prepared.append(visitor_id)

    chats = ChatService(conversations=stores.conversations, routing=routing, notifier=notifier, clock=clock,
                        new_id=lambda: f"c{next(ids)}", policy=policy, locks=locks, repair=repair, tasks=tasks,
                        queue=queue, dispatcher=dispatcher, grace=grace, presence_changes=changes,
                        prepare_visitor=prepare)
    yield chats
    await chats.shutdown()  # before the store closes


def _visitor(visitor_id: str) -> Actor:
    return Actor(kind=PartyKind.VISITOR, id=visitor_id)


def _prechat(*, page_url: str | None = None, department: str | None = None) -> PreChat:
    return PreChat(name="Vic", question="where is my parcel?", page_url=page_url, department=department)


async def test_starting_twice_gives_one_conversation_whose_first_message_is_the_question(
        stores: SQLiteStores, routing: MemoryRoutingState, notifier: RecordingNotifier, service: ChatService) -> None:
    conversation, created = await service.start_chat("vic", _prechat())
    again, created_again = await service.start_chat("vic", _prechat())
    assert (created, created_again, again.id) == (True, False, conversation.id)
    assert await routing.position(conversation.id) == 1
    messages = await stores.conversations.messages_after(conversation.id, 0, 10)
    assert [(m.kind, m.body) for m in messages] == [("system", "chat_started"), ("text", "where is my parcel?")]
    assert notifier.of("queue") == [()]


async def test_a_chat_for_an_unknown_department_is_refused_before_anything_is_stored(
        stores: SQLiteStores, service: ChatService, prepared: list[str]) -> None:
    with pytest.raises(InvalidPayload):
        await service.start_chat("vic", _prechat(department="legal"))
    assert prepared == [] and await stores.conversations.active_conversation_for_visitor("vic") is None
    await service.start_chat("vic", _prechat(department="billing"))
    assert prepared == ["vic"]


async def test_a_checkout_chat_waits_ahead_of_older_questions(
        routing: MemoryRoutingState, clock: ManualClock, service: ChatService) -> None:
    general, _ = await service.start_chat("early", _prechat())
    clock.advance(60)
    checkout, _ = await service.start_chat("paying", _prechat(page_url="https://shop.example/checkout"))
    assert [await routing.position(c.id) for c in (checkout, general)] == [1, 2]
    assert checkout.priority == 1


async def test_a_resent_message_is_stored_and_delivered_once(
        notifier: RecordingNotifier, service: ChatService) -> None:
    conversation, _ = await service.start_chat("vic", _prechat())
    first, created = await service.send_message(_visitor("vic"), conversation.id, "m1", "hello", "sid-1")
    again, created_again = await service.send_message(_visitor("vic"), conversation.id, "m1", "hello", "sid-1")
    assert (created, created_again, again.seq) == (True, False, first.seq)
    assert notifier.of("message") == [(conversation.id, "text", "hello", "sid-1")]


async def test_closing_frees_the_agent_who_then_gets_the_next_chat(
        stores: SQLiteStores, clock: ManualClock, routing: MemoryRoutingState, notifier: RecordingNotifier,
        changes: PresenceChanges, tasks: TaskSupervisor, service: ChatService) -> None:
    ann = await add_agent(stores.agents, clock, "ann", capacity=1)
    await changes.agent_connected(ann, "tab")
    first, _ = await service.start_chat("first", _prechat())
    second, _ = await service.start_chat("second", _prechat())
    await tasks.idle()
    notifier.events.clear()
    closed = await service.close(_visitor("first"), first.id)
    await tasks.idle()
    assert (closed.status, closed.closed_by) == (ConversationStatus.CLOSED, PartyKind.VISITOR)
    assert notifier.events[:2] == [("changed", first.id, "closed", ann.id, ann.id),
                                   ("message", first.id, "system", "closed", None)]
    stored = await stores.conversations.get_conversation(second.id)
    assert stored is not None and stored.agent_id == ann.id  # routing gave ann the next chat
    assert await routing.load(ann.id) == 1
    assert (await service.close(_visitor("first"), first.id)).closed_at == closed.closed_at  # unchanged


async def test_closing_a_waiting_chat_takes_it_off_the_queue(
        routing: MemoryRoutingState, notifier: RecordingNotifier, service: ChatService) -> None:
    conversation, _ = await service.start_chat("vic", _prechat())
    notifier.events.clear()
    await service.force_close(conversation.id, "closed_by_admin:root")
    assert await routing.position(conversation.id) is None
    assert notifier.of("queue") == [()]
    with pytest.raises(NotFound):
        await service.force_close("no-such-chat", "closed_by_admin:root")


async def test_chats_without_a_message_for_a_while_are_closed_as_abandoned(
        clock: ManualClock, service: ChatService) -> None:
    old, _ = await service.start_chat("old", _prechat())
    clock.advance(3600)
    recent, _ = await service.start_chat("recent", _prechat())
    clock.advance(60)
    assert await service.close_abandoned(idle_for=600) == 1
    stored = await service.conversations.get_conversations([old.id, recent.id])
    assert [stored[c.id].status for c in (old, recent)] == [ConversationStatus.CLOSED, ConversationStatus.QUEUED]


async def test_only_the_visitor_rates_and_only_an_ended_chat(
        stores: SQLiteStores, clock: ManualClock, dispatcher: Dispatcher, service: ChatService) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    conversation, _ = await service.start_chat("vic", _prechat())
    await dispatcher.take(ann, conversation.id)
    with pytest.raises(ConversationNotClosed):
        await service.rate(_visitor("vic"), conversation.id, 5, None)
    await service.close(_visitor("vic"), conversation.id)
    with pytest.raises(Forbidden):
        await service.rate(Actor(kind=PartyKind.AGENT, id=ann.id), conversation.id, 5, None)
    await service.rate(_visitor("vic"), conversation.id, 4, "quick")
    rating = await stores.conversations.rating(conversation.id)
    assert rating is not None and (rating.rating, rating.comment) == (4, "quick")


async def test_a_new_page_is_kept_and_told_and_the_same_page_changes_nothing(
        notifier: RecordingNotifier, service: ChatService) -> None:
    conversation, _ = await service.start_chat("vic", _prechat(page_url="https://shop.example/shoes"))
    notifier.events.clear()
    _, changed = await service.update_page(_visitor("vic"), conversation.id,
                                           PageContext(page_url="https://shop.example/shoes"))
    assert not changed and notifier.events == []
    updated, changed = await service.update_page(_visitor("vic"), conversation.id,
                                                 PageContext(page_url="https://shop.example/cart", checkout=True))
    assert changed and updated.prechat.page_url == "https://shop.example/cart"
    assert notifier.events == [("changed", conversation.id, "queued", None, None), ("queue",)]


async def test_typing_is_told_only_on_an_open_chat_of_ones_own(
        notifier: RecordingNotifier, service: ChatService) -> None:
    conversation, _ = await service.start_chat("vic", _prechat())
    with pytest.raises(NotFound):
        await service.set_typing(_visitor("someone-else"), conversation.id, True)
    await service.set_typing(_visitor("vic"), conversation.id, True)
    await service.close(_visitor("vic"), conversation.id)
    with pytest.raises(ConversationClosed):
        await service.update_page(_visitor("vic"), conversation.id, PageContext(page_url="x"))
    await service.set_typing(_visitor("vic"), conversation.id, False)
    assert notifier.of("typing") == [(conversation.id, "visitor", True)]


async def test_the_sweep_routes_department_chats_past_their_fallback(
        stores: SQLiteStores, clock: ManualClock, routing: MemoryRoutingState, policy: RoutingPolicy,
        changes: PresenceChanges, tasks: TaskSupervisor, service: ChatService) -> None:
    ann = await add_agent(stores.agents, clock, "ann", departments=("billing",))
    await changes.agent_connected(ann, "tab", AgentStatus.ONLINE)
    conversation, _ = await service.start_chat("vic", _prechat(department="returns"))
    await tasks.idle()
    await service.sweep()
    assert await routing.position(conversation.id) == 1
    clock.advance(policy.department_fallback_after)
    await service.sweep()
    assert await routing.load(ann.id) == 1
