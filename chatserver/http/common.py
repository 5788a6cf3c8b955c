"""Helpers every REST view shares: the caller's agent, role checks, typed bodies and query values."""

from __future__ import annotations

import re
from typing import Annotated, TypeVar

import msgspec
from aiohttp import web

from ..domain.models import Agent, Role
from ..errors import AuthRequired, Forbidden, InvalidPayload, PayloadTooLarge, UnsupportedMediaType
from ..transport.addresses import client_address, limit_key
from .route import Query
from .services import services

# The largest request body, unless a route's fields hold more text (``HttpServices.body_limits``, from the
# OpenAPI document): a larger one is 413 ``payload_too_large``, whether it declares its
# Content-Length or is sent chunked.
MAX_JSON_BODY = 64 * 1024
# The one media type of request bodies (charset aside).
JSON_MEDIA_TYPE = "application/json"
# Socket.IO's endpoint (served by the transport; the REST middlewares leave it alone).
SOCKET_IO_PATH = "/socket.io/"
# The largest ``offset`` of a paged list (the OpenAPI document states it).
MAX_OFFSET = 10**9
# A query integer: ASCII digits, optionally signed, no more than fit any bound checked.
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
T = TypeVar("T")


def body_limit(request: web.Request) -> int:
    """The largest body the request's route takes."""
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else ""
    return services(request).body_limits.get((request.method, path), MAX_JSON_BODY)


async def read_body(request: web.Request) -> bytes:
    """The request body (read once; aiohttp keeps it for the handler); ``PayloadTooLarge`` when
    it is over the route's ``body_limit``, declared or chunked, before any of it is used."""
    limit = body_limit(request)
    too_large = PayloadTooLarge(f"the body is larger than {limit} bytes", details={"max_bytes": limit})
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    try:
        raw = await request.read()  # stops at client_max_size: a chunked body cannot grow past it
    except web.HTTPRequestEntityTooLarge:
        raise too_large from None
    if len(raw) > limit:
        raise too_large
    return raw


def _json_number(literal: str) -> int | float:
    """A JSON number with a fraction or exponent: an int when its value is whole. JSON has one
    number type (3.0 is the integer 3, as JSON Schema's ``integer`` says), while msgspec refuses a
    float literal for an ``int`` field."""
    value = float(literal)
    return int(value) if value.is_integer() else value


_JSON = msgspec.json.Decoder(float_hook=_json_number)


async def json_body(request: web.Request, body_type: type[T]) -> T:
    """The request body parsed into ``body_type``; ``PayloadTooLarge`` for one over the limit,
    ``UnsupportedMediaType`` for one not declared ``application/json`` (a browser sends a page's
    cross-site ``text/plain`` or form body without asking first: no route reads one),
    ``InvalidPayload`` for anything else, a missing body included."""
    raw = await read_body(request)
    if not raw:
        raise InvalidPayload("send the fields as a JSON object")
    if request.content_type != JSON_MEDIA_TYPE:
        raise UnsupportedMediaType(f"send the body as {JSON_MEDIA_TYPE}")
    try:
        return msgspec.convert(_JSON.decode(raw), type=body_type)
    except msgspec.ValidationError as exc:
        raise InvalidPayload(str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise InvalidPayload("body is not valid JSON") from exc
    except RecursionError:
        raise InvalidPayload("body is nested too deeply") from None


def accepts_gzip(request: web.Request) -> bool:
    """Whether ``request``'s Accept-Encoding admits gzip (by name or ``*``, at a weight above 0)."""
    weights: dict[str, float] = {}
    for item in request.headers.get("Accept-Encoding", "").lower().split(","):
        coding, _, params = item.partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[coding.strip()] = weight
    return weights.get("gzip", weights.get("*", 0.0)) > 0


def compressed_when_accepted(request: web.Request, response: web.Response) -> web.Response:
    """``response`` gzipped for a client that accepts it. Only for a page that is the same for
    every caller (no token, no session, nothing of the caller's): a body that holds a secret next
    to text an attacker chose leaks the secret through its compressed length (BREACH)."""
    response.headers["Vary"] = "Accept-Encoding"
    if accepts_gzip(request):
        response.enable_compression(web.ContentCoding.gzip)
    return response


def client_key(request: web.Request) -> str:
    """What per-address limits count ``request`` under: its client's address as the trusted
    proxies name it (``transport/addresses.py``), an IPv6 client's /64."""
    return limit_key(client_address(request.remote, request.headers, services(request).trusted_proxies))


async def current_agent(request: web.Request) -> Agent:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise AuthRequired("send Authorization: Bearer <agent token>")
    return await services(request).auth.verify_agent_token(header[len("Bearer "):].strip())


async def require_admin(request: web.Request) -> Agent:
    agent = await current_agent(request)
    if agent.role != Role.ADMIN:
        raise Forbidden("admins only")
    return agent


def bool_query(request: web.Request, name: str) -> bool:
    """``true``/``false`` (or absent: false); anything else is ``invalid_payload``."""
    raw = request.query.get(name, "false")
    if raw not in ("true", "false"):
        raise InvalidPayload(f"{name} must be true or false")
    return raw == "true"


def int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    values = request.query.getall(name, [])
    if not values:
        return default
    if len(values) > 1:
        raise InvalidPayload(f"give {name} once")
    raw = values[0]
    # Not int() alone: it also takes " 5", "1_000" and digits of other scripts.
    if not _INTEGER.fullmatch(raw):
        raise InvalidPayload(f"{name} must be an integer between {low} and {high}")
    value = int(raw)
    if not low <= value <= high:
        raise InvalidPayload(f"{name} must be between {low} and {high}")
    return value


def paging(most: int) -> tuple[Query, Query]:
    """The ``limit`` (1 to ``most``) and ``offset`` query parameters of a paged list, as the
    document states them; read with ``int_query``."""
    return (Query("limit", Annotated[int, msgspec.Meta(ge=1, le=most)]),
            Query("offset", Annotated[int, msgspec.Meta(ge=0, le=MAX_OFFSET)]))
