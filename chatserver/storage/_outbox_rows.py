"""Writing outbox rows (migration 0006) inside another change's transaction: tickets, answers
and conversation changes store what they announce together with the change itself."""

from __future__ import annotations

from typing import Any

from ..domain.outbox import OutboxItem

OUTBOX_COLUMNS = ("id, kind, target, payload, status, attempts, next_attempt_at, last_error, created_at, "
                  "sent_at, visitor_id, customer_id")


async def insert_outbox(db: Any, items: list[OutboxItem]) -> None:
    """Insert ``items`` on ``db``, in the transaction the caller has open. An item about a
    visitor, without a customer of its own, is recorded as the visitor's customer's (migration
    0007), so deleting that customer deletes it."""
    if not items:
        return
    await db.executemany(
        f"INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "coalesce(?, (SELECT customer_id FROM customer_visitors WHERE visitor_id = ?)))",
        [(i.id, str(i.kind), i.target, i.payload, str(i.status), i.attempts, i.next_attempt_at, i.last_error,
          i.created_at, i.sent_at, i.visitor_id, i.customer_id, i.visitor_id) for i in items],
    )
