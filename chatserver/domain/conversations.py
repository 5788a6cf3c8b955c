"""Conversation lifecycle and routing: start, assign, take, message, read, close, requeue.

Rules that hold whatever the backend:
- a conversation is held by at most one agent, and an agent holds at most ``capacity`` chats:
  every claim goes through ``RoutingState.claim``/``assign_next``, which are atomic;
- every status change is a guarded ``Transition`` stored with its system message in one
  transaction, so the transcript and the message stream always agree;
- a message is acknowledged only after it is committed, with its sequence number.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import logging
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import msgspec

from ..constants import SYS_AGENT_JOINED, SYS_CHAT_STARTED, SYS_CLOSED, SYS_REQUEUED, SYS_TRANSFERRED
from ..errors import (
    AlreadyTaken,
    AtCapacity,
    ChatError,
    ConversationClosed,
    ConversationNotClosed,
    Forbidden,
    InvalidPayload,
    NotFound,
    Unavailable,
)
from .access import check_access
from .clock import Clock, Timer
from .models import (
    PRIORITY_STEP,
    Agent,
    AgentStatus,
    Candidate,
    ClaimOutcome,
    Conversation,
    ConversationStatus,
    Message,
    PageContext,
    PartyKind,
    PreChat,
    QueueEntry,
    Rating,
    Role,
)
from .ports import (
    AgentStore,
    ConversationEventLog,
    ConversationStore,
    NewMessage,
    Notifier,
    OutboxRecorder,
    Presence,
    RoutingState,
    Transition,
)

log = logging.getLogger("chatserver.conversations")

ACTIVE = frozenset({ConversationStatus.QUEUED, ConversationStatus.ASSIGNED})
# The events of conversation changes that shops subscribe to (the ``ConversationEventLog``).
CONVERSATION_CREATED = "conversation.created"
CONVERSATION_ASSIGNED = "conversation.assigned"
CONVERSATION_CLOSED = "conversation.closed"
ABANDONED_BATCH = 100
WAIT_ESTIMATE_WINDOW = 3600.0
# A chat assigned sooner than this after it started did not queue (for wait estimates).
MIN_QUEUED_WAIT = 1.0


def estimate_wait(position: int, seconds_per_place: float | None) -> float | None:
    return None if seconds_per_place is None else round(position * seconds_per_place, 1)


class RoutingPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Which chats come first and who may take them."""

    departments: tuple[str, ...] = ()
    # A chat whose page URL matches one of these (fnmatch) is served before general questions,
    # as is any chat whose page says it is in the checkout.
    checkout_url_patterns: tuple[str, ...] = ()
    # After this many seconds waiting, a department's chat may go to any agent.
    department_fallback_after: float = 120.0

    def priority(self, prechat: PreChat) -> int:
        if prechat.checkout:
            return 1
        url = prechat.page_url or ""
        return 1 if any(fnmatch.fnmatch(url, pattern) for pattern in self.checkout_url_patterns) else 0


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who is acting: a visitor (by visitor id) or an agent."""

    kind: PartyKind
    id: str
    name: str | None = None
    role: Role | None = None


class _ReadRound:
    """Read marks of one reader waiting to be stored as one."""

    __slots__ = ("future", "seq")

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        # Retrieved even when every caller went away, so a failure is not reported as unhandled.
        self.future.add_done_callback(lambda f: f.cancelled() or f.exception())


class ChatService:
    def __init__(
        self,
        *,
        agents: AgentStore,
        conversations: ConversationStore,
        routing: RoutingState,
        presence: Presence,
        notifier: Notifier,
        clock: Clock,
        new_id: Callable[[], str],
        grace_period: float,
        policy: RoutingPolicy | None = None,
        event_log: ConversationEventLog | None = None,
    ) -> None:
        self.agents = agents
        self.conversations = conversations
        self.routing = routing
        self.presence = presence
        self.notifier = notifier
        self.clock = clock
        self.new_id = new_id
        self.grace_period = grace_period
        self.policy = policy or RoutingPolicy()
        self.event_log = event_log
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._dispatch_lock = asyncio.Lock()
        self._grace_timers: dict[str, Timer] = {}
        # Set when a write to the routing state failed after the database committed the change
        # it follows (Redis unreachable at that moment): the heartbeat loop then repairs the
        # routing state from the database once Redis answers (``restore(repair=True)``).
        self.repair_needed = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._agent_cache: dict[str, Agent] = {}
        # Readers with a read mark being stored, and the marks that wait for it (mark_read).
        self._reading: set[tuple[str, PartyKind, str]] = set()
        self._reads_waiting: dict[tuple[str, PartyKind, str], _ReadRound] = {}
        self._last_rank = 0.0
        # Called with (visitor id, pre-chat form) before a new conversation is stored: customer
        # records link the visitor to a customer, and the conversation is stored with it.
        self.prepare_visitor: Callable[[str, PreChat], Awaitable[None]] | None = None

    # -- plumbing -----------------------------------------------------------------------------

    def _lock(self, conversation_id: str) -> asyncio.Lock:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[conversation_id] = lock
        return lock

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background: a failure is logged, ``idle`` waits for it, ``shutdown``
        cancels it."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    async def shutdown(self) -> None:
        """A clean stop: this process's connections leave presence at once, and agents left
        with no connection get their grace period, which another process (or this one's
        successor) carries out."""
        for timer in self._grace_timers.values():
            timer.cancel()
        self._grace_timers.clear()
        try:
            released = await self.presence.release_process()
            deadline = self.clock.now() + self.grace_period
            for kind, party_id, remaining in released:
                if kind == "agent" and not remaining:
                    await self.presence.grace_started(party_id, deadline)
        except ChatError as exc:
            log.warning("could not release this process's connections: %s", exc.message)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)

    async def idle(self) -> None:
        """Wait until background work started so far has finished (used by tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def agent(self, agent_id: str) -> Agent | None:
        cached = self._agent_cache.get(agent_id)
        if cached is not None:
            return cached
        agent = await self.agents.agent_by_id(agent_id)
        if agent is not None:
            self._agent_cache[agent_id] = agent
        return agent

    def forget_agent(self, agent_id: str) -> None:
        """Drop the cached copy of an agent whose account changed: routing reads it afresh."""
        self._agent_cache.pop(agent_id, None)

    def known_agents(self) -> dict[str, Agent]:
        """The agents routing holds copies of, by id."""
        return dict(self._agent_cache)

    async def withdraw_agent(self, agent_id: str) -> int:
        """A disabled agent takes nothing more and gives back what they hold: marked away in
        presence at once (so routing in every process passes them over, even before it hears of
        the change), and their chats go back to the head of the queue. Returns how many."""
        self.forget_agent(agent_id)
        if await self.presence.status(agent_id) != AgentStatus.OFFLINE:
            await self.presence.set_status(agent_id, AgentStatus.AWAY)
        return await self.requeue_agent_chats(agent_id, reason="agent_disabled")

    @staticmethod
    def _entry(conversation: Conversation, rank: float) -> QueueEntry:
        return QueueEntry(conversation_id=conversation.id, visitor_id=conversation.visitor_id, rank=rank,
                          department=conversation.prechat.department, enqueued_at=conversation.created_at)

    @classmethod
    def _waiting_entry(cls, conversation: Conversation) -> QueueEntry:
        """The queue entry of a conversation the database has waiting, at its stored place."""
        rank = conversation.queue_rank if conversation.queue_rank is not None else conversation.created_at
        return cls._entry(conversation, rank)

    async def _recorder(self, event_type: str, previous_agent_id: str | None = None) -> OutboxRecorder | None:
        if self.event_log is None:
            return None
        return await self.event_log.recorder(event_type, previous_agent_id)

    def _next_rank(self) -> float:
        """Queue ranks strictly increase, so arrival order holds even when the clock stands still."""
        self._last_rank = max(self.clock.now(), self._last_rank + 1e-6)
        return self._last_rank

    # -- startup ------------------------------------------------------------------------------

    async def restore(self, repair: bool = False) -> None:
        """After a restart: rebuild the queue in its old order and what each agent holds; agents
        who held chats get the grace period to come back before their chats are requeued. With
        ``repair`` (a write to the routing state may have failed after a commit), chats an agent
        is recorded as holding that the database says they do not hold are released too."""
        self.repair_needed = False
        try:
            recorded = await self.routing.held() if repair else {}
            queued = await self.conversations.conversations_with_status([ConversationStatus.QUEUED])
            assigned = await self.conversations.conversations_with_status([ConversationStatus.ASSIGNED])
            held: dict[str, list[str]] = {}
            for conversation in assigned:
                assert conversation.agent_id is not None
                held.setdefault(conversation.agent_id, []).append(conversation.id)
            entries = [self._waiting_entry(c) for c in queued]
            await self.routing.restore(entries, held)
            if recorded:
                await self._release_stale(recorded)
        except Unavailable:
            self.repair_needed = True
            raise
        self._last_rank = max([self._last_rank, *(e.rank for e in entries)])
        for agent_id in held:
            if await self.presence.status(agent_id) == AgentStatus.OFFLINE:
                await self._start_grace(agent_id)
        log.info("restored queue=%d assigned=%d", len(entries), len(assigned))

    async def _release_stale(self, recorded: dict[str, list[str]]) -> None:
        """Release what ``recorded`` (the routing state, read before the database) has an agent
        hold that the database, read afterwards, says they do not, except holds whose claim is
        still in flight (marked before the database is read: a claim is stored before its mark
        goes). Those are looked at again by the next repair."""
        suspects = [(agent_id, cid) for agent_id, ids in recorded.items() for cid in ids]
        in_flight = await self.routing.claims_in_flight([cid for _, cid in suspects])
        found = await self.conversations.get_conversations([cid for _, cid in suspects if cid not in in_flight])
        released = 0
        for agent_id, cid in suspects:
            if cid in in_flight:
                continue
            conversation = found.get(cid)
            if conversation is None or conversation.status != ConversationStatus.ASSIGNED \
                    or conversation.agent_id != agent_id:
                await self.routing.release(agent_id, cid)
                released += 1
        if in_flight:
            self.repair_needed = True
        if released:
            log.warning("released chats the routing state still counted for agents count=%d", released)

    # -- authorization ------------------------------------------------------------------------

    async def conversation_for(self, actor: Actor, conversation_id: str) -> Conversation:
        """The conversation if ``actor`` may act on it: the visitor who owns it, or the agent it is
        assigned to (or who closed it). Anything else is refused the same way as a missing id."""
        return check_access(await self.conversations.get_conversation(conversation_id), actor.kind, actor.id)

    # -- visitor actions ----------------------------------------------------------------------

    async def start_chat(self, visitor_id: str, prechat: PreChat) -> tuple[Conversation, bool]:
        """Queue a new conversation for the visitor (or return their active one: starting twice
        never makes two). The question becomes the first message."""
        async with self._lock(f"visitor:{visitor_id}"):
            existing = await self.conversations.active_conversation_for_visitor(visitor_id)
            if existing is not None:
                return existing, False
            if prechat.department is not None and prechat.department not in self.policy.departments:
                raise InvalidPayload(f"unknown department {prechat.department!r}")
            if self.prepare_visitor is not None:
                await self.prepare_visitor(visitor_id, prechat)
            record = await self._recorder(CONVERSATION_CREATED)
            now = self.clock.now()
            priority = self.policy.priority(prechat)
            rank = self._next_rank() - priority * PRIORITY_STEP
            conversation = Conversation(
                id=self.new_id(),
                visitor_id=visitor_id,
                status=ConversationStatus.QUEUED,
                prechat=prechat,
                created_at=now,
                queue_rank=rank,
                priority=priority,
            )
            first = [
                self._system(conversation.id, SYS_CHAT_STARTED, now),
                NewMessage(conversation_id=conversation.id, kind="text", sender_kind=PartyKind.VISITOR,
                           sender_id=visitor_id, sender_name=prechat.name, body=prechat.question, created_at=now),
            ]
            await self.conversations.create_conversation(conversation, first, record)
            await self._after_commit(self.routing.enqueue(self._entry(conversation, rank)))
        log.info("conversation queued conversation=%s visitor=%s", conversation.id, visitor_id)
        await self.notifier.queue_changed()
        self.spawn(self.dispatch())
        return conversation, True

    async def send_message(
        self, actor: Actor, conversation_id: str, client_msg_id: str, body: str, origin: str | None
    ) -> tuple[Message, bool]:
        """Store and deliver a text message; resending the same ``client_msg_id`` returns the
        stored message and delivers nothing again."""
        # Who may send is checked by the store inside the write (check_writable): one transaction.
        conversation, message, created = await self.conversations.append_message(
            NewMessage(conversation_id=conversation_id, kind="text", sender_kind=actor.kind, sender_id=actor.id,
                       sender_name=actor.name if actor.kind == PartyKind.AGENT else None,
                       body=body, created_at=self.clock.now(), client_msg_id=client_msg_id)
        )
        if created:
            await self.notifier.message_stored(conversation, message, origin)
        return message, created

    async def rate(self, actor: Actor, conversation_id: str, rating: int, comment: str | None) -> Rating:
        """The visitor rates a conversation once it has ended."""
        conversation = await self.conversation_for(actor, conversation_id)
        if actor.kind != PartyKind.VISITOR:
            raise Forbidden("only the visitor rates a conversation")
        if conversation.status != ConversationStatus.CLOSED:
            raise ConversationNotClosed("a conversation can be rated once it has ended")
        stored = Rating(conversation_id=conversation_id, rating=rating, comment=comment, created_at=self.clock.now())
        await self.conversations.rate(stored)
        return stored

    async def update_page(self, actor: Actor, conversation_id: str, page: PageContext) -> tuple[Conversation, bool]:
        """The shopper moved to another page (or reloaded): keep where they are on the open
        conversation and tell both sides (``conversation:updated``) when it changed. Returns
        the conversation and whether anything changed."""
        conversation = await self.conversation_for(actor, conversation_id)
        if actor.kind != PartyKind.VISITOR:
            raise Forbidden("only the visitor tells where they are")
        if conversation.status == ConversationStatus.CLOSED:
            raise ConversationClosed("the conversation has ended")
        p = conversation.prechat
        if PageContext(page_url=p.page_url, page_title=p.page_title, checkout=p.checkout,
                       cart_value=p.cart_value) == page:
            return conversation, False
        updated = await self.conversations.update_page(conversation_id, page)
        if updated is None:
            raise ConversationClosed("the conversation has ended")
        await self.notifier.conversation_changed(updated, None)
        if updated.status == ConversationStatus.QUEUED:
            await self.notifier.queue_changed()  # agents see the queue's entries with their pages
        return updated, True

    async def agents_available(self) -> bool:
        return bool(await self.presence.available_agents())

    async def mark_read(self, actor: Actor, conversation_id: str, seq: int) -> int:
        """Raise the actor's read mark; both parties hear of it when it moved. Marks of one reader
        that arrive while one of theirs is being stored (several tabs, a burst) are stored as one,
        the highest, with one announcement; each caller gets the mark as it then is."""
        key = (conversation_id, actor.kind, actor.id)
        if key in self._reading:
            waiting = self._reads_waiting.get(key)
            if waiting is None:
                waiting = self._reads_waiting[key] = _ReadRound(seq)
            waiting.seq = max(waiting.seq, seq)
            return await asyncio.shield(waiting.future)
        self._reading.add(key)
        try:
            return await self._store_read(actor, conversation_id, seq)
        finally:
            if key in self._reads_waiting:
                self.spawn(self._store_waiting_reads(key, actor))
            else:
                self._reading.discard(key)

    async def _store_read(self, actor: Actor, conversation_id: str, seq: int) -> int:
        conversation, read, moved = await self.conversations.mark_read(conversation_id, actor.kind, actor.id, seq)
        if moved:
            await self.notifier.read_updated(conversation, actor.kind, read)
        return read

    async def _store_waiting_reads(self, key: tuple[str, PartyKind, str], actor: Actor) -> None:
        round_: _ReadRound | None = None
        try:
            while (round_ := self._reads_waiting.pop(key, None)) is not None:
                try:
                    round_.future.set_result(await self._store_read(actor, key[0], round_.seq))
                except Exception as exc:
                    round_.future.set_exception(exc)
        finally:
            self._reading.discard(key)
            for left in (round_, self._reads_waiting.pop(key, None)):  # cancelled (shutdown)
                if left is not None and not left.future.done():
                    left.future.set_exception(Unavailable("the server is stopping"))

    async def set_typing(self, actor: Actor, conversation_id: str, typing: bool) -> None:
        conversation = await self.conversation_for(actor, conversation_id)
        if conversation.status != ConversationStatus.CLOSED:
            await self.notifier.typing(conversation, actor.kind, typing)

    async def close(self, actor: Actor, conversation_id: str) -> Conversation:
        """End the chat for both sides; closing a closed chat returns it unchanged."""
        await self.conversation_for(actor, conversation_id)
        return await self._close(conversation_id, actor.kind, f"closed_by_{actor.kind}")

    async def force_close(self, conversation_id: str, reason: str) -> Conversation:
        """Close a chat whoever holds it, for both sides (an admin's decision, or an abandoned
        chat): the system closes it. ``NotFound`` for an unknown id; a closed chat is returned
        unchanged."""
        if await self.conversations.get_conversation(conversation_id) is None:
            raise NotFound("conversation not found")
        return await self._close(conversation_id, PartyKind.SYSTEM, reason)

    async def close_abandoned(self, idle_for: float) -> int:
        """Close every queued or assigned chat without a message for ``idle_for`` seconds (the
        shopper left, or nobody answered), so retention can delete it in time; returns how many."""
        before = self.clock.now() - idle_for
        closed = 0
        while True:
            ids = await self.conversations.idle_conversations(before, ABANDONED_BATCH)
            for conversation_id in ids:
                await self._close(conversation_id, PartyKind.SYSTEM, "abandoned")
                closed += 1
            if len(ids) < ABANDONED_BATCH:
                if closed:
                    log.info("abandoned conversations closed count=%d idle_for_s=%s", closed, idle_for)
                return closed

    async def _close(self, conversation_id: str, closed_by: PartyKind, reason: str) -> Conversation:
        async with self._lock(conversation_id):
            for _ in range(5):
                current = await self.conversations.get_conversation(conversation_id)
                assert current is not None
                if current.status == ConversationStatus.CLOSED:
                    return current
                if current.status == ConversationStatus.QUEUED:
                    await self.routing.remove(conversation_id)
                record = await self._recorder(CONVERSATION_CLOSED)
                now = self.clock.now()
                result = await self._transition_or_requeue(current, Transition(
                    conversation_id=conversation_id, expect=frozenset({current.status}),
                    status=ConversationStatus.CLOSED, agent_id=current.agent_id, agent_name=current.agent_name,
                    at=now, event="closed", reason=reason, closed_by=closed_by,
                    system_message=self._system(conversation_id, SYS_CLOSED, now, {"by": str(closed_by)}),
                    record=record,
                ))
                if result is not None:
                    break
            else:  # pragma: no cover - only under sustained cross-process contention
                raise ConversationClosed("the conversation changed while closing; try again")
            conversation, message = result
            if current.agent_id is not None:
                await self._after_commit(self.routing.release(current.agent_id, conversation_id))
        log.info("conversation closed conversation=%s by=%s reason=%s", conversation_id, closed_by, reason)
        await self._announce(conversation, current.agent_id, message)
        if current.status == ConversationStatus.QUEUED:
            await self.notifier.queue_changed()
        self.spawn(self.dispatch())
        return conversation

    # -- agent actions ------------------------------------------------------------------------

    async def agent_connected(self, agent: Agent, connection_id: str, status: AgentStatus = AgentStatus.ONLINE) -> None:
        """Record the agent's connection with the status they asked for (it applies when they had
        no other connection), before routing runs: an agent who chose away gets no chat on a
        reconnect."""
        self._agent_cache[agent.id] = agent
        count = await self.presence.agent_connected(agent.id, connection_id, status)
        timer = self._grace_timers.pop(agent.id, None)
        if timer is not None:
            timer.cancel()
            log.info("agent back within grace period agent=%s", agent.id)
        if count == 1:
            await self._tell_peers_agent_presence(agent.id, online=True)
        self.spawn(self.dispatch())

    async def agent_disconnected(self, agent_id: str, connection_id: str) -> None:
        remaining = await self.presence.agent_disconnected(agent_id, connection_id)
        if remaining == 0:
            await self._start_grace(agent_id)
            await self._tell_peers_agent_presence(agent_id, online=False)

    async def _tell_peers_agent_presence(self, agent_id: str, online: bool) -> None:
        held = await self.conversations.conversations_with_status([ConversationStatus.ASSIGNED], agent_id)
        for conversation in held:
            await self.notifier.peer_presence(conversation, PartyKind.AGENT, online)

    async def set_status(self, agent: Agent, status: AgentStatus) -> AgentStatus:
        await self.presence.set_status(agent.id, status)
        if status == AgentStatus.ONLINE:
            self.spawn(self.dispatch())
        return await self.presence.status(agent.id)

    async def take(self, agent: Agent, conversation_id: str) -> Conversation:
        """Manually take a waiting chat: of two agents taking the same chat, exactly one wins."""
        outcome = await self.routing.claim(conversation_id, agent.id, agent.capacity)
        if outcome == ClaimOutcome.AT_CAPACITY:
            raise AtCapacity(f"you already have {agent.capacity} active chats")
        if outcome == ClaimOutcome.NOT_WAITING:
            current = await self.conversations.get_conversation(conversation_id)
            if current is None:
                raise NotFound("conversation not found")
            if current.status == ConversationStatus.ASSIGNED and current.agent_id == agent.id:
                return current
            if current.status == ConversationStatus.CLOSED:
                raise ConversationClosed("the conversation has ended")
            raise AlreadyTaken("another agent has already taken this chat")
        conversation = await self._complete_assignment(conversation_id, agent, "taken")
        if conversation is None:
            raise ConversationClosed("the conversation ended before it could be taken")
        return conversation

    async def _complete_assignment(self, conversation_id: str, agent: Agent, event: str) -> Conversation | None:
        """Record a claim the routing state granted; undo the claim if the chat closed meanwhile."""
        async with self._lock(conversation_id):
            try:
                record = await self._recorder(CONVERSATION_ASSIGNED)
                now = self.clock.now()
                result = await self.conversations.transition(Transition(
                    conversation_id=conversation_id, expect=frozenset({ConversationStatus.QUEUED}),
                    status=ConversationStatus.ASSIGNED, agent_id=agent.id, agent_name=agent.name, at=now,
                    event=event, record=record,
                    system_message=self._system(conversation_id, SYS_AGENT_JOINED, now, {"agent_name": agent.name}),
                ))
            except Exception:
                await self._undo_claim(conversation_id, agent.id)
                raise
            if result is None:
                await self._after_commit(self.routing.release(agent.id, conversation_id))
                return None
            waited = max(0.0, now - result[0].created_at)
            await self._after_commit(self.routing.record_assignment(conversation_id, now, waited), repair=False)
        conversation, message = result
        log.info("conversation assigned conversation=%s agent=%s how=%s", conversation_id, agent.id, event)
        await self._announce(conversation, None, message)
        await self.notifier.queue_changed()
        return conversation

    async def _undo_claim(self, conversation_id: str, agent_id: str) -> None:
        """A claim whose assignment could not be stored (the database refused the write): the
        agent no longer holds the chat, and the chat waits at its place again, as the database
        still says. If even reading it fails, the routing state is repaired from the database
        later (the chat is not lost from the queue)."""
        try:
            current = await self.conversations.get_conversation(conversation_id)
        except ChatError:
            current = None
            self.repair_needed = True
        writes = [self.routing.release(agent_id, conversation_id)]
        if current is not None and current.status == ConversationStatus.QUEUED:
            writes.append(self.routing.enqueue(self._waiting_entry(current)))
        await self._after_commit(*writes)
        await self.notifier.queue_changed()

    async def dispatch(self) -> int:
        """Assign waiting chats, oldest first, each to the available agent with the fewest active
        chats below their capacity. Returns how many were assigned."""
        assigned = 0
        async with self._dispatch_lock:
            while True:
                candidates = [
                    (agent.created_at, agent.id, Candidate(agent.id, agent.capacity, frozenset(agent.departments)))
                    for agent in [await self.agent(agent_id) for agent_id in await self.presence.available_agents()]
                    if agent is not None and not agent.disabled
                ]
                candidates.sort(key=lambda c: (c[0], c[1]))
                open_before = self.clock.now() - self.policy.department_fallback_after
                claimed = await self.routing.assign_next([c for _, _, c in candidates], open_before)
                if claimed is None:
                    return assigned  # nobody can take anything that waits
                agent_id, entry = claimed
                agent = await self.agent(agent_id)
                assert agent is not None
                if await self._complete_assignment(entry.conversation_id, agent, "assigned") is not None:
                    assigned += 1

    # -- grace period -------------------------------------------------------------------------

    async def _start_grace(self, agent_id: str) -> None:
        """The agent has no connection left: their chats are requeued after the grace period
        unless they come back. The deadline is recorded in presence (shared by every process)
        and timed here; if this process dies, another one's sweep finds it due."""
        previous = self._grace_timers.pop(agent_id, None)
        if previous is not None:
            previous.cancel()
        now = self.clock.now()
        deadline = await self.presence.grace_started(agent_id, now + self.grace_period)
        self._grace_timers[agent_id] = self.clock.call_later(
            max(0.0, deadline - now), lambda: self.spawn(self._grace_expired(agent_id, deadline))
        )

    async def _grace_expired(self, agent_id: str, deadline: float) -> None:
        self._grace_timers.pop(agent_id, None)
        if await self.presence.claim_grace(agent_id, deadline):
            await self._grace_over(agent_id)

    async def _grace_over(self, agent_id: str) -> None:
        if await self.presence.status(agent_id) != AgentStatus.OFFLINE:
            return
        await self.requeue_agent_chats(agent_id, reason="agent_disconnected")

    async def requeue_agent_chats(self, agent_id: str, reason: str) -> int:
        """Put every chat the agent holds back at the head of the queue (the longest-assigned first)
        and tell each visitor."""
        held = await self.conversations.conversations_with_status([ConversationStatus.ASSIGNED], agent_id)
        held.sort(key=lambda c: c.assigned_at or 0.0, reverse=True)
        count = 0
        for conversation in held:
            result = await self._back_to_queue_head(conversation.id, agent_id, event="released", reason=reason,
                                                    body=SYS_REQUEUED, meta={"reason": reason})
            if result is None:
                continue
            updated, message = result
            count += 1
            log.info("conversation requeued conversation=%s agent=%s reason=%s", conversation.id, agent_id, reason)
            await self._announce(updated, agent_id, message)
        if count:
            await self.notifier.queue_changed()
            self.spawn(self.dispatch())
        return count

    # -- transfers ----------------------------------------------------------------------------

    async def transfer(self, actor: Actor, agent: Agent, conversation_id: str, *, to_agent_id: str | None,
                       to_department: str | None) -> Conversation:
        """Hand an assigned chat to another agent (who must be online with room) or to a
        department's queue (ahead of the others: the visitor has waited already). The visitor
        keeps the conversation and its history; the new agent sees all of it."""
        conversation = await self.conversation_for(actor, conversation_id)
        if conversation.status != ConversationStatus.ASSIGNED:
            raise ConversationClosed("only an assigned chat can be transferred")
        if (to_agent_id is None) == (to_department is None):
            raise InvalidPayload("give exactly one of to_agent_id and to_department")
        if to_agent_id is not None:
            return await self._transfer_to_agent(agent, conversation, to_agent_id)
        assert to_department is not None
        if to_department not in self.policy.departments:
            raise InvalidPayload(f"unknown department {to_department!r}")
        return await self._transfer_to_department(agent, conversation, to_department)

    async def _transfer_to_agent(self, agent: Agent, conversation: Conversation, to_agent_id: str) -> Conversation:
        target = await self.agents.agent_by_id(to_agent_id)
        if target is None or target.disabled or target.id == agent.id:
            raise NotFound("no such agent to transfer to")
        if await self.presence.status(target.id) == AgentStatus.OFFLINE:
            raise AtCapacity(f"{target.name} is offline")
        async with self._lock(conversation.id):
            record = await self._recorder(CONVERSATION_ASSIGNED, previous_agent_id=agent.id)
            if not await self.routing.move(conversation.id, agent.id, target.id, target.capacity):
                raise AtCapacity(f"{target.name} has no room for another chat")

            async def move_back() -> None:  # the transfer is not stored: the chat stays with the agent
                await self._after_commit(self.routing.move(conversation.id, target.id, agent.id, agent.capacity + 1),
                                         self.routing.settle(conversation.id))

            now = self.clock.now()
            try:
                result = await self.conversations.transition(Transition(
                    conversation_id=conversation.id, expect=frozenset({ConversationStatus.ASSIGNED}),
                    status=ConversationStatus.ASSIGNED, agent_id=target.id, agent_name=target.name, at=now,
                    event="transferred", reason=f"from_agent:{agent.id}",
                    system_message=self._system(conversation.id, SYS_TRANSFERRED, now,
                                                {"from_agent_name": agent.name, "agent_name": target.name}),
                    record=record,
                ))
            except Exception:  # the database refused the write
                await move_back()
                raise
            if result is None:
                await move_back()
                raise ConversationClosed("the conversation changed while transferring")
            await self._after_commit(self.routing.settle(conversation.id), repair=False)
        updated, message = result
        log.info("conversation transferred conversation=%s from=%s to=%s", conversation.id, agent.id, target.id)
        await self._announce(updated, agent.id, message)
        self.spawn(self.dispatch())
        return updated

    async def _transfer_to_department(self, agent: Agent, conversation: Conversation, department: str) -> Conversation:
        result = await self._back_to_queue_head(
            conversation.id, agent.id, event="transferred", reason=f"to_department:{department}",
            body=SYS_TRANSFERRED, meta={"from_agent_name": agent.name, "department": department},
            department=department,
        )
        if result is None:
            raise ConversationClosed("the conversation changed while transferring")
        updated, message = result
        log.info("conversation transferred conversation=%s from=%s department=%s", conversation.id, agent.id,
                 department)
        await self._announce(updated, agent.id, message)
        await self.notifier.queue_changed()
        self.spawn(self.dispatch())
        return updated

    async def _back_to_queue_head(
        self, conversation_id: str, agent_id: str, *, event: str, reason: str, body: str, meta: dict[str, str],
        department: str | None = None,
    ) -> tuple[Conversation, Message | None] | None:
        """Move an assigned chat from the agent back to the head of the queue (the visitor has
        waited already), with its system message; ``None`` if it was no longer assigned."""
        async with self._lock(conversation_id):
            head = await self.routing.head_rank()
            now = self.clock.now()
            rank = (head if head is not None else now) - 1.0
            result = await self.conversations.transition(Transition(
                conversation_id=conversation_id, expect=frozenset({ConversationStatus.ASSIGNED}),
                status=ConversationStatus.QUEUED, agent_id=None, agent_name=None, at=now, event=event,
                reason=reason, queue_rank=rank, department=department,
                system_message=self._system(conversation_id, body, now, meta),
            ))
            if result is None:
                return None
            await self._after_commit(self.routing.release(agent_id, conversation_id),
                                     self.routing.enqueue(self._entry(result[0], rank)))
        return result

    async def _announce(self, conversation: Conversation, previous_agent_id: str | None,
                        message: Message | None) -> None:
        """Tell both parties a conversation changed, then deliver the system message recording it."""
        await self.notifier.conversation_changed(conversation, previous_agent_id)
        if message is not None:
            await self.notifier.message_stored(conversation, message, None)

    @staticmethod
    def _system(conversation_id: str, body: str, at: float, meta: dict[str, str] | None = None) -> NewMessage:
        return NewMessage(conversation_id=conversation_id, kind="system", sender_kind=PartyKind.SYSTEM,
                          sender_id=None, sender_name=None, body=body, created_at=at, meta=meta)

    async def _after_commit(self, *writes: Coroutine[Any, Any, Any], repair: bool = True) -> None:
        """Run routing-state writes that follow a committed change. The database holds the truth
        by now, so a routing store that cannot be reached fails nothing: the change stands, and
        (with ``repair``) the routing state is repaired from the database once it answers."""
        pending = list(writes)
        try:
            while pending:
                await pending.pop(0)
        except Unavailable:
            for left in pending:
                left.close()
            if repair:
                self.repair_needed = True
            log.warning("routing store unreachable after a commit; repairing it when it is back repair=%s", repair)

    async def _transition_or_requeue(
        self, current: Conversation, transition: Transition
    ) -> tuple[Conversation, Message | None] | None:
        """Close ``current``; if a waiting chat was taken off the queue but storing fails, it goes
        back to its place (it is still waiting in the database)."""
        try:
            return await self.conversations.transition(transition)
        except Exception:
            if current.status == ConversationStatus.QUEUED:
                await self._after_commit(self.routing.enqueue(self._waiting_entry(current)))
            raise

    # -- other processes ----------------------------------------------------------------------

    async def sweep(self) -> None:
        """Periodic work: connections of dead processes go offline (agents then get the grace
        period), and waiting chats past the department fallback are routed. A dead process may
        have died between a claim and storing it: the routing state is repaired from the
        database (at the next heartbeat, and again until that claim's mark has expired)."""
        for kind, party_id, remaining in await self.presence.expire_dead_connections():
            if kind == "process":
                self.repair_needed = True
                continue
            if remaining:
                continue
            if kind == "agent":
                await self._start_grace(party_id)
                await self._tell_peers_agent_presence(party_id, online=False)
            else:
                await self._tell_agent_visitor_presence(party_id, online=False)
        # Grace periods whose timer is gone with its process (killed, or stopped cleanly).
        for agent_id in await self.presence.claim_due_graces(self.clock.now()):
            timer = self._grace_timers.pop(agent_id, None)
            if timer is not None:
                timer.cancel()
            await self._grace_over(agent_id)
        await self.dispatch()

    async def seconds_per_place(self) -> float | None:
        """How long one place in the queue takes to move up, from the assignments of the last
        hour: for each chat that had to wait, the time since the assignment before it, but no
        more than the chat waited (a gap in which nobody waited says how seldom shoppers came,
        not how fast agents serve); the mean of those. Chats taken at once say nothing of it.
        ``None`` without such history or with no agent online."""
        now = self.clock.now()
        recent = [(at, waited) for at, waited in await self.routing.recent_assignments()
                  if at >= now - WAIT_ESTIMATE_WINDOW]
        paces = [min(at - previous, waited) for (previous, _), (at, waited) in itertools.pairwise(recent)
                 if waited >= MIN_QUEUED_WAIT]
        if not paces or not await self.presence.available_agents():
            return None
        return sum(paces) / len(paces)

    async def wait_estimate(self, position: int) -> float | None:
        """Seconds a chat at ``position`` may wait (``position`` x ``seconds_per_place``)."""
        return estimate_wait(position, await self.seconds_per_place())

    # -- visitors' presence -------------------------------------------------------------------

    async def visitor_connected(self, visitor_id: str, connection_id: str) -> None:
        if await self.presence.visitor_connected(visitor_id, connection_id) == 1:
            await self._tell_agent_visitor_presence(visitor_id, online=True)

    async def visitor_disconnected(self, visitor_id: str, connection_id: str) -> None:
        if await self.presence.visitor_disconnected(visitor_id, connection_id) == 0:
            await self._tell_agent_visitor_presence(visitor_id, online=False)

    async def _tell_agent_visitor_presence(self, visitor_id: str, online: bool) -> None:
        conversation = await self.conversations.active_conversation_for_visitor(visitor_id)
        if conversation is not None and conversation.status == ConversationStatus.ASSIGNED:
            await self.notifier.peer_presence(conversation, PartyKind.VISITOR, online)

    # -- views --------------------------------------------------------------------------------

    async def queue_view(self, limit: int) -> tuple[list[Conversation], int]:
        """The first ``limit`` waiting conversations in queue order, and how many wait in all."""
        entries = await self.routing.waiting(limit)
        found = await self.conversations.get_conversations([e.conversation_id for e in entries])
        return [found[e.conversation_id] for e in entries if e.conversation_id in found], \
            await self.routing.waiting_count()
