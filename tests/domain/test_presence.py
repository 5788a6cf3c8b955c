"""Agents and visitors coming and going, without a server: who is told, when the grace period
starts and ends, and when routing runs."""

from __future__ import annotations

from chatserver.domain.agent_cache import AgentCache
from chatserver.domain.clock import ManualClock
from chatserver.domain.models import AgentStatus
from chatserver.domain.presence import PresenceChanges
from chatserver.domain.queue import WaitingQueue
from chatserver.domain.routing import Dispatcher
from chatserver.domain.tasks import TaskSupervisor
from chatserver.storage.memory import MemoryPresence, MemoryRoutingState
from chatserver.storage.sqlite import SQLiteStores

from .conftest import GRACE_PERIOD, RecordingNotifier, add_agent, waiting_chat


async def test_an_agent_connecting_is_remembered_routed_to_and_announced_once(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, routing: MemoryRoutingState,
        notifier: RecordingNotifier, agent_cache: AgentCache, changes: PresenceChanges,
        tasks: TaskSupervisor) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    chat = await waiting_chat(stores.conversations, queue, clock, "v")
    await changes.agent_connected(ann, "tab-1")
    await tasks.idle()
    assert agent_cache.known() == {ann.id: ann}
    assert await routing.load(ann.id) == 1  # routing ran
    notifier.events.clear()
    await changes.agent_connected(ann, "tab-2")
    await changes.agent_disconnected(ann.id, "tab-2")
    await tasks.idle()
    assert notifier.of("presence") == []  # the visitor heard nothing: ann never left
    await changes.agent_disconnected(ann.id, "tab-1")
    await changes.agent_connected(ann, "tab-3")
    assert notifier.of("presence") == [(chat.id, "agent", False), (chat.id, "agent", True)]


async def test_an_agent_who_chose_away_gets_no_chat_on_connecting(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, routing: MemoryRoutingState,
        changes: PresenceChanges, tasks: TaskSupervisor) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    await waiting_chat(stores.conversations, queue, clock, "v")
    await changes.agent_connected(ann, "tab-1", AgentStatus.AWAY)
    await tasks.idle()
    assert await routing.load(ann.id) == 0
    assert await changes.set_status(ann, AgentStatus.ONLINE) == AgentStatus.ONLINE
    await tasks.idle()
    assert await routing.load(ann.id) == 1


async def test_the_last_connection_going_starts_the_grace_period_and_coming_back_ends_it(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, presence: MemoryPresence,
        routing: MemoryRoutingState, changes: PresenceChanges, tasks: TaskSupervisor) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    await waiting_chat(stores.conversations, queue, clock, "v")
    await changes.agent_connected(ann, "tab-1")
    await tasks.idle()
    await changes.agent_disconnected(ann.id, "tab-1")
    assert await changes.agents_available() is False
    clock.advance(GRACE_PERIOD - 1)
    await changes.agent_connected(ann, "tab-2")
    clock.advance(GRACE_PERIOD)
    await tasks.idle()
    assert await routing.load(ann.id) == 1
    await changes.agent_disconnected(ann.id, "tab-2")
    clock.advance(GRACE_PERIOD)
    await tasks.idle()
    assert await routing.load(ann.id) == 0


async def test_the_agent_hears_whether_the_visitor_of_their_chat_is_there(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, notifier: RecordingNotifier,
        dispatcher: Dispatcher, changes: PresenceChanges) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    waiting = await waiting_chat(stores.conversations, queue, clock, "waiting")
    await changes.visitor_connected(waiting.visitor_id, "v-tab")  # nobody holds the chat yet
    held = await dispatcher.take(ann, (await waiting_chat(stores.conversations, queue, clock, "held")).id)
    notifier.events.clear()
    await changes.visitor_connected(held.visitor_id, "tab-1")
    await changes.visitor_connected(held.visitor_id, "tab-2")
    await changes.visitor_disconnected(held.visitor_id, "tab-1")
    await changes.visitor_disconnected(held.visitor_id, "tab-2")
    assert notifier.events == [("presence", held.id, "visitor", True), ("presence", held.id, "visitor", False)]


async def test_a_withdrawn_agent_is_set_away_and_gives_their_chats_back(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, presence: MemoryPresence,
        routing: MemoryRoutingState, agent_cache: AgentCache, changes: PresenceChanges,
        tasks: TaskSupervisor) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    chats = [await waiting_chat(stores.conversations, queue, clock, f"v{i}") for i in range(2)]
    await changes.agent_connected(ann, "tab-1")
    await tasks.idle()
    assert await changes.withdraw_agent(ann.id) == 2
    await tasks.idle()
    assert await presence.status(ann.id) == AgentStatus.AWAY
    assert agent_cache.known() == {}
    assert await routing.load(ann.id) == 0
    assert sorted([await routing.position(c.id) for c in chats]) == [1, 2]
