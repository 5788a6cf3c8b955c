"""Signed tokens (chatserver/auth.py): a token is either genuine or refused with a ChatError,
whatever characters it holds. Password hashes: full cost unless told otherwise, and a hash made at
any cost verifies."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters
from argon2.profiles import RFC_9106_LOW_MEMORY

from chatserver.auth import MAX_TOKEN_LENGTH, PasswordHashing, TokenSigner
from chatserver.config import Settings, load_settings
from chatserver.errors import InvalidToken, TokenExpired


def test_a_genuine_token_verifies_and_an_expired_one_is_refused() -> None:
    signer = TokenSigner("secret")
    token = signer.issue("visitor", "v1", expires_at=100.0)
    assert signer.verify(token, "visitor", now=50.0).sub == "v1"
    with pytest.raises(TokenExpired):
        signer.verify(token, "visitor", now=100.0)
    with pytest.raises(InvalidToken):
        signer.verify(token, "agent", now=50.0)


@pytest.mark.parametrize("tampered", [
    "{body}.\u00e9",  # not ASCII: hmac.compare_digest raised TypeError on such a str
    "{body}.{signature}\u00e9",
    "{body}\u00e9.{signature}",
    "{body}.\ud800",  # a lone surrogate cannot even be encoded
    "\ud800{body}.{signature}",
    "{body}.{signature}=",  # padding, and characters outside base64url
    "{body}+.{signature}",
    "{body}.{signature}\n",
    " {body}.{signature}",
    ".{signature}",
    "{body}.",
    "{body}.{signature}.{signature}",
    "{body}." + "A" * MAX_TOKEN_LENGTH,
])
def test_a_token_of_other_characters_is_invalid_not_an_exception(tampered: str) -> None:
    signer = TokenSigner("secret")
    body, signature = signer.issue("agent", "a1", expires_at=100.0).split(".")
    with pytest.raises(InvalidToken):
        signer.verify(tampered.format(body=body, signature=signature), "agent", now=50.0)


def test_passwords_are_hashed_at_full_cost_unless_told_otherwise() -> None:
    assert Settings().password_hash_cost == load_settings({}, environ={}).password_hash_cost == "full"
    assert extract_parameters(PasswordHashing("full").hash("a password")) == RFC_9106_LOW_MEMORY
    assert load_settings({}, environ={"CHATSERVER_PASSWORD_HASH_COST": "minimal"}).password_hash_cost == "minimal"
    with pytest.raises(ValueError, match="password_hash_cost must be one of full, minimal"):
        load_settings({}, environ={"CHATSERVER_PASSWORD_HASH_COST": "cheap"})


def test_a_hash_made_at_one_cost_verifies_at_another() -> None:
    minimal, full = PasswordHashing("minimal"), PasswordHashing("full")
    cheap = minimal.hash("a password")
    assert extract_parameters(cheap).memory_cost < RFC_9106_LOW_MEMORY.memory_cost
    assert full.verify(cheap, "a password") and not full.verify(cheap, "another password")
    assert minimal.verify(full.hash("a password"), "a password")
    # No such agent (even with the password the stand-in hash is made of), or a broken hash: no.
    assert not minimal.verify(None, "not-a-real-password")
    assert not minimal.verify("not a hash", "a password")
