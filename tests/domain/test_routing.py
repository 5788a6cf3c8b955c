"""Routing rules without a server: who comes first, who may take what, capacity, and claims."""

from __future__ import annotations

import asyncio

import pytest

from chatserver.domain.clock import ManualClock
from chatserver.domain.models import AgentStatus, ConversationStatus, PreChat
from chatserver.domain.ports import Transition
from chatserver.domain.queue import WaitingQueue
from chatserver.domain.routing import Dispatcher, RoutingPolicy
from chatserver.domain.tasks import TaskSupervisor
from chatserver.errors import AlreadyTaken, AtCapacity, ConversationClosed, NotFound
from chatserver.storage.memory import MemoryPresence, MemoryRoutingState
from chatserver.storage.sqlite import SQLiteStores

from .conftest import RecordingNotifier, add_agent, online, waiting_chat


def test_checkout_pages_come_before_general_questions(policy: RoutingPolicy) -> None:
    assert policy.priority(PreChat(name="a", question="q", checkout=True)) == 1
    assert policy.priority(PreChat(name="a", question="q", page_url="https://shop.example/checkout/pay")) == 1
    assert policy.priority(PreChat(name="a", question="q", page_url="https://shop.example/shoes")) == 0
    assert policy.priority(PreChat(name="a", question="q")) == 0


async def test_each_chat_goes_to_the_least_loaded_agent_oldest_chat_first(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, presence: MemoryPresence,
        routing: MemoryRoutingState, dispatcher: Dispatcher) -> None:
    ann, bob = await add_agent(stores.agents, clock, "ann"), await add_agent(stores.agents, clock, "bob")
    chats = [await waiting_chat(stores.conversations, queue, clock, f"v{i}") for i in range(3)]
    await online(presence, ann)
    await online(presence, bob)
    assert await dispatcher.dispatch() == 3
    stored = await stores.conversations.get_conversations([c.id for c in chats])
    # A tie goes to the agent who came first (ann); the second chat to the one with fewer.
    assert [stored[c.id].agent_id for c in chats] == [ann.id, bob.id, ann.id]
    assert [await routing.load(a.id) for a in (ann, bob)] == [2, 1]
    assert await routing.waiting_count() == 0


async def test_a_priority_chat_is_served_before_older_general_ones(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, presence: MemoryPresence,
        dispatcher: Dispatcher) -> None:
    ann = await add_agent(stores.agents, clock, "ann", capacity=1)
    await waiting_chat(stores.conversations, queue, clock, "early")
    clock.advance(30)
    checkout = await waiting_chat(stores.conversations, queue, clock, "checkout", priority=1)
    await online(presence, ann)
    assert await dispatcher.dispatch() == 1
    assert (await stores.conversations.get_conversations([checkout.id]))[checkout.id].agent_id == ann.id


async def test_nobody_takes_more_than_their_capacity(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, presence: MemoryPresence,
        routing: MemoryRoutingState, dispatcher: Dispatcher) -> None:
    ann = await add_agent(stores.agents, clock, "ann", capacity=1)
    await waiting_chat(stores.conversations, queue, clock, "first")
    second = await waiting_chat(stores.conversations, queue, clock, "second")
    await online(presence, ann)
    assert await dispatcher.dispatch() == 1
    assert await routing.load(ann.id) == 1
    assert await routing.position(second.id) == 1


async def test_away_and_disabled_agents_are_passed_over(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, presence: MemoryPresence,
        routing: MemoryRoutingState, dispatcher: Dispatcher) -> None:
    away = await add_agent(stores.agents, clock, "away")
    disabled = await add_agent(stores.agents, clock, "disabled", disabled=True)
    chat = await waiting_chat(stores.conversations, queue, clock, "v")
    await online(presence, away, AgentStatus.AWAY)
    await online(presence, disabled)
    assert await dispatcher.dispatch() == 0
    assert await routing.position(chat.id) == 1


async def test_a_department_chat_goes_to_its_agents_until_the_fallback(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, presence: MemoryPresence,
        routing: MemoryRoutingState, dispatcher: Dispatcher, policy: RoutingPolicy) -> None:
    billing = await add_agent(stores.agents, clock, "billing", capacity=5, departments=("billing",))
    returns_chat = await waiting_chat(stores.conversations, queue, clock, "returns", department="returns")
    billing_chat = await waiting_chat(stores.conversations, queue, clock, "billing", department="billing")
    general_chat = await waiting_chat(stores.conversations, queue, clock, "general")
    await online(presence, billing)
    assert await dispatcher.dispatch() == 2  # their department's chat and the general one
    assert await routing.position(returns_chat.id) == 1
    clock.advance(policy.department_fallback_after - 1)
    assert await dispatcher.dispatch() == 0
    clock.advance(1)
    assert await dispatcher.dispatch() == 1  # waited long enough: anyone may take it
    stored = await stores.conversations.get_conversations([returns_chat.id, billing_chat.id, general_chat.id])
    assert {c.agent_id for c in stored.values()} == {billing.id}


