"""SQLite storage of tickets, webhook endpoints and the outbox (migration 0006), and the count of
transcripts emailed at visitors' requests (migration 0013).

Shares the ``SQLiteDatabase``'s connections: its writer (one lock, ``BEGIN IMMEDIATE``) and its
read-only reader, so these tables follow the same transaction rules as the rest. The webhook
endpoints are cached on the writer's side (``WriterCache``), and the ``message.created`` items
are written in each message's transaction (``write_with_messages``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from ...domain.models import Conversation, Message
from ...domain.outbox import OutboxItem, OutboxKind
from ...domain.tickets import DAY, Ticket, TicketAnswer, TicketStatus, TranscriptEmail, TranscriptLimits
from ...domain.webhooks import MessageItems, WebhookEndpoint
from ..rows.tickets import (
    ANSWER_COLUMNS,
    OUTBOX_COLUMNS,
    TICKET_COLUMNS,
    WEBHOOK_COLUMNS,
    answer_values,
    check_transcript_limits,
    outbox_from_row,
    ticket_values,
    tickets_from_rows,
    webhook_from_row,
    webhook_values,
)
from ._group_commit import Batch, WriterCache
from ._outbox_rows import insert_outbox, insert_outbox_now
from .database import SQLiteDatabase
from .messages import SQLiteMessages


def _load_webhooks(conn: sqlite3.Connection) -> tuple[WebhookEndpoint, ...]:
    rows = conn.execute(f"SELECT {WEBHOOK_COLUMNS} FROM webhook_endpoints ORDER BY created_at")
    return tuple(webhook_from_row(row) for row in rows)


class SQLiteTickets:
    """Implements ``TicketStore``, ``WebhookStore`` and ``OutboxStore``."""

    def __init__(self, database: SQLiteDatabase, messages: SQLiteMessages) -> None:
        self.database = database
        self._messages = messages
        # Read on every message (message.created), changed by an admin now and then: cached, and
        # read again after this process changes it or another process commits (WriterCache).
        self._endpoints = WriterCache(_load_webhooks)

    def write_with_messages(self, items_for: MessageItems, queued: Callable[[], None]) -> None:
        """Store the outbox items ``items_for`` gives each participant's message (with the
        webhook endpoints as of that transaction) in the message's own transaction; ``queued``
        is called once a transaction with such items is committed (wakes the worker)."""
        def hook(conn: sqlite3.Connection, batch: Batch, conversation: Conversation, message: Message) -> None:
            items = items_for(self._endpoints.get(conn, batch), conversation, message)
            if items:
                insert_outbox_now(conn, items)
                batch.after_commit(queued)

        self._messages.hooks.append(hook)

    # -- outbox -------------------------------------------------------------------------------

    async def enqueue(self, items: list[OutboxItem]) -> None:
        if not items:
            return
        async with self.database.transaction() as db:
            await insert_outbox(db, items)

    async def enqueue_transcript(self, sent: TranscriptEmail, item: OutboxItem, limits: TranscriptLimits) -> None:
        async with self.database.transaction() as db:
            async with db.execute(
                "SELECT (SELECT count(*) FROM transcript_emails WHERE conversation_id = ?), "
                "(SELECT count(*) FROM transcript_emails WHERE address = ? AND sent_at > ?)",
                (sent.conversation_id, sent.address, sent.sent_at - DAY),
            ) as cur:
                row = await cur.fetchone()
            assert row is not None
            check_transcript_limits(row[0], row[1], limits)
            await db.execute(
                "INSERT INTO transcript_emails (conversation_id, visitor_id, address, sent_at) VALUES (?, ?, ?, ?)",
                (sent.conversation_id, sent.visitor_id, sent.address, sent.sent_at))
            await insert_outbox(db, [item])

    async def claim_due(self, kind: OutboxKind, now: float, lease: float, limit: int) -> list[OutboxItem]:
        async with self.database.transaction() as db:
            async with db.execute(
                f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE kind = ? AND status = 'pending' AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at, created_at LIMIT ?",
                (str(kind), now, limit),
            ) as cur:
                items = [outbox_from_row(row) for row in await cur.fetchall()]
            if items:
                marks = ", ".join("?" for _ in items)
                await db.execute(f"UPDATE outbox SET next_attempt_at = ? WHERE id IN ({marks})",
                                 (now + lease, *(i.id for i in items)))
        return items

    async def still_pending(self, item_id: str) -> bool:
        async with self.database.reader.execute(
            "SELECT 1 FROM outbox WHERE id = ? AND status = 'pending'", (item_id,)
        ) as cur:
            return await cur.fetchone() is not None

    async def mark_sent(self, item_id: str, now: float) -> None:
        async with self.database.transaction() as db:
            await db.execute("UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, "
                             "last_error = NULL, payload = '' WHERE id = ?", (now, item_id))

    async def mark_retry(self, item_id: str, attempts: int, next_attempt_at: float, error: str) -> None:
        async with self.database.transaction() as db:
            await db.execute("UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
                             (attempts, next_attempt_at, error, item_id))

    async def mark_failed(self, item_id: str, attempts: int, error: str) -> None:
        async with self.database.transaction() as db:
            await db.execute("UPDATE outbox SET status = 'failed', attempts = ?, last_error = ?, payload = '' "
                             "WHERE id = ?", (attempts, error, item_id))

    async def prune(self, kind: OutboxKind, before: float) -> int:
        async with self.database.transaction() as db, db.execute(
            "DELETE FROM outbox WHERE kind = ? AND status != 'pending' AND created_at < ? RETURNING id",
            (str(kind), before),
        ) as cur:
            return len(list(await cur.fetchall()))

    async def next_due(self, kind: OutboxKind) -> float | None:
        async with self.database.reader.execute(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE kind = ? AND status = 'pending'", (str(kind),)
        ) as cur:
            row = await cur.fetchone()
        return float(row[0]) if row and row[0] is not None else None

    async def pending_counts(self) -> dict[OutboxKind, int]:
        rows = await self.database.fetchall(
            "SELECT kind, COUNT(*) FROM outbox WHERE status = 'pending' GROUP BY kind")
        return {OutboxKind(kind): int(count) for kind, count in rows}

    async def outbox_items(self, kind: OutboxKind, limit: int) -> list[OutboxItem]:
        async with self.database.reader.execute(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE kind = ? ORDER BY created_at DESC LIMIT ?", (str(kind), limit)
        ) as cur:
            return [outbox_from_row(row) for row in await cur.fetchall()]

    # -- webhook endpoints --------------------------------------------------------------------

    async def add_webhook(self, endpoint: WebhookEndpoint) -> None:
        try:
            async with self.database.transaction() as db:
                await db.execute(f"INSERT INTO webhook_endpoints ({WEBHOOK_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                                 webhook_values(endpoint))
        finally:
            self._endpoints.invalidate()

    async def remove_webhook(self, endpoint_id: str) -> bool:
        try:
            async with self.database.transaction() as db, db.execute(
                "DELETE FROM webhook_endpoints WHERE id = ? RETURNING id", (endpoint_id,)
            ) as cur:
                return await cur.fetchone() is not None
        finally:
            self._endpoints.invalidate()

    async def webhooks(self) -> list[WebhookEndpoint]:
        """Every endpoint, oldest first, as of now (from the cache while it is current)."""
        def current(conn: sqlite3.Connection, batch: Batch) -> list[WebhookEndpoint]:
            return list(self._endpoints.get(conn, batch))

        return await self.database.batched(current)

    async def webhook(self, endpoint_id: str) -> WebhookEndpoint | None:
        return next((e for e in await self.webhooks() if e.id == endpoint_id), None)

    # -- tickets ------------------------------------------------------------------------------

    async def create_ticket(self, ticket: Ticket, outbox: list[OutboxItem]) -> None:
        async with self.database.transaction() as db:
            await db.execute(
                f"INSERT INTO tickets ({TICKET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ticket_values(ticket))
            await insert_outbox(db, outbox)

    async def add_ticket_answer(self, answer: TicketAnswer, now: float, outbox: list[OutboxItem]) -> Ticket | None:
        async with self.database.transaction() as db:
            async with db.execute("UPDATE tickets SET status = 'answered', updated_at = ? WHERE id = ? RETURNING id",
                                  (now, answer.ticket_id)) as cur:
                if await cur.fetchone() is None:
                    return None
            await db.execute(f"INSERT INTO ticket_answers ({ANSWER_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                             answer_values(answer))
            await insert_outbox(db, outbox)
        return await self.ticket(answer.ticket_id)

    async def _with_answers(self, rows: list[Any]) -> list[Ticket]:
        if not rows:
            return []
        ids = [row[0] for row in rows]
        marks = ", ".join("?" for _ in ids)
        async with self.database.reader.execute(
            f"SELECT {ANSWER_COLUMNS} FROM ticket_answers WHERE ticket_id IN ({marks}) ORDER BY id", ids,
        ) as cur:
            return tickets_from_rows(rows, await cur.fetchall())

    async def ticket(self, ticket_id: str) -> Ticket | None:
        async with self.database.reader.execute(f"SELECT {TICKET_COLUMNS} FROM tickets WHERE id = ?",
                                                (ticket_id,)) as cur:
            rows = list(await cur.fetchall())
        found = await self._with_answers(rows)
        return found[0] if found else None

    async def list_tickets(self, *, status: TicketStatus | None, limit: int, offset: int) -> list[Ticket]:
        where, params = ("WHERE status = ?", [str(status)]) if status is not None else ("", [])
        async with self.database.reader.execute(
            f"SELECT {TICKET_COLUMNS} FROM tickets {where} ORDER BY created_at DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        ) as cur:
            rows = list(await cur.fetchall())
        return await self._with_answers(rows)

    async def tickets_for_visitor(self, visitor_id: str, limit: int) -> list[Ticket]:
        async with self.database.reader.execute(
            f"SELECT {TICKET_COLUMNS} FROM tickets WHERE visitor_id = ? ORDER BY created_at DESC LIMIT ?",
            (visitor_id, limit),
        ) as cur:
            rows = list(await cur.fetchall())
        return await self._with_answers(rows)
