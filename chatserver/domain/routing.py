"""Routing: which chats come first and who may take them (``RoutingPolicy``), and handing
waiting chats to agents, by routing (``Dispatcher.dispatch``) or by an agent's own take.

A conversation is held by at most one agent, and an agent holds at most ``capacity`` chats:
every claim goes through ``RoutingState.claim``/``assign_next``, which are atomic. A granted
claim is then stored as a guarded ``Transition``; if storing fails, the claim is undone.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging

import msgspec

from ..constants import SYS_AGENT_JOINED
from ..errors import AlreadyTaken, AtCapacity, ChatError, ConversationClosed, NotFound
from .agent_cache import AgentCache
from .changes import CONVERSATION_ASSIGNED, announce, recorder, system_message
from .clock import Clock
from .locks import KeyedLocks
from .models import Agent, Candidate, ClaimOutcome, Conversation, ConversationStatus, PreChat, RecentAssignment
from .ports import (
    AssignmentObserver,
    ConversationEventLog,
    ConversationStore,
    Notifier,
    Presence,
    RoutingState,
    Transition,
)
from .queue import waiting_entry
from .repair import RoutingRepair
from .tasks import TaskSupervisor

log = logging.getLogger("chatserver.conversations")


class RoutingPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Which chats come first and who may take them."""

    departments: tuple[str, ...] = ()
    # A chat whose page URL matches one of these (fnmatch) is served before general questions,
    # as is any chat whose page says it is in the checkout.
    checkout_url_patterns: tuple[str, ...] = ()
    # After this many seconds waiting, a department's chat may go to any agent.
    department_fallback_after: float = 120.0

    def priority(self, prechat: PreChat) -> int:
        """1 for a chat served before general questions (checkout), else 0."""
        if prechat.checkout:
            return 1
        url = prechat.page_url or ""
        return 1 if any(fnmatch.fnmatch(url, pattern) for pattern in self.checkout_url_patterns) else 0


class Dispatcher:
    """Hands waiting chats to agents: routing's steps and agents' manual takes."""

    def __init__(self, *, conversations: ConversationStore, routing: RoutingState, presence: Presence,
                 notifier: Notifier, clock: Clock, agents: AgentCache, policy: RoutingPolicy,
                 locks: KeyedLocks, repair: RoutingRepair, tasks: TaskSupervisor,
                 event_log: ConversationEventLog | None, observer: AssignmentObserver | None = None) -> None:
        self._conversations = conversations
        self._routing = routing
        self._presence = presence
        self._notifier = notifier
        self._clock = clock
        self._agents = agents
        self._policy = policy
        self._locks = locks
        self._repair = repair
        self._tasks = tasks
        self._event_log = event_log
        self._observer = observer
        self._dispatch_lock = asyncio.Lock()

    def dispatch_soon(self) -> None:
        """Route in the background (after a change that may let an agent take a waiting chat)."""
        self._tasks.spawn(self.dispatch())

    async def dispatch(self) -> int:
        """Assign waiting chats, oldest first, each to the available agent with the fewest active
        chats below their capacity. Returns how many were assigned."""
        assigned = 0
        async with self._dispatch_lock:
            while True:
                candidates = [
                    (agent.created_at, agent.id, Candidate(agent.id, agent.capacity, frozenset(agent.departments)))
                    for agent in [await self._agents.get(agent_id)
                                  for agent_id in await self._presence.available_agents()]
                    if agent is not None and not agent.disabled
                ]
                candidates.sort(key=lambda c: (c[0], c[1]))
                started = self._clock.now()
                open_before = started - self._policy.department_fallback_after
                claimed = await self._routing.assign_next([c for _, _, c in candidates], open_before)
                if claimed is None:
                    return assigned  # nobody can take anything that waits
                agent_id, entry = claimed
                agent = await self._agents.get(agent_id)
                assert agent is not None
                if await self._complete_assignment(entry.conversation_id, agent, "assigned", started) is not None:
                    assigned += 1

    async def take(self, agent: Agent, conversation_id: str) -> Conversation:
        """Manually take a waiting chat: of two agents taking the same chat, exactly one wins."""
        started = self._clock.now()
        outcome = await self._routing.claim(conversation_id, agent.id, agent.capacity)
        if outcome == ClaimOutcome.AT_CAPACITY:
            raise AtCapacity(f"you already have {agent.capacity} active chats")
        if outcome == ClaimOutcome.NOT_WAITING:
            current = await self._conversations.get_conversation(conversation_id)
            if current is None:
                raise NotFound("conversation not found")
            if current.status == ConversationStatus.ASSIGNED and current.agent_id == agent.id:
                return current
            if current.status == ConversationStatus.CLOSED:
                raise ConversationClosed("the conversation has ended")
            raise AlreadyTaken("another agent has already taken this chat")
        conversation = await self._complete_assignment(conversation_id, agent, "taken", started)
        if conversation is None:
            raise ConversationClosed("the conversation ended before it could be taken")
        return conversation

    async def _complete_assignment(self, conversation_id: str, agent: Agent, event: str,
                                   started: float) -> Conversation | None:
        """Record a claim the routing state granted (asked for at ``started``); undo the claim if
        the chat closed meanwhile."""
        async with self._locks.lock(conversation_id):
            try:
                record = await recorder(self._event_log, CONVERSATION_ASSIGNED)
                now = self._clock.now()
                result = await self._conversations.transition(Transition(
                    conversation_id=conversation_id, expect=frozenset({ConversationStatus.QUEUED}),
                    status=ConversationStatus.ASSIGNED, agent_id=agent.id, agent_name=agent.name, at=now,
                    event=event, record=record,
                    system_message=system_message(conversation_id, SYS_AGENT_JOINED, now, {"agent_name": agent.name}),
                ))
            except Exception:
                await self._undo_claim(conversation_id, agent.id)
                raise
            if result is None:
                await self._repair.after_commit(self._routing.release(agent.id, conversation_id))
                return None
            waited = RecentAssignment.of(conversation_id, now, result[0].created_at).waited
            await self._repair.after_commit(self._routing.record_assignment(conversation_id, now, waited),
                                            repair=False)
        conversation, message = result
        log.info("conversation assigned conversation=%s agent=%s how=%s", conversation_id, agent.id, event)
        await announce(self._notifier, conversation, None, message)
        if self._observer is not None:
            self._observer.assigned(event, waited, max(0.0, self._clock.now() - started))
        await self._notifier.queue_changed()
        return conversation

    async def _undo_claim(self, conversation_id: str, agent_id: str) -> None:
        """A claim whose assignment could not be stored (the database refused the write): the
        agent no longer holds the chat, and the chat waits at its place again, as the database
        still says. If even reading it fails, the routing state is repaired from the database
        later (the chat is not lost from the queue)."""
        try:
            current = await self._conversations.get_conversation(conversation_id)
        except ChatError:
            current = None
            self._repair.needed = True
        writes = [self._routing.release(agent_id, conversation_id)]
        if current is not None and current.status == ConversationStatus.QUEUED:
            writes.append(self._routing.enqueue(waiting_entry(current)))
        await self._repair.after_commit(*writes)
        await self._notifier.queue_changed()
