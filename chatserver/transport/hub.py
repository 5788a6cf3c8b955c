"""The Socket.IO namespaces ``/visitor`` and ``/agent`` put together: each part built with what it
needs, and bound to the server's connect, disconnect and catch-all event handlers.

Where each rule lives: who may connect (connect.py), arrival and departure (lifecycle.py),
the checks every event passes and its error answers (dispatch.py), the events themselves
(visitor_events.py, agent_events.py, chat_events.py, and the features' console.py,
customers.py, cobrowse.py, tickets.py), agents' sessions (agent_sessions.py), what follows a
loss of shared state (recovery.py), the queue as clients see it (queue_views.py) and the
updates they get when it moves (waiting.py, queue_updates.py), and closing every connection at
shutdown (shutdown.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .. import constants as C
from ..config import Settings
from ..domain.chat_parts import ChatParts
from ..domain.clock import Clock
from ..domain.ports import AgentStore, ConversationStore, Presence, RoutingState
from ..domain.tokens import TokenSigner
from .agent_events import AgentEvents
from .agent_sessions import AgentSessions
from .chat_events import ChatEvents
from .connect import Authenticator
from .conversation_views import ConversationViews
from .delivery import Delivery
from .dispatch import NAMESPACES, EventDispatcher, Events
from .lifecycle import ConnectionLifecycle, DisconnectHook
from .notifier import SocketNotifier
from .queue_updates import QueueUpdates
from .queue_views import QueueViews
from .recovery import Recovery
from .registry import ConnectionRegistry
from .shutdown import Shutdown
from .socketio_server import ChatSocketServer
from .visitor_events import VisitorEvents
from .waiting import WaitingVisitors


class SocketHub:
    def __init__(
        self,
        sio: ChatSocketServer,
        settings: Settings,
        signer: TokenSigner,
        agents: AgentStore,
        conversations: ConversationStore,
        routing: RoutingState,
        presence: Presence,
        clock: Clock,
        delivery: Delivery,
        notifier: SocketNotifier,
        connections: ConnectionRegistry,
        waiting: WaitingVisitors,
        views: ConversationViews,
        chats: ChatParts,
        features: Sequence[Events] = (),
        on_disconnected: Sequence[DisconnectHook] = (),
        *,
        check_locale: Callable[[str | None], str | None],
    ) -> None:
        self.sio = sio
        self.delivery = delivery
        self.notifier = notifier
        self.connections = connections
        self.auth = Authenticator(signer, agents, clock, settings)
        self.queue = QueueViews(chats.queue, routing, clock)
        queue_updates = QueueUpdates(sio, notifier, routing, waiting, connections, self.queue,
                                     chats.queue.seconds_per_place, settings.queue_update_interval)
        self.shutdown = Shutdown(sio, queue_updates)
        self.sessions = AgentSessions(sio, connections, agents, chats.agent_cache, chats.dispatcher, notifier,
                                      self.shutdown)
        self.recovery = Recovery(sio, connections, conversations, presence, delivery, notifier, waiting, views)
        lifecycle = ConnectionLifecycle(sio, self.auth, connections, self.sessions, chats.presence_changes,
                                        chats.tasks, delivery, waiting, clock, self.shutdown, on_disconnected)
        shared = ChatEvents(chats.lifecycle, chats.read_marks, delivery, waiting, self.queue, views,
                            settings.max_message_chars).handlers()
        # What both sides check before sending (session:resume's limits), so a person is told why at
        # once, before a byte of a file too large goes out.
        limits = {"max_message_chars": settings.max_message_chars,
                  "attachment_max_bytes": settings.attachment_max_bytes}
        visitor = VisitorEvents(chats.lifecycle, chats.presence_changes, conversations, delivery, waiting, self.queue,
                                views, settings.max_message_chars, limits, check_locale)
        agent = AgentEvents(chats.dispatcher, chats.transfers, chats.presence_changes, presence, conversations,
                            connections, notifier, self.queue, limits)
        # Every event a namespace answers, the chat's and the features': the table is complete
        # before any connection arrives.
        self.events = EventDispatcher(connections, sio.refusal_log, [
            Events(C.VISITOR_NAMESPACE, {**visitor.handlers(), **shared}),
            Events(C.AGENT_NAMESPACE, {**agent.handlers(), **shared}),
            *features,
        ], sio.metrics)
        for namespace in NAMESPACES:
            sio.on("connect", lifecycle.connect_handler(namespace), namespace=namespace)
            sio.on("disconnect", lifecycle.disconnect_handler(namespace), namespace=namespace)
            sio.on("*", self.events.handler_of(namespace), namespace=namespace)
