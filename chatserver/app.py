"""Build the aiohttp application and the Socket.IO server from settings.

Start-up and shutdown live in one ``cleanup_ctx`` generator, in order and reversed on exit:
storage, the process bus, the domain service (restored from storage), background loops. Client
connections are closed first, in ``on_shutdown``, while storage is still open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from . import constants as C
from .auth import PasswordHashing, TokenSigner
from .config import Settings
from .constants import VISITOR_NAMESPACE
from .domain.clock import Clock, SystemClock
from .domain.cobrowse import CobrowseService
from .domain.conversations import ChatService, RoutingPolicy
from .domain.customers import CustomerService
from .domain.knowledge import KnowledgeService, parse_page_topics
from .domain.ports import Presence, RoutingState
from .errors import ChatError
from .first_admin import ensure_first_admin
from .http import keys as K
from .http.common import MAX_JSON_BODY
from .http.help_centre import add_help_routes
from .http.knowledge import KB_LIMITER, KNOWLEDGE
from .http.openapi import body_limits
from .http.static import add_static_routes
from .http.views import SOCKET_IO_PATH, add_routes, cors_middleware, error_middleware
from .offline import OfflineService
from .storage.memory import MemoryPresence, MemoryRoutingState
from .storage.sqlite import SQLiteStores
from .transport.addresses import parse_networks
from .transport.bus import Bus, LocalBus
from .transport.cobrowse import CobrowseRelay
from .transport.connections import ConnectionLimits
from .transport.console import ConsoleEvents
from .transport.customers import CustomerEvents
from .transport.delivery import Delivery
from .transport.dispatch import EventDispatcher
from .transport.engineio_http import EngineIOEndpoint, announce_exact_ping_times
from .transport.hub import SocketHub
from .transport.notifier import SocketNotifier
from .transport.origins import listening_origins, normalized, shop_origin_allowed
from .transport.ratelimit import KeyedLimiter
from .transport.registry import ConnectionRegistry
from .transport.socketio_server import ChatSocketServer
from .transport.waiting import WaitingVisitors

log = logging.getLogger("chatserver")


def _origin_check(settings: Settings) -> Callable[[str | None, dict[str, Any]], bool]:
    """Socket.IO connections are accepted from the server's own pages and the configured shop
    origins (transport/origins.py); a request without ``Origin`` comes from no web page."""
    allowed = frozenset(settings.allowed_origins)
    public = frozenset(normalized(url) for url in settings.public_urls)

    def check(page: str | None, environ: dict[str, Any]) -> bool:
        if page is None or shop_origin_allowed(page, allowed):
            return True
        if public:
            return page in public
        # python-engineio's environ carries the aiohttp request (until a WebSocket trims it).
        request: web.BaseRequest | None = environ.get("aiohttp.request")
        local = request.transport.get_extra_info("sockname") if request and request.transport else None
        if not local:
            return False
        return page in listening_origins(settings.host, str(local[0]), int(local[1]))

    return check


class Backend:
    """The shared state behind the domain: in memory (one process) or in Redis (several)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis: Any = None
        self.presence: Presence
        self.routing: RoutingState
        self.bus: Bus
        if settings.redis_url is None:
            self.routing, self.presence, self.bus = MemoryRoutingState(), MemoryPresence(), LocalBus()
            return
        from .storage import redis_backend as rb
        from .storage.redis_keys import Keys

        process_id = uuid.uuid4().hex[:12]
        keys = Keys(settings.redis_prefix)
        self.redis = rb.connect(settings.redis_url)
        self.routing = rb.RedisRoutingState(self.redis, keys)
        self.redis_presence = rb.RedisPresence(self.redis, keys, process_id, settings.presence_ttl)
        self.presence = self.redis_presence
        self.redis_bus = rb.RedisBroker(self.redis, settings.redis_url, keys, process_id)
        self.bus = self.redis_bus

    # False from a failed heartbeat until connections and the queue are restored into Redis.
    healthy = True

    async def ping(self) -> None:
        await self.routing.ping()
        if not self.healthy:
            raise ConnectionError("restoring routing state after an outage")
        if self.redis is not None and not self.redis_bus.connected.is_set():
            raise ConnectionError("the process bus is reconnecting")

    @property
    def name(self) -> str:
        return "memory" if self.redis is None else "redis"

    async def heartbeat(self) -> bool:
        """Refresh this process's heartbeat; ``True`` when Redis lost its data meanwhile."""
        if self.redis is not None:
            return await self.redis_presence.heartbeat()
        return False

    async def close(self) -> None:
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis_presence.unregister()
            await self.redis.aclose()


