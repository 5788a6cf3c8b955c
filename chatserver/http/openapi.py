"""The OpenAPI 3.1 document of every REST route (a test checks it against the router)."""

from __future__ import annotations

import json
import math
from functools import cache
from typing import Any

from ..config import Settings
from ..domain.canned import SHORTCUT_FIELD
from ..domain.patterns import EMAIL, NOT_BLANK
from ..errors import ALL_ERRORS
from .common import MAX_JSON_BODY
from .openapi_knowledge import KNOWLEDGE_SCHEMAS, knowledge_paths
from .openapi_records import RECORD_SCHEMAS, records_paths
from .tickets import offline_paths

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "enum": sorted({e.code for e in ALL_ERRORS} | {
                    "bad_request", "not_found", "method_not_allowed", "payload_too_large", "http_error"})},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}

_AGENT = {
    "type": "object",
    "required": ["id", "email", "name", "role", "capacity", "disabled"],
    "properties": {
        "id": {"type": "string"},
        "email": {"type": "string"},
        "name": {"type": "string"},
        "role": {"type": "string", "enum": ["admin", "agent"]},
        "capacity": {"type": "integer"},
        "disabled": {"type": "boolean"},
        "status": {"type": "string", "enum": ["online", "away", "offline"]},
        "departments": {"type": "array", "items": {"type": "string"}},
    },
}

_PRECHAT = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "email": {"type": ["string", "null"]},
        "question": {"type": "string"},
        "order_number": {"type": ["string", "null"]},
        "page_url": {"type": ["string", "null"]},
        "page_title": {"type": ["string", "null"]},
        "checkout": {"type": "boolean"},
        "cart_value": {"type": ["number", "null"]},
        "department": {"type": ["string", "null"]},
    },
}

_CONVERSATION = {
    "type": "object",
    "required": ["id", "status", "prechat", "created_at", "last_seq"],
    "properties": {
        "id": {"type": "string"},
        "status": {"type": "string", "enum": ["queued", "assigned", "closed"]},
        "visitor_id": {"type": "string"},
        "agent_id": {"type": ["string", "null"]},
        "agent": {"type": ["object", "null"], "properties": {"name": {"type": "string"}}},
        "prechat": {"$ref": "#/components/schemas/PreChat"},
        "created_at": {"type": "number"},
        "assigned_at": {"type": ["number", "null"]},
        "closed_at": {"type": ["number", "null"]},
        "closed_by": {"type": ["string", "null"], "enum": ["visitor", "agent", "system", None]},
        "last_seq": {"type": "integer"},
        "read": {"type": "object", "properties": {"visitor": {"type": "integer"}, "agent": {"type": "integer"}}},
    },
}

_MESSAGE = {
    "type": "object",
    "required": ["conversation_id", "seq", "kind", "sender", "body", "created_at"],
    "properties": {
        "conversation_id": {"type": "string"},
        "seq": {"type": "integer"},
        "kind": {"type": "string", "enum": ["text", "system"]},
        "sender": {"type": "object", "properties": {"kind": {"type": "string"}, "name": {"type": ["string", "null"]}}},
        "body": {"type": "string"},
        "meta": {"type": ["object", "null"]},
        "client_msg_id": {"type": ["string", "null"]},
        "created_at": {"type": "number"},
    },
}

_QUEUE = {
    "type": "object",
    "required": ["total", "entries"],
    "properties": {
        "total": {"type": "integer"},
        "entries": {"type": "array", "items": {"allOf": [
            {"$ref": "#/components/schemas/Conversation"},
            {"type": "object", "properties": {"position": {"type": "integer"}, "waited_s": {"type": "number"}}},
        ]}},
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": "#/components/responses/Error"} for s in statuses}


_AUTH: list[dict[str, list[str]]] = [{"agentToken": []}]
_LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}}


