"""Restore and repair: the routing state (the queue, what each agent holds) rebuilt from the
database, which holds the truth, after a restart or after Redis lost its data, and repaired
when a routing-state write failed after a commit (``RoutingRepair``)."""

from __future__ import annotations

import logging

from ..errors import Unavailable
from .grace import GracePeriods
from .models import AgentStatus, ConversationStatus
from .ports import ConversationStore, Presence, RoutingState
from .queue import WaitingQueue, waiting_entry
from .repair import RoutingRepair

log = logging.getLogger("chatserver.conversations")


class Restorer:
    """Merges the database's view of waiting and held chats into the routing state."""

    def __init__(self, *, conversations: ConversationStore, routing: RoutingState, presence: Presence,
                 queue: WaitingQueue, grace: GracePeriods, repair: RoutingRepair) -> None:
        self._conversations = conversations
        self._routing = routing
        self._presence = presence
        self._queue = queue
        self._grace = grace
        self._repair = repair

    async def restore(self, repair: bool = False) -> None:
        """After a restart: rebuild the queue in its old order and what each agent holds; agents
        who held chats get the grace period to come back before their chats are requeued. With
        ``repair`` (a write to the routing state may have failed after a commit), chats an agent
        is recorded as holding that the database says they do not hold are released too."""
        self._repair.needed = False
        try:
            recorded = await self._routing.held() if repair else {}
            queued = await self._conversations.conversations_with_status([ConversationStatus.QUEUED])
            assigned = await self._conversations.conversations_with_status([ConversationStatus.ASSIGNED])
            held: dict[str, list[str]] = {}
            for conversation in assigned:
                assert conversation.agent_id is not None
                held.setdefault(conversation.agent_id, []).append(conversation.id)
            entries = [waiting_entry(c) for c in queued]
            await self._routing.restore(entries, held)
            await self._queue.restore_pace()
            if recorded:
                await self._release_stale(recorded)
        except Unavailable:
            self._repair.needed = True
            raise
        self._queue.rank_after(e.rank for e in entries)
        for agent_id in held:
            if await self._presence.status(agent_id) == AgentStatus.OFFLINE:
                await self._grace.start(agent_id)
        log.info("restored queue=%d assigned=%d", len(entries), len(assigned))

    async def _release_stale(self, recorded: dict[str, list[str]]) -> None:
        """Release what ``recorded`` (the routing state, read before the database) has an agent
        hold that the database, read afterwards, says they do not, except holds whose claim is
        still in flight (marked before the database is read: a claim is stored before its mark
        goes). Those are looked at again by the next repair."""
        suspects = [(agent_id, cid) for agent_id, ids in recorded.items() for cid in ids]
        in_flight = await self._routing.claims_in_flight([cid for _, cid in suspects])
        found = await self._conversations.get_conversations([cid for _, cid in suspects if cid not in in_flight])
        released = 0
        for agent_id, cid in suspects:
            if cid in in_flight:
                continue
            conversation = found.get(cid)
            if conversation is None or conversation.status != ConversationStatus.ASSIGNED \
                    or conversation.agent_id != agent_id:
                await self._routing.release(agent_id, cid)
                released += 1
        if in_flight:
            self._repair.needed = True
        if released:
            log.warning("released chats the routing state still counted for agents count=%d", released)
