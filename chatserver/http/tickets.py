"""REST routes of the offline service: tickets for agents, webhook endpoints and the outbox
for admins (docs/offline.md, docs/webhooks.md). Listed in ``views.ROUTES``; documented by
``offline_paths`` in the OpenAPI document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import msgspec
from aiohttp import web

from ..domain.outbox import OutboxItem, OutboxKind, OutboxStore
from ..domain.patterns import NOT_BLANK
from ..domain.tickets import TicketService, TicketStatus, ticket_view
from ..domain.webhooks import EVENT_TYPES, Webhooks
from ..errors import InvalidPayload, NotFound
from .common import MAX_OFFSET, current_agent, int_query, json_body, require_admin

TICKETS = web.AppKey("tickets", TicketService)
WEBHOOKS = web.AppKey("webhooks", Webhooks)
OUTBOX: web.AppKey[OutboxStore] = web.AppKey("outbox")

Url = Annotated[str, msgspec.Meta(min_length=8, max_length=2048, pattern=r"^https?://[^\s]+$")]


class AnswerBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=20_000)]


class WebhookBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: Url
    events: Annotated[list[str], msgspec.Meta(max_length=len(EVENT_TYPES))] = []
    secret: Annotated[str, msgspec.Meta(min_length=16, max_length=256)] | None = None


def _id(request: web.Request, name: str, what: str) -> str:
    value = request.match_info[name]
    if len(value) > 64:
        raise NotFound(f"{what} not found")
    return value


async def list_tickets(request: web.Request) -> web.Response:
    await current_agent(request)
    raw = request.query.get("status")
    try:
        status = TicketStatus(raw) if raw is not None else None
    except ValueError:
        raise InvalidPayload("status must be open or answered") from None
    tickets = await request.app[TICKETS].tickets(status, int_query(request, "limit", 50, 1, 500),
                                                 int_query(request, "offset", 0, 0, MAX_OFFSET))
    return web.json_response({"tickets": [ticket_view(t, for_agent=True) for t in tickets]})


async def get_ticket(request: web.Request) -> web.Response:
    await current_agent(request)
    ticket = await request.app[TICKETS].ticket(_id(request, "ticket_id", "ticket"))
    return web.json_response({"ticket": ticket_view(ticket, for_agent=True)})


async def answer_ticket(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await json_body(request, AnswerBody)
    if not body.body.strip():
        raise InvalidPayload("the answer is empty", details={"fields": ["body"]})
    ticket = await request.app[TICKETS].answer(agent, _id(request, "ticket_id", "ticket"), body.body)
    return web.json_response({"ticket": ticket_view(ticket, for_agent=True)}, status=201)


async def list_webhooks(request: web.Request) -> web.Response:
    await require_admin(request)
    endpoints = await request.app[WEBHOOKS].store.webhooks()
    return web.json_response({"webhooks": [e.public() for e in endpoints], "event_types": list(EVENT_TYPES)})


async def add_webhook(request: web.Request) -> web.Response:
    await require_admin(request)
    body = await json_body(request, WebhookBody)
    endpoint = await request.app[WEBHOOKS].add_endpoint(body.url, body.events, body.secret)
    # The secret is shown this once, for the receiver to verify signatures with.
    return web.json_response({"webhook": {**endpoint.public(), "secret": endpoint.secret}}, status=201)


async def remove_webhook(request: web.Request) -> web.Response:
    await require_admin(request)
    await request.app[WEBHOOKS].remove_endpoint(_id(request, "webhook_id", "webhook endpoint"))
    return web.Response(status=204)


def _outbox_view(item: OutboxItem) -> dict[str, Any]:
    # Never the payload: it holds messages and answers.
    return {"id": item.id, "kind": str(item.kind), "target": item.target, "status": str(item.status),
            "attempts": item.attempts, "next_attempt_at": item.next_attempt_at, "last_error": item.last_error,
            "created_at": item.created_at, "sent_at": item.sent_at}


async def list_outbox(request: web.Request) -> web.Response:
    await require_admin(request)
    raw = request.query.get("kind", "webhook")
    try:
        kind = OutboxKind(raw)
    except ValueError:
        raise InvalidPayload("kind must be mail or webhook") from None
    items = await request.app[OUTBOX].outbox_items(kind, int_query(request, "limit", 50, 1, 500))
    return web.json_response({"items": [_outbox_view(i) for i in items]})


TICKET_ROUTES: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
    ("GET", "/api/tickets", list_tickets),
    ("GET", "/api/tickets/{ticket_id}", get_ticket),
    ("POST", "/api/tickets/{ticket_id}/answers", answer_ticket),
    ("GET", "/api/webhooks", list_webhooks),
    ("POST", "/api/webhooks", add_webhook),
    ("DELETE", "/api/webhooks/{webhook_id}", remove_webhook),
    ("GET", "/api/outbox", list_outbox),
]


_TICKET = {
    "type": "object",
    "required": ["id", "reference", "status", "name", "email", "description", "created_at", "answers"],
    "properties": {
        "id": {"type": "string"},
        "reference": {"type": "string", "description": "what the visitor is told, e.g. T-1A2B3C4D"},
        "status": {"type": "string", "enum": ["open", "answered"]},
        "visitor_id": {"type": "string"},
        "name": {"type": "string"},
        "email": {"type": "string"},
        "order_number": {"type": ["string", "null"]},
        "description": {"type": "string"},
        "page_url": {"type": ["string", "null"]},
        "created_at": {"type": "number"},
        "updated_at": {"type": "number"},
        "answers": {"type": "array", "items": {"type": "object", "properties": {
            "agent": {"type": "object", "properties": {"name": {"type": "string"}}},
            "agent_id": {"type": ["string", "null"]},
            "body": {"type": "string"}, "created_at": {"type": "number"}}}},
    },
}

_WEBHOOK = {
    "type": "object",
    "required": ["id", "url", "events", "created_at"],
    "properties": {
        "id": {"type": "string"}, "url": {"type": "string"},
        "events": {"type": "array", "items": {"type": "string", "enum": list(EVENT_TYPES)},
                   "description": "empty: every event"},
        "secret": {"type": "string", "description": "only in the answer to POST"},
        "created_at": {"type": "number"},
    },
}


def offline_paths() -> dict[str, Any]:
    """The OpenAPI paths of ``TICKET_ROUTES``."""
    from .openapi import _AUTH, _errors, _json  # the document's helpers; imported late (it imports us)

    one_ticket = _json({"type": "object", "properties": {"ticket": _TICKET}}, "Ticket")
    ticket_id = [{"name": "ticket_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    paging = [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
              {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                                "maximum": MAX_OFFSET}}]
    return {
        "/api/tickets": {"get": {
            "summary": "Offline tickets, newest first (every agent)", "operationId": "listTickets",
            "security": _AUTH,
            "parameters": [{"name": "status", "in": "query", "schema": {"type": "string",
                                                                       "enum": ["open", "answered"]}}, *paging],
            "responses": {"200": _json({"type": "object", "properties": {"tickets": {"type": "array",
                                                                                     "items": _TICKET}}}, "Tickets"),
                          **_errors(400, 401)}}},
        "/api/tickets/{ticket_id}": {"get": {
            "summary": "A ticket with its answers", "operationId": "getTicket", "security": _AUTH,
            "parameters": ticket_id, "responses": {"200": one_ticket, **_errors(401, 404)}}},
        "/api/tickets/{ticket_id}/answers": {"post": {
            "summary": "Answer a ticket: emailed to the customer and shown in their widget",
            "operationId": "answerTicket", "security": _AUTH, "parameters": ticket_id,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["body"], "additionalProperties": False,
                "properties": {"body": {"type": "string", "minLength": 1, "maxLength": 20000,
                                        "pattern": NOT_BLANK}}}}}},
            "responses": {"201": one_ticket, **_errors(400, 401, 404)}}},
        "/api/webhooks": {
            "get": {"summary": "Webhook endpoints (admins)", "operationId": "listWebhooks", "security": _AUTH,
                    "responses": {"200": _json({"type": "object", "properties": {
                        "webhooks": {"type": "array", "items": _WEBHOOK},
                        "event_types": {"type": "array", "items": {"type": "string"}}}}, "Endpoints"),
                                  **_errors(401, 403)}},
            "post": {"summary": "Register a webhook endpoint (admins); the answer carries its secret once",
                     "operationId": "addWebhook", "security": _AUTH,
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["url"], "additionalProperties": False,
                         "properties": {
                             "url": {"type": "string", "pattern": "^https?://", "maxLength": 2048},
                             "events": {"type": "array", "items": {"type": "string", "enum": list(EVENT_TYPES)}},
                             "secret": {"type": "string", "minLength": 16, "maxLength": 256}}}}}},
                     "responses": {"201": _json({"type": "object", "properties": {"webhook": _WEBHOOK}}, "Created"),
                                   **_errors(400, 401, 403)}},
        },
        "/api/webhooks/{webhook_id}": {"delete": {
            "summary": "Remove a webhook endpoint (admins); its undelivered events are dropped",
            "operationId": "removeWebhook", "security": _AUTH,
            "parameters": [{"name": "webhook_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"204": {"description": "Removed"}, **_errors(401, 403, 404)}}},
        "/api/outbox": {"get": {
            "summary": "Recent outgoing mail or webhook deliveries and their state (admins; no contents)",
            "operationId": "listOutbox", "security": _AUTH,
            "parameters": [{"name": "kind", "in": "query", "schema": {"type": "string", "enum": ["mail", "webhook"]}},
                           paging[0]],
            "responses": {"200": _json({"type": "object", "properties": {"items": {"type": "array", "items": {
                "type": "object", "properties": {
                    "id": {"type": "string"}, "kind": {"type": "string"}, "target": {"type": "string"},
                    "status": {"type": "string", "enum": ["pending", "sent", "failed"]},
                    "attempts": {"type": "integer"}, "next_attempt_at": {"type": "number"},
                    "last_error": {"type": ["string", "null"]}, "created_at": {"type": "number"},
                    "sent_at": {"type": ["number", "null"]}}}}}}, "Outbox items"),
                          **_errors(400, 401, 403)}}},
    }