_NOTE = {
    "type": "object",
    "description": "An internal note: agents only, never sent to the visitor",
    "required": ["id", "conversation_id", "agent", "body", "created_at"],
    "properties": {
        "id": {"type": "integer"},
        "conversation_id": {"type": "string"},
        "agent": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}},
        "body": {"type": "string"},
        "client_note_id": {"type": ["string", "null"]},
        "created_at": {"type": "number"},
    },
}

_CANNED = {
    "type": "object",
    "required": ["id", "shortcut", "body", "created_at", "updated_at"],
    "properties": {
        "id": {"type": "string"},
        "shortcut": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,31}$",
                     "description": "typed as /shortcut in the console"},
        "body": {"type": "string"},
        "created_at": {"type": "number"},
        "updated_at": {"type": "number"},
    },
}

_CANNED_ID = [{"name": "canned_id", "in": "path", "required": True, "schema": {"type": "string"}}]


def _console_paths(max_message_chars: int) -> dict[str, Any]:
    """The agent console's routes (http/console.py)."""
    one = _json({"type": "object", "properties": {"canned_response": _ref("CannedResponse")}}, "Canned response")
    canned_body = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["shortcut", "body"], "additionalProperties": False,
        "properties": {
            "shortcut": {"type": "string", "maxLength": 33, "pattern": SHORTCUT_FIELD,
                         "description": "1-32 of a-z 0-9 _ -; a leading /, capitals and surrounding spaces "
                                        "are dropped"},
            "body": {"type": "string", "minLength": 1, "maxLength": min(max_message_chars, 100_000),
                     "pattern": NOT_BLANK, "description": "up to max_message_chars"}}}}}}
    return {
        "/api/canned-responses": {
            "get": {"summary": "Canned responses (every agent)", "operationId": "listCannedResponses",
                    "security": _AUTH,
                    "responses": {"200": _json({"type": "object", "properties": {"canned_responses": {
                        "type": "array", "items": _ref("CannedResponse")}}}, "By shortcut"), **_errors(401)}},
            "post": {"summary": "Add a canned response (admins)", "operationId": "addCannedResponse",
                     "security": _AUTH, "requestBody": canned_body,
                     "responses": {"201": one, **_errors(400, 401, 403, 409)}},
        },
        "/api/canned-responses/{canned_id}": {
            "put": {"summary": "Change a canned response (admins)", "operationId": "updateCannedResponse",
                    "security": _AUTH, "parameters": _CANNED_ID, "requestBody": canned_body,
                    "responses": {"200": one, **_errors(400, 401, 403, 404, 409)}},
            "delete": {"summary": "Delete a canned response (admins)", "operationId": "deleteCannedResponse",
                       "security": _AUTH, "parameters": _CANNED_ID,
                       "responses": {"204": {"description": "Deleted"}, **_errors(401, 403, 404)}},
        },
        "/api/transfer-targets": {"get": {
            "summary": "The other enabled agents (with their status) and the departments a chat can be "
                       "transferred to", "operationId": "transferTargets", "security": _AUTH,
            "responses": {"200": _json({"type": "object", "properties": {
                "agents": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"},
                    "status": {"type": "string", "enum": ["online", "away", "offline"]},
                    "departments": {"type": "array", "items": {"type": "string"}}}}},
                "departments": {"type": "array", "items": {"type": "string"}}}}, "Transfer targets"),
                **_errors(401)}}},
    }


_WRITE_METHODS = ("post", "put", "patch", "delete")
# The most bytes one character of a JSON string takes: a client that escapes all but ASCII
# (Python's json.dumps) writes one outside the BMP as "\uD83D\uDE00".
_BYTES_PER_CHAR = 12
# Room for a number (a float's repr is at most 24 characters) and for whitespace between tokens.
_NUMBER_BYTES = 32
_FORMATTING_BYTES = 16 * 1024


