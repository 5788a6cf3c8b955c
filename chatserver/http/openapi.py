"""Every REST route, in one table (``ROUTES``: ``views.add_routes`` registers exactly these), and
the OpenAPI 3.1 document generated from their declarations (served at ``/api/openapi.json``)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aiohttp import web

from ..config import Settings
from ._openapi import body_limit, build_document
from .agents import AGENT_ROUTES
from .attachments import ATTACHMENT_ROUTES
from .avatars import AVATAR_ROUTES
from .common import MAX_JSON_BODY, compressed_when_accepted
from .console import CONSOLE_ROUTES
from .conversations import CONVERSATION_ROUTES
from .customers import CUSTOMER_ROUTES
from .health import HEALTH_ROUTES
from .knowledge import KNOWLEDGE_ROUTES
from .metrics import METRICS_ROUTES
from .proactive import PROACTIVE_ROUTES
from .route import Auth, Route, json_answer
from .services import services
from .tickets import TICKET_ROUTES


async def serve_openapi(request: web.Request) -> web.Response:
    return compressed_when_accepted(request, web.json_response(openapi_document(services(request).settings)))


ROUTES: tuple[Route, ...] = (
    *HEALTH_ROUTES,
    *METRICS_ROUTES,
    Route("GET", "/api/openapi.json", serve_openapi, operation_id="openapi", auth=Auth.NONE, summary="This document",
          answers=(json_answer(dict[str, Any], "OpenAPI 3.1"),)),
    *AGENT_ROUTES,
    *AVATAR_ROUTES,
    *CONVERSATION_ROUTES,
    *ATTACHMENT_ROUTES,
    *CUSTOMER_ROUTES,
    *CONSOLE_ROUTES,
    *PROACTIVE_ROUTES,
    *TICKET_ROUTES,
    *KNOWLEDGE_ROUTES,
)


# Routes whose handlers read their bodies themselves (route.RawBody), by (method, path).
STREAMED = frozenset((route.method, route.path) for route in ROUTES if route.raw_body is not None)


@cache
def openapi_document(settings: Settings) -> dict[str, Any]:
    """The document for a server with these settings (its departments and text limits)."""
    return build_document(settings, ROUTES)


@cache
def body_limits(settings: Settings) -> dict[tuple[str, str], int]:
    """The body limit of each route whose fields may hold more text than MAX_JSON_BODY takes, by
    (method, path): what the served document states."""
    document = openapi_document(settings)
    limits = {(method.upper(), path): body_limit(operation, document["components"]["schemas"])
              for path, operations in document["paths"].items()
              for method, operation in operations.items()}
    return {route: limit for route, limit in limits.items() if limit > MAX_JSON_BODY}
