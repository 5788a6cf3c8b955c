"""Writing outbox rows inside another change's transaction: tickets, answers, transcripts,
messages and conversation changes store what they announce together with the change itself."""

from __future__ import annotations

from ...domain.outbox import OutboxItem
from ..rows import postgres_mark
from ..rows.tickets import insert_outbox_sql, outbox_values
from .database import Connection

_INSERT = insert_outbox_sql(postgres_mark)


async def insert_outbox(conn: Connection, items: list[OutboxItem]) -> None:
    """Insert ``items`` on ``conn``, in the transaction the caller has open (a job's, or a
    ``transaction()``'s)."""
    if items:
        await conn.executemany(_INSERT, outbox_values(items))