def _most_bytes(schema: dict[str, Any]) -> float:
    """The longest JSON text, without whitespace, of a value ``schema`` allows (every character
    escaped); infinite when it sets no bound."""
    if "enum" in schema:
        return max(len(json.dumps(value)) for value in schema["enum"])
    if "anyOf" in schema and "type" not in schema and "properties" not in schema:
        return max(_most_bytes(branch) for branch in schema["anyOf"])  # alternatives
    kinds = schema.get("type", "object" if "properties" in schema else None)
    sizes = []
    for kind in [kinds] if isinstance(kinds, str) else kinds or []:
        if kind == "string":
            sizes.append(2 + _BYTES_PER_CHAR * schema.get("maxLength", math.inf))
        elif kind in ("integer", "number"):
            sizes.append(_NUMBER_BYTES)
        elif kind in ("boolean", "null"):
            sizes.append(len("false"))
        elif kind == "array":
            items = _most_bytes(schema["items"]) if schema.get("maxItems") else 0
            sizes.append(2 + schema.get("maxItems", math.inf) * (items + 1))
        elif kind == "object" and schema.get("additionalProperties") is False:
            sizes.append(2 + sum(4 + _BYTES_PER_CHAR * len(name) + _most_bytes(value)
                                 for name, value in schema["properties"].items()))
        else:
            sizes.append(math.inf)
    return max(sizes, default=math.inf)


def _body_limit(operation: dict[str, Any]) -> int:
    """The largest body ``operation`` takes: MAX_JSON_BODY, or room for the longest its schema
    allows (with whitespace) when that is more, so that no body the document allows is refused
    as too large, however the client encodes it."""
    if "requestBody" not in operation:
        return MAX_JSON_BODY
    most = _most_bytes(operation["requestBody"]["content"]["application/json"]["schema"])
    return MAX_JSON_BODY if math.isinf(most) else max(MAX_JSON_BODY, int(most) + _FORMATTING_BYTES)


def _with_body_limit(paths: dict[str, Any]) -> dict[str, Any]:
    """Every write operation answers 413 ``payload_too_large`` for a body over its limit
    (declared or chunked), whether it takes a body or not: the error middleware refuses it
    first. The limit is stated on each request body. Every operation that takes a JSON body
    answers 415 ``unsupported_media_type`` for a body of another ``Content-Type`` (``json_body``)."""
    for operations in paths.values():
        for method in _WRITE_METHODS:
            if method in operations:
                operation = operations[method]
                operation["responses"].update(_errors(413))
                if "requestBody" in operation:
                    operation["responses"].update(_errors(415))
                    operation["requestBody"]["description"] = (
                        f"JSON of at most {_body_limit(operation)} bytes (413 payload_too_large beyond)")
    return paths


@cache
def body_limits(settings: Settings) -> dict[tuple[str, str], int]:
    """The body limit of each route whose fields may hold more text than MAX_JSON_BODY takes, by
    (method, path): what the served document states."""
    limits = {(method.upper(), path): _body_limit(operation)
              for path, operations in openapi_document(settings)["paths"].items()
              for method, operation in operations.items()}
    return {route: limit for route, limit in limits.items() if limit > MAX_JSON_BODY}


def _departments(known: tuple[str, ...]) -> dict[str, Any]:
    """An agent's departments: each one of the server's (none when it has none)."""
    if not known:
        return {"type": "array", "maxItems": 0, "description": "the server has no departments"}
    return {"type": "array", "maxItems": 20, "items": {"type": "string", "enum": list(known)}}


