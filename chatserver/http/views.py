"""REST routes (documented in ``openapi.py``, served at ``/api/openapi.json``)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

import msgspec
from aiohttp import web

from ..config import Settings, public_settings
from ..domain.agents import (
    AgentChange,
    check_departments,
    create_agent,
    do_reset_password,
    do_update_agent,
    issue_agent_token,
)
from ..domain.lockout import LockoutPolicy, authenticate_with_lockout, do_change_own_password
from ..domain.models import Agent, Role
from ..errors import ChatError, NotFound, RateLimited
from ..first_admin import forget_first_admin_password
from ..logs import exception_summary, field
from ..transport.origins import shop_origin_allowed
from . import keys as K
from .common import body_limit, client_key, current_agent, int_query, json_body, read_body, require_admin
from .console import CONSOLE_ROUTES
from .conversations import CONVERSATION_ROUTES
from .customers import CUSTOMER_ROUTES
from .knowledge import CORS_PATHS as KB_CORS_PATHS
from .knowledge import CORS_PREFIXES as KB_CORS_PREFIXES
from .knowledge import KNOWLEDGE_ROUTES
from .openapi import openapi_document
from .tickets import TICKET_ROUTES

log = logging.getLogger("chatserver.http")


class LoginBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class NewAgentBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
    password: Annotated[str, msgspec.Meta(min_length=8, max_length=256)]
    role: Literal["admin", "agent"] = "agent"
    capacity: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None
    departments: Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=64)]],
                           msgspec.Meta(max_length=20)] = []


class AgentChangeBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    disabled: bool | None = None
    capacity: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None
    departments: Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=64)]],
                           msgspec.Meta(max_length=20)] | None = None


class PasswordChangeBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    new_password: Annotated[str, msgspec.Meta(min_length=8, max_length=256)]


class PasswordResetBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    password: Annotated[str, msgspec.Meta(min_length=8, max_length=256)]


def _lockout_policy(settings: Settings) -> LockoutPolicy:
    return LockoutPolicy(failures=settings.login_lockout_failures, lock_seconds=settings.login_lockout_seconds,
                         global_failures=settings.login_lockout_global_failures,
                         global_lock_seconds=settings.login_lockout_global_seconds)


# -- health -----------------------------------------------------------------------------------

async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    for name, ping in (("database", request.app[K.CONVERSATIONS].ping), ("routing", request.app[K.READINESS])):
        try:
            await ping()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return web.json_response({"status": "ready" if ready else "not_ready", "checks": checks},
                             status=200 if ready else 503)


async def index(request: web.Request) -> web.Response:
    return web.json_response({
        "name": "chatserver",
        "health": "/healthz",
        "ready": "/readyz",
        "openapi": "/api/openapi.json",
        "socketio": {"path": SOCKET_IO_PATH, "namespaces": ["/visitor", "/agent"]},
    })


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app[K.SETTINGS]))


# -- auth -------------------------------------------------------------------------------------

async def login(request: web.Request) -> web.Response:
    if not request.app[K.LOGIN_LIMITER].take(client_key(request)):
        raise RateLimited("too many login attempts; wait a minute")
    body = await json_body(request, LoginBody)
    settings = request.app[K.SETTINGS]
    agent = await authenticate_with_lockout(
        request.app[K.AGENTS], request.app[K.CONSOLE], body.email, body.password, client_key(request),
        request.app[K.CLOCK].now(), _lockout_policy(settings))
    token, expires_at = issue_agent_token(request.app[K.SIGNER], agent, request.app[K.CLOCK].now(),
                                          settings.agent_token_ttl)
    log.info("agent logged in agent=%s", agent.id)
    return web.json_response({"token": token, "expires_at": expires_at, "agent": agent.public()})


async def logout(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    await request.app[K.AGENTS].bump_token_version(agent.id)
    # Every token of the agent is revoked: their open sockets (other tabs, other devices, any
    # process) are told and closed too.
    await request.app[K.HUB].sessions.agent_changed(agent.id)
    log.info("agent logged out agent=%s", agent.id)
    return web.Response(status=204)


async def me(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    return web.json_response({"agent": agent.public()})


async def _password_changed(request: web.Request, agent: Agent, by: Agent) -> None:
    """Every token of the agent is revoked: their open sockets (other tabs, other devices, any
    process) are told and closed; the first admin's credentials file goes once its password is
    no longer the one it holds."""
    await request.app[K.HUB].sessions.agent_changed(agent.id)
    forget_first_admin_password(request.app[K.SETTINGS].data_dir, agent.email)
    log.info("agent password changed agent=%s by=%s", agent.id, by.id)


async def change_password(request: web.Request) -> web.Response:
    """The calling agent changes their own password, giving the current one; every other session
    of theirs ends, and this one carries on with the new token in the answer."""
    agent = await current_agent(request)
    body = await json_body(request, PasswordChangeBody)
    settings, clock = request.app[K.SETTINGS], request.app[K.CLOCK]
    changed = await do_change_own_password(
        request.app[K.AGENTS], request.app[K.CONSOLE], agent, body.current_password, body.new_password,
        client_key(request), clock.now(), _lockout_policy(settings))
    await _password_changed(request, changed, by=changed)
    token, expires_at = issue_agent_token(request.app[K.SIGNER], changed, clock.now(), settings.agent_token_ttl)
    return web.json_response({"token": token, "expires_at": expires_at, "agent": changed.public()})


async def new_visitor_session(request: web.Request) -> web.Response:
    if not request.app[K.VISITOR_LIMITER].take(client_key(request)):
        raise RateLimited("too many new visitor sessions from this address")
    settings = request.app[K.SETTINGS]
    visitor_id = uuid.uuid4().hex
    expires_at = request.app[K.CLOCK].now() + settings.visitor_token_ttl
    token = request.app[K.SIGNER].issue("visitor", visitor_id, expires_at)
    return web.json_response({"visitor_id": visitor_id, "token": token, "expires_at": expires_at}, status=201)


# -- agents -----------------------------------------------------------------------------------

async def list_agents(request: web.Request) -> web.Response:
    await require_admin(request)
    agents = await request.app[K.AGENTS].list_agents()
    presence = request.app[K.SERVICE].presence
    return web.json_response({"agents": [
        {**a.public(), "status": str(await presence.status(a.id))} for a in agents
    ]})


async def add_agent(request: web.Request) -> web.Response:
    await require_admin(request)
    body = await json_body(request, NewAgentBody)
    settings = request.app[K.SETTINGS]
    check_departments(tuple(body.departments), settings.departments)
    agent = await create_agent(
        request.app[K.AGENTS], name=body.name, email=body.email, password=body.password, role=Role(body.role),
        capacity=body.capacity or settings.default_capacity, now=request.app[K.CLOCK].now(),
        new_id=lambda: uuid.uuid4().hex, departments=tuple(dict.fromkeys(body.departments)),
    )
    return web.json_response({"agent": agent.public()}, status=201)


async def update_agent(request: web.Request) -> web.Response:
    """Disable or enable an agent, or change their capacity or departments: in force at once in
    every process (routing's copy, the agent's open sockets)."""
    admin = await require_admin(request)
    agent_id = request.match_info["agent_id"]
    if not 1 <= len(agent_id) <= 64:
        raise NotFound("no such agent")
    body = await json_body(request, AgentChangeBody)
    change = AgentChange(disabled=body.disabled, capacity=body.capacity,
                         departments=None if body.departments is None else tuple(body.departments))
    before, after = await do_update_agent(request.app[K.AGENTS], agent_id, change, by=admin,
                                          known_departments=request.app[K.SETTINGS].departments)
    service = request.app[K.SERVICE]
    if after.disabled and not before.disabled:
        await service.withdraw_agent(after.id)
    await request.app[K.HUB].sessions.agent_changed(after.id)
    service.spawn(service.dispatch())  # more capacity, or other departments, may take a waiting chat now
    log.info("agent changed agent=%s by=%s", after.id, admin.id)
    return web.json_response({"agent": {**after.public(), "status": str(await service.presence.status(after.id))}})


async def reset_password(request: web.Request) -> web.Response:
    """An admin sets another agent's password: every session of that agent ends."""
    admin = await require_admin(request)
    agent_id = request.match_info["agent_id"]
    if not 1 <= len(agent_id) <= 64:
        raise NotFound("no such agent")
    body = await json_body(request, PasswordResetBody)
    changed = await do_reset_password(request.app[K.AGENTS], agent_id, body.password, by=admin)
    await _password_changed(request, changed, by=admin)
    status = await request.app[K.SERVICE].presence.status(changed.id)
    return web.json_response({"agent": {**changed.public(), "status": str(status)}})


