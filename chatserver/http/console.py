"""REST routes of the agent console: canned responses (agents read, admins manage) and the
colleagues and departments a chat can be transferred to. Documented in ``openapi.py``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from aiohttp import web

from .. import constants as C
from ..domain.canned import SHORTCUT_FIELD, do_add_canned, do_delete_canned, do_update_canned
from ..domain.patterns import NOT_BLANK, checked
from ..errors import NotFound
from ..wire.shapes import CannedAnswer, CannedResponses, TransferTargets
from ..wire.views import canned_view, cobrowse_history_view, note_view, proactive_origin_view
from .common import current_agent, json_body, require_admin
from .route import Route, bounded_by, empty_answer, json_answer
from .services import SERVICES, services


class CannedBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # The domain (do_add_canned) checks the patterns and max_message_chars.
    shortcut: Annotated[str, msgspec.Meta(
        min_length=1, max_length=33, extra_json_schema=checked(pattern=SHORTCUT_FIELD),
        description="1-32 of a-z 0-9 _ -; a leading /, capitals and surrounding spaces are dropped")]
    body: Annotated[str, msgspec.Meta(
        min_length=1, max_length=100_000, description="up to max_message_chars",
        extra_json_schema={**checked(pattern=NOT_BLANK), **bounded_by("max_message_chars")})]


def _canned_id(request: web.Request) -> str:
    canned_id = request.match_info["canned_id"]
    if not 1 <= len(canned_id) <= 64:
        raise NotFound("no such canned response")
    return canned_id


async def _canned_changed(request: web.Request) -> None:
    """Every agent's console reads the canned responses again."""
    await services(request).notifier.to_all_agents(C.EV_CANNED_UPDATED, {})


async def list_canned(request: web.Request) -> web.Response:
    await current_agent(request)
    responses = await services(request).console.canned_responses()
    return web.json_response({"canned_responses": [canned_view(c) for c in responses]})


async def add_canned(request: web.Request) -> web.Response:
    await require_admin(request)
    body = await json_body(request, CannedBody)
    canned = await do_add_canned(services(request).console, body.shortcut, body.body,
                                 max_chars=services(request).settings.max_message_chars,
                                 now=services(request).clock.now(), new_id=lambda: uuid.uuid4().hex)
    await _canned_changed(request)
    return web.json_response({"canned_response": canned_view(canned)}, status=201)


async def update_canned(request: web.Request) -> web.Response:
    await require_admin(request)
    canned_id = _canned_id(request)
    body = await json_body(request, CannedBody)
    canned = await do_update_canned(services(request).console, canned_id, body.shortcut, body.body,
                                    max_chars=services(request).settings.max_message_chars,
                                    now=services(request).clock.now())
    await _canned_changed(request)
    return web.json_response({"canned_response": canned_view(canned)})


async def delete_canned(request: web.Request) -> web.Response:
    await require_admin(request)
    await do_delete_canned(services(request).console, _canned_id(request))
    await _canned_changed(request)
    return web.Response(status=204)


async def transfer_targets(request: web.Request) -> web.Response:
    """Whom the caller can hand a chat to: the other enabled agents with their status, and the
    departments."""
    me = await current_agent(request)
    presence = services(request).presence
    agents = [a for a in await services(request).agents.list_agents() if a.id != me.id and not a.disabled]
    return web.json_response({
        "agents": [{"id": a.id, "name": a.name, "status": str(await presence.status(a.id)),
                    "departments": list(a.departments)} for a in agents],
        "departments": list(services(request).settings.departments),
    })


async def transcript_extras(app: web.Application, conversation_id: str) -> dict[str, Any]:
    """What agents' transcripts carry besides the messages: internal notes, the wrap-up, co-browse
    sessions and the proactive message that started it."""
    store = app[SERVICES].console
    tags, resolution_note = await store.wrap_up(conversation_id) or ([], None)
    cobrowse = app[SERVICES].cobrowse
    origin = await app[SERVICES].proactive.origin(conversation_id)
    return {"notes": [note_view(n) for n in await store.notes(conversation_id)],
            "tags": tags, "resolution_note": resolution_note,
            "cobrowse": cobrowse_history_view(await cobrowse.sessions_for(conversation_id),
                                              await cobrowse.views_for(conversation_id)),
            "proactive": proactive_origin_view(*origin) if origin else None}


_ONE = json_answer(CannedAnswer, "Canned response")
CONSOLE_ROUTES = [
    Route("GET", "/api/canned-responses", list_canned, operation_id="listCannedResponses",
          summary="Canned responses (every agent)", answers=(json_answer(CannedResponses, "By shortcut"),),
          errors=(401,)),
    Route("POST", "/api/canned-responses", add_canned, operation_id="addCannedResponse",
          summary="Add a canned response (admins)", body=CannedBody, answers=(json_answer(CannedAnswer,
                                                                                           "Canned response", 201),),
          errors=(400, 401, 403, 409)),
    Route("PUT", "/api/canned-responses/{canned_id}", update_canned, operation_id="updateCannedResponse",
          summary="Change a canned response (admins)", body=CannedBody, answers=(_ONE,),
          errors=(400, 401, 403, 404, 409)),
    Route("DELETE", "/api/canned-responses/{canned_id}", delete_canned, operation_id="deleteCannedResponse",
          summary="Delete a canned response (admins)", answers=(empty_answer("Deleted"),), errors=(401, 403, 404)),
    Route("GET", "/api/transfer-targets", transfer_targets, operation_id="transferTargets",
          summary="The other enabled agents (with their status) and the departments a chat can be transferred to",
          answers=(json_answer(TransferTargets, "Transfer targets"),), errors=(401,)),
]