@cache
def openapi_document(settings: Settings) -> dict[str, Any]:
    """The document for a server with these settings (its departments and text limits)."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "chatserver", "version": "0.1.0",
                 "description": "REST API of the chat server. Real-time traffic uses Socket.IO: see docs/protocol.md."},
        "components": {
            "securitySchemes": {"agentToken": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": _ERROR, "Agent": _AGENT, "PreChat": _PRECHAT, "Conversation": _CONVERSATION,
                        "Message": _MESSAGE, "Queue": _QUEUE, "Note": _NOTE, "CannedResponse": _CANNED,
                        **RECORD_SCHEMAS, **KNOWLEDGE_SCHEMAS},
            "responses": {"Error": _json(_ref("Error"), "A structured error")},
        },
        "paths": _with_body_limit({
            "/": {"get": {"summary": "Service index", "operationId": "index",
                          "responses": {"200": _json({"type": "object"}, "Links to the API")}}},
            "/healthz": {"get": {"summary": "Liveness: the process is up", "operationId": "healthz",
                                 "responses": {"200": _json({"type": "object", "properties": {
                                     "status": {"const": "ok"}}}, "Alive")}}},
            "/readyz": {"get": {"summary": "Readiness: storage and routing state reachable", "operationId": "readyz",
                                "responses": {
                                    "200": _json({"type": "object"}, "Ready"),
                                    "503": _json({"type": "object"}, "Not ready, with the failing checks")}}},
            "/api/openapi.json": {"get": {"summary": "This document", "operationId": "openapi",
                                          "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")}}},
            "/api/auth/login": {"post": {
                "summary": "Agent login with email and password", "operationId": "login",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["email", "password"], "additionalProperties": False,
                    "properties": {"email": {"type": "string", "minLength": 3, "maxLength": 254},
                                   "password": {"type": "string", "minLength": 1, "maxLength": 256}}}}}},
                "responses": {"200": _json({"type": "object", "required": ["token", "expires_at", "agent"],
                                            "properties": {"token": {"type": "string"},
                                                           "expires_at": {"type": "number"},
                                                           "agent": _ref("Agent")}}, "Logged in"),
                              **_errors(400, 401, 429)}}},
            "/api/auth/logout": {"post": {
                "summary": "Revoke every token of the calling agent", "operationId": "logout", "security": _AUTH,
                "responses": {"204": {"description": "Logged out"}, **_errors(401)}}},
            "/api/me": {"get": {
                "summary": "The calling agent", "operationId": "me", "security": _AUTH,
                "responses": {"200": _json({"type": "object", "properties": {"agent": _ref("Agent")}}, "Agent"),
                              **_errors(401)}}},
            "/api/me/password": {"post": {
                "summary": "Change the calling agent's own password, giving the current one. Every token of the "
                           "agent is revoked (their other sessions end: session:ended); the answer carries a new "
                           "token for this one. A wrong current password is invalid_credentials and counts "
                           "towards the sign-in lockout (account_locked)",
                "operationId": "changePassword", "security": _AUTH,
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["current_password", "new_password"],
                    "additionalProperties": False,
                    "properties": {"current_password": {"type": "string", "minLength": 1, "maxLength": 256},
                                   "new_password": {"type": "string", "minLength": 8, "maxLength": 256}}}}}},
                "responses": {"200": _json({"type": "object", "required": ["token", "expires_at", "agent"],
                                            "properties": {"token": {"type": "string"},
                                                           "expires_at": {"type": "number"},
                                                           "agent": _ref("Agent")}}, "Changed"),
                              **_errors(400, 401, 429)}}},
            "/api/visitor/sessions": {"post": {
                "summary": "Issue a signed visitor token (first contact of a browser)",
                "operationId": "newVisitorSession",
                "responses": {"201": _json({"type": "object", "required": ["visitor_id", "token", "expires_at"],
                                            "properties": {"visitor_id": {"type": "string"},
                                                           "token": {"type": "string"},
                                                           "expires_at": {"type": "number"}}}, "Visitor token"),
                              **_errors(429)}}},
            "/api/agents": {
                "get": {"summary": "List agents (admins)", "operationId": "listAgents", "security": _AUTH,
                        "responses": {"200": _json({"type": "object", "properties": {
                            "agents": {"type": "array", "items": _ref("Agent")}}}, "Agents"),
                                      **_errors(401, 403)}},
                "post": {"summary": "Add an agent (admins)", "operationId": "addAgent", "security": _AUTH,
                         "requestBody": {"required": True, "content": {"application/json": {"schema": {
                             "type": "object", "required": ["name", "email", "password"],
                             "additionalProperties": False,
                             "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100,
                                                     "pattern": NOT_BLANK},
                                            "email": {"type": "string", "minLength": 3, "maxLength": 254,
                                                      "pattern": EMAIL},
                                            "password": {"type": "string", "minLength": 8, "maxLength": 256},
                                            "role": {"type": "string", "enum": ["admin", "agent"]},
                                            "capacity": {"type": ["integer", "null"], "minimum": 1,
                                                         "maximum": 100,
                                                         "description": "null or left out: default_capacity"},
                                            "departments": _departments(settings.departments)}}}}},
                         "responses": {"201": _json({"type": "object", "properties": {"agent": _ref("Agent")}},
                                                    "Created"), **_errors(400, 401, 403, 409)}},
            },
            "/api/agents/{agent_id}": {"patch": {
                "summary": "Disable or enable an agent, or change their capacity or departments (admins); in "
                           "force at once: a disabled agent's sockets are closed (session:ended) and their "
                           "chats go back to the queue", "operationId": "updateAgent", "security": _AUTH,
                "parameters": [{"name": "agent_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": False,
                    "description": "at least one of the fields not null; null keeps a field as it is",
                    "anyOf": [{"required": [name], "properties": {name: {"not": {"type": "null"}}}}
                              for name in ("disabled", "capacity", "departments")],
                    "properties": {"disabled": {"type": ["boolean", "null"]},
                                   "capacity": {"type": ["integer", "null"], "minimum": 1, "maximum": 100},
                                   "departments": {"anyOf": [_departments(settings.departments),
                                                             {"type": "null"}]}}}}}},
                "responses": {"200": _json({"type": "object", "properties": {"agent": _ref("Agent")}}, "Changed"),
                              **_errors(400, 401, 403, 404, 409)}}},
            "/api/agents/{agent_id}/password": {"put": {
                "summary": "Set another agent's password (admins): every session of that agent ends "
                           "(session:ended). Admins change their own with POST /api/me/password (409 here)",
                "operationId": "resetPassword", "security": _AUTH,
                "parameters": [{"name": "agent_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["password"], "additionalProperties": False,
                    "properties": {"password": {"type": "string", "minLength": 8, "maxLength": 256}}}}}},
                "responses": {"200": _json({"type": "object", "properties": {"agent": _ref("Agent")}}, "Changed"),
                              **_errors(400, 401, 403, 404, 409)}}},
            "/api/settings": {"get": {
                "summary": "The server's settings (admins): every value but the secrets', which only say "
                           "whether they are set", "operationId": "settings", "security": _AUTH,
                "responses": {"200": _json({"type": "object", "required": ["settings", "secrets"], "properties": {
                    "settings": {"type": "array", "items": {"type": "object", "required": ["name", "env", "value"],
                                                            "properties": {"name": {"type": "string"},
                                                                           "env": {"type": "string"},
                                                                           "value": {}}}},
                    "secrets": {"type": "array", "items": {"type": "object",
                                                           "required": ["name", "env", "configured"],
                                                           "properties": {"name": {"type": "string"},
                                                                          "env": {"type": "string"},
                                                                          "configured": {"type": "boolean"}}}}}},
                    "Settings"), **_errors(401, 403)}}},
            "/api/queue": {"get": {
                "summary": "The waiting queue, in the order it will be served", "operationId": "queue",
                "security": _AUTH, "parameters": [{**_LIMIT, "schema": {"type": "integer", "minimum": 1,
                                                                         "maximum": 200}}],
                "responses": {"200": _json(_ref("Queue"), "Queue"), **_errors(400, 401)}}},
            **_console_paths(settings.max_message_chars),
            **records_paths(),
            **offline_paths(),
            **knowledge_paths(settings.kb_max_body_chars),
        }),
    }
