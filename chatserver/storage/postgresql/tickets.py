"""PostgreSQL storage of tickets, webhook endpoints and the outbox, and the count of transcripts
emailed at visitors' requests, shared by every host.

The outbox is claimed with ``FOR UPDATE SKIP LOCKED``: hosts claiming at once each take other
items, and a claim (a lease: the item's next attempt moved past the send) is committed before
the send, so each due item goes out from one host. The ``message.created`` items are written in
each message's own transaction (``write_with_messages``), with the webhook endpoints read in
that transaction, once per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

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
from ._outbox_rows import insert_outbox
from .database import Batch, Connection, PostgresDatabase
from .messages import MessageHook


class MessageHooks(Protocol):
    """The message store's hooks (``PostgresMessages.hooks``): each is awaited in a stored
    participant message's transaction, after its INSERT."""

    hooks: list[MessageHook]


# Advisory lock namespaces (the first key of pg_advisory_xact_lock(int, int)) under which one
# conversation's, then one address's, transcript count is read and added to: two hosts sending
# at once count one after the other. Always taken in this order, so never a deadlock.
TRANSCRIPTS_OF_CONVERSATION = 0x74720001
TRANSCRIPTS_TO_ADDRESS = 0x74720002
_ENDPOINTS = "webhook_endpoints"  # the key of the endpoints in a batch's cache

_SELECT_WEBHOOKS = f"SELECT {WEBHOOK_COLUMNS} FROM webhook_endpoints ORDER BY created_at"
# One statement: lock the due items no other host holds, move their next attempt past the lease,
# and return them as they were (``due`` is read once).
_CLAIM = (f"WITH due AS (SELECT {OUTBOX_COLUMNS} FROM outbox "
          "WHERE kind = $1 AND status = 'pending' AND next_attempt_at <= $2 "
          "ORDER BY next_attempt_at, created_at LIMIT $4 FOR UPDATE SKIP LOCKED), "
          "claimed AS (UPDATE outbox SET next_attempt_at = $3 WHERE id IN (SELECT id FROM due)) "
          f"SELECT {OUTBOX_COLUMNS} FROM due ORDER BY next_attempt_at, created_at")


async def _load_webhooks(conn: Connection) -> tuple[WebhookEndpoint, ...]:
    return tuple(webhook_from_row(row) for row in await conn.fetch(_SELECT_WEBHOOKS))


