"""Row readers and SQL pieces both databases share (SQLite and PostgreSQL hold the same tables
and columns): one module per store, each read by that store in ``sqlite/`` and ``postgresql/``.

A row is read by position, whatever the driver made of it (a sqlite3 row, a tuple, an asyncpg
record). Where SQL is built from parts, ``Mark`` writes the ``n``-th (1-based) parameter's
placeholder: ``?n`` for SQLite, ``$n`` for PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

Mark = Callable[[int], str]


class Row(Protocol):
    def __getitem__(self, index: int, /) -> Any: ...


def sqlite_mark(n: int) -> str:
    """SQLite's placeholder for the ``n``-th parameter (numbered, so one may be used twice)."""
    return f"?{n}"


def postgres_mark(n: int) -> str:
    """PostgreSQL's placeholder for the ``n``-th parameter."""
    return f"${n}"