async def settings_view(request: web.Request) -> web.Response:
    """The server's settings for admins to read; secrets only say whether they are set."""
    await require_admin(request)
    return web.json_response(public_settings(request.app[K.SETTINGS]))


# -- queue and conversations ------------------------------------------------------------------

async def queue(request: web.Request) -> web.Response:
    await current_agent(request)
    limit = int_query(request, "limit", 50, 1, 200)
    return web.json_response(await request.app[K.HUB].queue.snapshot(limit))


# -- cross-origin ---------------------------------------------------------------------------

# Routes a shop's pages call from their own origin (the widget's first contact, the help step).
CORS_PATHS = frozenset({"/api/visitor/sessions"}) | KB_CORS_PATHS
CORS_PREFIXES = KB_CORS_PREFIXES


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Socket.IO's endpoint. Its WebSocket requests last as long as the connection: a middleware that
# awaited the handler would keep its frame, and what the frame holds, for all that time, for
# every connection. So the middlewares are plain functions that hand such requests on (the
# handler's coroutine is awaited by aiohttp itself) and wrap only the others.
SOCKET_IO_PATH = "/socket.io/"


@web.middleware
def cors_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """Let the configured shop origins (``allowed_origins``) call the visitor routes; every other
    route stays same-origin (agents' routes carry a bearer token and are never shared)."""
    if request.path not in CORS_PATHS and not request.path.startswith(CORS_PREFIXES):
        return handler(request)
    return _with_cors(request, handler)


