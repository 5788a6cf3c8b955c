"""The REST API's middlewares (cross-origin, structured errors) and its routes' registration
(documented in ``openapi.py``, served at ``/api/openapi.json``)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..errors import ChatError
from ..logs import exception_summary, field
from ..transport.origins import shop_origin_allowed
from .common import SOCKET_IO_PATH, body_limit, read_body
from .knowledge import CORS_PATHS as KB_CORS_PATHS
from .knowledge import CORS_PREFIXES as KB_CORS_PREFIXES
from .openapi import ROUTES, STREAMED
from .services import services

__all__ = ["ROUTES", "SOCKET_IO_PATH", "add_routes", "cors_middleware", "error_middleware"]

log = logging.getLogger("chatserver.http")


# -- cross-origin ---------------------------------------------------------------------------

# Routes a shop's pages call from their own origin (the widget's first contact, the help step).
CORS_PATHS = frozenset({"/api/visitor/sessions"}) | KB_CORS_PATHS
CORS_PREFIXES = KB_CORS_PREFIXES


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Socket.IO's endpoint (SOCKET_IO_PATH): its WebSocket requests last as long as the connection:
# a middleware that awaited the handler would keep its frame, and what the frame holds, for all
# that time, for every connection. So the middlewares are plain functions that hand such
# requests on (the handler's coroutine is awaited by aiohttp itself) and wrap only the others.


# The widget's upload (http/attachments.py), which sends the visitor's token: the one cross-origin
# route that takes an Authorization header (a bearer token, never a cookie: no credentials mode).
_UPLOAD = re.compile(r"/api/conversations/[^/]+/attachments")


@web.middleware
def cors_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """Let the configured shop origins (``allowed_origins``) call the visitor routes; every other
    route stays same-origin (agents' routes carry a bearer token and are never shared)."""
    if request.path in CORS_PATHS or request.path.startswith(CORS_PREFIXES):
        return _with_cors(request, handler, "Content-Type")
    if _UPLOAD.fullmatch(request.path):
        return _with_cors(request, handler, "Content-Type, Authorization")
    return handler(request)


async def _with_cors(request: web.Request, handler: Handler, allowed_headers: str) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    headers: dict[str, str] = {}
    if origin and shop_origin_allowed(origin, services(request).settings.allowed_origins):
        headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                   "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                   "Access-Control-Allow-Headers": allowed_headers, "Access-Control-Max-Age": "600"}
    if request.method == "OPTIONS":
        return web.Response(status=204, headers=headers)
    response = await handler(request)
    response.headers.update(headers)
    return response


# -- errors -----------------------------------------------------------------------------------

_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


@web.middleware
def error_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """Answer every error as ``{"error": {"code", "message"}}`` (python-engineio answers its own)."""
    if request.path == SOCKET_IO_PATH:
        return handler(request)
    return _structured_errors(request, handler)


# Every route of these methods refuses a body over the limit, whether it reads one or not (the
# OpenAPI document lists 413 on each of them).
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def _structured_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        if request.method in _WRITE_METHODS and request.body_exists and not _streamed(request):
            # Read no more than the route takes (the app's client_max_size is the largest route's),
            # before the handler: nothing is done for an oversized request.
            request = request.clone(client_max_size=body_limit(request))
            await read_body(request)
        return await handler(request)
    except ChatError as exc:
        # A refusal that says when to come back (busy, locked out) says it in the header too.
        wait = (exc.details or {}).get("retry_after")
        return web.json_response(exc.to_payload(), status=exc.http_status,
                                 headers={"Retry-After": str(wait)} if isinstance(wait, int) else None)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        return web.json_response({"error": {"code": code, "message": exc.reason}}, status=exc.status,
                                 headers={k: v for k, v in exc.headers.items() if k == "Allow"})
    except Exception as exc:
        # The exception's type and stack only: its text may quote what the request sent.
        log.error("unhandled error method=%s path=%s %s", request.method, field(request.path, limit=200),
                  exception_summary(exc))
        return web.json_response({"error": {"code": "internal_error", "message": "internal server error"}},
                                 status=500)


def _streamed(request: web.Request) -> bool:
    """Whether the request's route reads its body itself as it arrives (an upload)."""
    resource = request.match_info.route.resource
    return resource is not None and (request.method, resource.canonical) in STREAMED


def add_routes(app: web.Application) -> None:
    """Register every route of the document (``openapi.ROUTES``): none is served undocumented."""
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
