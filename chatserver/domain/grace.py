"""Grace periods: an agent whose last connection went gets ``grace_period`` seconds to come back
before the chats they hold are requeued, at the head of the queue (their visitors have waited
already), each visitor told.

The deadline is recorded in presence, shared by every process, and timed by the process that
saw the agent leave. If that process dies or stops, another one's sweep finds the deadline due
(``requeue_due``); presence hands each deadline to one caller only, so chats are requeued once.
"""

from __future__ import annotations

import logging

from ..constants import SYS_REQUEUED
from ..errors import ChatError
from .changes import announce
from .clock import Clock, Timer
from .models import AgentStatus, ConversationStatus
from .ports import ConversationStore, Notifier, Presence
from .queue import WaitingQueue
from .routing import Dispatcher
from .tasks import TaskSupervisor

log = logging.getLogger("chatserver.conversations")


class GracePeriods:
    """Agents' grace periods in this process, and requeueing the chats of an agent who is gone."""

    def __init__(self, *, conversations: ConversationStore, presence: Presence, notifier: Notifier, clock: Clock,
                 queue: WaitingQueue, dispatcher: Dispatcher, tasks: TaskSupervisor, grace_period: float) -> None:
        self._conversations = conversations
        self._presence = presence
        self._notifier = notifier
        self._clock = clock
        self._queue = queue
        self._dispatcher = dispatcher
        self._tasks = tasks
        self._grace_period = grace_period
        self._timers: dict[str, Timer] = {}

    async def start(self, agent_id: str) -> None:
        """The agent has no connection left: their chats are requeued after the grace period
        unless they come back. The deadline is recorded in presence (shared by every process)
        and timed here; if this process dies, another one's sweep finds it due."""
        self._drop_timer(agent_id)
        now = self._clock.now()
        deadline = await self._presence.grace_started(agent_id, now + self._grace_period)
        self._timers[agent_id] = self._clock.call_later(
            max(0.0, deadline - now), lambda: self._tasks.spawn(self._expired(agent_id, deadline))
        )

    def agent_back(self, agent_id: str) -> None:
        """The agent connected again: their grace period here ends without a requeue (presence
        forgets the deadline itself when it records the connection)."""
        if self._drop_timer(agent_id):
            log.info("agent back within grace period agent=%s", agent_id)

    def _drop_timer(self, agent_id: str) -> bool:
        timer = self._timers.pop(agent_id, None)
        if timer is None:
            return False
        timer.cancel()
        return True

    async def _expired(self, agent_id: str, deadline: float) -> None:
        self._timers.pop(agent_id, None)
        if await self._presence.claim_grace(agent_id, deadline):
            await self._over(agent_id)

    async def _over(self, agent_id: str) -> None:
        if await self._presence.status(agent_id) != AgentStatus.OFFLINE:
            return
        await self.requeue_agent_chats(agent_id, reason="agent_disconnected")

    async def requeue_due(self) -> None:
        """Requeue for the grace periods that are over but whose timer is gone with its process
        (killed, or stopped cleanly)."""
        for agent_id in await self._presence.claim_due_graces(self._clock.now()):
            self._drop_timer(agent_id)
            await self._over(agent_id)

    async def requeue_agent_chats(self, agent_id: str, reason: str) -> int:
        """Put every chat the agent holds back at the head of the queue (the longest-assigned first)
        and tell each visitor. Returns how many."""
        held = await self._conversations.conversations_with_status([ConversationStatus.ASSIGNED], agent_id)
        held.sort(key=lambda c: c.assigned_at or 0.0, reverse=True)
        count = 0
        for conversation in held:
            result = await self._queue.back_to_head(conversation.id, agent_id, event="released", reason=reason,
                                                    body=SYS_REQUEUED, meta={"reason": reason})
            if result is None:
                continue
            updated, message = result
            count += 1
            log.info("conversation requeued conversation=%s agent=%s reason=%s", conversation.id, agent_id, reason)
            await announce(self._notifier, updated, agent_id, message)
        if count:
            await self._notifier.queue_changed()
            self._dispatcher.dispatch_soon()
        return count

    async def hand_over(self) -> None:
        """A clean stop: this process's connections leave presence at once, and agents left
        with no connection get their grace period, which another process (or this one's
        successor) carries out."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        try:
            released = await self._presence.release_process()
            deadline = self._clock.now() + self._grace_period
            for kind, party_id, remaining in released:
                if kind == "agent" and not remaining:
                    await self._presence.grace_started(party_id, deadline)
        except ChatError as exc:
            log.warning("could not release this process's connections: %s", exc.message)
