"""REST routes of agents: sign-in, a visitor's first token, the team (admins), the settings
(admins) and the queue."""

from __future__ import annotations

import logging
import uuid
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
from ..domain.patterns import EMAIL, NOT_BLANK, checked
from ..errors import NotFound, RateLimited
from ..first_admin import forget_first_admin_password
from ..wire.shapes import AgentAnswer, Agents, Queue, ServerSettings, SignedIn, VisitorSession
from ..wire.views import agent_view
from .common import client_key, current_agent, int_query, json_body, require_admin
from .route import Auth, Query, Route, bounded_by, empty_answer, json_answer
from .services import services

log = logging.getLogger("chatserver.http")


Password = Annotated[str, msgspec.Meta(min_length=8, max_length=256)]
Department = Annotated[str, msgspec.Meta(min_length=1, max_length=64, extra_json_schema=bounded_by("departments"))]
Departments = Annotated[list[Department], msgspec.Meta(max_length=20)]
Capacity = Annotated[int, msgspec.Meta(ge=1, le=100)]


class LoginBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class NewAgentBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, extra_json_schema=checked(pattern=NOT_BLANK))]
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254, extra_json_schema=checked(pattern=EMAIL))]
    password: Password
    role: Literal["admin", "agent"] = "agent"
    capacity: Annotated[Capacity | None, msgspec.Meta(description="null or left out: default_capacity")] = None
    departments: Departments = []


class AgentChangeBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    disabled: bool | None = None
    capacity: Capacity | None = None
    departments: Departments | None = None


# The change names something: at least one field is not null (the domain refuses an empty one).
AgentChangeRequest = Annotated[AgentChangeBody, msgspec.Meta(
    description="at least one of the fields not null; null keeps a field as it is",
    extra_json_schema=checked(anyOf=[{"required": [name], "properties": {name: {"not": {"type": "null"}}}}
                                     for name in ("disabled", "capacity", "departments")]))]


class PasswordChangeBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    new_password: Password


class PasswordResetBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    password: Password


def _lockout_policy(settings: Settings) -> LockoutPolicy:
    return LockoutPolicy(failures=settings.login_lockout_failures, lock_seconds=settings.login_lockout_seconds,
                         global_failures=settings.login_lockout_global_failures,
                         global_lock_seconds=settings.login_lockout_global_seconds)


# -- auth -------------------------------------------------------------------------------------

async def login(request: web.Request) -> web.Response:
    if not services(request).login_limiter.take(client_key(request)):
        raise RateLimited("too many login attempts; wait a minute")
    body = await json_body(request, LoginBody)
    settings = services(request).settings
    agent = await authenticate_with_lockout(
        services(request).agents, services(request).passwords, services(request).console, body.email, body.password,
        client_key(request), services(request).clock.now(), _lockout_policy(settings))
    token, expires_at = issue_agent_token(services(request).signer, agent, services(request).clock.now(),
                                          settings.agent_token_ttl)
    log.info("agent logged in agent=%s", agent.id)
    return web.json_response({"token": token, "expires_at": expires_at, "agent": agent_view(agent)})


