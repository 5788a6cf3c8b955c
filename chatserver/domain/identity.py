"""Signed customer identities: the shop's backend vouches for a logged-in customer.

The shop signs ``{external_id, email, name, iat[, exp]}`` with a secret it shares with the chat
server, as a compact JWS (a JWT with ``alg: HS256``: HMAC-SHA256 over
``base64url(header) "." base64url(claims)``); docs/customers.md shows how. The server accepts it
only with a valid signature (compared in constant time), an ``iat`` no older than the configured
maximum age (and not in the future), and an ``exp``, when given, still ahead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Annotated

import msgspec

from ..errors import IdentityExpired, InvalidIdentity

MAX_IDENTITY_LENGTH = 4096
# Shops' clocks drift: an ``iat`` this far in the future is still accepted.
CLOCK_SKEW = 60.0

ExternalId = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$(?!\n)")]
EmailClaim = Annotated[str, msgspec.Meta(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$(?!\n)")]
NameClaim = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class IdentityHeader(msgspec.Struct):
    alg: str
    typ: str = "JWT"


class IdentityClaims(msgspec.Struct, frozen=True, kw_only=True):
    """What the shop vouches for. Other claims a JWT library adds (``jti``, ``sub``, ...) are ignored."""

    external_id: ExternalId
    iat: float
    email: EmailClaim | None = None
    name: NameClaim | None = None
    exp: float | None = None


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_identity(secret: str, claims: dict[str, object]) -> str:
    """Sign ``claims`` as the shop's backend does (used by tests and the docs' example)."""
    header = _b64(msgspec.json.encode({"alg": "HS256", "typ": "JWT"}))
    body = _b64(msgspec.json.encode(claims))
    signature = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"


def verify_identity(token: object, secret: str, now: float, max_age: float) -> IdentityClaims:
    """The claims of a genuine, current identity; ``InvalidIdentity`` or ``IdentityExpired`` otherwise."""
    if not isinstance(token, str) or len(token) > MAX_IDENTITY_LENGTH or token.count(".") != 2:
        raise InvalidIdentity("identity is missing or malformed")
    header_part, body_part, signature_part = token.split(".")
    expected = hmac.new(secret.encode(), f"{header_part}.{body_part}".encode(), hashlib.sha256).digest()
    try:
        signature = _unb64(signature_part)
    except (binascii.Error, ValueError):
        raise InvalidIdentity("identity signature is malformed") from None
    if not hmac.compare_digest(expected, signature):
        raise InvalidIdentity("identity signature is not valid")
    try:
        header = msgspec.json.decode(_unb64(header_part), type=IdentityHeader)
        claims = msgspec.json.decode(_unb64(body_part), type=IdentityClaims)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise InvalidIdentity(f"identity is malformed: {exc}") from None
    if header.alg != "HS256":
        raise InvalidIdentity("identity must be signed with HS256")
    if claims.iat > now + CLOCK_SKEW:
        raise InvalidIdentity("identity was issued in the future")
    if now - claims.iat > max_age or (claims.exp is not None and claims.exp <= now):
        raise IdentityExpired("identity has expired; sign a fresh one")
    return claims
