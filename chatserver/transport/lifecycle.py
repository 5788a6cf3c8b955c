"""A Socket.IO connection's arrival and departure: the connection authenticated and recorded,
its rooms joined and its party's presence told to the domain; on leaving, the reverse, and the
features that hold state per connection told (co-browsing)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import socketio

from .. import constants as C
from ..domain.clock import Clock
from ..domain.models import PartyKind
from ..domain.presence import PresenceChanges
from ..domain.tasks import TaskSupervisor
from ..errors import ChatError
from .agent_sessions import AgentSessions
from .connect import Authenticator
from .delivery import Delivery
from .registry import Connection, ConnectionRegistry
from .shutdown import Shutdown
from .socketio_server import ChatSocketServer, connect_refusal
from .waiting import WaitingVisitors

log = logging.getLogger("chatserver.transport")

DisconnectHook = Callable[[Connection], Awaitable[None]]


class ConnectionLifecycle:
    def __init__(self, sio: ChatSocketServer, auth: Authenticator, connections: ConnectionRegistry,
                 sessions: AgentSessions, presence_changes: PresenceChanges, tasks: TaskSupervisor,
                 delivery: Delivery, waiting: WaitingVisitors, clock: Clock, shutdown: Shutdown,
                 on_disconnected: Sequence[DisconnectHook]) -> None:
        self.sio = sio
        self.auth = auth
        self.connections = connections
        self.sessions = sessions
        self.presence_changes = presence_changes
        self.tasks = tasks
        self.delivery = delivery
        self.waiting = waiting
        self.clock = clock
        self.shutdown = shutdown
        # Called with each connection that closed (while the server is not shutting down).
        self.on_disconnected = tuple(on_disconnected)

    def connect_handler(self, namespace: str) -> Callable[..., Awaitable[bool]]:
        async def on_connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
            return await self.connect(namespace, sid, auth)

        return on_connect

    def disconnect_handler(self, namespace: str) -> Callable[..., Awaitable[None]]:
        async def on_disconnect(sid: str, reason: Any = None) -> None:
            await self.disconnect(namespace, sid)

        return on_disconnect

    async def connect(self, namespace: str, sid: str, auth: Any) -> bool:
        try:
            connection, expires_at = await self.auth.connection(sid, namespace, auth)
        except ChatError as exc:
            raise _refusal(namespace, exc) from None
        self.connections.add(connection)
        try:
            await self._arrive(namespace, sid, connection, expires_at)
        except ChatError as exc:
            # Presence could not be told (Redis unreachable: ``unavailable``): the connection is
            # refused as a bad token is, at once, and python-socketio takes it out of its rooms.
            self.connections.remove(sid)
            if connection.expiry is not None:
                connection.expiry.cancel()
            raise _refusal(namespace, exc) from None
        return True

    async def _arrive(self, namespace: str, sid: str, connection: Connection, expires_at: float | None) -> None:
        actor = connection.actor
        if actor.kind == PartyKind.VISITOR:
            await self.sio.enter_room(sid, C.visitor_room(actor.id), namespace=namespace)
            await self.presence_changes.visitor_connected(actor.id, sid)
        else:
            assert connection.agent is not None and expires_at is not None
            connection.expiry = self.clock.call_later(
                max(0.0, expires_at - self.clock.now()),
                lambda: self.tasks.spawn(self.sessions.end_session(sid, C.SESSION_EXPIRED)))
            await self.sio.enter_room(sid, C.agent_room(actor.id), namespace=namespace)
            await self.sio.enter_room(sid, C.ROOM_AGENTS, namespace=namespace)
            await self.presence_changes.agent_connected(connection.agent, sid, connection.status)
        log.info("connected namespace=%s %s=%s", namespace, actor.kind, actor.id)

    async def disconnect(self, namespace: str, sid: str) -> None:
        connection = self.connections.remove(sid)
        self.delivery.leave_all(sid)
        if connection is None:
            return
        if connection.expiry is not None:
            connection.expiry.cancel()
        if self.shutdown.closing:
            return
        for hook in self.on_disconnected:
            try:
                await hook(connection)
            except Exception:
                log.exception("disconnect hook failed sid=%s", sid)
        if connection.actor.kind == PartyKind.VISITOR:
            if not self.connections.is_local("visitor", connection.actor.id):
                self.waiting.unwatch_visitor(connection.actor.id)
            await self.presence_changes.visitor_disconnected(connection.actor.id, sid)
        else:
            await self.presence_changes.agent_disconnected(connection.actor.id, sid)
        log.info("disconnected namespace=%s %s=%s", namespace, connection.actor.kind, connection.actor.id)


def _refusal(namespace: str, error: ChatError) -> socketio.exceptions.ConnectionRefusedError:
    """The refusal of a connect: a ``connect_error`` carrying ``error``'s code (docs/protocol.md,
    Connecting), and one line in the log."""
    log.info("connection refused namespace=%s code=%s", namespace, error.code)
    refusal = socketio.exceptions.ConnectionRefusedError(error.message)
    refusal.error_args = connect_refusal(error)
    return refusal
