"""The conversation lifecycle: start, message, page, typing, rate, close. ``ChatService`` is given
the parts it works with (routing, the queue, grace periods, presence changes, repair); the
composition root builds them (``ChatParts``, chat_parts.py) and hands every other caller the
part it uses.

Rules that hold whatever the backend:
- a conversation is held by at most one agent, and an agent holds at most ``capacity`` chats
  (routing.py: every claim is atomic in the routing state);
- every status change is a guarded ``Transition`` stored with its system message in one
  transaction, so the transcript and the message stream always agree;
- a message is acknowledged only after it is committed, with its sequence number.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from ..constants import SYS_CHAT_STARTED, SYS_CLOSED
from ..errors import ConversationClosed, ConversationNotClosed, Forbidden, InvalidPayload, NotFound
from .access import check_access
from .actor import Actor
from .changes import (
    CONVERSATION_CLOSED,
    CONVERSATION_CREATED,
    announce,
    recorder,
    system_message,
)
from .clock import Clock
from .grace import GracePeriods
from .locks import KeyedLocks
from .models import (
    PRIORITY_STEP,
    Conversation,
    ConversationStatus,
    Message,
    PageContext,
    PartyKind,
    PreChat,
    Rating,
)
from .ports import (
    ConversationEventLog,
    ConversationStore,
    NewMessage,
    Notifier,
    RoutingState,
    Transition,
)
from .presence import PresenceChanges
from .queue import WaitingQueue
from .repair import RoutingRepair
from .routing import Dispatcher, RoutingPolicy
from .tasks import TaskSupervisor

log = logging.getLogger("chatserver.conversations")

ABANDONED_BATCH = 100


class ChatService:
    """The conversation lifecycle over the ports and the parts it works with (built by the
    composition root, which hands the other callers the parts they use)."""

    def __init__(
        self,
        *,
        conversations: ConversationStore,
        routing: RoutingState,
        notifier: Notifier,
        clock: Clock,
        new_id: Callable[[], str],
        policy: RoutingPolicy,
        locks: KeyedLocks,
        repair: RoutingRepair,
        tasks: TaskSupervisor,
        queue: WaitingQueue,
        dispatcher: Dispatcher,
        grace: GracePeriods,
        presence_changes: PresenceChanges,
        event_log: ConversationEventLog | None = None,
        prepare_visitor: Callable[[str, PreChat], Awaitable[object]] | None = None,
    ) -> None:
        self.conversations = conversations
        self.routing = routing
        self.notifier = notifier
        self.clock = clock
        self.new_id = new_id
        self.policy = policy
        self.event_log = event_log
        # Called with (visitor id, pre-chat form) before a new conversation is stored: customer
        # records link the visitor to a customer, and the conversation is stored with it.
        self.prepare_visitor = prepare_visitor
        # Shared with the parts: a chat is locked by its id (or its visitor's) across all of them.
        self.locks = locks
        self.repair = repair
        self.tasks = tasks
        self.queue = queue
        self.dispatcher = dispatcher
        self.grace = grace
        self.presence_changes = presence_changes

    # -- authorization ------------------------------------------------------------------------

    async def conversation_for(self, actor: Actor, conversation_id: str) -> Conversation:
        """The conversation if ``actor`` may act on it: the visitor who owns it, or the agent it is
        assigned to (or who closed it). Anything else is refused the same way as a missing id."""
        return check_access(await self.conversations.get_conversation(conversation_id), actor.kind, actor.id)

    # -- the lifecycle ------------------------------------------------------------------------

    async def start_chat(self, visitor_id: str, prechat: PreChat) -> tuple[Conversation, bool]:
        """Queue a new conversation for the visitor (or return their active one: starting twice
        never makes two). The question becomes the first message."""
        async with self.locks.lock(f"visitor:{visitor_id}"):
            existing = await self.conversations.active_conversation_for_visitor(visitor_id)
            if existing is not None:
                return existing, False
            if prechat.department is not None and prechat.department not in self.policy.departments:
                raise InvalidPayload(f"unknown department {prechat.department!r}")
            if self.prepare_visitor is not None:
                await self.prepare_visitor(visitor_id, prechat)
            record = await recorder(self.event_log, CONVERSATION_CREATED)
            now = self.clock.now()
            priority = self.policy.priority(prechat)
            rank = self.queue.next_rank() - priority * PRIORITY_STEP
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
                system_message(conversation.id, SYS_CHAT_STARTED, now),
                NewMessage(conversation_id=conversation.id, kind="text", sender_kind=PartyKind.VISITOR,
                           sender_id=visitor_id, sender_name=prechat.name, body=prechat.question, created_at=now),
            ]
            await self.conversations.create_conversation(conversation, first, record)
            await self.queue.enqueue_stored(conversation)
        log.info("conversation queued conversation=%s visitor=%s", conversation.id, visitor_id)
        await self.notifier.queue_changed()
        self.dispatcher.dispatch_soon()
        return conversation, True

    async def send_message(
        self, actor: Actor, conversation_id: str, client_msg_id: str, body: str, origin: str | None, *,
        kind: str = "text", meta: dict[str, str] | None = None,
    ) -> tuple[Message, bool]:
        """Store and deliver a participant's message (a text, or a ``file`` one naming its stored
        attachment in ``meta``); resending the same ``client_msg_id`` returns the stored message
        and delivers nothing again."""
        # Who may send is checked by the store inside the write (check_writable): one transaction.
        conversation, message, created = await self.conversations.append_message(
            NewMessage(conversation_id=conversation_id, kind=kind, sender_kind=actor.kind, sender_id=actor.id,
                       sender_name=actor.name if actor.kind == PartyKind.AGENT else None,
                       body=body, created_at=self.clock.now(), client_msg_id=client_msg_id, meta=meta)
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

    async def set_typing(self, actor: Actor, conversation_id: str, typing: bool) -> None:
        """Tell the other party the actor is (or stopped) typing, while the chat is open."""
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
        async with self.locks.lock(conversation_id):
            for _ in range(5):
                current = await self.conversations.get_conversation(conversation_id)
                assert current is not None
                if current.status == ConversationStatus.CLOSED:
                    return current
                if current.status == ConversationStatus.QUEUED:
                    await self.routing.remove(conversation_id)
                record = await recorder(self.event_log, CONVERSATION_CLOSED)
                now = self.clock.now()
                result = await self._transition_or_requeue(current, Transition(
                    conversation_id=conversation_id, expect=frozenset({current.status}),
                    status=ConversationStatus.CLOSED, agent_id=current.agent_id, agent_name=current.agent_name,
                    at=now, event="closed", reason=reason, closed_by=closed_by,
                    system_message=system_message(conversation_id, SYS_CLOSED, now, {"by": str(closed_by)}),
                    record=record,
                ))
                if result is not None:
                    break
            else:  # pragma: no cover - only under sustained cross-process contention
                raise ConversationClosed("the conversation changed while closing; try again")
            conversation, message = result
            if current.agent_id is not None:
                await self.repair.after_commit(self.routing.release(current.agent_id, conversation_id))
        log.info("conversation closed conversation=%s by=%s reason=%s", conversation_id, closed_by, reason)
        await announce(self.notifier, conversation, current.agent_id, message)
        if current.status == ConversationStatus.QUEUED:
            await self.notifier.queue_changed()
        self.dispatcher.dispatch_soon()
        return conversation

    async def _transition_or_requeue(
        self, current: Conversation, transition: Transition
    ) -> tuple[Conversation, Message | None] | None:
        """Close ``current``; if a waiting chat was taken off the queue but storing fails, it goes
        back to its place (it is still waiting in the database)."""
        try:
            return await self.conversations.transition(transition)
        except Exception:
            if current.status == ConversationStatus.QUEUED:
                await self.queue.enqueue_stored(current)
            raise

    # -- the process --------------------------------------------------------------------------

    async def sweep(self) -> None:
        """Periodic work: connections of dead processes go offline (agents then get the grace
        period), grace periods whose timer died with its process are carried out, and waiting
        chats past the department fallback are routed."""
        await self.presence_changes.expire_dead_connections()
        await self.grace.requeue_due()
        await self.dispatcher.dispatch()

    async def shutdown(self) -> None:
        """A clean stop: this process's connections leave presence at once, agents left with no
        connection get their grace period (carried out by another process, or this one's
        successor), and background work is cancelled."""
        await self.grace.hand_over()
        await self.tasks.cancel_all()
