"""Log helpers (chatserver/logs.py)."""

from __future__ import annotations

import json

import pytest

from chatserver.logs import field


@pytest.mark.parametrize("value", ["message:send", "/visitor", "a1-b_2.c", "x" * 64])
def test_plain_values_are_written_as_they_are(value: str) -> None:
    assert field(value) == value


@pytest.mark.parametrize("value", ["", "two words", "x\ny", "nul\x00", "\x1b[0m", "tab\t", "a=b", 'quote"',
                                   "back\\slash", "caf\u00e9", "\u2028", "\ud800", "\x85"])
def test_other_values_are_one_quoted_ascii_token(value: str) -> None:
    written = field(value)
    assert written.isascii() and written.isprintable()  # no line break, NUL or escape sequence
    assert written.startswith('"') and written.endswith('"') and json.loads(written) == value


def test_long_values_are_cut() -> None:
    assert field("x" * 100) == "x" * 64
    assert json.loads(field("\n" * 100, limit=10)) == "\n" * 10
