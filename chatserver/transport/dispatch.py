"""Every client event of a namespace goes through here: the table of handlers, the checks every
event passes before its handler runs, and the structured error a refused or failed event is
answered with."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .. import constants as C
from ..errors import AuthRequired, ChatError, InvalidPayload, RateLimited, UnknownEvent
from ..logs import exception_summary, field
from ..metrics import NONE, LoopCounter, Metrics
from .registry import Connection, ConnectionRegistry

log = logging.getLogger("chatserver.transport")

Handler = Callable[[Connection, Any], Awaitable[dict[str, Any]]]
EventAnswer = dict[str, Any] | ChatError
NAMESPACES = (C.VISITOR_NAMESPACE, C.AGENT_NAMESPACE)


class InfoLog(Protocol):
    def info(self, message: str, *args: object) -> None: ...


@dataclass(frozen=True)
class Events:
    """One feature's events of one namespace (each feature's in a module of its own, such as
    transport/console.py). Events in ``self_limited`` skip the per-connection event bucket: their
    handlers must limit them (co-browse batches and pointer moves come many a second)."""

    namespace: str
    handlers: Mapping[str, Handler]
    self_limited: frozenset[str] = frozenset()


class EventDispatcher:
    """The handlers of each namespace's events, and the rules every event meets first: from a
    connection that authenticated, a known event, within the connection's event budget, with at
    most one payload."""

    def __init__(self, connections: ConnectionRegistry, refusal_log: InfoLog, events: Iterable[Events],
                 metrics: Metrics | None = None) -> None:
        self.connections = connections
        # Refusals are a client's doing: logged at a bounded rate (server.ChatSocketServer).
        self.refusal_log = refusal_log
        self._handlers: dict[str, dict[str, Handler]] = {namespace: {} for namespace in NAMESPACES}
        self_limited: set[tuple[str, str]] = set()
        for part in events:
            table = self._handlers[part.namespace]
            taken = table.keys() & part.handlers.keys()
            if taken:
                raise ValueError(f"events of {part.namespace} handled twice: {sorted(taken)}")
            table.update(part.handlers)
            self_limited.update((part.namespace, event) for event in part.self_limited)
        self.metrics = metrics or Metrics()
        # Every event counted under its name when the table has it, else under NONE: a client
        # chooses the names it sends, and each name would be a series of its own.
        self._unknown = {namespace: self.metrics.events.labels(namespace, NONE) for namespace in self._handlers}
        # Per namespace and event, what dispatch needs, looked up once: the handler, its counter,
        # and whether the connection's event bucket applies.
        self._routes: dict[str, dict[str, tuple[Handler, LoopCounter, bool]]] = {
            namespace: {event: (handler, self.metrics.events.labels(namespace, event),
                                (namespace, event) not in self_limited)
                        for event, handler in table.items()}
            for namespace, table in self._handlers.items()}

    def events_of(self, namespace: str) -> frozenset[str]:
        """The names of the events a namespace answers."""
        return frozenset(self._handlers[namespace])

    def handler_of(self, namespace: str) -> Callable[..., Awaitable[EventAnswer]]:
        """The namespace's catch-all Socket.IO handler (``sio.on("*", ...)``)."""
        return functools.partial(self.dispatch, namespace)

    async def dispatch(self, namespace: str, event: str, sid: str, *args: Any) -> EventAnswer:
        """The event's acknowledgement, or the error it is refused with (the server sends that
        as the ack, or as an ``error`` event when no ack was asked for)."""
        route = self._routes[namespace].get(event)
        (self._unknown[namespace] if route is None else route[1]).inc()
        try:
            connection = self.connections.get(sid)
            if connection is None:
                raise AuthRequired("not connected")
            if route is None:
                raise UnknownEvent(f"unknown event {event[:64]!r}")
            handler, _, limited = route
            if limited and not connection.events.take():
                raise RateLimited("too many events; slow down")
            if len(args) > 1:
                raise InvalidPayload("send one payload object")
            result = await handler(connection, args[0] if args else None)
            return {"ok": True, **result}
        except ChatError as exc:
            self.metrics.refusal(exc.code).inc()
            self.refusal_log.info("event refused event=%s sid=%s code=%s", field(event[:64]), sid, exc.code)
            return exc
        except Exception as exc:
            # A bug: the client still gets a structured answer. The log names the exception's
            # type and where it was raised, never its text (which may quote what was sent).
            log.error("event failed event=%s sid=%s %s", field(event[:64]), sid, exception_summary(exc))
            failed = ChatError("the server could not handle this event")
            self.metrics.refusal(failed.code).inc()
            return failed
