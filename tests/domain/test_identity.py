"""Signed customer identities: genuine ones pass; forged, tampered, expired or odd ones are refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from chatserver.domain.identity import sign_identity, verify_identity
from chatserver.errors import IdentityExpired, InvalidIdentity

SECRET = "shop-shared-secret"
NOW = 1_800_000_000.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _shop_side(claims: dict[str, object], secret: str = SECRET, header: dict[str, object] | None = None) -> str:
    """What docs/customers.md tells a shop's backend to do, written out with the standard library."""
    head = _b64(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def test_a_genuine_identity_gives_its_claims() -> None:
    token = _shop_side({"external_id": "cust-42", "email": "ann@example.com", "name": "Ann", "iat": NOW - 10})
    claims = verify_identity(token, SECRET, NOW, max_age=3600)
    assert (claims.external_id, claims.email, claims.name) == ("cust-42", "ann@example.com", "Ann")
    assert sign_identity(SECRET, {"external_id": "cust-42", "iat": NOW}).count(".") == 2
    assert verify_identity(sign_identity(SECRET, {"external_id": "x", "iat": NOW, "jti": "ignored"}), SECRET, NOW,
                           3600).external_id == "x"


@pytest.mark.parametrize("token", [
    None, 42, "", "a.b", "a.b.c.d", "x" * 5000,
    _shop_side({"external_id": "cust-42", "iat": NOW}, secret="another secret"),
    _shop_side({"external_id": "cust-42", "iat": NOW})[:-2] + "AA",
    # a valid signature over other claims, spliced onto changed claims
    _shop_side({"external_id": "cust-42", "iat": NOW}).split(".")[0] + "."
    + _b64(json.dumps({"external_id": "admin", "iat": NOW}).encode()) + "."
    + _shop_side({"external_id": "cust-42", "iat": NOW}).split(".")[2],
    _shop_side({"external_id": "cust-42", "iat": NOW}, header={"alg": "none"}),
    _shop_side({"external_id": "cust-42", "iat": NOW}, header={"alg": "HS512"}),
    _shop_side({"iat": NOW}),
    _shop_side({"external_id": "", "iat": NOW}),
    _shop_side({"external_id": "cust-42"}),
    _shop_side({"external_id": "cust-42", "iat": "yesterday"}),
    _shop_side({"external_id": "cust-42", "iat": NOW, "email": "not an email"}),
    _shop_side({"external_id": "x\u0000y", "iat": NOW}),
    _shop_side({"external_id": "cust-42", "iat": NOW + 3600}),
    "not base64!.not base64!.not base64!",
])
def test_forged_tampered_and_malformed_identities_are_refused(token: object) -> None:
    with pytest.raises(InvalidIdentity):
        verify_identity(token, SECRET, NOW, max_age=3600)


def test_an_old_or_expired_identity_is_refused_as_expired() -> None:
    with pytest.raises(IdentityExpired):
        verify_identity(_shop_side({"external_id": "c", "iat": NOW - 3601}), SECRET, NOW, max_age=3600)
    with pytest.raises(IdentityExpired):
        verify_identity(_shop_side({"external_id": "c", "iat": NOW - 5, "exp": NOW - 1}), SECRET, NOW, max_age=3600)
    # a small clock skew on the shop's side is tolerated
    assert verify_identity(_shop_side({"external_id": "c", "iat": NOW + 30}), SECRET, NOW, max_age=3600)
