"""The queue as clients see it: agents the waiting chats in order, a visitor their own place."""

from __future__ import annotations

from typing import Any

from ..domain.clock import Clock
from ..domain.models import Conversation, ConversationStatus, PartyKind
from ..domain.ports import RoutingState
from ..domain.queue import WaitingQueue
from ..errors import Unavailable
from ..wire.views import conversation_view

AGENT_QUEUE_LIMIT = 50  # waiting chats an agent's console is sent at once


class QueueViews:
    def __init__(self, queue: WaitingQueue, routing: RoutingState, clock: Clock) -> None:
        self.queue = queue
        self.routing = routing
        self.clock = clock

    async def snapshot(self, limit: int) -> dict[str, Any]:
        """The first ``limit`` waiting chats, each with its place and how long it has waited."""
        waiting, total = await self.queue.view(limit)
        now = self.clock.now()
        return {
            "total": total,
            "entries": [
                {**conversation_view(c, PartyKind.AGENT), "position": i + 1, "waited_s": round(now - c.created_at, 1)}
                for i, c in enumerate(waiting)
            ],
        }

    async def place_of(self, conversation: Conversation) -> dict[str, Any] | None:
        """A waiting conversation's place, the queue's length and the estimated wait; ``None``
        for a conversation that does not wait."""
        if conversation.status != ConversationStatus.QUEUED:
            return None
        try:
            position = await self.routing.position(conversation.id)
            if position is None:
                return None
            return {"position": position, "total": await self.routing.waiting_count(),
                    "estimated_wait_s": await self.queue.wait_estimate(position)}
        except Unavailable:
            # The routing store is away: the conversation is stored and waits; its position
            # follows in queue:position once the store is back.
            return None
