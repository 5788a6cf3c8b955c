"""The OpenAPI paths and schemas of the customer, conversation and report routes
(``customers.py``, ``conversations.py``), merged into ``openapi.openapi_document``."""

from __future__ import annotations

from typing import Any

from ..domain.customers import PHONE, TAG
from ..domain.patterns import EMAIL, NOT_BLANK
from .common import MAX_OFFSET

_NULLABLE_STRING = {"type": ["string", "null"]}
_STRINGS = {"type": "array", "items": {"type": "string"}}

CUSTOMER = {
    "type": "object",
    "required": ["id", "external_id", "identified", "name", "emails", "phone", "notes", "tags", "created_at",
                 "last_seen_at"],
    "properties": {
        "id": {"type": "string"},
        "external_id": {**_NULLABLE_STRING, "description": "the shop's own id; null for an anonymous visitor"},
        "identified": {"type": "boolean", "description": "whether a signed identity (or staff) set external_id"},
        "name": _NULLABLE_STRING,
        "emails": _STRINGS,
        "phone": _NULLABLE_STRING,
        "notes": _NULLABLE_STRING,
        "tags": _STRINGS,
        "created_at": {"type": "number"},
        "last_seen_at": {"type": "number"},
    },
}

_TEXT = {"type": ["string", "null"], "maxLength": 254}
_CUSTOMER_FIELDS = {
    "external_id": {**_TEXT, "maxLength": 128, "pattern": r"^[^\u0000-\u001f\u007f]*$"},
    "name": {**_TEXT, "maxLength": 100},
    "emails": {"type": "array", "maxItems": 10, "items": {"type": "string", "maxLength": 254, "pattern": EMAIL}},
    "phone": {**_TEXT, "maxLength": 32, "pattern": PHONE},
    "notes": {"type": ["string", "null"], "maxLength": 4000},
    "tags": {"type": "array", "maxItems": 20, "items": {"type": "string", "maxLength": 32, "pattern": TAG,
                                                        "description": "stored in lower case"}},
}
_CUSTOMER_DESCRIPTION = "Fields left out are unchanged (on update) or empty (on create); null clears one."
CUSTOMER_CHANGE = {"type": "object", "additionalProperties": False, "description": _CUSTOMER_DESCRIPTION,
                   "properties": _CUSTOMER_FIELDS}
# Something to know the customer by, once stripped: a name, an email, a phone number (it has a
# digit) or an external_id.
NEW_CUSTOMER = {**CUSTOMER_CHANGE, "description": f"{_CUSTOMER_DESCRIPTION} A new customer needs at least a "
                                                  "name, an email, a phone number or an external_id.",
                "anyOf": [{"required": [name], "properties": {name: {"type": "string", "pattern": pattern}}}
                          for name, pattern in (("name", NOT_BLANK), ("phone", "[0-9]"),
                                                ("external_id", NOT_BLANK))]
                + [{"required": ["emails"], "properties": {"emails": {"minItems": 1}}}]}

_NULLABLE_NUMBER = {"type": ["number", "null"]}

# One co-browse session on a conversation (presenters.cobrowse_history_view): never any page content.
COBROWSE_RECORD = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "conversation_id", "status", "control", "reason", "agent", "agent_id", "requested_at",
                 "started_at", "ended_at", "pages", "control_granted_at", "bytes_relayed", "watched"],
    "properties": {
        "id": {"type": "string"},
        "conversation_id": {"type": "string"},
        "status": {"type": "string", "enum": ["requested", "active", "paused", "declined", "ended"]},
        "control": {"type": "string", "enum": ["none", "requested", "granted", "declined", "revoked"]},
        "reason": {**_NULLABLE_STRING, "description": "why it paused, was declined or ended (docs/protocol.md), "
                                                      "e.g. stopped_by_visitor, page_too_large"},
        "agent": {"type": "object", "additionalProperties": False, "required": ["name"],
                  "properties": {"name": {"type": "string"}}},
        "agent_id": {"type": "string"},
        "requested_at": {"type": "number"},
        "started_at": {**_NULLABLE_NUMBER, "description": "when the shopper accepted"},
        "ended_at": _NULLABLE_NUMBER,
        "pages": {"type": "integer", "minimum": 0, "description": "pages shared after the first"},
        "control_granted_at": {**_NULLABLE_NUMBER, "description": "when the shopper last let the agent act"},
        "bytes_relayed": {"type": "integer", "minimum": 0},
        "watched": {"type": "array", "description": "each agent connection that watched, from when to when",
                    "items": {"type": "object", "additionalProperties": False,
                              "required": ["agent_id", "agent_name", "joined_at", "left_at", "seconds"],
                              "properties": {
                                  "agent_id": {"type": "string"}, "agent_name": {"type": "string"},
                                  "joined_at": {"type": "number"},
                                  "left_at": {**_NULLABLE_NUMBER, "description": "null while still watching"},
                                  "seconds": {**_NULLABLE_NUMBER, "description": "null while still watching"}}}},
    },
}

