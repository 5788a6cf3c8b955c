"""Signed tokens for agents and visitors: what a client shows to say who it is."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Literal

import msgspec

from ..errors import InvalidToken, TokenExpired

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
