"""Agent passwords, hashed with argon2id at a configured cost."""

from __future__ import annotations

from argon2 import Parameters, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import CHEAPEST, RFC_9106_LOW_MEMORY

# Argon2id costs by name (setting ``password_hash_cost``). "full" is RFC 9106's second recommended
# option and argon2-cffi's default (3 passes over 64 MiB, 4 lanes, about 170 ms here), above
# OWASP's minimum (2 passes over 19 MiB); "minimal" is argon2-cffi's cheapest parameters, which
# protect nothing: for tests, which add agents and log in thousands of times.
PASSWORD_HASH_COSTS: dict[str, Parameters] = {"full": RFC_9106_LOW_MEMORY, "minimal": CHEAPEST}


class PasswordHashing:
    """Agent passwords hashed with argon2id at one cost. A hash carries the parameters it was
    made with, so hashes made at any cost (before a change of setting) still verify."""

    def __init__(self, cost: str) -> None:
        self._hasher = PasswordHasher.from_parameters(PASSWORD_HASH_COSTS[cost])
        # Verified against when the email is unknown, so a login takes as long either way.
        self._dummy_hash = self._hasher.hash("not-a-real-password")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; ``None`` (no such agent) takes as long and is ``False``."""
        try:
            matches = self._hasher.verify(self._dummy_hash if password_hash is None else password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return matches and password_hash is not None