RECORD_SCHEMAS: dict[str, Any] = {
    "Customer": CUSTOMER,
    "CobrowseRecord": COBROWSE_RECORD,
    "ConversationRecord": {"allOf": [
        {"$ref": "#/components/schemas/Conversation"},
        {"type": "object", "required": ["customer_id", "tags"], "properties": {
            "customer_id": _NULLABLE_STRING, "tags": _STRINGS}},
    ]},
    "Transcript": {
        "type": "object",
        "required": ["conversation", "messages", "assignments", "rating"],
        "properties": {
            "conversation": {"$ref": "#/components/schemas/ConversationRecord"},
            "messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
            "assignments": {"type": "array", "items": {"type": "object", "properties": {
                "agent_id": _NULLABLE_STRING, "event": {"type": "string"}, "reason": _NULLABLE_STRING,
                "at": {"type": "number"}}}},
            "rating": {"type": ["object", "null"], "properties": {
                "rating": {"type": "integer", "minimum": 1, "maximum": 5},
                "comment": _NULLABLE_STRING, "created_at": {"type": "number"}}},
            "notes": {"type": "array", "items": {"$ref": "#/components/schemas/Note"},
                      "description": "internal notes (agents only)"},
            "tags": {**_STRINGS, "description": "the agent's wrap-up tags"},
            "resolution_note": _NULLABLE_STRING,
            "cobrowse": {"type": "array", "items": {"$ref": "#/components/schemas/CobrowseRecord"},
                         "description": "the conversation's co-browse sessions, oldest first (agents only)"},
        },
    },
}


def _id(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}]


def _paging(maximum: int) -> list[dict[str, Any]]:
    return [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": maximum}},
            {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                                "maximum": MAX_OFFSET}}]


