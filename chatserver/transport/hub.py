"""Socket.IO namespaces ``/visitor`` and ``/agent``: authenticate, validate, call the domain,
answer with an acknowledgement or a structured error."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from .. import constants as C
from ..auth import TokenClaims, TokenSigner
from ..config import Settings
from ..domain.clock import Clock, Timer
from ..domain.conversations import Actor, ChatService
from ..domain.models import Agent, AgentStatus, Conversation, ConversationStatus, PageContext, PartyKind, PreChat
from ..domain.ports import AgentStore, ConversationStore
from ..errors import (
    AuthRequired,
    ChatError,
    Forbidden,
    InvalidPayload,
    InvalidToken,
    MessageTooLong,
    RateLimited,
    Unavailable,
    UnknownEvent,
)
from ..logs import exception_summary, field
from ..presenters import conversation_view
from . import schemas as S
from .delivery import Delivery
from .notifier import SocketNotifier
from .ratelimit import TokenBucket
from .server import ChatSocketServer, connect_refusal
from .websocket import LeanSocket

log = logging.getLogger("chatserver.transport")

Handler = Callable[["Connection", Any], Awaitable[dict[str, Any]]]
PAGE_UPDATE_RATE = 0.2  # per second, per connection
PAGE_UPDATE_BURST = 3


class Connection:
    """What the server knows about one Socket.IO connection."""

    __slots__ = ("actor", "agent", "events", "expiry", "messages", "namespace", "pages", "sid", "status")

    def __init__(self, sid: str, namespace: str, actor: Actor, agent: Agent | None, settings: Settings,
                 status: AgentStatus = AgentStatus.ONLINE) -> None:
        self.sid = sid
        self.namespace = namespace
        self.actor = actor
        self.agent = agent
        # The status an agent's connection asked for (connect auth, then presence:set): recorded
        # again with it if the routing store lost its presence.
        self.status = status
        # Ends an agent's session when its token expires (the token is checked only at connect).
        self.expiry: Timer | None = None
        self.messages = TokenBucket(settings.message_rate, settings.message_burst)
        self.events = TokenBucket(settings.event_rate, settings.event_burst)
        # page:update: one per page load is the normal rate; a page that sends more is refused.
        self.pages = TokenBucket(PAGE_UPDATE_RATE, PAGE_UPDATE_BURST)


def _wanted_status(auth: dict[str, Any]) -> AgentStatus:
    """The status an agent's console asks to start with (``auth.status``): what the agent chose
    before a reconnect, so an agent who is away is never handed a chat in between."""
    wanted = auth.get("status", "online")
    if wanted not in (AgentStatus.ONLINE, AgentStatus.AWAY):
        raise InvalidPayload('auth.status must be "online" or "away"')
    return AgentStatus(wanted)


SHUTDOWN_STEP_TIMEOUT = 5.0


async def _bounded(step: Awaitable[Any]) -> None:
    """One step of shutting down, given at most ``SHUTDOWN_STEP_TIMEOUT`` seconds (a client that
    cannot be told goodbye is cut off when the server stops)."""
    try:
        await asyncio.wait_for(step, SHUTDOWN_STEP_TIMEOUT)
    except (TimeoutError, ConnectionError, OSError):
        log.warning("a connection did not close in time at shutdown")


class SocketHub:
    def __init__(
        self,
        sio: ChatSocketServer,
        settings: Settings,
        signer: TokenSigner,
        agents: AgentStore,
        conversations: ConversationStore,
        clock: Clock,
        delivery: Delivery,
        notifier: SocketNotifier,
    ) -> None:
        self.sio = sio
        self.settings = settings
        self.signer = signer
        self.agents = agents
        self.conversations = conversations
        self.clock = clock
        self.delivery = delivery
        self.notifier = notifier
        notifier.queue_snapshot = self.queue_snapshot
        notifier.has_local_agents = self._has_local_agents
        notifier.is_local = self._is_local
        notifier.on_agent_changed = self._agent_changed_here
        self.connections: dict[str, Connection] = {}
        self._local_parties: dict[tuple[str, str], int] = {}
        self._service: ChatService | None = None
        self._closing = False
        # Called with each connection that closed (while the server is not shutting down).
        self.on_disconnected: list[Callable[[Connection], Awaitable[None]]] = []
        # Events whose handlers apply limits of their own instead of the per-connection
        # ``event_rate`` bucket (co-browse batches and pointer moves come many a second).
        self._self_limited: set[tuple[str, str]] = set()
        self._handlers: dict[str, dict[str, Handler]] = {
            C.VISITOR_NAMESPACE: {
                C.EV_SESSION_RESUME: self._on_visitor_resume,
                C.EV_CHAT_START: self._on_chat_start,
                C.EV_CONVERSATION_RATE: self._on_rate,
                C.EV_PAGE_UPDATE: self._on_page_update,
                **self._shared_handlers(),
            },
            C.AGENT_NAMESPACE: {
                C.EV_SESSION_RESUME: self._on_agent_resume,
                C.EV_QUEUE_LIST: self._on_queue_list,
                C.EV_QUEUE_TAKE: self._on_queue_take,
                C.EV_PRESENCE_SET: self._on_presence_set,
                C.EV_CONVERSATION_TRANSFER: self._on_transfer,
                **self._shared_handlers(),
            },
        }
        for namespace in (C.VISITOR_NAMESPACE, C.AGENT_NAMESPACE):
            sio.on("connect", self._connect_handler(namespace), namespace=namespace)
            sio.on("disconnect", self._disconnect_handler(namespace), namespace=namespace)
            sio.on("*", self._event_handler(namespace), namespace=namespace)

    def _shared_handlers(self) -> dict[str, Handler]:
        return {
            C.EV_CONVERSATION_JOIN: self._on_join,
            C.EV_MESSAGE_SEND: self._on_message_send,
            C.EV_MESSAGE_READ: self._on_message_read,
            C.EV_TYPING: self._on_typing,
            C.EV_CONVERSATION_CLOSE: self._on_close,
        }

    def add_handlers(self, namespace: str, handlers: dict[str, Handler], *, self_limited: frozenset[str] = frozenset(),
                     ) -> None:
        """Register more events of a namespace (features in modules of their own, such as
        transport/console.py). Events in ``self_limited`` skip the per-connection event bucket:
        their handlers must limit them."""
        self._handlers[namespace].update(handlers)
        self._self_limited.update((namespace, event) for event in self_limited)

    def is_connected_here(self, kind: str, party_id: str) -> bool:
        """Whether this process holds a connection of the party (``"visitor"`` or ``"agent"``)."""
        return self._is_local(kind, party_id)

    def attach(self, service: ChatService) -> None:
        self._service = service
        self.notifier.seconds_per_place = service.seconds_per_place

    def _has_local_agents(self) -> bool:
        return any(c.agent is not None for c in self.connections.values())

    def _is_local(self, kind: str, party_id: str) -> bool:
        return self._local_parties.get((kind, party_id), 0) > 0

    @property
    def service(self) -> ChatService:
        assert self._service is not None, "hub not attached to a service"
        return self._service

    async def shutdown(self) -> None:
        """Disconnect every client while storage is still open; what follows a disconnect (grace
        periods) is not started, since a restart restores it from storage."""
        if self._closing:
            return
        self._closing = True
        for sid, connection in list(self.connections.items()):
            await _bounded(self.sio.disconnect(sid, namespace=connection.namespace))
        # Close every Engine.IO socket so no request handler lingers. Without waiting for their
        # queues: python-engineio's close() waits until a socket's queue is drained, which never
        # happens for a socket whose WebSocket loop had not started yet or whose polling client
        # left, and a stop would then hang.
        for socket in list(self.sio.eio.sockets.values()):
            await _bounded(socket.close(wait=False, abort=True))
            # Cut the WebSocket too: a lean socket's (which aiohttp does not know of, see
            # direct_ws.py) now, with the message it may be handling; the stock socket's writer
            # is woken with the end-of-queue marker (else aiohttp waits for its handler until
            # the client leaves or a ping times out).
            on_direct_path = isinstance(socket, LeanSocket) and socket.abort_websocket()
            if not on_direct_path and isinstance(socket.queue, asyncio.Queue):
                socket.queue.put_nowait(None)
        self.sio.eio.sockets.clear()
        await self.sio.shutdown()
        await self.notifier.close()

    # -- connect / disconnect -----------------------------------------------------------------

    def _connect_handler(self, namespace: str) -> Callable[..., Awaitable[bool]]:
        async def on_connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
            try:
                token = auth.get("token") if isinstance(auth, dict) else None
                if token is None:
                    raise AuthRequired("connect with auth {token}")
                if namespace == C.VISITOR_NAMESPACE:
                    claims = self.signer.verify(token, "visitor", self.clock.now())
                    connection = Connection(sid, namespace, Actor(kind=PartyKind.VISITOR, id=claims.sub), None,
                                            self.settings)
                else:
                    agent, claims = await self._verify_agent(token)
                    status = _wanted_status(auth)
                    connection = Connection(
                        sid, namespace, Actor(kind=PartyKind.AGENT, id=agent.id, name=agent.name, role=agent.role),
                        agent, self.settings, status,
                    )
            except ChatError as exc:
                log.info("connection refused namespace=%s code=%s", namespace, exc.code)
                refusal = socketio.exceptions.ConnectionRefusedError(exc.message)
                refusal.error_args = connect_refusal(exc)
                raise refusal from None
            self.connections[sid] = connection
            actor = connection.actor
            party = (str(actor.kind), actor.id)
            self._local_parties[party] = self._local_parties.get(party, 0) + 1
            if actor.kind == PartyKind.VISITOR:
                await self.sio.enter_room(sid, C.visitor_room(actor.id), namespace=namespace)
                await self.service.visitor_connected(actor.id, sid)
            else:
                assert connection.agent is not None
                connection.expiry = self.clock.call_later(
                    max(0.0, claims.exp - self.clock.now()),
                    lambda: self.service.spawn(self._end_session(sid, C.SESSION_EXPIRED)))
                await self.sio.enter_room(sid, C.agent_room(actor.id), namespace=namespace)
                await self.sio.enter_room(sid, C.ROOM_AGENTS, namespace=namespace)
                await self.service.agent_connected(connection.agent, sid, connection.status)
            log.info("connected namespace=%s %s=%s", namespace, actor.kind, actor.id)
            return True

        return on_connect

    async def reregister_connections(self) -> None:
        """Record this process's connections in presence again (after the routing store lost them)."""
        for sid, connection in list(self.connections.items()):
            if connection.actor.kind == PartyKind.VISITOR:
                await self.service.presence.visitor_connected(connection.actor.id, sid)
            else:
                await self.service.presence.agent_connected(connection.actor.id, sid, connection.status)

    async def catch_up(self) -> None:
        """After events from other processes may have been lost: resend this process's clients
        the messages past their watermarks and the current state of their conversations."""
        await self.delivery.catch_up_all()
        for connection in list(self.connections.values()):
            actor = connection.actor
            if actor.kind == PartyKind.AGENT:
                held = await self.conversations.conversations_with_status([ConversationStatus.ASSIGNED], actor.id)
            else:
                active = await self.conversations.active_conversation_for_visitor(actor.id)
                held = [active] if active is not None else []
            for conversation in held:
                await self.sio.lean_emit(C.EV_CONVERSATION_UPDATED, {"conversation": conversation_view(
                    conversation, actor.kind)}, room=connection.sid, namespace=connection.namespace)
                if actor.kind == PartyKind.VISITOR:
                    self.notifier.watch(conversation)
        await self.notifier.queue_changed()

    async def verify_agent_token(self, token: object) -> Agent:
        return (await self._verify_agent(token))[0]

    async def _verify_agent(self, token: object) -> tuple[Agent, TokenClaims]:
        claims = self.signer.verify(token, "agent", self.clock.now())
        agent = await self.agents.agent_by_id(claims.sub)
        if agent is None or agent.disabled or agent.token_version != claims.v:
            raise InvalidToken("token is no longer valid")
        return agent, claims

    # -- agents' accounts ---------------------------------------------------------------------

    async def agent_changed(self, agent_id: str) -> None:
        """The agent's account changed (logout, disabled or enabled, capacity, departments): in
        every process, routing forgets its copy, and the agent's open sockets either carry on
        with the new account or, if their token no longer holds, hear ``session:ended`` and are
        disconnected."""
        await self.notifier.agent_changed(agent_id)

    async def recheck_agents(self) -> None:
        """The backstop for changes this process was not told of (``chatserver agent disable`` on
        the command line, a bus message lost while Redis was away): every agent this process
        holds a copy of is compared with the stored one, and re-read if they differ."""
        stored = {a.id: a for a in await self.agents.list_agents()}
        held = self.service.known_agents()
        for connection in self.connections.values():
            if connection.agent is not None and stored.get(connection.actor.id) != connection.agent:
                held[connection.actor.id] = connection.agent
        changed = [agent_id for agent_id, agent in held.items() if stored.get(agent_id) != agent]
        for agent_id in changed:
            log.info("agent changed elsewhere agent=%s", agent_id)
            await self._agent_changed_here(agent_id)
        if changed:
            self.service.spawn(self.service.dispatch())

    async def _agent_changed_here(self, agent_id: str) -> None:
        self.service.forget_agent(agent_id)
        agent = await self.agents.agent_by_id(agent_id)
        for connection in [c for c in self.connections.values() if c.agent is not None and c.actor.id == agent_id]:
            assert connection.agent is not None
            if agent is None or agent.disabled:
                await self._end_session(connection.sid, C.SESSION_DISABLED)
            elif agent.token_version != connection.agent.token_version:
                await self._end_session(connection.sid, C.SESSION_SIGNED_OUT)
            else:
                connection.agent = agent
                connection.actor = Actor(kind=PartyKind.AGENT, id=agent.id, name=agent.name, role=agent.role)

    async def _end_session(self, sid: str, reason: str) -> None:
        """Tell an agent's connection why its session is over, then close it."""
        connection = self.connections.get(sid)
        if connection is None or self._closing:
            return
        if connection.expiry is not None:
            connection.expiry.cancel()
        log.info("session ended agent=%s reason=%s", connection.actor.id, reason)
        await self.sio.lean_emit(C.EV_SESSION_ENDED, {"reason": reason}, room=sid, namespace=connection.namespace)
        await self.sio.disconnect(sid, namespace=connection.namespace)

    def _disconnect_handler(self, namespace: str) -> Callable[..., Awaitable[None]]:
        async def on_disconnect(sid: str, reason: Any = None) -> None:
            connection = self.connections.pop(sid, None)
            self.delivery.leave_all(sid)
            if connection is None:
                return
            if connection.expiry is not None:
                connection.expiry.cancel()
            party = (str(connection.actor.kind), connection.actor.id)
            if self._local_parties.get(party, 0) <= 1:
                self._local_parties.pop(party, None)
            else:
                self._local_parties[party] -= 1
            if self._closing:
                return
            for hook in self.on_disconnected:
                try:
                    await hook(connection)
                except Exception:
                    log.exception("disconnect hook failed sid=%s", sid)
            if connection.actor.kind == PartyKind.VISITOR:
                if not self._is_local("visitor", connection.actor.id):
                    self.notifier.unwatch_visitor(connection.actor.id)
                await self.service.visitor_disconnected(connection.actor.id, sid)
            else:
                await self.service.agent_disconnected(connection.actor.id, sid)
            log.info("disconnected namespace=%s %s=%s", namespace, connection.actor.kind, connection.actor.id)

        return on_disconnect

    # -- events -------------------------------------------------------------------------------

    def _event_handler(self, namespace: str) -> Callable[..., Awaitable[dict[str, Any] | ChatError]]:
        handlers = self._handlers[namespace]
        self_limited = self._self_limited

        async def on_event(event: str, sid: str, *args: Any) -> dict[str, Any] | ChatError:
            """The event's acknowledgement, or the error it is refused with (the server sends
            that as the ack, or as an ``error`` event when no ack was asked for)."""
            name = event[:64]
            try:
                connection = self.connections.get(sid)
                if connection is None:
                    raise AuthRequired("not connected")
                handler = handlers.get(event)
                if handler is None:
                    raise UnknownEvent(f"unknown event {name!r}")
                if (namespace, event) not in self_limited and not connection.events.take():
                    raise RateLimited("too many events; slow down")
                if len(args) > 1:
                    raise InvalidPayload("send one payload object")
                result = await handler(connection, args[0] if args else None)
                return {"ok": True, **result}
            except ChatError as exc:
                self.sio.refusal_log.info("event refused event=%s sid=%s code=%s", field(name), sid, exc.code)
                return exc
            except Exception as exc:
                # A bug: the client still gets a structured answer. The log names the exception's
                # type and where it was raised, never its text (which may quote what was sent).
                log.error("event failed event=%s sid=%s %s", field(name), sid, exception_summary(exc))
                return ChatError("the server could not handle this event")

        return on_event

    async def _on_visitor_resume(self, connection: Connection, data: Any) -> dict[str, Any]:
        S.parse(S.SessionResume, data)
        conversation = await self.conversations.active_conversation_for_visitor(connection.actor.id)
        if conversation is not None:
            self.notifier.watch(conversation)
        queue = await self._queue_info(conversation) if conversation else None
        return {
            "visitor_id": connection.actor.id,
            "conversation": conversation_view(conversation, PartyKind.VISITOR) if conversation else None,
            "queue": queue,
            "agents_available": await self.service.agents_available(),
            # What the widget checks before sending, so the shopper is told why at once.
            "limits": {"max_message_chars": self.settings.max_message_chars},
        }

    async def _queue_info(self, conversation: Conversation) -> dict[str, Any] | None:
        if conversation.status != ConversationStatus.QUEUED:
            return None
        try:
            position = await self.service.routing.position(conversation.id)
            if position is None:
                return None
            return {"position": position, "total": await self.service.routing.waiting_count(),
                    "estimated_wait_s": await self.service.wait_estimate(position)}
        except Unavailable:
            # The routing store is away: the conversation is stored and waits; its position
            # follows in queue:position once the store is back.
            return None

    async def _on_chat_start(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.ChatStart, data)
        self._check_length(payload.question)
        prechat = PreChat(name=payload.name.strip() or "Visitor", question=payload.question, email=payload.email,
                          order_number=payload.order_number, page_url=payload.page_url,
                          page_title=payload.page_title, checkout=payload.checkout, cart_value=payload.cart_value,
                          department=payload.department)
        conversation, created = await self.service.start_chat(connection.actor.id, prechat)
        # Watched at once: queue positions computed from now on include this visitor.
        self.notifier.watch(conversation)
        await self.delivery.join(connection.sid, connection.namespace, connection.actor.id, conversation.id, 0)
        return {
            "created": created,
            "conversation": conversation_view(conversation, PartyKind.VISITOR),
            "queue": await self._queue_info(conversation),
        }

    async def _on_page_update(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.PageUpdate, data)
        if not connection.pages.take():
            raise RateLimited("too many page updates; one per page load is enough")
        page = PageContext(page_url=payload.page_url, page_title=payload.page_title, checkout=payload.checkout,
                           cart_value=payload.cart_value)
        conversation, changed = await self.service.update_page(connection.actor, payload.conversation_id, page)
        return {"conversation": conversation_view(conversation, PartyKind.VISITOR), "changed": changed}

    async def _on_rate(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.ConversationRate, data)
        rating = await self.service.rate(connection.actor, payload.conversation_id, payload.rating, payload.comment)
        return {"rating": {"rating": rating.rating, "comment": rating.comment, "created_at": rating.created_at}}

    def _check_length(self, body: str) -> None:
        if len(body) > self.settings.max_message_chars:
            raise MessageTooLong(f"messages are limited to {self.settings.max_message_chars} characters")

    async def _on_join(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.ConversationJoin, data)
        conversation = await self.service.conversation_for(connection.actor, payload.conversation_id)
        watermark = await self.delivery.join(
            connection.sid, connection.namespace, connection.actor.id, conversation.id, payload.after_seq
        )
        if conversation.status == ConversationStatus.CLOSED:  # replayed; nothing follows the closing message
            self.delivery.leave(connection.sid, conversation.id)
        view = conversation_view(conversation, connection.actor.kind)
        queue = None
        if connection.actor.kind == PartyKind.VISITOR:
            self.notifier.watch(conversation)
            queue = await self._queue_info(conversation)
        return {"conversation": view, "last_seq": watermark, "queue": queue}

    async def _on_message_send(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.MessageSend, data)
        self._check_length(payload.body)
        if not connection.messages.take():
            raise RateLimited("too many messages; slow down")
        message, created = await self.service.send_message(
            connection.actor, payload.conversation_id, payload.client_msg_id, payload.body, connection.sid
        )
        return {"seq": message.seq, "created_at": message.created_at, "duplicate": not created}

    async def _on_message_read(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.MessageRead, data)
        seq = await self.service.mark_read(connection.actor, payload.conversation_id, payload.seq)
        return {"seq": seq}

    async def _on_typing(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.TypingUpdate, data)
        await self.service.set_typing(connection.actor, payload.conversation_id, payload.typing)
        return {}

    async def _on_close(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.ConversationRef, data)
        conversation = await self.service.close(connection.actor, payload.conversation_id)
        return {"conversation": conversation_view(conversation, connection.actor.kind)}

    async def _on_agent_resume(self, connection: Connection, data: Any) -> dict[str, Any]:
        S.parse(S.SessionResume, data)
        agent = self._agent(connection)
        held = await self.conversations.conversations_with_status([ConversationStatus.ASSIGNED], agent.id)
        return {
            "agent": agent.public(),
            "status": str(await self.service.presence.status(agent.id)),
            "conversations": [conversation_view(c, PartyKind.AGENT) for c in held],
            "queue": await self.queue_snapshot(50),
        }

    @staticmethod
    def _agent(connection: Connection) -> Agent:
        if connection.agent is None:
            raise Forbidden("agents only")
        return connection.agent

    async def queue_snapshot(self, limit: int) -> dict[str, Any]:
        waiting, total = await self.service.queue_view(limit)
        now = self.clock.now()
        return {
            "total": total,
            "entries": [
                {**conversation_view(c, PartyKind.AGENT), "position": i + 1, "waited_s": round(now - c.created_at, 1)}
                for i, c in enumerate(waiting)
            ],
        }

    async def _on_queue_list(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.QueueList, data)
        return await self.queue_snapshot(payload.limit)

    async def _on_queue_take(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.ConversationRef, data)
        conversation = await self.service.take(self._agent(connection), payload.conversation_id)
        return {"conversation": conversation_view(conversation, PartyKind.AGENT)}

    async def _on_presence_set(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.PresenceSet, data)
        status = await self.service.set_status(self._agent(connection), AgentStatus(payload.status))
        for held in self.connections.values():  # the agent's other tabs here share the choice
            if held.agent is not None and held.actor.id == connection.actor.id:
                held.status = AgentStatus(payload.status)
        await self.notifier.agent_status(connection.actor.id, str(status))
        return {"status": str(status)}

    async def _on_transfer(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.ConversationTransfer, data)
        conversation = await self.service.transfer(connection.actor, self._agent(connection), payload.conversation_id,
                                                   to_agent_id=payload.to_agent_id, to_department=payload.to_department)
        return {"conversation": conversation_view(conversation, PartyKind.AGENT)}
