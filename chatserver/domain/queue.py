"""The waiting queue: where a chat waits (its rank), putting a chat back at the head, what the
queue shows, and how long a place in it takes to move up.

Lower ranks are served first. A new chat ranks by arrival time (minus ``PRIORITY_STEP`` for a
priority chat); a chat that comes back (requeued, transferred to a department) ranks below the
head, because its visitor has waited already. The database stores each waiting chat's rank, so
the queue is rebuilt in the same order after a restart.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from .changes import system_message
from .clock import Clock
from .locks import KeyedLocks
from .models import Conversation, ConversationStatus, Message, QueueEntry
from .ports import ConversationStore, Presence, RoutingState, Transition
from .repair import RoutingRepair

WAIT_ESTIMATE_WINDOW = 3600.0
# Assignments the routing state remembers for wait estimates.
RECENT_ASSIGNMENTS = 50
# A chat assigned sooner than this after it started did not queue (for wait estimates).
MIN_QUEUED_WAIT = 1.0


def estimate_wait(position: int, seconds_per_place: float | None) -> float | None:
    """Seconds a chat at ``position`` may wait; ``None`` when there is no pace to go by."""
    return None if seconds_per_place is None else round(position * seconds_per_place, 1)


def queue_entry(conversation: Conversation, rank: float) -> QueueEntry:
    """The routing state's entry for ``conversation`` waiting at ``rank``."""
    return QueueEntry(conversation_id=conversation.id, visitor_id=conversation.visitor_id, rank=rank,
                      department=conversation.prechat.department, enqueued_at=conversation.created_at)


def waiting_entry(conversation: Conversation) -> QueueEntry:
    """The queue entry of a conversation the database has waiting, at its stored place."""
    rank = conversation.queue_rank if conversation.queue_rank is not None else conversation.created_at
    return queue_entry(conversation, rank)


class WaitingQueue:
    """Ranks and moves in the queue, over the routing state and the database."""

    def __init__(self, *, routing: RoutingState, conversations: ConversationStore, presence: Presence,
                 clock: Clock, locks: KeyedLocks, repair: RoutingRepair) -> None:
        self._routing = routing
        self._conversations = conversations
        self._presence = presence
        self._clock = clock
        self._locks = locks
        self._repair = repair
        self._last_rank = 0.0

    def next_rank(self) -> float:
        """Queue ranks strictly increase, so arrival order holds even when the clock stands still."""
        self._last_rank = max(self._clock.now(), self._last_rank + 1e-6)
        return self._last_rank

    def rank_after(self, ranks: Iterable[float]) -> None:
        """New chats rank after ``ranks`` (the queue as restored from the database)."""
        self._last_rank = max([self._last_rank, *ranks])

    async def enqueue_stored(self, conversation: Conversation) -> None:
        """Queue a conversation the database has waiting, at its stored place; a routing store
        that cannot be reached is repaired later (the chat is not lost from the queue)."""
        await self._repair.after_commit(self._routing.enqueue(waiting_entry(conversation)))

    async def back_to_head(
        self, conversation_id: str, agent_id: str, *, event: str, reason: str, body: str, meta: dict[str, str],
        department: str | None = None,
    ) -> tuple[Conversation, Message | None] | None:
        """Move an assigned chat from the agent back to the head of the queue (the visitor has
        waited already), with its system message; ``None`` if it was no longer assigned."""
        async with self._locks.lock(conversation_id):
            head = await self._routing.head_rank()
            now = self._clock.now()
            rank = (head if head is not None else now) - 1.0
            result = await self._conversations.transition(Transition(
                conversation_id=conversation_id, expect=frozenset({ConversationStatus.ASSIGNED}),
                status=ConversationStatus.QUEUED, agent_id=None, agent_name=None, at=now, event=event,
                reason=reason, queue_rank=rank, department=department,
                system_message=system_message(conversation_id, body, now, meta),
            ))
            if result is None:
                return None
            await self._repair.after_commit(self._routing.release(agent_id, conversation_id),
                                            self._routing.enqueue(queue_entry(result[0], rank)))
        return result

    async def view(self, limit: int) -> tuple[list[Conversation], int]:
        """The first ``limit`` waiting conversations in queue order, and how many wait in all."""
        entries = await self._routing.waiting(limit)
        found = await self._conversations.get_conversations([e.conversation_id for e in entries])
        return [found[e.conversation_id] for e in entries if e.conversation_id in found], \
            await self._routing.waiting_count()

    async def seconds_per_place(self) -> float | None:
        """How long one place in the queue takes to move up, from the assignments of the last
        hour: for each chat that had to wait, the time since the assignment before it, but no
        more than the chat waited (a gap in which nobody waited says how seldom shoppers came,
        not how fast agents serve); the mean of those. Chats taken at once say nothing of it.
        ``None`` without such history or with no agent online."""
        now = self._clock.now()
        recent = [(at, waited) for at, waited in await self._routing.recent_assignments()
                  if at >= now - WAIT_ESTIMATE_WINDOW]
        paces = [min(at - previous, waited) for (previous, _), (at, waited) in itertools.pairwise(recent)
                 if waited >= MIN_QUEUED_WAIT]
        if not paces or not await self._presence.available_agents():
            return None
        return sum(paces) / len(paces)

    async def restore_pace(self) -> None:
        """After a restart (or Redis lost its data): the assignments ``seconds_per_place`` goes
        by, rebuilt from the database's assignment history, so that the estimate is the one
        before the restart."""
        since = self._clock.now() - WAIT_ESTIMATE_WINDOW
        await self._routing.restore_assignments(await self._conversations.recent_assignments(since, RECENT_ASSIGNMENTS))

    async def wait_estimate(self, position: int) -> float | None:
        """Seconds a chat at ``position`` may wait (``position`` x ``seconds_per_place``)."""
        return estimate_wait(position, await self.seconds_per_place())
