"""The waiting queue without a server: ranks, the head of the queue, what it shows, and wait
estimates."""

from __future__ import annotations

from chatserver.domain.clock import ManualClock
from chatserver.domain.models import ConversationStatus
from chatserver.domain.ports import Transition
from chatserver.domain.queue import MIN_QUEUED_WAIT, WaitingQueue, estimate_wait
from chatserver.domain.routing import Dispatcher
from chatserver.storage.memory import MemoryPresence, MemoryRoutingState
from chatserver.storage.sqlite import SQLiteStores

from .conftest import add_agent, online, waiting_chat


def test_ranks_keep_arrival_order_while_the_clock_stands_still(queue: WaitingQueue, clock: ManualClock) -> None:
    ranks = [queue.next_rank() for _ in range(3)]
    assert ranks == sorted(set(ranks)) and ranks[0] == clock.now()


def test_new_chats_rank_after_a_restored_queue(queue: WaitingQueue, clock: ManualClock) -> None:
    queue.rank_after([clock.now() + 50.0, clock.now() + 10.0])
    assert queue.next_rank() > clock.now() + 50.0


async def test_a_chat_put_back_goes_ahead_of_everyone_waiting(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, routing: MemoryRoutingState) -> None:
    ann = await add_agent(stores.agents, clock, "ann")
    held = await waiting_chat(stores.conversations, queue, clock, "held")
    await routing.claim(held.id, ann.id, ann.capacity)
    await stores.conversations.transition(Transition(conversation_id=held.id,
                                                     expect=frozenset({ConversationStatus.QUEUED}),
                                      status=ConversationStatus.ASSIGNED, agent_id=ann.id, agent_name=ann.name,
                                      at=clock.now(), event="taken"))
    waiting = await waiting_chat(stores.conversations, queue, clock, "waiting", priority=1)
    result = await queue.back_to_head(held.id, ann.id, event="released", reason="test", body="requeued",
                                      meta={"reason": "test"}, department="billing")
    assert result is not None
    conversation, message = result
    assert (conversation.status, conversation.agent_id, conversation.prechat.department) == (
        ConversationStatus.QUEUED, None, "billing")
    assert message is not None and (message.kind, message.body, message.meta) == ("system", "requeued",
                                                                                   {"reason": "test"})
    assert [await routing.position(c.id) for c in (held, waiting)] == [1, 2]
    assert await routing.load(ann.id) == 0
    # No longer assigned: a second move back changes nothing.
    assert await queue.back_to_head(held.id, ann.id, event="released", reason="test", body="requeued",
                                    meta={}) is None


async def test_the_view_lists_waiting_chats_in_queue_order(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock) -> None:
    chats = [await waiting_chat(stores.conversations, queue, clock, f"v{i}") for i in range(3)]
    listed, total = await queue.view(2)
    assert ([c.id for c in listed], total) == ([chats[0].id, chats[1].id], 3)


def test_a_wait_estimate_is_the_position_times_the_pace() -> None:
    assert estimate_wait(3, 20.0) == 60.0
    assert estimate_wait(3, None) is None


async def test_the_pace_comes_from_assignments_of_chats_that_waited(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, presence: MemoryPresence,
        routing: MemoryRoutingState, dispatcher: Dispatcher) -> None:
    assert await queue.seconds_per_place() is None  # no history
    ann = await add_agent(stores.agents, clock, "ann", capacity=10)
    chats = [await waiting_chat(stores.conversations, queue, clock, f"v{i}") for i in range(4)]
    for chat in chats:
        clock.advance(30.0)  # each waited, and each was served 30 s after the one before
        await dispatcher.take(ann, chat.id)
    assert await queue.seconds_per_place() is None  # nobody online to serve the queue
    await online(presence, ann)
    assert await queue.seconds_per_place() == 30.0
    assert await queue.wait_estimate(2) == 60.0


async def test_chats_taken_at_once_say_nothing_of_the_pace(
        stores: SQLiteStores, queue: WaitingQueue, clock: ManualClock, presence: MemoryPresence,
        dispatcher: Dispatcher) -> None:
    ann = await add_agent(stores.agents, clock, "ann", capacity=10)
    await online(presence, ann)
    for i in range(3):
        clock.advance(100.0)
        chat = await waiting_chat(stores.conversations, queue, clock, f"v{i}")
        clock.advance(MIN_QUEUED_WAIT / 2)
        await dispatcher.take(ann, chat.id)
    assert await queue.seconds_per_place() is None
