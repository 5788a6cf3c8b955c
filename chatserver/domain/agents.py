"""Agent accounts: creation, password login, token issue and revocation."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable

import msgspec

from ..errors import Conflict, InvalidCredentials, InvalidPayload, NotFound
from .models import Agent, Role
from .passwords import PasswordHashing
from .patterns import EMAIL_RE
from .ports import AgentStore
from .tokens import TokenSigner

MIN_PASSWORD = 8


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= 256:
        raise InvalidPayload(f"password must be {MIN_PASSWORD} to 256 characters")


def check_new_agent(name: str, email: str, password: str, capacity: int) -> None:
    if not 1 <= len(name.strip()) <= 100:
        raise InvalidPayload("name must be 1 to 100 characters")
    if len(email) > 254 or not EMAIL_RE.fullmatch(email):
        raise InvalidPayload("email is not a valid address")
    check_password(password)
    if not 1 <= capacity <= 100:
        raise InvalidPayload("capacity must be between 1 and 100")


def check_departments(departments: tuple[str, ...], known: tuple[str, ...]) -> None:
    unknown = sorted(set(departments) - set(known))
    if unknown:
        raise InvalidPayload(f"unknown departments: {', '.join(unknown)}")


async def create_agent(
    store: AgentStore, passwords: PasswordHashing, *, name: str, email: str, password: str, role: Role,
    capacity: int, now: float, new_id: Callable[[], str], departments: tuple[str, ...] = (),
) -> Agent:
    """Validate and store a new agent with an argon2id password hash."""
    check_new_agent(name, email, password, capacity)
    password_hash = await asyncio.get_running_loop().run_in_executor(None, passwords.hash, password)
    agent = Agent(id=new_id(), email=email.lower(), name=name.strip(), role=role, capacity=capacity, disabled=False,
                  token_version=0, created_at=now, password_hash=password_hash, departments=departments)
    await store.add_agent(agent)
    return agent


class AgentChange(msgspec.Struct, frozen=True, kw_only=True):
    """What an admin changes about an agent; ``None`` keeps a field as it is."""

    disabled: bool | None = None
    capacity: int | None = None
    departments: tuple[str, ...] | None = None


def check_agent_change(change: AgentChange, known_departments: tuple[str, ...] | None) -> None:
    """``known_departments`` ``None``: any department (the command line, as ``agent add``)."""
    if change == AgentChange():
        raise InvalidPayload("nothing to change: give disabled, capacity or departments")
    if change.capacity is not None and not 1 <= change.capacity <= 100:
        raise InvalidPayload("capacity must be between 1 and 100")
    if change.departments is not None:
        if len(change.departments) > 20 or not all(1 <= len(d) <= 64 and d.strip() == d and "," not in d
                                                   for d in change.departments):
            raise InvalidPayload("departments: up to 20 names of 1 to 64 characters, without commas")
        if known_departments is not None:
            check_departments(change.departments, known_departments)


async def do_update_agent(store: AgentStore, agent_id: str, change: AgentChange, *, by: Agent | None,
                          known_departments: tuple[str, ...] | None) -> tuple[Agent, Agent]:
    """Apply an admin's change to an agent; returns the agent before and after. Disabling revokes
    every token the agent has (enabling them again does not bring the old ones back); an admin
    cannot disable themselves (``by``: who asks, ``None`` for the command line)."""
    check_agent_change(change, known_departments)
    if change.departments is not None:
        change = msgspec.structs.replace(change, departments=tuple(dict.fromkeys(change.departments)))
    before = await store.agent_by_id(agent_id)
    if before is None:
        raise NotFound("no such agent")
    if change.disabled and by is not None and by.id == agent_id:
        raise Conflict("you cannot disable your own account")
    after = await store.update_agent(agent_id, disabled=change.disabled, capacity=change.capacity,
                                     departments=change.departments)
    if after is None:
        raise NotFound("no such agent")
    return before, after


async def do_set_password(store: AgentStore, passwords: PasswordHashing, agent_id: str, password: str) -> Agent:
    """Give the agent a new password (argon2id) and revoke every token they hold, in one
    transaction; returns the agent as stored. Callers decide who may: the agent themselves once
    they proved the current password (``lockout.do_change_own_password``), an admin for another
    agent (``do_reset_password``), the command line."""
    check_password(password)
    if await store.agent_by_id(agent_id) is None:  # before the hash, which costs tens of milliseconds
        raise NotFound("no such agent")
    password_hash = await asyncio.get_running_loop().run_in_executor(None, passwords.hash, password)
    agent = await store.set_password(agent_id, password_hash)
    if agent is None:
        raise NotFound("no such agent")
    return agent


async def do_reset_password(store: AgentStore, passwords: PasswordHashing, agent_id: str, password: str, *,
                            by: Agent | None) -> Agent:
    """An admin (``by``; ``None`` for the command line) sets another agent's password. Their own
    they change as every agent does, giving the current one (a token alone is not enough)."""
    if by is not None and by.id == agent_id:
        raise Conflict("change your own password with your current one (POST /api/me/password)")
    return await do_set_password(store, passwords, agent_id, password)


async def authenticate(store: AgentStore, passwords: PasswordHashing, email: str, password: str) -> Agent:
    """The agent whose email and password match; the same error for every kind of failure."""
    agent = await store.agent_by_email(email.lower())
    loop = asyncio.get_running_loop()
    ok = await loop.run_in_executor(None, passwords.verify, agent.password_hash if agent else None, password)
    if agent is None or not ok or agent.disabled:
        raise InvalidCredentials("email or password is wrong")
    return agent


def issue_agent_token(signer: TokenSigner, agent: Agent, now: float, ttl: float) -> tuple[str, float]:
    expires_at = now + ttl
    return signer.issue("agent", agent.id, expires_at, agent.token_version), expires_at
