"""Transfer rules without a server: to an agent who is online with room, or to a department's
queue ahead of the others; the chat never ends up held twice or lost."""

from __future__ import annotations

import pytest

from chatserver.domain.clock import ManualClock
from chatserver.domain.locks import KeyedLocks
from chatserver.domain.models import Agent, Conversation, ConversationStatus
from chatserver.domain.ports import Transition
from chatserver.domain.queue import WaitingQueue
from chatserver.domain.repair import RoutingRepair
from chatserver.domain.routing import Dispatcher, RoutingPolicy
from chatserver.domain.tasks import TaskSupervisor
from chatserver.domain.transfers import Transfers
from chatserver.errors import AtCapacity, ConversationClosed, Forbidden, InvalidPayload, NotFound
from chatserver.storage.memory import MemoryPresence, MemoryRoutingState
from chatserver.storage.sqlite import SQLiteStores

from .conftest import RecordingNotifier, add_agent, online, waiting_chat


@pytest.fixture
def transfers(stores: SQLiteStores, routing: MemoryRoutingState, presence: MemoryPresence, notifier: RecordingNotifier,
              clock: ManualClock, policy: RoutingPolicy, queue: WaitingQueue, dispatcher: Dispatcher,
              locks: KeyedLocks, repair: RoutingRepair) -> Transfers:
    return Transfers(conversations=stores.conversations, agents=stores.agents, routing=routing, presence=presence,
                     notifier=notifier,
                     clock=clock, policy=policy, queue=queue, dispatcher=dispatcher, locks=locks, repair=repair,
                     event_log=None)


async def _held_by(agent: Agent, stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock,
                   dispatcher: Dispatcher) -> Conversation:
    chat = await waiting_chat(stores.conversations, queue, clock, f"visitor-of-{agent.name}")
    return await dispatcher.take(agent, chat.id)


async def test_a_chat_moves_to_an_online_agent_with_room(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, presence: MemoryPresence,
        routing: MemoryRoutingState, notifier: RecordingNotifier, dispatcher: Dispatcher,
        transfers: Transfers, tasks: TaskSupervisor) -> None:
    ann, bob = await add_agent(stores.agents, clock, "ann"), await add_agent(stores.agents, clock, "bob")
    chat = await _held_by(ann, stores, queue, clock, dispatcher)
    await online(presence, bob)
    notifier.events.clear()
    moved = await transfers.transfer(ann, chat.id, to_agent_id=bob.id, to_department=None)
    await tasks.idle()
    assert (moved.status, moved.agent_id) == (ConversationStatus.ASSIGNED, bob.id)
    assert [await routing.load(a.id) for a in (ann, bob)] == [0, 1]
    assert await routing.claims_in_flight([chat.id]) == set()
    assert notifier.events == [("changed", chat.id, "assigned", bob.id, ann.id),
                               ("message", chat.id, "system", "transferred", None)]
    assert (await stores.conversations.assignments(chat.id))[-1].reason == f"from_agent:{ann.id}"


async def test_a_transfer_to_an_agent_offline_or_full_leaves_the_chat_where_it_is(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, presence: MemoryPresence,
        routing: MemoryRoutingState, dispatcher: Dispatcher, transfers: Transfers) -> None:
    ann, bob = await add_agent(stores.agents, clock, "ann"), await add_agent(stores.agents, clock, "bob", capacity=1)
    chat = await _held_by(ann, stores, queue, clock, dispatcher)
    with pytest.raises(AtCapacity, match="offline"):
        await transfers.transfer(ann, chat.id, to_agent_id=bob.id, to_department=None)
    await online(presence, bob)
    await _held_by(bob, stores, queue, clock, dispatcher)
    with pytest.raises(AtCapacity, match="no room"):
        await transfers.transfer(ann, chat.id, to_agent_id=bob.id, to_department=None)
    assert [await routing.load(a.id) for a in (ann, bob)] == [1, 1]
    stored = await stores.conversations.get_conversation(chat.id)
    assert stored is not None and stored.agent_id == ann.id


async def test_there_is_no_transfer_to_oneself_a_disabled_or_an_unknown_agent(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, presence: MemoryPresence,
        dispatcher: Dispatcher, transfers: Transfers) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    gone = await add_agent(stores.agents, clock, "gone", disabled=True)
    await online(presence, ann)
    await online(presence, gone)
    chat = await _held_by(ann, stores, queue, clock, dispatcher)
    for target in (ann.id, gone.id, "agent-nobody"):
        with pytest.raises(NotFound):
            await transfers.transfer(ann, chat.id, to_agent_id=target, to_department=None)


async def test_a_chat_sent_to_a_department_waits_at_the_head_of_the_queue(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, routing: MemoryRoutingState,
        notifier: RecordingNotifier, dispatcher: Dispatcher, transfers: Transfers, tasks: TaskSupervisor) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    waiting = await waiting_chat(stores.conversations, queue, clock, "waiting")
    chat = await _held_by(ann, stores, queue, clock, dispatcher)
    notifier.events.clear()
    moved = await transfers.transfer(ann, chat.id, to_agent_id=None, to_department="billing")
    await tasks.idle()
    assert (moved.status, moved.agent_id, moved.prechat.department) == (ConversationStatus.QUEUED, None, "billing")
    assert [await routing.position(c.id) for c in (chat, waiting)] == [1, 2]
    assert await routing.load(ann.id) == 0
    assert notifier.events == [("changed", chat.id, "queued", None, ann.id),
                               ("message", chat.id, "system", "transferred", None), ("queue",)]


async def test_a_transfer_names_exactly_one_known_destination(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, dispatcher: Dispatcher,
        transfers: Transfers) -> None:
    ann, bob = await add_agent(stores.agents, clock, "ann"), await add_agent(stores.agents, clock, "bob")
    chat = await _held_by(ann, stores, queue, clock, dispatcher)
    with pytest.raises(InvalidPayload, match="exactly one"):
        await transfers.transfer(ann, chat.id, to_agent_id=None, to_department=None)
    with pytest.raises(InvalidPayload, match="exactly one"):
        await transfers.transfer(ann, chat.id, to_agent_id=bob.id, to_department="billing")
    with pytest.raises(InvalidPayload, match="unknown department"):
        await transfers.transfer(ann, chat.id, to_agent_id=None, to_department="legal")


async def test_only_the_holder_transfers_a_chat_and_only_while_it_is_assigned(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, dispatcher: Dispatcher,
        transfers: Transfers) -> None:
    ann, bob = await add_agent(stores.agents, clock, "ann"), await add_agent(stores.agents, clock, "bob")
    chat = await _held_by(ann, stores, queue, clock, dispatcher)
    with pytest.raises(Forbidden):
        await transfers.transfer(bob, chat.id, to_agent_id=None, to_department="billing")
    await stores.conversations.transition(Transition(conversation_id=chat.id,
                                                     expect=frozenset({ConversationStatus.ASSIGNED}),
                                      status=ConversationStatus.CLOSED, agent_id=ann.id, agent_name=ann.name,
                                      at=clock.now(), event="closed"))
    with pytest.raises(ConversationClosed):
        await transfers.transfer(ann, chat.id, to_agent_id=None, to_department="billing")
