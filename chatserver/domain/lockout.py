"""Locking logins after repeated wrong passwords.

Counted per email address, known or not, so a lockout reveals nothing about which accounts
exist, and per client address: wrong passwords from one address lock that address out of the
account (``failures`` in a row, for ``lock_seconds``), so nobody can lock an agent out of their
own account from elsewhere. A slower count over every address (``global_failures``, for
``global_lock_seconds``) stops guessing spread over many addresses. Both are kept in the
database, so every server process sharing it agrees. The per-address rate limit
(``login_attempts_per_minute``) still applies on top.
"""

from __future__ import annotations

import logging
import math
from typing import Protocol

import msgspec

from ..errors import AccountLocked, InvalidCredentials
from .agents import authenticate, do_set_password
from .models import Agent
from .passwords import PasswordHashing
from .ports import AgentStore

log = logging.getLogger("chatserver.auth")


class LockoutPolicy(msgspec.Struct, frozen=True, kw_only=True):
    # This many wrong passwords in a row from one client address lock that address out of the
    # account for ``lock_seconds``; failures further apart than ``lock_seconds`` start the count
    # again (for both counts).
    failures: int = 5
    lock_seconds: float = 300.0
    # This many in a row from any addresses lock the account for everyone for
    # ``global_lock_seconds``.
    global_failures: int = 20
    global_lock_seconds: float = 60.0


class LoginAttempts(Protocol):
    async def locked_until(self, email: str, address: str) -> float:
        """When the lock on the email for this client address ends, its own or the email's
        over every address, whichever ends later (0 when it is not locked)."""
        ...

    async def record_login_failure(self, email: str, address: str, now: float, policy: LockoutPolicy) -> float:
        """Count a wrong password for the address and for the email, atomically; returns when
        the lock it is now under ends (0 when not locked)."""
        ...

    async def clear_login_failures(self, email: str, address: str) -> None:
        """A right password: the address's count starts again (the count over every address
        goes on: an agent's own sign-in says nothing of guesses from elsewhere)."""
        ...


def _locked(until: float, now: float) -> AccountLocked:
    minutes = max(1, math.ceil((until - now) / 60))
    return AccountLocked(
        f"too many wrong passwords for this account: sign-in is locked for {minutes} minute"
        f"{'s' if minutes != 1 else ''}",
        details={"retry_after": math.ceil(until - now)},
    )


async def check_not_locked(attempts: LoginAttempts, email: str, address: str, now: float) -> None:
    """Raise ``AccountLocked`` while the email is locked for ``address`` (the password is not
    even checked)."""
    until = await attempts.locked_until(email.lower(), address)
    if until > now:
        raise _locked(until, now)


async def login_failed(attempts: LoginAttempts, email: str, address: str, now: float,
                       policy: LockoutPolicy) -> None:
    """Count the failure; raise ``AccountLocked`` if it was the one that locked the account."""
    until = await attempts.record_login_failure(email.lower(), address, now, policy)
    if until > now:
        log.warning("login locked for %.0f s after repeated wrong passwords", until - now)
        raise _locked(until, now)


async def authenticate_with_lockout(agents: AgentStore, passwords: PasswordHashing, attempts: LoginAttempts,
                                    email: str, password: str, address: str, now: float,
                                    policy: LockoutPolicy) -> Agent:
    """``authenticate`` from client ``address`` (a per-address limit key), refused while the
    email is locked for it; a wrong password counts towards a lock and a right one clears the
    address's count."""
    await check_not_locked(attempts, email, address, now)
    try:
        agent = await authenticate(agents, passwords, email, password)
    except InvalidCredentials:
        await login_failed(attempts, email, address, now, policy)
        raise
    await attempts.clear_login_failures(email.lower(), address)
    return agent


async def do_change_own_password(agents: AgentStore, passwords: PasswordHashing, attempts: LoginAttempts,
                                 agent: Agent, current_password: str, new_password: str, address: str, now: float,
                                 policy: LockoutPolicy) -> Agent:
    """The agent changes their own password: the current one is checked as a login's is (a wrong
    one counts towards the lockout, so a stolen token cannot be used to guess it), then every
    token of theirs is revoked (``agents.do_set_password``)."""
    try:
        await authenticate_with_lockout(agents, passwords, attempts, agent.email, current_password, address, now,
                                        policy)
    except InvalidCredentials:
        raise InvalidCredentials("the current password is wrong", details={"fields": ["current_password"]}) from None
    return await do_set_password(agents, passwords, agent.id, new_password)
