"""Writing outbox rows (migration 0006) inside another change's transaction: tickets, answers
and conversation changes store what they announce together with the change itself."""

from __future__ import annotations

import sqlite3
from typing import Any

from ...domain.outbox import OutboxItem

OUTBOX_COLUMNS = ("id, kind, target, payload, status, attempts, next_attempt_at, last_error, created_at, "
                  "sent_at, visitor_id, customer_id")


# An item about a visitor, without a customer of its own, is recorded as the visitor's
# customer's (migration 0007), so deleting that customer deletes it.
_INSERT = (f"INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
           "coalesce(?, (SELECT customer_id FROM customer_visitors WHERE visitor_id = ?)))")


def _rows(items: list[OutboxItem]) -> list[tuple[Any, ...]]:
    return [(i.id, str(i.kind), i.target, i.payload, str(i.status), i.attempts, i.next_attempt_at, i.last_error,
             i.created_at, i.sent_at, i.visitor_id, i.customer_id, i.visitor_id) for i in items]


async def insert_outbox(db: Any, items: list[OutboxItem]) -> None:
    """Insert ``items`` on ``db`` (an aiosqlite connection), in the transaction the caller has open."""
    if items:
        await db.executemany(_INSERT, _rows(items))


def insert_outbox_now(conn: sqlite3.Connection, items: list[OutboxItem]) -> None:
    """``insert_outbox`` from a job of the group commit (a sqlite3 connection, its transaction)."""
    if items:
        conn.executemany(_INSERT, _rows(items))