class PostgresTickets:
    """Implements ``TicketStore``, ``WebhookStore`` and ``OutboxStore``."""

    def __init__(self, database: PostgresDatabase, messages: MessageHooks) -> None:
        self.database = database
        self._messages = messages

    def write_with_messages(self, items_for: MessageItems, queued: Callable[[], None]) -> None:
        """Store the outbox items ``items_for`` gives each participant's message (with the
        webhook endpoints as of that transaction) in the message's own transaction; ``queued``
        is called once a transaction with such items is committed (wakes the worker)."""
        self._messages.hooks.append(self._message_hook(items_for, queued))

    def _message_hook(self, items_for: MessageItems, queued: Callable[[], None]) -> MessageHook:
        """The hook ``write_with_messages`` adds to the message store."""
        async def hook(conn: Connection, batch: Batch, conversation: Conversation, message: Message) -> None:
            # Read in the transaction, so every host sees an endpoint added by any other as soon
            # as it is committed; once per batch, as a batch holds many messages.
            endpoints: Sequence[WebhookEndpoint] | None = batch.cache.get(_ENDPOINTS)
            if endpoints is None:
                endpoints = batch.cache[_ENDPOINTS] = await _load_webhooks(conn)
            items = items_for(endpoints, conversation, message)
            if items:
                await insert_outbox(conn, items)
                batch.after_commit(queued)

        return hook

    # -- outbox -------------------------------------------------------------------------------

    async def enqueue(self, items: list[OutboxItem]) -> None:
        if not items:
            return
        async with self.database.transaction() as conn:
            await insert_outbox(conn, items)

    async def enqueue_transcript(self, sent: TranscriptEmail, item: OutboxItem, limits: TranscriptLimits) -> None:
        async with self.database.transaction() as conn:
            # The target list is evaluated left to right: the conversation's lock first.
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2)), pg_advisory_xact_lock($3, hashtext($4))",
                TRANSCRIPTS_OF_CONVERSATION, sent.conversation_id, TRANSCRIPTS_TO_ADDRESS, sent.address)
            # A statement of its own: it must see what the lock's last holder committed.
            row = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM transcript_emails WHERE conversation_id = $1), "
                "(SELECT count(*) FROM transcript_emails WHERE address = $2 AND sent_at > $3)",
                sent.conversation_id, sent.address, sent.sent_at - DAY)
            assert row is not None
            check_transcript_limits(row[0], row[1], limits)
            await conn.execute(
                "INSERT INTO transcript_emails (conversation_id, visitor_id, address, sent_at) VALUES ($1, $2, $3, $4)",
                sent.conversation_id, sent.visitor_id, sent.address, sent.sent_at)
            await insert_outbox(conn, [item])

    async def claim_due(self, kind: OutboxKind, now: float, lease: float, limit: int) -> list[OutboxItem]:
        rows = await self.database.fetch(_CLAIM, str(kind), now, now + lease, limit)
        return [outbox_from_row(row) for row in rows]

    async def still_pending(self, item_id: str) -> bool:
        return await self.database.fetchval("SELECT 1 FROM outbox WHERE id = $1 AND status = 'pending'",
                                            item_id) is not None

    async def mark_sent(self, item_id: str, now: float) -> None:
        async with self.database.connection() as conn:
            await conn.execute("UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = $1, "
                               "last_error = NULL, payload = '' WHERE id = $2", now, item_id)

    async def mark_retry(self, item_id: str, attempts: int, next_attempt_at: float, error: str) -> None:
        async with self.database.connection() as conn:
            await conn.execute("UPDATE outbox SET attempts = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4",
                               attempts, next_attempt_at, error, item_id)

    async def mark_failed(self, item_id: str, attempts: int, error: str) -> None:
        async with self.database.connection() as conn:
            await conn.execute("UPDATE outbox SET status = 'failed', attempts = $1, last_error = $2, payload = '' "
                               "WHERE id = $3", attempts, error, item_id)

    async def prune(self, kind: OutboxKind, before: float) -> int:
        return int(await self.database.fetchval(
            "WITH gone AS (DELETE FROM outbox WHERE kind = $1 AND status != 'pending' AND created_at < $2 "
            "RETURNING id) SELECT count(*) FROM gone", str(kind), before))

    async def next_due(self, kind: OutboxKind) -> float | None:
        due = await self.database.fetchval(
            "SELECT min(next_attempt_at) FROM outbox WHERE kind = $1 AND status = 'pending'", str(kind))
        return float(due) if due is not None else None

    async def pending_counts(self) -> dict[OutboxKind, int]:
        rows = await self.database.fetch("SELECT kind, count(*) FROM outbox WHERE status = 'pending' GROUP BY kind")
        return {OutboxKind(row[0]): int(row[1]) for row in rows}

    async def outbox_items(self, kind: OutboxKind, limit: int) -> list[OutboxItem]:
        rows = await self.database.fetch(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE kind = $1 ORDER BY created_at DESC LIMIT $2", str(kind), limit)
        return [outbox_from_row(row) for row in rows]

    # -- webhook endpoints --------------------------------------------------------------------

    async def add_webhook(self, endpoint: WebhookEndpoint) -> None:
        async with self.database.connection() as conn:
            await conn.execute(f"INSERT INTO webhook_endpoints ({WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5)",
                               *webhook_values(endpoint))

    async def remove_webhook(self, endpoint_id: str) -> bool:
        return await self.database.fetchval("DELETE FROM webhook_endpoints WHERE id = $1 RETURNING id",
                                            endpoint_id) is not None

    async def webhooks(self) -> list[WebhookEndpoint]:
        """Every endpoint, oldest first, as of now."""
        return [webhook_from_row(row) for row in await self.database.fetch(_SELECT_WEBHOOKS)]

    async def webhook(self, endpoint_id: str) -> WebhookEndpoint | None:
        row = await self.database.fetchrow(f"SELECT {WEBHOOK_COLUMNS} FROM webhook_endpoints WHERE id = $1",
                                           endpoint_id)
        return webhook_from_row(row) if row is not None else None

    # -- tickets ------------------------------------------------------------------------------

    async def create_ticket(self, ticket: Ticket, outbox: list[OutboxItem]) -> None:
        async with self.database.transaction() as conn:
            await conn.execute(f"INSERT INTO tickets ({TICKET_COLUMNS}) "
                               "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)", *ticket_values(ticket))
            await insert_outbox(conn, outbox)

    async def add_ticket_answer(self, answer: TicketAnswer, now: float, outbox: list[OutboxItem]) -> Ticket | None:
        async with self.database.transaction() as conn:
            if await conn.fetchval("UPDATE tickets SET status = 'answered', updated_at = $1 WHERE id = $2 RETURNING id",
                                   now, answer.ticket_id) is None:
                return None
            await conn.execute(f"INSERT INTO ticket_answers ({ANSWER_COLUMNS}) VALUES ($1, $2, $3, $4, $5)",
                               *answer_values(answer))
            await insert_outbox(conn, outbox)
        return await self.ticket(answer.ticket_id)

    async def _tickets(self, where: str, *params: object) -> list[Ticket]:
        async with self.database.connection() as conn:
            rows = await conn.fetch(f"SELECT {TICKET_COLUMNS} FROM tickets {where}", *params)
            if not rows:
                return []
            answers = await conn.fetch(f"SELECT {ANSWER_COLUMNS} FROM ticket_answers WHERE ticket_id = ANY($1::text[]) "
                                       "ORDER BY id", [row[0] for row in rows])
        return tickets_from_rows(rows, answers)

    async def ticket(self, ticket_id: str) -> Ticket | None:
        found = await self._tickets("WHERE id = $1", ticket_id)
        return found[0] if found else None

    async def list_tickets(self, *, status: TicketStatus | None, limit: int, offset: int) -> list[Ticket]:
        if status is None:
            return await self._tickets("ORDER BY created_at DESC LIMIT $1 OFFSET $2", limit, offset)
        return await self._tickets("WHERE status = $1 ORDER BY created_at DESC LIMIT $2 OFFSET $3", str(status), limit,
                                   offset)

    async def tickets_for_visitor(self, visitor_id: str, limit: int) -> list[Ticket]:
        return await self._tickets("WHERE visitor_id = $1 ORDER BY created_at DESC LIMIT $2", visitor_id, limit)