async def logout(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    await services(request).agents.bump_token_version(agent.id)
    # Every token of the agent is revoked: their open sockets (other tabs, other devices, any
    # process) are told and closed too.
    await services(request).sessions.agent_changed(agent.id)
    log.info("agent logged out agent=%s", agent.id)
    return web.Response(status=204)


async def me(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    return web.json_response({"agent": agent_view(agent)})


async def _password_changed(request: web.Request, agent: Agent, by: Agent) -> None:
    """Every token of the agent is revoked: their open sockets (other tabs, other devices, any
    process) are told and closed; the first admin's credentials file goes once its password is
    no longer the one it holds."""
    await services(request).sessions.agent_changed(agent.id)
    forget_first_admin_password(services(request).settings.data_dir, agent.email)
    log.info("agent password changed agent=%s by=%s", agent.id, by.id)


async def change_password(request: web.Request) -> web.Response:
    """The calling agent changes their own password, giving the current one; every other session
    of theirs ends, and this one carries on with the new token in the answer."""
    agent = await current_agent(request)
    body = await json_body(request, PasswordChangeBody)
    settings, clock = services(request).settings, services(request).clock
    changed = await do_change_own_password(
        services(request).agents, services(request).passwords, services(request).console, agent, body.current_password,
        body.new_password, client_key(request), clock.now(), _lockout_policy(settings))
    await _password_changed(request, changed, by=changed)
    token, expires_at = issue_agent_token(services(request).signer, changed, clock.now(), settings.agent_token_ttl)
    return web.json_response({"token": token, "expires_at": expires_at, "agent": agent_view(changed)})


async def new_visitor_session(request: web.Request) -> web.Response:
    if not services(request).visitor_limiter.take(client_key(request)):
        raise RateLimited("too many new visitor sessions from this address")
    settings = services(request).settings
    visitor_id = uuid.uuid4().hex
    expires_at = services(request).clock.now() + settings.visitor_token_ttl
    token = services(request).signer.issue("visitor", visitor_id, expires_at)
    return web.json_response({"visitor_id": visitor_id, "token": token, "expires_at": expires_at}, status=201)


# -- agents -----------------------------------------------------------------------------------

async def list_agents(request: web.Request) -> web.Response:
    await require_admin(request)
    agents = await services(request).agents.list_agents()
    presence = services(request).presence
    return web.json_response({"agents": [
        {**agent_view(a), "status": str(await presence.status(a.id))} for a in agents
    ]})


async def add_agent(request: web.Request) -> web.Response:
    await require_admin(request)
    body = await json_body(request, NewAgentBody)
    settings = services(request).settings
    check_departments(tuple(body.departments), settings.departments)
    agent = await create_agent(
        services(request).agents, services(request).passwords, name=body.name, email=body.email, password=body.password,
        role=Role(body.role), capacity=body.capacity or settings.default_capacity, now=services(request).clock.now(),
        new_id=lambda: uuid.uuid4().hex, departments=tuple(dict.fromkeys(body.departments)),
    )
    return web.json_response({"agent": agent_view(agent)}, status=201)


async def update_agent(request: web.Request) -> web.Response:
    """Disable or enable an agent, or change their capacity or departments: in force at once in
    every process (routing's copy, the agent's open sockets)."""
    admin = await require_admin(request)
    agent_id = request.match_info["agent_id"]
    if not 1 <= len(agent_id) <= 64:
        raise NotFound("no such agent")
    body = await json_body(request, AgentChangeRequest)
    change = AgentChange(disabled=body.disabled, capacity=body.capacity,
                         departments=None if body.departments is None else tuple(body.departments))
    before, after = await do_update_agent(services(request).agents, agent_id, change, by=admin,
                                          known_departments=services(request).settings.departments)
    if after.disabled and not before.disabled:
        await services(request).presence_changes.withdraw_agent(after.id)
    await services(request).sessions.agent_changed(after.id)
    services(request).dispatcher.dispatch_soon()  # more capacity, or other departments, may take a waiting chat now
    log.info("agent changed agent=%s by=%s", after.id, admin.id)
    status = await services(request).presence.status(after.id)
    return web.json_response({"agent": {**agent_view(after), "status": str(status)}})


async def reset_password(request: web.Request) -> web.Response:
    """An admin sets another agent's password: every session of that agent ends."""
    admin = await require_admin(request)
    agent_id = request.match_info["agent_id"]
    if not 1 <= len(agent_id) <= 64:
        raise NotFound("no such agent")
    body = await json_body(request, PasswordResetBody)
    changed = await do_reset_password(services(request).agents, services(request).passwords, agent_id, body.password,
                                      by=admin)
    await _password_changed(request, changed, by=admin)
    status = await services(request).presence.status(changed.id)
    return web.json_response({"agent": {**agent_view(changed), "status": str(status)}})


async def settings_view(request: web.Request) -> web.Response:
    """The server's settings for admins to read; secrets only say whether they are set."""
    await require_admin(request)
    return web.json_response(public_settings(services(request).settings))


# -- queue and conversations ------------------------------------------------------------------

async def queue(request: web.Request) -> web.Response:
    await current_agent(request)
    limit = int_query(request, "limit", 50, 1, 200)
    return web.json_response(await services(request).queue.snapshot(limit))


_FOR_ADMINS = (401, 403)
AGENT_ROUTES = [
    Route("POST", "/api/auth/login", login, operation_id="login", auth=Auth.NONE,
          summary="Agent login with email and password", body=LoginBody,
          answers=(json_answer(SignedIn, "Logged in"),), errors=(400, 401, 429)),
    Route("POST", "/api/auth/logout", logout, operation_id="logout",
          summary="Revoke every token of the calling agent", answers=(empty_answer("Logged out"),), errors=(401,)),
    Route("GET", "/api/me", me, operation_id="me", summary="The calling agent",
          answers=(json_answer(AgentAnswer, "Agent"),), errors=(401,)),
    Route("POST", "/api/me/password", change_password, operation_id="changePassword",
          summary="Change the calling agent's own password, giving the current one. Every token of the agent is "
                  "revoked (their other sessions end: session:ended); the answer carries a new token for this one. "
                  "A wrong current password is invalid_credentials and counts towards the sign-in lockout "
                  "(account_locked)",
          body=PasswordChangeBody, answers=(json_answer(SignedIn, "Changed"),), errors=(400, 401, 429)),
    Route("POST", "/api/visitor/sessions", new_visitor_session, operation_id="newVisitorSession",
          auth=Auth.NONE, summary="Issue a signed visitor token (first contact of a browser)",
          answers=(json_answer(VisitorSession, "Visitor token", 201),), errors=(429,)),
    Route("GET", "/api/agents", list_agents, operation_id="listAgents",
          summary="List agents (admins)", answers=(json_answer(Agents, "Agents"),), errors=_FOR_ADMINS),
    Route("POST", "/api/agents", add_agent, operation_id="addAgent", summary="Add an agent (admins)",
          body=NewAgentBody, answers=(json_answer(AgentAnswer, "Created", 201),), errors=(400, *_FOR_ADMINS, 409)),
    Route("PATCH", "/api/agents/{agent_id}", update_agent, operation_id="updateAgent",
          summary="Disable or enable an agent, or change their capacity or departments (admins); in force at once: "
                  "a disabled agent's sockets are closed (session:ended) and their chats go back to the queue",
          body=AgentChangeRequest, answers=(json_answer(AgentAnswer, "Changed"),),
          errors=(400, *_FOR_ADMINS, 404, 409)),
    Route("PUT", "/api/agents/{agent_id}/password", reset_password, operation_id="resetPassword",
          summary="Set another agent's password (admins): every session of that agent ends (session:ended). Admins "
                  "change their own with POST /api/me/password (409 here)",
          body=PasswordResetBody, answers=(json_answer(AgentAnswer, "Changed"),),
          errors=(400, *_FOR_ADMINS, 404, 409)),
    Route("GET", "/api/settings", settings_view, operation_id="settings",
          summary="The server's settings (admins): every value but the secrets', which only say whether they are set",
          answers=(json_answer(ServerSettings, "Settings"),), errors=_FOR_ADMINS),
    Route("GET", "/api/queue", queue, operation_id="queue",
          summary="The waiting queue, in the order it will be served",
          query=(Query("limit", Annotated[int, msgspec.Meta(ge=1, le=200)]),),
          answers=(json_answer(Queue, "Queue"),), errors=(400, 401)),
]
