"""The states a scrape reads (metrics.py's ``Scraper``), each from the part that holds it: the
Socket.IO connections of this process, the queue, the outbox, the co-browse sessions relayed
here, and whether storage and the routing state answer (as ``/readyz`` asks them).

The queue and the outbox are the whole deployment's (every process shows the same figures: take
``max`` of them across processes); connections and co-browse sessions are this process's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

from . import constants as C
from .domain.clock import Clock
from .domain.outbox import DELIVERY_OUTCOMES, OutboxKind, OutboxStore
from .domain.ports import RoutingState
from .metrics import NONE, Metrics, Refresh, Scraper, set_gauge
from .transport.cobrowse import CobrowseRelay
from .transport.registry import ConnectionRegistry
from .transport.socketio_server import ChatSocketServer

# The most waiting chats a scrape reads (a queue longer than this is reported at this length).
QUEUE_READ_LIMIT = 10_000
TRANSPORTS = ("websocket", "polling")


def connections_of(sio: ChatSocketServer, connections: ConnectionRegistry) -> Refresh:
    async def connections_by_namespace(metrics: Metrics) -> None:
        counts: Counter[tuple[str, str]] = Counter(
            {(namespace, transport): 0 for namespace in (C.VISITOR_NAMESPACE, C.AGENT_NAMESPACE)
             for transport in TRANSPORTS})
        for connection in list(connections.values()):
            eio_sid = sio.manager.eio_sid_from_sid(connection.sid, connection.namespace)
            socket = sio.eio.sockets.get(eio_sid) if eio_sid is not None else None
            if socket is not None:
                counts[(connection.namespace, "websocket" if socket.upgraded else "polling")] += 1
        by_label: dict[tuple[str, ...], float] = {key: float(count) for key, count in counts.items()}
        set_gauge(metrics.connections, by_label)

    return connections_by_namespace


def queue_of(routing: RoutingState, clock: Clock, departments: Sequence[str]) -> Refresh:
    async def waiting_chats(metrics: Metrics) -> None:
        now = clock.now()
        counts: dict[tuple[str, ...], float] = {(department,): 0.0 for department in (*departments, NONE)}
        oldest = dict(counts)
        for entry in await routing.waiting(QUEUE_READ_LIMIT):
            key = (entry.department or NONE,)
            counts[key] = counts.get(key, 0.0) + 1
            oldest[key] = max(oldest.get(key, 0.0), now - entry.enqueued_at)
        set_gauge(metrics.waiting, counts)
        set_gauge(metrics.oldest_wait, oldest)

    return waiting_chats


def outbox_of(outbox: OutboxStore) -> Refresh:
    async def outbox_backlog(metrics: Metrics) -> None:
        for kind in OutboxKind:  # every outcome's series, at 0 until it happens (an alert reads them)
            for outcome in DELIVERY_OUTCOMES:
                metrics.outbox_deliveries.labels(str(kind), outcome)
        pending = await outbox.pending_counts()
        by_kind: dict[tuple[str, ...], float] = {(str(kind),): float(pending.get(kind, 0)) for kind in OutboxKind}
        set_gauge(metrics.outbox_pending, by_kind)

    return outbox_backlog


def cobrowse_of(relay: CobrowseRelay) -> Refresh:
    async def cobrowse_sessions(metrics: Metrics) -> None:
        metrics.cobrowse_sessions.set(relay.sessions_here())

    return cobrowse_sessions


def readiness_of(checks: Sequence[Callable[[], Awaitable[None]]]) -> Refresh:
    async def readiness(metrics: Metrics) -> None:
        ready = 1.0
        for check in checks:
            try:
                await check()
            except Exception:
                ready = 0.0
        metrics.ready.set(ready)

    return readiness


def scraper_for(metrics: Metrics, *, sio: ChatSocketServer, connections: ConnectionRegistry, routing: RoutingState,
                clock: Clock, departments: Sequence[str], outbox: OutboxStore, relay: CobrowseRelay,
                readiness: Sequence[Callable[[], Awaitable[None]]]) -> Scraper:
    """The page of ``metrics`` with every state read when scraped."""
    return Scraper(metrics, [connections_of(sio, connections), queue_of(routing, clock, departments),
                             outbox_of(outbox), cobrowse_of(relay), readiness_of(readiness)])


__all__ = ["scraper_for"]
