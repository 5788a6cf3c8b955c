"""Statements shared with the SQLite build, in PostgreSQL's placeholder style."""

from __future__ import annotations

import itertools
import re

_PLACEHOLDER = re.compile(r"\?")


def numbered(sql: str) -> str:
    """``sql`` with SQLite's ``?`` placeholders numbered ``$1, $2...`` as PostgreSQL's are. Only
    for the shared statements (``storage/rows/conversations.py``), which have no ``?`` inside a literal;
    converted once, when a store's module is imported."""
    counter = itertools.count(1)
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)
