"""The agent namespace's own events: resuming a session, the queue (listing, taking), presence
and transfers."""

from __future__ import annotations

from typing import Any

from .. import constants as C
from ..domain.models import AgentStatus, ConversationStatus, PartyKind
from ..domain.ports import ConversationStore, Presence
from ..domain.presence import PresenceChanges
from ..domain.routing import Dispatcher
from ..domain.transfers import Transfers
from ..wire.views import agent_view, conversation_view
from . import schemas as S
from .dispatch import Handler
from .notifier import SocketNotifier
from .queue_views import AGENT_QUEUE_LIMIT, QueueViews
from .registry import Connection, ConnectionRegistry, agent_of


class AgentEvents:
    def __init__(self, dispatcher: Dispatcher, transfers: Transfers, presence_changes: PresenceChanges,
                 presence: Presence, conversations: ConversationStore, connections: ConnectionRegistry,
                 notifier: SocketNotifier, queue: QueueViews, limits: dict[str, int]) -> None:
        self.dispatcher = dispatcher
        self.transfers = transfers
        self.presence_changes = presence_changes
        self.presence = presence
        self.conversations = conversations
        self.connections = connections
        self.notifier = notifier
        self.queue = queue
        self.limits = limits

    def handlers(self) -> dict[str, Handler]:
        return {
            C.EV_SESSION_RESUME: self._on_resume,
            C.EV_QUEUE_LIST: self._on_queue_list,
            C.EV_QUEUE_TAKE: self._on_queue_take,
            C.EV_PRESENCE_SET: self._on_presence_set,
            C.EV_CONVERSATION_TRANSFER: self._on_transfer,
        }

    async def _on_resume(self, connection: Connection, data: Any) -> dict[str, Any]:
        S.parse(S.SessionResume, data)
        agent = agent_of(connection)
        held = await self.conversations.conversations_with_status([ConversationStatus.ASSIGNED], agent.id)
        return {
            "agent": agent_view(agent),
            "status": str(await self.presence.status(agent.id)),
            "conversations": [conversation_view(c, PartyKind.AGENT) for c in held],
            "queue": await self.queue.snapshot(AGENT_QUEUE_LIMIT),
            "limits": self.limits,
        }

    async def _on_queue_list(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.QueueList, data)
        return await self.queue.snapshot(payload.limit)

    async def _on_queue_take(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.ConversationRef, data)
        conversation = await self.dispatcher.take(agent_of(connection), payload.conversation_id)
        return {"conversation": conversation_view(conversation, PartyKind.AGENT)}

    async def _on_presence_set(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.PresenceSet, data)
        status = await self.presence_changes.set_status(agent_of(connection), AgentStatus(payload.status))
        for held in self.connections.of_agent(connection.actor.id):  # the agent's other tabs here share the choice
            held.status = AgentStatus(payload.status)
        await self.notifier.agent_status(connection.actor.id, str(status))
        return {"status": str(status)}

    async def _on_transfer(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.ConversationTransfer, data)
        conversation = await self.transfers.transfer(agent_of(connection), payload.conversation_id,
                                                     to_agent_id=payload.to_agent_id,
                                                     to_department=payload.to_department)
        return {"conversation": conversation_view(conversation, PartyKind.AGENT)}