# RFC 3339; a date-time without an offset (2026-11-23T10:00:00) is taken as UTC.
_DATE_OR_TIME = {"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]}
_DATES = [
    {"name": "from", "in": "query", "description": "RFC 3339 date or date-time (UTC unless an offset is given), "
                                                  "inclusive; before to", "schema": _DATE_OR_TIME},
    {"name": "to", "in": "query", "description": "RFC 3339 date (that whole day included) or date-time, "
                                                "exclusive", "schema": _DATE_OR_TIME},
]


def records_paths() -> dict[str, Any]:
    """The OpenAPI paths of ``CUSTOMER_ROUTES`` and ``CONVERSATION_ROUTES``."""
    from .openapi import _AUTH, _errors, _json, _ref  # the document's helpers; imported late (it imports us)

    one = _json({"type": "object", "required": ["customer"], "properties": {"customer": _ref("Customer")}},
                "Customer")
    conversations = _json({"type": "object", "required": ["conversations", "total"], "properties": {
        "conversations": {"type": "array", "items": _ref("ConversationRecord")}, "total": {"type": "integer"}}},
        "Conversations, newest first, and how many match in all")
    new_customer = {"required": True, "content": {"application/json": {"schema": NEW_CUSTOMER}}}
    customer_change = {"required": True, "content": {"application/json": {"schema": CUSTOMER_CHANGE}}}
    average = {"type": ["number", "null"]}
    return {
        "/api/customers": {
            "get": {"summary": "Search the contact directory by name, email, phone, order number or external id",
                    "operationId": "listCustomers", "security": _AUTH,
                    "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}, *_paging(200)],
                    "responses": {"200": _json({"type": "object", "required": ["customers", "total"], "properties": {
                        "customers": {"type": "array", "items": _ref("Customer")}, "total": {"type": "integer"}}},
                        "Customers, most recently seen first"), **_errors(400, 401)}},
            "post": {"summary": "Add a customer record (external_id: admins only)", "operationId": "createCustomer",
                     "security": _AUTH, "requestBody": new_customer,
                     "responses": {"201": one, **_errors(400, 401, 403, 409)}},
        },
        "/api/customers/{customer_id}": {
            "get": {"summary": "A customer record", "operationId": "getCustomer", "security": _AUTH,
                    "parameters": _id("customer_id"), "responses": {"200": one, **_errors(401, 404)}},
            "patch": {"summary": "Change a customer record (external_id: admins only)",
                      "operationId": "updateCustomer", "security": _AUTH,
                      "parameters": _id("customer_id"), "requestBody": customer_change,
                      "responses": {"200": one, **_errors(400, 401, 403, 404, 409)}},
            "delete": {"summary": "Delete a customer and everything held about it, messages included (admins)",
                       "description": "A customer with a queued or assigned chat is 409 conflict, unless "
                                      "force=true: then those chats are closed first (both sides are told).",
                       "operationId": "deleteCustomer", "security": _AUTH,
                       "parameters": [*_id("customer_id"), {"name": "force", "in": "query", "schema": {
                           "type": "string", "enum": ["true", "false"]}}],
                       "responses": {"204": {"description": "Deleted"}, **_errors(400, 401, 403, 404, 409)}},
        },
        "/api/customers/{customer_id}/conversations": {"get": {
            "summary": "A customer's conversations (agents: of customers they served)",
            "operationId": "customerConversations", "security": _AUTH,
            "parameters": [*_id("customer_id"), *_paging(500)],
            "responses": {"200": conversations, **_errors(400, 401, 403, 404)}}},
        "/api/customers/{customer_id}/export": {"get": {
            "summary": "Everything held about a customer, as JSON (admins)", "operationId": "exportCustomer",
            "security": _AUTH, "parameters": _id("customer_id"),
            "responses": {"200": _json({"type": "object", "required": ["customer", "visitor_ids", "conversations",
                                                                        "related"], "properties": {
                "customer": _ref("Customer"), "visitor_ids": _STRINGS,
                "conversations": {"type": "array", "items": {"type": "object"}},
                "related": {"type": "object", "description": "rows other features keep about these "
                                                             "conversations and visitors, by table"}}},
                "Export"), **_errors(401, 403, 404)}}},
        "/api/conversations": {"get": {
            "summary": "List conversations (agents: their own, or a served customer's; admins: all)",
            "operationId": "listConversations", "security": _AUTH,
            "parameters": [
                {"name": "status", "in": "query", "schema": {"type": "string",
                                                             "enum": ["queued", "assigned", "closed"]}},
                *({"name": name, "in": "query", "schema": {"type": "string", "maxLength": 64}}
                  for name in ("agent_id", "department", "customer_id", "tag")),
                *_DATES, *_paging(500),
            ],
            "responses": {"200": conversations, **_errors(400, 401, 403, 404)}}},
        "/api/conversations/{conversation_id}": {"get": {
            "summary": "A conversation's transcript: messages, pre-chat fields, assignment history, rating",
            "operationId": "getConversation", "security": _AUTH, "parameters": _id("conversation_id"),
            "responses": {"200": _json(_ref("Transcript"), "Transcript"), **_errors(401, 403, 404)}}},
        "/api/conversations/{conversation_id}/transcript": {"get": {
            "summary": "Download a transcript as JSON, plain text or HTML", "operationId": "exportTranscript",
            "security": _AUTH, "parameters": [*_id("conversation_id"), {
                "name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "text", "html"]}}],
            "responses": {"200": {"description": "The transcript", "content": {
                "application/json": {"schema": _ref("Transcript")},
                "text/plain": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}}}}, **_errors(400, 401, 403, 404)}}},
        "/api/conversations/{conversation_id}/close": {"post": {
            "summary": "Close any chat, whoever holds it (admins): the system closes it, both sides are told",
            "operationId": "closeConversation", "security": _AUTH, "parameters": _id("conversation_id"),
            "responses": {"200": _json({"type": "object", "required": ["conversation"], "properties": {
                "conversation": _ref("ConversationRecord")}}, "The closed conversation (unchanged if it "
                                                               "was closed already)"),
                **_errors(401, 403, 404)}}},
        "/api/reports/ratings": {"get": {
            "summary": "Visitors' ratings: average overall, per agent and per day (business_timezone) (admins)",
            "operationId": "ratingsReport", "security": _AUTH, "parameters": _DATES,
            "responses": {"200": _json({"type": "object", "required": ["count", "average", "per_agent", "per_day"],
                                        "properties": {
                "count": {"type": "integer"}, "average": average,
                "per_agent": {"type": "array", "items": {"type": "object", "properties": {
                    "agent_id": _NULLABLE_STRING, "agent_name": _NULLABLE_STRING, "count": {"type": "integer"},
                    "average": {"type": "number"}}}},
                "per_day": {"type": "array", "items": {"type": "object", "properties": {
                    "day": {"type": "string", "format": "date"}, "count": {"type": "integer"},
                    "average": {"type": "number"}}}}}}, "Report"), **_errors(400, 401, 403)}}},
    }
