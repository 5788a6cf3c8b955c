"""What this process does for its clients after the shared state lost something: record their
connections in presence again (the routing store lost its data), and resend what the process
bus may have dropped (it reconnected)."""

from __future__ import annotations

from .. import constants as C
from ..domain.models import ConversationStatus, PartyKind
from ..domain.ports import ConversationStore, Presence
from .conversation_views import ConversationViews
from .delivery import Delivery
from .notifier import SocketNotifier
from .registry import ConnectionRegistry
from .socketio_server import ChatSocketServer
from .waiting import WaitingVisitors


class Recovery:
    def __init__(self, sio: ChatSocketServer, connections: ConnectionRegistry, conversations: ConversationStore,
                 presence: Presence, delivery: Delivery, notifier: SocketNotifier, waiting: WaitingVisitors,
                 views: ConversationViews) -> None:
        self.sio = sio
        self.views = views
        self.connections = connections
        self.conversations = conversations
        self.presence = presence
        self.delivery = delivery
        self.notifier = notifier
        self.waiting = waiting

    async def reregister_connections(self) -> None:
        """Record this process's connections in presence again (after the routing store lost them)."""
        self.notifier.forget_readers()
        for connection in list(self.connections.values()):
            if connection.actor.kind == PartyKind.VISITOR:
                await self.presence.visitor_connected(connection.actor.id, connection.sid)
            else:
                await self.presence.agent_connected(connection.actor.id, connection.sid, connection.status)

    async def catch_up(self) -> None:
        """After events from other processes may have been lost: resend this process's clients
        the messages past their watermarks and the current state of their conversations."""
        self.notifier.forget_readers()
        await self.delivery.catch_up_all()
        for connection in list(self.connections.values()):
            actor = connection.actor
            if actor.kind == PartyKind.AGENT:
                held = await self.conversations.conversations_with_status([ConversationStatus.ASSIGNED], actor.id)
            else:
                active = await self.conversations.active_conversation_for_visitor(actor.id)
                held = [active] if active is not None else []
            for conversation in held:
                await self.sio.lean_emit(C.EV_CONVERSATION_UPDATED, {"conversation": await self.views.view(
                    conversation, actor.kind)}, room=connection.sid, namespace=connection.namespace)
                if actor.kind == PartyKind.VISITOR:
                    self.waiting.watch(conversation)
        await self.notifier.queue_changed()
