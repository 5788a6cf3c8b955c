"""The aiohttp application over the server the composition root built (assembly.py): its routes,
and its lifecycle, which only starts and stops what was built.

Start-up and shutdown live in one ``cleanup_ctx`` generator, in order and reversed on exit:
storage, the process bus, the domain service (restored from storage), the outbox's poster and
background loops. Client connections are closed first, in ``on_shutdown``, while storage is
still open, after the drain (``DRAIN``, run by ``serving.Listener.stop`` while the server still
listens: not ready, new sessions refused, for ``drain_period``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from aiohttp import web

from .assembly import Server, assemble
from .config import Settings
from .domain.clock import Clock
from .errors import StartupError, Unavailable
from .first_admin import ensure_first_admin
from .http.common import MAX_JSON_BODY
from .http.help_centre import add_help_routes
from .http.locales import add_locale_routes
from .http.metrics import request_metrics
from .http.services import SERVICES
from .http.serving import DRAIN
from .http.static import add_static_routes
from .http.views import SOCKET_IO_PATH, add_routes, cors_middleware, error_middleware
from .logs import redacted
from .loops import every, heartbeat

log = logging.getLogger("chatserver")
T = TypeVar("T")


def build_app(settings: Settings, *, clock: Clock | None = None,
              new_id: Callable[[], str] | None = None) -> web.Application:
    return app_for(assemble(settings, clock=clock, new_id=new_id))


def app_for(server: Server) -> web.Application:
    """The aiohttp application serving ``server``."""
    # Each route reads at most its own limit (views.error_middleware); this is the largest.
    app = web.Application(middlewares=[request_metrics(server.metrics), cors_middleware, error_middleware],
                          client_max_size=max([MAX_JSON_BODY, *server.http.body_limits.values()]))
    app[SERVICES] = server.http
    # Every method: the endpoint answers the ones Engine.IO does not take (400, as the reference
    # server does).
    app.router.add_route("*", SOCKET_IO_PATH, server.sockets.endpoint.handle)
    add_routes(app)
    add_static_routes(app)
    add_help_routes(app)
    add_locale_routes(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            await start(server, stack)
            yield

    async def close_connections(app: web.Application) -> None:
        # on_shutdown runs before aiohttp waits for open requests: ending the transports here
        # answers the long polls that wait, and the clients reconnect elsewhere.
        await server.transport.hub.shutdown.close_connections()

    app[DRAIN] = server.sockets.drain.run
    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(close_connections)
    return app


async def start(server: Server, stack: contextlib.AsyncExitStack) -> None:
    """Start what ``server`` holds, in dependency order; ``stack`` stops each part, in reverse,
    whether start-up finished or not."""
    settings, stores, backend = server.settings, server.stores, server.backend
    chats, hub = server.domain.chats, server.transport.hub
    # aiosqlite's worker threads are not daemons: a store left open keeps the process alive, so it
    # is closed even when opening it fails half-way (a migration refused, a stop during start-up).
    stack.push_async_callback(stores.database.close)
    database = stores.database.description
    pending = await when_reachable(database, lambda: stores.database.open(migrate=settings.migrate_on_start),
                                   settings.start_timeout)
    if pending:  # migrate_on_start is false
        raise StartupError(f"{database} lacks {len(pending)} migration(s) of this version "
                           f"({', '.join(map(str, pending))}) and migrate_on_start is false: run `chatserver migrate`")
    stack.push_async_callback(backend.close)
    if settings.redis_url is not None:
        await when_reachable(f"Redis at {redacted(settings.redis_url)}", backend.heartbeat, settings.start_timeout)
    await backend.bus.start(server.notifications.notifier.receive, hub.recovery.catch_up)
    stack.push_async_callback(backend.bus.stop)
    await chats.restorer.restore()
    await ensure_first_admin(settings, stores.agents, server.passwords, server.clock, server.new_id)
    await server.outgoing.poster.start()
    stack.push_async_callback(server.outgoing.poster.close)
    stop = asyncio.Event()
    loops = [asyncio.get_running_loop().create_task(every(interval, work, name, stop))
             for interval, work, name in _periodic(server)]
    loops += [asyncio.get_running_loop().create_task(worker.run(stop))
              for worker in (server.outgoing.webhook_worker, server.outgoing.mail_worker) if worker is not None]
    if server.outgoing.mail_worker is None:
        log.warning("smtp_host is not set: emails wait in the outbox until it is")
    stack.push_async_callback(_stop_loops, loops, stop)
    if server.metrics_listener is not None:
        await server.metrics_listener.start()
        stack.push_async_callback(server.metrics_listener.stop)
        log.info("metrics served host=%s port=%d", settings.metrics_host, server.metrics_listener.port)
    log.info("storage ready db=%s backend=%s", stores.database.name, backend.name)

    async def shut_down() -> None:
        await hub.shutdown.close_connections()  # already done in on_shutdown; kept for runners that skip it
        await chats.lifecycle.shutdown()

    stack.push_async_callback(shut_down)


# Seconds between tries while a dependency does not answer at start: then every last one.
START_RETRY_DELAYS = (1.0, 2.0, 4.0, 5.0)


async def when_reachable(what: str, attempt: Callable[[], Awaitable[T]], start_timeout: float) -> T:
    """What ``attempt`` (opening or first use of ``what``) returns, tried until it stops raising
    ``Unavailable``, for ``start_timeout`` seconds at most, with one warning line per failed try;
    ``StartupError`` (one line, no traceback) once ``start_timeout`` has passed, at once with 0."""
    started = time.monotonic()
    tries = 0
    while True:
        try:
            return await attempt()
        except Unavailable as exc:
            reason = _reason(exc)
            waited = time.monotonic() - started
            delay = min(START_RETRY_DELAYS[min(tries, len(START_RETRY_DELAYS) - 1)], start_timeout - waited)
            if delay <= 0:
                waited_for = f"gave up after start_timeout={start_timeout:g}s" if start_timeout \
                    else "start_timeout=0: not waiting"
                raise StartupError(f"{what} is unreachable ({reason}); {waited_for}") from None
            log.warning("%s is unreachable (%s): next try in %gs, giving up after start_timeout=%gs", what,
                        reason, round(delay, 1), start_timeout)
            await asyncio.sleep(delay)
            tries += 1


def _reason(exc: Unavailable) -> str:
    """What the driver said of a failed connection (an address and an errno; no password), on
    one line."""
    cause = exc.__cause__ or exc
    return " ".join(str(cause).split())[:200] or type(cause).__name__


def _periodic(server: Server) -> list[tuple[float, Callable[[], Awaitable[None]], str]]:
    """The background loops: (interval in seconds, the work, its name in the log)."""
    settings, backend = server.settings, server.backend
    chats, customers, knowledge = server.domain.chats, server.domain.customers, server.domain.knowledge
    loops: list[tuple[float, Callable[[], Awaitable[None]], str]] = []
    if backend.redis is not None:
        beat = heartbeat(backend, chats, server.notifications.notifier, server.transport.hub.recovery)
        loops.append((settings.presence_ttl / 3, beat, "heartbeat"))
    loops.append((settings.sweep_interval, chats.lifecycle.sweep, "sweep"))
    loops.append((settings.sweep_interval, server.transport.hub.sessions.recheck_agents, "agents"))
    loops.append((settings.sweep_interval, server.transport.relay.upkeep, "cobrowse upkeep"))
    if settings.abandoned_chat_after > 0:
        async def close_abandoned() -> None:
            await chats.lifecycle.close_abandoned(settings.abandoned_chat_after)

        loops.append((settings.retention_interval, close_abandoned, "abandoned chats"))
    if settings.transcript_retention_days > 0:
        loops.append((settings.retention_interval, customers.apply_retention, "retention"))
    if settings.kb_search_retention_days > 0:
        loops.append((settings.retention_interval, knowledge.apply_retention, "knowledge base retention"))
    loops.append((settings.retention_interval, server.domain.attachments.remove_orphans, "attachment files"))
    return loops


async def _stop_loops(loops: list[asyncio.Task[None]], stop: asyncio.Event) -> None:
    stop.set()
    if loops:
        await asyncio.wait(loops, timeout=5.0)
    for task in loops:
        task.cancel()
