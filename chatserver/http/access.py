"""The access log: a line for each HTTP request once its answer is written (logger
``chatserver.access``), with its method, route, status, duration and client address.

The route is the pattern the request matched (``/api/conversations/{conversation_id}``), never
its path: a path or a query string can hold an id or a token. The client is the address the
trusted proxies name (``transport/addresses.py``), as the per-address limits count it. Requests
to Socket.IO's endpoint are written at DEBUG: a long-polling client makes one every few seconds
(one per ping interval when idle, one per message when not), which would bury the rest at INFO.
A refused request (``429``, ``413``) is always written, at INFO through ``ThrottledLog``, so a
client refused again and again cannot fill the disk; with ``access_log`` off only those are.

It is aiohttp's access logger (``access_log_class``) rather than a middleware: aiohttp calls it
after each response, including those no handler made (a ``404``), and it holds no frame while a
request is handled, so a long poll or a WebSocket costs nothing more (see views.py's middlewares).
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest

from ..logs import ThrottledLog, field
from ..transport.addresses import Network, client_address
from .common import SOCKET_IO_PATH

log = logging.getLogger("chatserver.access")

REFUSED = frozenset({413, 429})
NO_ROUTE = "-"  # a request that matched no route (404, 405) or broke HTTP before routing


def route_of(request: BaseRequest) -> str:
    """The route pattern ``request`` matched, or ``NO_ROUTE``."""
    if not isinstance(request, web.Request):
        return NO_ROUTE
    try:
        match = request.match_info
    except AssertionError:  # aiohttp answered it before routing (it broke HTTP): no match info
        return NO_ROUTE
    resource = match.route.resource if match is not None else None
    return resource.canonical if resource is not None else NO_ROUTE


def access_log_class(trusted: tuple[Network, ...], every_request: bool) -> type[AbstractAccessLogger]:
    """The access logger for a server whose proxies are ``trusted``; ``every_request`` False
    writes the refused requests only. aiohttp makes one per connection: what they share (the
    throttle of refusal lines) is the class's."""
    refusals = ThrottledLog(log)

    class AccessLog(AbstractAccessLogger):
        __slots__ = ()  # one per connection: no __dict__

        def log(self, request: BaseRequest, response: web.StreamResponse, time: float) -> None:
            status = response.status
            if status in REFUSED:
                refusals.info("request refused method=%s route=%s status=%d duration_ms=%.1f client=%s",
                              *_fields(request, status, time, trusted))
            elif every_request:
                route = route_of(request)
                level = logging.DEBUG if route == SOCKET_IO_PATH else logging.INFO
                if log.isEnabledFor(level):
                    if route == SOCKET_IO_PATH and request.transport is None and _opens_websocket(request):
                        # direct_ws.accept answered 101 itself and took the connection: the
                        # handler's response was never sent.
                        status = 101
                    log.log(level, "request method=%s route=%s status=%d duration_ms=%.1f client=%s",
                            *_fields(request, status, time, trusted, route))

    return AccessLog


def _opens_websocket(request: BaseRequest) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def _fields(request: BaseRequest, status: int, time: float, trusted: tuple[Network, ...],
            route: str | None = None) -> tuple[object, ...]:
    client = client_address(request.remote, request.headers, trusted)
    return (field(request.method, limit=16), field(route if route is not None else route_of(request), limit=200),
            status, time * 1000, field(client))
