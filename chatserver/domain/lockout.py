"""Locking an account's logins after repeated wrong passwords.

Counted per email address, known or not, so a lockout reveals nothing about which accounts
exist; kept in the database, so every server process sharing it sees the same count. The
per-address rate limit (``login_attempts_per_minute``) still applies on top.
"""

from __future__ import annotations

import logging
import math
from typing import Protocol

import msgspec

from ..errors import AccountLocked, InvalidCredentials
from .agents import authenticate
from .models import Agent
from .ports import AgentStore

log = logging.getLogger("chatserver.auth")


class LockoutPolicy(msgspec.Struct, frozen=True, kw_only=True):
    # This many wrong passwords in a row lock the account for ``lock_seconds``; failures further
    # apart than ``lock_seconds`` start the count again.
    failures: int = 5
    lock_seconds: float = 300.0


class LoginAttempts(Protocol):
    async def locked_until(self, email: str) -> float:
        """When the email's lock ends (0 when it is not locked)."""
        ...

    async def record_login_failure(self, email: str, now: float, policy: LockoutPolicy) -> float:
        """Count a wrong password atomically; returns when the lock ends (0 when not locked)."""
        ...

    async def clear_login_failures(self, email: str) -> None: ...


def _locked(until: float, now: float) -> AccountLocked:
    minutes = max(1, math.ceil((until - now) / 60))
    return AccountLocked(
        f"too many wrong passwords for this account: sign-in is locked for {minutes} minute"
        f"{'s' if minutes != 1 else ''}",
        details={"retry_after": math.ceil(until - now)},
    )


async def check_not_locked(attempts: LoginAttempts, email: str, now: float) -> None:
    """Raise ``AccountLocked`` while the email is locked (the password is not even checked)."""
    until = await attempts.locked_until(email.lower())
    if until > now:
        raise _locked(until, now)


async def login_failed(attempts: LoginAttempts, email: str, now: float, policy: LockoutPolicy) -> None:
    """Count the failure; raise ``AccountLocked`` if it was the one that locked the account."""
    until = await attempts.record_login_failure(email.lower(), now, policy)
    if until > now:
        log.warning("login locked after %d wrong passwords for %.0f s", policy.failures, until - now)
        raise _locked(until, now)


async def authenticate_with_lockout(agents: AgentStore, attempts: LoginAttempts, email: str, password: str,
                                    now: float, policy: LockoutPolicy) -> Agent:
    """``authenticate``, refused while the email is locked; a wrong password counts towards a
    lock and a right one clears the count."""
    await check_not_locked(attempts, email, now)
    try:
        agent = await authenticate(agents, email, password)
    except InvalidCredentials:
        await login_failed(attempts, email, now, policy)
        raise
    await attempts.clear_login_failures(email.lower())
    return agent