async def _every(interval: float, work: Callable[[], Awaitable[None]], name: str, stop: asyncio.Event) -> None:
    """Run ``work`` every ``interval`` seconds until ``stop`` is set. (Stopping by cancellation
    alone is not enough: redis-py can turn a cancelled command into a connection error.)"""
    while not stop.is_set():
        try:
            await work()
        except ChatError as exc:
            log.warning("%s: %s", name, exc.message)
        except Exception:
            log.exception("%s failed", name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


def build_app(
    settings: Settings, *, clock: Clock | None = None, new_id: Callable[[], str] | None = None
) -> web.Application:
    settings = settings.with_secret()
    assert settings.secret_key is not None
    clock = clock or SystemClock()
    new_id = new_id or (lambda: uuid.uuid4().hex)
    # Each route reads at most its own limit (views.error_middleware); this is the largest.
    limits = body_limits(settings)
    app = web.Application(middlewares=[cors_middleware, error_middleware],
                          client_max_size=max([MAX_JSON_BODY, *limits.values()]))
    origin_allowed = _origin_check(settings)
    sio = ChatSocketServer(
        async_mode="aiohttp",
        async_handlers=False,  # one connection's events are handled in the order they were sent
        cors_allowed_origins=origin_allowed,
        max_http_buffer_size=settings.max_http_buffer_size,
        max_unsent_bytes=settings.max_unsent_bytes,
        max_binary_attachments=settings.max_binary_attachments,
        ping_interval=settings.ping_interval,
        ping_timeout=settings.ping_timeout,
        logger=False,
        engineio_logger=False,
    )
    announce_exact_ping_times(sio.eio)
    trusted = parse_networks(settings.trusted_proxies)
    endpoint = EngineIOEndpoint(sio.eio, max_body=settings.max_http_buffer_size, origin_allowed=origin_allowed,
                                sessions=ConnectionLimits(settings.max_connections_per_address, trusted),
                                trusted=trusted)
    # Every method: the endpoint answers the ones Engine.IO does not take (400, as the reference
    # server does).
    app.router.add_route("*", SOCKET_IO_PATH, endpoint.handle)
    backend = Backend(settings)
    stores = SQLiteStores.at(settings.db_path)
    signer = TokenSigner(settings.secret_key)

    async def emit_to(event: str, data: Any, sid: str, namespace: str) -> None:
        await sio.lean_emit(event, data, room=sid, namespace=namespace)

    delivery = Delivery(stores.conversations, emit_to)
    connections = ConnectionRegistry()
    waiting = WaitingVisitors()
    notifier = SocketNotifier(sio, delivery, backend.bus, backend.presence, connections, waiting)
    dispatcher = EventDispatcher(connections, sio.refusal_log)
    offline = OfflineService(app, settings, stores, dispatcher, notifier, clock, new_id)
    customers = CustomerService(customers=offline.customer_store(stores), conversations=stores.conversations,
                                clock=clock, new_id=new_id,
                                identity_secret=settings.identity_secret,
                                identity_max_age=settings.identity_max_age,
                                retention_days=settings.transcript_retention_days,
                                timezone=settings.business_timezone)
    customer_events = CustomerEvents(customers)
    dispatcher.add_handlers(VISITOR_NAMESPACE, customer_events.handlers())
    offline.tickets.customer_for_visitor = customer_events.customer_for_ticket
    offline.tickets.verified_emails = customers.verified_emails
    app[K.CUSTOMERS] = customers
    knowledge = KnowledgeService(
        store=stores.knowledge, agents=stores.agents, read_transcript=customers.transcript_for, now=clock.now,
        new_id=new_id, max_body_chars=settings.kb_max_body_chars,
        page_topic_rules=parse_page_topics(settings.kb_page_topics), retention_days=settings.kb_search_retention_days)
    app[KNOWLEDGE] = knowledge
    app[KB_LIMITER] = KeyedLimiter(settings.kb_events_per_minute / 60.0, settings.kb_events_per_minute)
    # The Socket.IO side needs the chat service, so it is built first (started in ``lifecycle``).
    service = ChatService(
        agents=stores.agents, conversations=stores.conversations, routing=backend.routing, presence=backend.presence,
        notifier=notifier, clock=clock, new_id=new_id, grace_period=settings.grace_period,
        policy=RoutingPolicy(departments=settings.departments,
                             checkout_url_patterns=settings.checkout_url_patterns,
                             department_fallback_after=settings.department_fallback_after),
        event_log=offline.conversation_events(),
    )
    service.prepare_visitor = customer_events.chat_starting
    offline.attach(service)
    app[K.SERVICE] = service
    dispatcher.add_handlers(C.AGENT_NAMESPACE,
                            ConsoleEvents(service, notifier, stores.console, settings.max_message_chars).handlers())
    relay = CobrowseRelay(sio, notifier, connections, settings)
    dispatcher.add_handlers(VISITOR_NAMESPACE, relay.visitor_handlers(),
                            self_limited=frozenset({C.EV_COBROWSE_EVENTS}))
    dispatcher.add_handlers(C.AGENT_NAMESPACE, relay.agent_handlers(), self_limited=frozenset({C.EV_COBROWSE_POINTER}))
    hub = SocketHub(sio, settings, signer, stores.agents, stores.conversations, clock, delivery, notifier, connections,
                    waiting, dispatcher, service, on_disconnected=(relay.connection_closed,))
    app[K.COBROWSE] = stores.cobrowse
    app[K.COBROWSE_RELAY] = relay
    app[K.SETTINGS] = settings
    app[K.BODY_LIMITS] = limits
    app[K.READINESS] = backend.ping
    app[K.AGENTS] = stores.agents
    app[K.CONVERSATIONS] = stores.conversations
    app[K.CONSOLE] = stores.console
    app[K.HUB] = hub
    app[K.SIGNER] = signer
    passwords = app[K.PASSWORDS] = PasswordHashing(settings.password_hash_cost)
    app[K.CLOCK] = clock
    app[K.LOGIN_LIMITER] = KeyedLimiter(settings.login_attempts_per_minute / 60.0,
                                        settings.login_attempts_per_minute)
    app[K.TRUSTED_PROXIES] = trusted
    app[K.VISITOR_LIMITER] = KeyedLimiter(settings.visitor_sessions_per_minute / 60.0,
                                          settings.visitor_sessions_per_minute)
    add_routes(app)
    add_static_routes(app)
    add_help_routes(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await stores.database.open()
        loops: list[asyncio.Task[None]] = []
        stop = asyncio.Event()
        try:
            cobrowse = CobrowseService(store=stores.cobrowse, chats=service, clock=clock, new_id=new_id,
                                       announce=relay.announce, request_timeout=settings.cobrowse_request_timeout)
            relay.attach(cobrowse)
            notifier.conversation_hooks.append(cobrowse.conversation_changed)
            backend.bus.on_reconnect(hub.recovery.catch_up)
            await backend.heartbeat()
            await backend.bus.start()
            await service.restore()
            await ensure_first_admin(settings, stores.agents, passwords, clock, new_id)
            loop = asyncio.get_running_loop()
            if backend.redis is not None:
                loops.append(loop.create_task(_every(settings.presence_ttl / 3, _heartbeat(backend, service, hub),
                                                     "heartbeat", stop)))
            loops.append(loop.create_task(_every(settings.sweep_interval, service.sweep, "sweep", stop)))
            loops.append(loop.create_task(_every(settings.sweep_interval, hub.sessions.recheck_agents, "agents", stop)))
            loops.append(loop.create_task(_every(settings.sweep_interval, relay.upkeep, "cobrowse upkeep", stop)))
            if settings.abandoned_chat_after > 0:
                async def close_abandoned() -> None:
                    await service.close_abandoned(settings.abandoned_chat_after)

                loops.append(loop.create_task(_every(settings.retention_interval, close_abandoned,
                                                     "abandoned chats", stop)))
            if settings.transcript_retention_days > 0:
                loops.append(loop.create_task(_every(settings.retention_interval, customers.apply_retention,
                                                     "retention", stop)))
            if settings.kb_search_retention_days > 0:
                loops.append(loop.create_task(_every(settings.retention_interval, knowledge.apply_retention,
                                                     "knowledge base retention", stop)))
            loops += await offline.start(stop)
            log.info("storage ready db=%s backend=%s", settings.db_path, backend.name)
            yield
            await hub.shutdown.close_connections()  # already done in on_shutdown; kept for runners that skip it
            await service.shutdown()
        finally:
            stop.set()
            if loops:
                await asyncio.wait(loops, timeout=5.0)
            for task in loops:
                task.cancel()
            await offline.close()
            await backend.bus.stop()
            await backend.close()
            # aiosqlite's worker threads are not daemons: a store left open keeps the process alive.
            await stores.database.close()

    async def close_connections(app: web.Application) -> None:
        # on_shutdown runs before aiohttp waits for open requests: closing the sockets here keeps
        # the long-lived WebSocket handlers from holding shutdown up.
        await hub.shutdown.close_connections()

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(close_connections)
    return app


def _heartbeat(backend: Backend, service: ChatService, hub: SocketHub) -> Callable[[], Awaitable[None]]:
    """Refresh this process's heartbeat; after Redis was unreachable or lost its data (restarted
    without persistence, however briefly), record this process's connections again and merge
    the queue and agents' loads back from the database. After a write to Redis failed following
    a commit, make the agents' loads exactly what the database says."""
    async def beat() -> None:
        try:
            lost = await backend.heartbeat()
        except ChatError:
            backend.healthy = False
            raise
        if lost:
            log.warning("routing store lost its data (restarted without persistence?)")
            backend.healthy = False
        if not backend.healthy or service.repair_needed:
            log.warning("restoring routing state from the database presence=%s", not backend.healthy)
            if not backend.healthy:
                await hub.recovery.reregister_connections()
            await service.restore(repair=True)
            backend.healthy = True
            await service.notifier.queue_changed()
            await service.dispatch()

    return beat
