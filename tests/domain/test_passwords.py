"""Password hashes (chatserver/domain/passwords.py): full cost unless told otherwise, and a hash
made at any cost verifies."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters
from argon2.profiles import RFC_9106_LOW_MEMORY

from chatserver.config import Settings, load_settings
from chatserver.domain.passwords import PasswordHashing


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
