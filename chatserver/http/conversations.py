"""REST routes of conversations (list with filters, transcript, exports) and the ratings report."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web

from ..domain.actor import Actor
from ..domain.models import Agent, ConversationFilter, ConversationStatus, Transcript
from ..errors import InvalidPayload
from ..wire.shapes import ClosedConversation, Conversations, RatingsReport
from ..wire.shapes import Transcript as TranscriptShape
from ..wire.views import attachments_view, full_transcript_view, record_view
from ._records import DATES, check_range, path_id, time_query, transcript_html, transcript_text
from .common import MAX_OFFSET, current_agent, int_query, paging, require_admin
from .console import transcript_extras
from .route import Answer, Query, Route, json_answer
from .services import services

_FILTER_TEXT_LIMIT = 64
log = logging.getLogger("chatserver.http.conversations")


def _text_query(request: web.Request, name: str) -> str | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    if len(value) > _FILTER_TEXT_LIMIT:
        raise InvalidPayload(f"{name} is limited to {_FILTER_TEXT_LIMIT} characters")
    return value


async def list_conversations(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    raw_status = request.query.get("status")
    try:
        status = ConversationStatus(raw_status) if raw_status is not None else None
    except ValueError:
        raise InvalidPayload("status must be queued, assigned or closed") from None
    since, until = time_query(request, "from"), time_query(request, "to", end=True)
    check_range(since, until)
    where = ConversationFilter(status=status, agent_id=_text_query(request, "agent_id"),
                               department=_text_query(request, "department"),
                               customer_id=_text_query(request, "customer_id"), tag=_text_query(request, "tag"),
                               since=since, until=until)
    records, total = await services(request).customers.list_conversations(
        agent, where, int_query(request, "limit", 50, 1, 500), int_query(request, "offset", 0, 0, MAX_OFFSET))
    return web.json_response({"conversations": [record_view(r) for r in records], "total": total})


async def _transcript_json(request: web.Request, conversation_id: str,
                           agent: Agent) -> tuple[Transcript, dict[str, Any]]:
    """The transcript the caller may read, as JSON: with its customer, the console's internal notes
    and wrap-up (agents' eyes only)."""
    s = services(request)
    transcript, record = await s.customers.transcript_for(agent, conversation_id)
    return transcript, {**full_transcript_view(transcript, record),
                        **await transcript_extras(request.app, conversation_id),
                        "attachments": attachments_view(await s.attachments.of_conversation(conversation_id),
                                                        transcript.messages)}


async def get_conversation(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    _, view = await _transcript_json(request, path_id(request, "conversation_id", "conversation"), agent)
    return web.json_response(view)


_FORMATS = ("json", "text", "html")


async def export_transcript(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    conversation_id = path_id(request, "conversation_id", "conversation")
    fmt = request.query.get("format", "json")
    if fmt not in _FORMATS:
        raise InvalidPayload("format must be json, text or html")
    transcript, view = await _transcript_json(request, conversation_id, agent)
    extension = {"json": "json", "text": "txt", "html": "html"}[fmt]
    headers = {"Content-Disposition": f'attachment; filename="conversation-{conversation_id}.{extension}"'}
    if fmt == "json":
        return web.json_response(view, headers=headers)
    if fmt == "text":
        return web.Response(text=transcript_text(transcript), content_type="text/plain", charset="utf-8",
                            headers=headers)
    # Nothing in the page runs: its text is escaped, and the policy forbids scripts anyway. Its
    # images are its own (data: URIs), so the page shows them once downloaded.
    headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    thumbnails = await services(request).attachments.thumbnails(Actor.agent(agent), conversation_id)
    return web.Response(text=transcript_html(transcript, thumbnails), content_type="text/html", charset="utf-8",
                        headers=headers)


async def close_conversation(request: web.Request) -> web.Response:
    """An admin closes any chat (abandoned, or in the way of deleting a customer): the system
    closes it and both sides are told."""
    admin = await require_admin(request)
    conversation_id = path_id(request, "conversation_id", "conversation")
    conversation = await services(request).chats.force_close(conversation_id, f"closed_by_admin:{admin.id}")
    record = await services(request).customers.customers.conversation_record(conversation.id)
    log.info("conversation closed by an admin conversation=%s agent=%s", conversation_id, admin.id)
    return web.json_response({"conversation": record_view(record) if record else None})


async def ratings_report(request: web.Request) -> web.Response:
    await require_admin(request)
    since, until = time_query(request, "from"), time_query(request, "to", end=True)
    check_range(since, until)
    report = await services(request).customers.ratings_report(since, until)
    return web.json_response({
        "count": report.count,
        "average": report.average,
        "per_agent": [{"agent_id": a.key or None, "agent_name": a.label, "count": a.count, "average": a.average}
                      for a in report.per_agent],
        "per_day": [{"day": d.key, "count": d.count, "average": d.average} for d in report.per_day],
    })


_ID_FILTER = Annotated[str, msgspec.Meta(max_length=_FILTER_TEXT_LIMIT)]
CONVERSATION_ROUTES = [
    Route("GET", "/api/conversations", list_conversations, operation_id="listConversations",
          summary="List conversations (agents: their own, or a served customer's; admins: all)",
          query=(Query("status", ConversationStatus),
                 *(Query(name, _ID_FILTER) for name in ("agent_id", "department", "customer_id", "tag")),
                 *DATES, *paging(500)),
          answers=(json_answer(Conversations, "Conversations, newest first, and how many match in all"),),
          errors=(400, 401, 403, 404)),
    Route("GET", "/api/conversations/{conversation_id}", get_conversation, operation_id="getConversation",
          summary="A conversation's transcript: messages, pre-chat fields, assignment history, rating",
          answers=(json_answer(TranscriptShape, "Transcript"),), errors=(401, 403, 404)),
    Route("GET", "/api/conversations/{conversation_id}/transcript", export_transcript,
          operation_id="exportTranscript", summary="Download a transcript as JSON, plain text or HTML",
          query=(Query("format", Literal["json", "text", "html"]),),
          answers=(Answer(200, "The transcript", {"application/json": TranscriptShape, "text/plain": str,
                                                  "text/html": str}),),
          errors=(400, 401, 403, 404)),
    Route("POST", "/api/conversations/{conversation_id}/close", close_conversation, operation_id="closeConversation",
          summary="Close any chat, whoever holds it (admins): the system closes it, both sides are told",
          answers=(json_answer(ClosedConversation, "The closed conversation (unchanged if it was closed already)"),),
          errors=(401, 403, 404)),
    Route("GET", "/api/reports/ratings", ratings_report, operation_id="ratingsReport",
          summary="Visitors' ratings: average overall, per agent and per day (business_timezone) (admins)",
          query=DATES, answers=(json_answer(RatingsReport, "Report"),), errors=(400, 401, 403)),
]
