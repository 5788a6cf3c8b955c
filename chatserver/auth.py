"""Signed tokens for agents and visitors, and agent password hashing (argon2id)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Literal

import msgspec
from argon2 import Parameters, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import CHEAPEST, RFC_9106_LOW_MEMORY

from .errors import InvalidToken, TokenExpired

TokenKind = Literal["agent", "visitor"]
MAX_TOKEN_LENGTH = 1024
# What issue() makes: two runs of base64url characters (no padding) joined by a dot. Checked before
# anything else, so a token of other characters (not ASCII, a lone surrogate) is just invalid.
_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class TokenClaims(msgspec.Struct, frozen=True):
    k: TokenKind
    sub: str
    exp: float
    v: int = 0  # agent token version: bumped on logout to revoke earlier tokens


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(TokenClaims)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """HMAC-SHA256 over a compact JSON body; the key is separated per token kind."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"chatserver-token:" + secret.encode()).digest()

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def issue(self, kind: TokenKind, subject: str, expires_at: float, version: int = 0) -> str:
        body = _b64(_encoder.encode(TokenClaims(k=kind, sub=subject, exp=expires_at, v=version)))
        return f"{body}.{self._sign(body)}"

    def verify(self, token: object, kind: TokenKind, now: float) -> TokenClaims:
        """Return the claims of a genuine, unexpired token of ``kind``; raise otherwise."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not _TOKEN.fullmatch(token):
            raise InvalidToken("token is missing or malformed")
        body, signature = token.split(".")
        if not hmac.compare_digest(self._sign(body), signature):
            raise InvalidToken("token signature is not valid")
        try:
            claims = _decoder.decode(_unb64(body))
        except (ValueError, msgspec.DecodeError) as exc:
            raise InvalidToken("token is malformed") from exc
        if claims.k != kind:
            raise InvalidToken(f"not a {kind} token")
        if claims.exp <= now:
            raise TokenExpired("token has expired")
        return claims


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
