"""REST routes of the offline service: tickets for agents, webhook endpoints and the outbox
for admins (docs/offline.md, docs/webhooks.md)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from ..domain.outbox import OutboxKind
from ..domain.patterns import NOT_BLANK, SPACE, checked
from ..domain.tickets import TicketStatus
from ..domain.webhooks import EVENT_TYPES
from ..errors import InvalidPayload, NotFound
from ..wire.shapes import AnsweredTicket, OneTicket, Outbox, Tickets, WebhookAnswer
from ..wire.shapes import Webhooks as WebhookList
from ..wire.views import outbox_view, ticket_view, webhook_endpoint_view
from .common import MAX_OFFSET, current_agent, int_query, json_body, paging, require_admin
from .route import Query, Route, empty_answer, json_answer
from .services import services

Url = Annotated[str, msgspec.Meta(min_length=8, max_length=2048, pattern=rf"^https?://[^{SPACE}]+$(?!\n)")]


class AnswerBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=20_000, extra_json_schema=checked(pattern=NOT_BLANK))]


# Webhooks.add_endpoint checks the event types.
EventType = Annotated[str, msgspec.Meta(extra_json_schema=checked(enum=list(EVENT_TYPES)))]


class WebhookBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: Url
    events: Annotated[list[EventType], msgspec.Meta(max_length=len(EVENT_TYPES))] = []
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
    tickets = await services(request).tickets.tickets(status, int_query(request, "limit", 50, 1, 500),
                                                 int_query(request, "offset", 0, 0, MAX_OFFSET))
    return web.json_response({"tickets": [ticket_view(t, for_agent=True) for t in tickets]})


async def get_ticket(request: web.Request) -> web.Response:
    await current_agent(request)
    ticket = await services(request).tickets.ticket(_id(request, "ticket_id", "ticket"))
    return web.json_response({"ticket": ticket_view(ticket, for_agent=True)})


async def answer_ticket(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await json_body(request, AnswerBody)
    if not body.body.strip():
        raise InvalidPayload("the answer is empty", details={"fields": ["body"]})
    ticket = await services(request).tickets.answer(agent, _id(request, "ticket_id", "ticket"), body.body)
    return web.json_response({"ticket": ticket_view(ticket, for_agent=True),
                              "emailed": services(request).settings.sends_mail}, status=201)


async def list_webhooks(request: web.Request) -> web.Response:
    await require_admin(request)
    endpoints = await services(request).webhooks.store.webhooks()
    return web.json_response({"webhooks": [webhook_endpoint_view(e) for e in endpoints],
                              "event_types": list(EVENT_TYPES)})


async def add_webhook(request: web.Request) -> web.Response:
    await require_admin(request)
    body = await json_body(request, WebhookBody)
    endpoint = await services(request).webhooks.add_endpoint(body.url, body.events, body.secret)
    # The secret is shown this once, for the receiver to verify signatures with.
    return web.json_response({"webhook": {**webhook_endpoint_view(endpoint), "secret": endpoint.secret}}, status=201)


async def remove_webhook(request: web.Request) -> web.Response:
    await require_admin(request)
    await services(request).webhooks.remove_endpoint(_id(request, "webhook_id", "webhook endpoint"))
    return web.Response(status=204)


async def list_outbox(request: web.Request) -> web.Response:
    await require_admin(request)
    raw = request.query.get("kind", "webhook")
    try:
        kind = OutboxKind(raw)
    except ValueError:
        raise InvalidPayload("kind must be mail or webhook") from None
    items = await services(request).outbox.outbox_items(kind, int_query(request, "limit", 50, 1, 500))
    return web.json_response({"items": [outbox_view(i) for i in items]})


_FOR_ADMINS = (401, 403)
TICKET_ROUTES = [
    Route("GET", "/api/tickets", list_tickets, operation_id="listTickets",
          summary="Offline tickets, newest first (every agent)", query=(Query("status", TicketStatus), *paging(500)),
          answers=(json_answer(Tickets, "Tickets"),), errors=(400, 401)),
    Route("GET", "/api/tickets/{ticket_id}", get_ticket, operation_id="getTicket", summary="A ticket with its answers",
          answers=(json_answer(OneTicket, "Ticket"),), errors=(401, 404)),
    Route("POST", "/api/tickets/{ticket_id}/answers", answer_ticket, operation_id="answerTicket",
          summary="Answer a ticket: emailed to the customer and shown in their widget", body=AnswerBody,
          answers=(json_answer(AnsweredTicket, "Ticket, and whether the answer is emailed", 201),),
          errors=(400, 401, 404)),
    Route("GET", "/api/webhooks", list_webhooks, operation_id="listWebhooks", summary="Webhook endpoints (admins)",
          answers=(json_answer(WebhookList, "Endpoints"),), errors=_FOR_ADMINS),
    Route("POST", "/api/webhooks", add_webhook, operation_id="addWebhook",
          summary="Register a webhook endpoint (admins); the answer carries its secret once", body=WebhookBody,
          answers=(json_answer(WebhookAnswer, "Created", 201),), errors=(400, *_FOR_ADMINS)),
    Route("DELETE", "/api/webhooks/{webhook_id}", remove_webhook, operation_id="removeWebhook",
          summary="Remove a webhook endpoint (admins); its undelivered events are dropped",
          answers=(empty_answer("Removed"),), errors=(*_FOR_ADMINS, 404)),
    Route("GET", "/api/outbox", list_outbox, operation_id="listOutbox",
          summary="Recent outgoing mail or webhook deliveries and their state (admins; no contents)",
          query=(Query("kind", OutboxKind), paging(500)[0]), answers=(json_answer(Outbox, "Outbox items"),),
          errors=(400, *_FOR_ADMINS)),
]