async def _with_cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    headers: dict[str, str] = {}
    if origin and shop_origin_allowed(origin, request.app[K.SETTINGS].allowed_origins):
        headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                   "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                   "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "600"}
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
        if request.method in _WRITE_METHODS and request.body_exists:
            # Read no more than the route takes (the app's client_max_size is the largest route's),
            # before the handler: nothing is done for an oversized request.
            request = request.clone(client_max_size=body_limit(request))
            await read_body(request)
        return await handler(request)
    except ChatError as exc:
        return web.json_response(exc.to_payload(), status=exc.http_status)
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


ROUTES: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
    ("GET", "/", index),
    ("GET", "/healthz", healthz),
    ("GET", "/readyz", readyz),
    ("GET", "/api/openapi.json", openapi),
    ("POST", "/api/auth/login", login),
    ("POST", "/api/auth/logout", logout),
    ("GET", "/api/me", me),
    ("POST", "/api/me/password", change_password),
    ("POST", "/api/visitor/sessions", new_visitor_session),
    ("GET", "/api/agents", list_agents),
    ("POST", "/api/agents", add_agent),
    ("PATCH", "/api/agents/{agent_id}", update_agent),
    ("PUT", "/api/agents/{agent_id}/password", reset_password),
    ("GET", "/api/settings", settings_view),
    ("GET", "/api/queue", queue),
    *CONVERSATION_ROUTES,
    *CUSTOMER_ROUTES,
    *CONSOLE_ROUTES,
    *TICKET_ROUTES,
    *KNOWLEDGE_ROUTES,
]


def add_routes(app: web.Application) -> None:
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)


