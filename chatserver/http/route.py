"""A REST route declared once, beside its handler: what aiohttp registers and everything the
OpenAPI document says of it. Schemas are not written here: they are generated from the types
named (``body``: the struct the handler decodes with ``json_body``; the answers' shapes; the
query parameters' types), so the document and the code cannot disagree."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The key by which a field's schema names the setting that bounds it (``bounded_by``): the
# document replaces it with that setting's value for the server that serves it.
SETTING_KEY = "x-setting"


def bounded_by(setting: str) -> dict[str, str]:
    """``extra_json_schema`` of a field that a setting bounds, checked by the handler or the
    domain: a number setting is a string's maxLength (the smaller of it and the type's), a tuple
    of strings the values a string may take (an array of them is empty when the tuple is)."""
    return {SETTING_KEY: setting}


class Auth(enum.Enum):
    """Who may call a route: anyone, an agent (bearer token), anyone with more for agents, or the
    holder of the metrics token (setting ``metrics_token``)."""

    NONE = "none"
    AGENT = "agent"
    OPTIONAL = "optional"
    METRICS = "metrics"
    # A conversation's participant: its visitor's token (the widget's) or an agent's.
    PARTICIPANT = "participant"


@dataclass(frozen=True)
class Answer:
    """A documented success: its status, what it is, and its content by media type (a type
    msgspec renders as JSON Schema), none for an empty answer."""

    status: int
    description: str
    content: Mapping[str, Any] = field(default_factory=dict)


def json_answer(shape: Any, description: str, status: int = 200) -> Answer:
    return Answer(status, description, {"application/json": shape})


def empty_answer(description: str, status: int = 204) -> Answer:
    return Answer(status, description)


@dataclass(frozen=True)
class Query:
    """A query parameter and the type its values have (JSON Schema from msgspec)."""

    name: str
    type: Any
    description: str | None = None
    required: bool = False


@dataclass(frozen=True)
class RawBody:
    """A request body that is not JSON: bytes of ``media_type`` (any, the server decides what they
    are), which the handler reads itself as they arrive; the error middleware does not read it
    first. ``limit`` names the setting that bounds it in bytes, which the document states."""

    media_type: str
    description: str
    limit: str


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    _: KW_ONLY
    operation_id: str
    summary: str
    answers: tuple[Answer, ...]
    # The structured errors it may answer with (4xx); 413 and 415 are added for every write
    # route and JSON body (the middleware and ``json_body`` answer them for every route).
    errors: tuple[int, ...] = ()
    auth: Auth = Auth.AGENT
    # The type the handler decodes its JSON body into with ``json_body`` (a test checks it).
    body: Any = None
    # Or the bytes it streams itself (an upload): never both.
    raw_body: RawBody | None = None
    query: tuple[Query, ...] = ()
    description: str | None = None
