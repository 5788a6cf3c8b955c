"""Signed tokens (chatserver/domain/tokens.py): a token is either genuine or refused with a
ChatError, whatever characters it holds."""

from __future__ import annotations

import pytest

from chatserver.domain.tokens import MAX_TOKEN_LENGTH, TokenSigner
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
