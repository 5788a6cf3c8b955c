"""Writing outbox rows (migration 0006) inside another change's transaction: tickets, answers
and conversation changes store what they announce together with the change itself."""

from __future__ import annotations

import sqlite3
from typing import Any

from ...domain.outbox import OutboxItem
from ..rows import sqlite_mark
from ..rows.tickets import insert_outbox_sql, outbox_values

_INSERT = insert_outbox_sql(sqlite_mark)


async def insert_outbox(db: Any, items: list[OutboxItem]) -> None:
    """Insert ``items`` on ``db`` (an aiosqlite connection), in the transaction the caller has open."""
    if items:
        await db.executemany(_INSERT, outbox_values(items))


def insert_outbox_now(conn: sqlite3.Connection, items: list[OutboxItem]) -> None:
    """``insert_outbox`` from a job of the group commit (a sqlite3 connection, its transaction)."""
    if items:
        conn.executemany(_INSERT, outbox_values(items))