async def test_an_assignment_is_stored_and_announced_with_its_system_message(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, presence: MemoryPresence,
        notifier: RecordingNotifier, dispatcher: Dispatcher) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    chat = await waiting_chat(stores.conversations, queue, clock, "v")
    await online(presence, ann)
    await dispatcher.dispatch()
    assert notifier.events == [
        ("changed", chat.id, "assigned", ann.id, None),
        ("message", chat.id, "system", "agent_joined", None),
        ("queue",),
    ]
    assert [(e.event, e.agent_id) for e in await stores.conversations.assignments(chat.id)] == [("assigned", ann.id)]


async def test_dispatch_soon_routes_in_the_background(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, presence: MemoryPresence,
        routing: MemoryRoutingState, dispatcher: Dispatcher, tasks: TaskSupervisor) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    await waiting_chat(stores.conversations, queue, clock, "v")
    await online(presence, ann)
    dispatcher.dispatch_soon()
    await tasks.idle()
    assert await routing.load(ann.id) == 1


async def test_of_two_agents_taking_one_chat_exactly_one_wins(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, routing: MemoryRoutingState,
        dispatcher: Dispatcher) -> None:
    ann, bob = await add_agent(stores.agents, clock, "ann"), await add_agent(stores.agents, clock, "bob")
    chat = await waiting_chat(stores.conversations, queue, clock, "v")
    results = await asyncio.gather(dispatcher.take(ann, chat.id), dispatcher.take(bob, chat.id),
                                   return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1 and isinstance(next(r for r in results if r not in winners), AlreadyTaken)
    stored = await stores.conversations.get_conversation(chat.id)
    assert stored is not None and stored.status == ConversationStatus.ASSIGNED
    assert [await routing.load(a.id) for a in (ann, bob)] == [int(stored.agent_id == ann.id),
                                                             int(stored.agent_id == bob.id)]


async def test_taking_again_a_chat_one_holds_returns_it(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, routing: MemoryRoutingState,
        dispatcher: Dispatcher) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    chat = await waiting_chat(stores.conversations, queue, clock, "v")
    first = await dispatcher.take(ann, chat.id)
    again = await dispatcher.take(ann, chat.id)
    assert (first.id, first.agent_id) == (again.id, again.agent_id) == (chat.id, ann.id)
    assert await routing.load(ann.id) == 1


async def test_a_take_beyond_capacity_is_refused_and_the_chat_keeps_its_place(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, routing: MemoryRoutingState,
        dispatcher: Dispatcher) -> None:
    ann = await add_agent(stores.agents, clock, "ann", capacity=1)
    held = await waiting_chat(stores.conversations, queue, clock, "held")
    other = await waiting_chat(stores.conversations, queue, clock, "other")
    await dispatcher.take(ann, held.id)
    with pytest.raises(AtCapacity):
        await dispatcher.take(ann, other.id)
    assert await routing.position(other.id) == 1


async def test_taking_a_closed_or_unknown_chat_is_refused(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, dispatcher: Dispatcher) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    with pytest.raises(NotFound):
        await dispatcher.take(ann, "no-such-chat")
    chat = await waiting_chat(stores.conversations, queue, clock, "v")
    # Closed in the database while the routing state still has it waiting (a close in flight):
    # the claim is granted, storing it fails its guard, and the claim is let go.
    await stores.conversations.transition(Transition(conversation_id=chat.id,
                                                     expect=frozenset({ConversationStatus.QUEUED}),
                                      status=ConversationStatus.CLOSED, agent_id=None, agent_name=None,
                                      at=clock.now(), event="closed"))
    with pytest.raises(ConversationClosed):
        await dispatcher.take(ann, chat.id)
    with pytest.raises(ConversationClosed):  # and now the routing state knows it is not waiting
        await dispatcher.take(ann, chat.id)


async def test_a_claim_released_after_a_failed_guard_frees_the_agent(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, routing: MemoryRoutingState,
        dispatcher: Dispatcher) -> None:
    ann = await add_agent(stores.agents, clock, "ann", capacity=1)
    chat = await waiting_chat(stores.conversations, queue, clock, "v")
    await stores.conversations.transition(Transition(conversation_id=chat.id,
                                                     expect=frozenset({ConversationStatus.QUEUED}),
                                      status=ConversationStatus.CLOSED, agent_id=None, agent_name=None,
                                      at=clock.now(), event="closed"))
    with pytest.raises(ConversationClosed):
        await dispatcher.take(ann, chat.id)
    assert await routing.load(ann.id) == 0
    assert await routing.claims_in_flight([chat.id]) == set()
