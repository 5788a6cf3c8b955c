"""Grace periods without a server: an agent who left gets ``GRACE_PERIOD`` seconds to come back,
after which the chats they hold go back to the head of the queue, each visitor told."""

from __future__ import annotations

from chatserver.domain.clock import ManualClock
from chatserver.domain.grace import GracePeriods
from chatserver.domain.models import Agent, Conversation, ConversationStatus
from chatserver.domain.queue import WaitingQueue
from chatserver.domain.routing import Dispatcher
from chatserver.domain.tasks import TaskSupervisor
from chatserver.storage.memory import MemoryPresence, MemoryRoutingState
from chatserver.storage.sqlite import SQLiteStores

from .conftest import GRACE_PERIOD, RecordingNotifier, add_agent, online, waiting_chat


async def _holding(stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, dispatcher: Dispatcher,
                   agent: Agent, count: int) -> list[Conversation]:
    """``count`` chats the agent took one after another, 10 s apart."""
    held = []
    for i in range(count):
        chat = await waiting_chat(stores.conversations, queue, clock, f"{agent.name}-v{i}")
        held.append(await dispatcher.take(agent, chat.id))
        clock.advance(10.0)
    return held


async def _left(presence: MemoryPresence, grace: GracePeriods, agent: Agent) -> None:
    """The agent's last connection went."""
    assert await presence.agent_disconnected(agent.id, f"conn-{agent.id}") == 0
    await grace.start(agent.id)


async def test_chats_go_back_to_the_head_of_the_queue_when_the_grace_period_ends(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, presence: MemoryPresence,
        routing: MemoryRoutingState, notifier: RecordingNotifier, dispatcher: Dispatcher, grace: GracePeriods,
        tasks: TaskSupervisor) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    await online(presence, ann)
    first, second = await _holding(stores, queue, clock, dispatcher, ann, 2)
    waiting = await waiting_chat(stores.conversations, queue, clock, "waiting")
    await _left(presence, grace, ann)
    notifier.events.clear()
    clock.advance(GRACE_PERIOD - 1)
    await tasks.idle()
    assert await routing.load(ann.id) == 2 and notifier.events == []
    clock.advance(1)
    await tasks.idle()
    assert await routing.load(ann.id) == 0
    # The longest-assigned chat ends first in the queue, both ahead of the chat that was waiting.
    assert [await routing.position(c.id) for c in (first, second, waiting)] == [1, 2, 3]
    stored = await stores.conversations.get_conversations([first.id, second.id])
    assert {(c.status, c.agent_id) for c in stored.values()} == {(ConversationStatus.QUEUED, None)}
    assert notifier.of("changed") == [(second.id, "queued", None, ann.id), (first.id, "queued", None, ann.id)]
    assert notifier.of("message") == [(second.id, "system", "requeued", None), (first.id, "system", "requeued", None)]
    assert notifier.of("queue") == [()]
    assert [e.reason for e in await stores.conversations.assignments(first.id)][-1] == "agent_disconnected"


async def test_an_agent_back_within_the_grace_period_keeps_their_chats(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, presence: MemoryPresence,
        routing: MemoryRoutingState, dispatcher: Dispatcher, grace: GracePeriods, tasks: TaskSupervisor) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    held = await _holding(stores, queue, clock, dispatcher, ann, 1)
    await online(presence, ann)
    await _left(presence, grace, ann)
    clock.advance(GRACE_PERIOD / 2)
    await online(presence, ann)
    grace.agent_back(ann.id)
    clock.advance(GRACE_PERIOD)
    await tasks.idle()
    assert await routing.load(ann.id) == 1
    assert await presence.claim_due_graces(clock.now()) == []  # no deadline left for a sweep either
    stored = await stores.conversations.get_conversation(held[0].id)
    assert stored is not None and stored.agent_id == ann.id


async def test_a_sweep_carries_out_a_grace_period_whose_timer_is_gone(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, presence: MemoryPresence,
        routing: MemoryRoutingState, dispatcher: Dispatcher, grace: GracePeriods, tasks: TaskSupervisor) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    held = await _holding(stores, queue, clock, dispatcher, ann, 1)
    # Another process saw the agent leave and stopped: only the deadline in presence is left.
    await presence.grace_started(ann.id, clock.now() + GRACE_PERIOD)
    await grace.requeue_due()
    assert await routing.load(ann.id) == 1
    clock.advance(GRACE_PERIOD)
    await grace.requeue_due()
    assert await routing.load(ann.id) == 0 and await routing.position(held[0].id) == 1
    await grace.requeue_due()  # each deadline is carried out once
    await tasks.idle()
    assert [e.event for e in await stores.conversations.assignments(held[0].id)] == ["taken", "released"]


async def test_a_stopping_process_hands_its_grace_periods_to_presence(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, presence: MemoryPresence,
        routing: MemoryRoutingState, dispatcher: Dispatcher, grace: GracePeriods, tasks: TaskSupervisor) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    await _holding(stores, queue, clock, dispatcher, ann, 1)
    await online(presence, ann)
    await _left(presence, grace, ann)
    await grace.hand_over()
    clock.advance(GRACE_PERIOD)
    await tasks.idle()
    assert await routing.load(ann.id) == 1  # this process's timer is gone...
    assert await presence.claim_due_graces(clock.now()) == [ann.id]  # ...the deadline is not


async def test_requeueing_an_agent_who_holds_nothing_changes_nothing(
        stores: SQLiteStores, clock: ManualClock, notifier: RecordingNotifier, grace: GracePeriods) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    assert await grace.requeue_agent_chats(ann.id, reason="agent_disabled") == 0
    assert notifier.events == []
