"""Restore and repair without a server: the routing state rebuilt from the database after a
restart, and merged with it after a failed write, never dropping a claim still in flight."""

from __future__ import annotations

import pytest

from chatserver.domain.clock import ManualClock
from chatserver.domain.grace import GracePeriods
from chatserver.domain.locks import KeyedLocks
from chatserver.domain.models import Agent, Conversation, ConversationStatus
from chatserver.domain.ports import Transition
from chatserver.domain.queue import WaitingQueue
from chatserver.domain.repair import RoutingRepair
from chatserver.domain.restore import Restorer
from chatserver.storage.memory import MemoryPresence, MemoryRoutingState
from chatserver.storage.sqlite import SQLiteStores

from .conftest import GRACE_PERIOD, add_agent, online, waiting_chat


@pytest.fixture
def restorer(stores: SQLiteStores, routing: MemoryRoutingState, presence: MemoryPresence, queue: WaitingQueue,
             grace: GracePeriods, repair: RoutingRepair) -> Restorer:
    return Restorer(conversations=stores.conversations, routing=routing, presence=presence, queue=queue, grace=grace,
                    repair=repair)


@pytest.fixture
def before_restart(stores: SQLiteStores, presence: MemoryPresence, clock: ManualClock,
                   locks: KeyedLocks) -> WaitingQueue:
    """The queue of the process that stored the chats, whose routing state is gone."""
    return WaitingQueue(routing=MemoryRoutingState(), conversations=stores.conversations, presence=presence,
                        clock=clock,
                        locks=locks, repair=RoutingRepair())


async def _assign(stores: SQLiteStores, clock: ManualClock, chat: Conversation, agent: Agent,
                  status: ConversationStatus = ConversationStatus.ASSIGNED) -> None:
    """Store the chat as ``status`` with the agent, without telling the routing state."""
    await stores.conversations.transition(Transition(conversation_id=chat.id, expect=frozenset({chat.status}),
                                                     status=status,
                                      agent_id=agent.id, agent_name=agent.name, at=clock.now(), event="assigned"))


async def test_a_restart_rebuilds_the_queue_in_its_order_and_what_agents_hold(
        stores: SQLiteStores, clock: ManualClock, presence: MemoryPresence, routing: MemoryRoutingState,
        queue: WaitingQueue, before_restart: WaitingQueue, restorer: Restorer) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    await online(presence, ann)
    general = await waiting_chat(stores.conversations, before_restart, clock, "general")
    priority = await waiting_chat(stores.conversations, before_restart, clock, "priority", priority=1)
    held = await waiting_chat(stores.conversations, before_restart, clock, "held")
    await _assign(stores, clock, held, ann)
    await restorer.restore()
    assert [await routing.position(c.id) for c in (priority, general, held)] == [1, 2, None]
    assert await routing.held() == {ann.id: [held.id]}
    assert queue.next_rank() > (general.queue_rank or 0.0)  # a new chat waits behind the restored ones
    assert await presence.claim_due_graces(clock.now() + GRACE_PERIOD) == []  # ann is here: no grace period


async def test_agents_who_held_chats_and_are_gone_get_the_grace_period(
        stores: SQLiteStores, clock: ManualClock, presence: MemoryPresence, before_restart: WaitingQueue,
        restorer: Restorer) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    await _assign(stores, clock, await waiting_chat(stores.conversations, before_restart, clock, "v"), ann)
    await restorer.restore()
    assert await presence.claim_due_graces(clock.now() + GRACE_PERIOD - 1) == []
    assert await presence.claim_due_graces(clock.now() + GRACE_PERIOD) == [ann.id]


async def test_restoring_twice_keeps_each_chat_once_at_its_place(
        stores: SQLiteStores, clock: ManualClock, routing: MemoryRoutingState, before_restart: WaitingQueue,
        restorer: Restorer) -> None:
    chats = [await waiting_chat(stores.conversations, before_restart, clock, f"v{i}") for i in range(3)]
    await restorer.restore()
    await restorer.restore()
    assert await routing.waiting_count() == 3
    assert [await routing.position(c.id) for c in chats] == [1, 2, 3]


async def test_a_repair_releases_holds_the_database_does_not_show(
        stores: SQLiteStores, clock: ManualClock, routing: MemoryRoutingState, queue: WaitingQueue,
        repair: RoutingRepair, restorer: Restorer) -> None:
    ann, bob = await add_agent(stores.agents, clock, "ann"), await add_agent(stores.agents, clock, "bob")
    closed = await waiting_chat(stores.conversations, queue, clock, "closed")
    elsewhere = await waiting_chat(stores.conversations, queue, clock, "elsewhere")
    kept = await waiting_chat(stores.conversations, queue, clock, "kept")
    for chat in (closed, elsewhere, kept):  # ann's claims were granted and settled...
        await routing.claim(chat.id, ann.id, 5)
        await routing.settle(chat.id)
    await _assign(stores, clock, closed, ann, ConversationStatus.CLOSED)  # ...but the release was lost
    await _assign(stores, clock, elsewhere, bob)  # ...or the database gave the chat to bob
    await _assign(stores, clock, kept, ann)
    repair.needed = True
    await restorer.restore(repair=True)
    assert (await routing.held())[ann.id] == [kept.id]
    assert (await routing.held())[bob.id] == [elsewhere.id]
    assert not repair.needed


async def test_a_repair_leaves_a_claim_in_flight_alone_and_looks_again_later(
        stores: SQLiteStores, clock: ManualClock, routing: MemoryRoutingState, queue: WaitingQueue,
        repair: RoutingRepair, restorer: Restorer) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    chat = await waiting_chat(stores.conversations, queue, clock, "v")
    await routing.claim(chat.id, ann.id, 1)  # granted; its assignment is not stored yet
    await restorer.restore(repair=True)
    assert await routing.load(ann.id) == 1 and await routing.position(chat.id) is None
    assert repair.needed
    await routing.settle(chat.id)  # the assignment was never stored after all
    await restorer.restore(repair=True)
    assert await routing.load(ann.id) == 0 and await routing.position(chat.id) == 1
    assert not repair.needed
