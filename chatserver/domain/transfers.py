"""Transfers: the agent holding a chat hands it to another agent, who must be online with room
(the routing state moves the hold atomically), or to a department's queue, ahead of the others
there (the visitor has waited already). The visitor keeps the conversation and its history; the
new agent sees all of it."""

from __future__ import annotations

import logging

from ..constants import SYS_TRANSFERRED
from ..errors import AtCapacity, ConversationClosed, InvalidPayload, NotFound
from .access import check_access
from .changes import CONVERSATION_ASSIGNED, announce, recorder, system_message
from .clock import Clock
from .locks import KeyedLocks
from .models import Agent, AgentStatus, Conversation, ConversationStatus, PartyKind
from .ports import AgentStore, ConversationEventLog, ConversationStore, Notifier, Presence, RoutingState, Transition
from .queue import WaitingQueue
from .repair import RoutingRepair
from .routing import Dispatcher, RoutingPolicy

log = logging.getLogger("chatserver.conversations")


class Transfers:
    """Hands assigned chats from one agent to another agent or to a department."""

    def __init__(self, *, conversations: ConversationStore, agents: AgentStore, routing: RoutingState,
                 presence: Presence, notifier: Notifier, clock: Clock, policy: RoutingPolicy, queue: WaitingQueue,
                 dispatcher: Dispatcher, locks: KeyedLocks, repair: RoutingRepair,
                 event_log: ConversationEventLog | None) -> None:
        self._conversations = conversations
        self._agents = agents
        self._routing = routing
        self._presence = presence
        self._notifier = notifier
        self._clock = clock
        self._policy = policy
        self._queue = queue
        self._dispatcher = dispatcher
        self._locks = locks
        self._repair = repair
        self._event_log = event_log

    async def transfer(self, agent: Agent, conversation_id: str, *, to_agent_id: str | None,
                       to_department: str | None) -> Conversation:
        """Hand a chat ``agent`` holds to another agent (who must be online with room) or to a
        department's queue (ahead of the others: the visitor has waited already). Exactly one of
        ``to_agent_id`` and ``to_department`` is given."""
        conversation = check_access(await self._conversations.get_conversation(conversation_id),
                                    PartyKind.AGENT, agent.id)
        if conversation.status != ConversationStatus.ASSIGNED:
            raise ConversationClosed("only an assigned chat can be transferred")
        if (to_agent_id is None) == (to_department is None):
            raise InvalidPayload("give exactly one of to_agent_id and to_department")
        if to_agent_id is not None:
            return await self._to_agent(agent, conversation, to_agent_id)
        assert to_department is not None
        if to_department not in self._policy.departments:
            raise InvalidPayload(f"unknown department {to_department!r}")
        return await self._to_department(agent, conversation, to_department)

    async def _to_agent(self, agent: Agent, conversation: Conversation, to_agent_id: str) -> Conversation:
        target = await self._agents.agent_by_id(to_agent_id)
        if target is None or target.disabled or target.id == agent.id:
            raise NotFound("no such agent to transfer to")
        if await self._presence.status(target.id) == AgentStatus.OFFLINE:
            raise AtCapacity(f"{target.name} is offline")
        async with self._locks.lock(conversation.id):
            record = await recorder(self._event_log, CONVERSATION_ASSIGNED, previous_agent_id=agent.id)
            if not await self._routing.move(conversation.id, agent.id, target.id, target.capacity):
                raise AtCapacity(f"{target.name} has no room for another chat")

            async def move_back() -> None:  # the transfer is not stored: the chat stays with the agent
                await self._repair.after_commit(
                    self._routing.move(conversation.id, target.id, agent.id, agent.capacity + 1),
                    self._routing.settle(conversation.id))

            now = self._clock.now()
            try:
                result = await self._conversations.transition(Transition(
                    conversation_id=conversation.id, expect=frozenset({ConversationStatus.ASSIGNED}),
                    status=ConversationStatus.ASSIGNED, agent_id=target.id, agent_name=target.name, at=now,
                    event="transferred", reason=f"from_agent:{agent.id}",
                    system_message=system_message(conversation.id, SYS_TRANSFERRED, now,
                                                  {"from_agent_name": agent.name, "agent_name": target.name}),
                    record=record,
                ))
            except Exception:  # the database refused the write
                await move_back()
                raise
            if result is None:
                await move_back()
                raise ConversationClosed("the conversation changed while transferring")
            await self._repair.after_commit(self._routing.settle(conversation.id), repair=False)
        updated, message = result
        log.info("conversation transferred conversation=%s from=%s to=%s", conversation.id, agent.id, target.id)
        await announce(self._notifier, updated, agent.id, message)
        self._dispatcher.dispatch_soon()
        return updated

    async def _to_department(self, agent: Agent, conversation: Conversation, department: str) -> Conversation:
        result = await self._queue.back_to_head(
            conversation.id, agent.id, event="transferred", reason=f"to_department:{department}",
            body=SYS_TRANSFERRED, meta={"from_agent_name": agent.name, "department": department},
            department=department,
        )
        if result is None:
            raise ConversationClosed("the conversation changed while transferring")
        updated, message = result
        log.info("conversation transferred conversation=%s from=%s department=%s", conversation.id, agent.id,
                 department)
        await announce(self._notifier, updated, agent.id, message)
        await self._notifier.queue_changed()
        self._dispatcher.dispatch_soon()
        return updated
