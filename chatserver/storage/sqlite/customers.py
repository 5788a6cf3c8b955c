"""SQLite storage of customer records (migration 0004): the contact directory, which visitors
belong to which customer, conversation listings, exports and deletions.

It shares the ``SQLiteDatabase``'s connections: writes go through its writer transaction, reads
through its read-only connection.

Exports and deletions walk the schema's foreign keys and ``visitor_id`` columns
(``storage/rows/customers.py``, read here from ``PRAGMA foreign_key_list``). The one exception:
knowledge-base articles drafted from the customer's conversations are exported by their foreign
key, but deleted only while unpublished (``_release_articles``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from ...domain.models import (
    ConversationFilter,
    ConversationRecord,
    ConversationStatus,
    Customer,
    CustomerData,
    RatingAverage,
    RatingsReport,
    Transcript,
)
from ...domain.ports import ConversationStore
from ...errors import Conflict, NotFound
from ..filters import Filters
from ..rows import sqlite_mark
from ..rows.attachments import stored_files
from ..rows.customers import (
    CUSTOMER_COLUMNS,
    CUSTOMER_COLUMNS_OF_C,
    RECORD_COLUMNS,
    Schema,
    collect_rows,
    conversation_filters,
    customer_from_row,
    customer_values,
    delete_rows,
    like_pattern,
    listed_once,
    record_from_row,
    referring,
)
from ._reader import Queryable
from .attachments import SQLiteAttachments
from .database import SQLiteDatabase

_QUARTER_HOUR = 900
_HAS_TAG = "EXISTS (SELECT 1 FROM json_each(conversations.tags) WHERE value = {})"
# Emails are searched one by one (not in their JSON text, where "[" or '"' would match everyone);
# order numbers in the customer's conversations and offline tickets.
_FOUND = ("(c.name LIKE {} ESCAPE '\\' OR c.phone LIKE {} ESCAPE '\\' OR c.external_id LIKE {} ESCAPE '\\' "
          "OR EXISTS (SELECT 1 FROM json_each(c.emails) e WHERE e.value LIKE {} ESCAPE '\\') "
          "OR EXISTS (SELECT 1 FROM conversations v WHERE v.customer_id = c.id AND v.order_number LIKE {} ESCAPE '\\') "
          "OR EXISTS (SELECT 1 FROM tickets t WHERE t.customer_id = c.id AND t.order_number LIKE {} ESCAPE '\\'))")


class _Rows:
    """A SQLite connection as the schema walk uses it (``rows.customers.Rows``)."""

    mark = staticmethod(sqlite_mark)

    def __init__(self, db: Queryable) -> None:
        self.db = db

    async def column(self, sql: str, params: Sequence[Any]) -> list[Any]:
        async with self.db.execute(sql, params) as cur:
            return [row[0] for row in await cur.fetchall()]

    async def records(self, sql: str, params: Sequence[Any]) -> list[dict[str, object]]:
        async with self.db.execute(sql, params) as cur:
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]

    async def execute(self, sql: str, params: Sequence[Any]) -> None:
        await self.db.execute(sql, params)


async def _read_schema(db: Queryable) -> Schema:
    rows = _Rows(db)
    tables = await rows.column("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                               "ORDER BY name", [])
    columns: dict[str, list[str]] = {}
    primary_keys: dict[str, str] = {}
    for table in tables:
        info = await rows.records(f'PRAGMA table_info("{table}")', [])
        columns[table] = [str(c["name"]) for c in info]
        primary_keys[table] = next((str(c["name"]) for c in info if c["pk"] == 1), "rowid")
    foreign_keys = []
    for table in tables:
        for key in await rows.records(f'PRAGMA foreign_key_list("{table}")', []):
            parent = str(key["table"])
            foreign_keys.append((table, str(key["from"]), parent, str(key["to"] or primary_keys.get(parent, "rowid"))))
    return Schema(tables=tables, columns=columns, primary_keys=primary_keys, foreign_keys=foreign_keys)


class SQLiteCustomers:
    """Implements ``CustomerStore``; transcripts (in exports) come from ``conversations``."""

    def __init__(self, database: SQLiteDatabase, conversations: ConversationStore,
                 attachments: SQLiteAttachments) -> None:
        self.database = database
        self._conversations = conversations
        self._attachments = attachments
        self._schema: Schema | None = None

    async def _schema_of(self, db: Queryable) -> Schema:
        if self._schema is None:
            self._schema = await _read_schema(db)
        return self._schema

    # -- customers ----------------------------------------------------------------------------

    async def add_customer(self, customer: Customer) -> None:
        try:
            async with self.database.transaction() as db:
                await db.execute(f"INSERT INTO customers ({CUSTOMER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 (customer.id, *customer_values(customer)))
        except sqlite3.IntegrityError as exc:
            raise Conflict("a customer with this external_id exists") from exc

    async def save_customer(self, customer: Customer) -> None:
        try:
            async with self.database.transaction() as db:
                await self._save(db, customer)
        except sqlite3.IntegrityError as exc:
            raise Conflict("a customer with this external_id exists") from exc

    @staticmethod
    async def _save(db: aiosqlite.Connection, customer: Customer) -> None:
        async with db.execute(
            "UPDATE customers SET external_id = ?, name = ?, emails = ?, phone = ?, notes = ?, tags = ?, "
            "created_at = ?, last_seen_at = ? WHERE id = ?",
            (*customer_values(customer), customer.id),
        ) as cur:
            if cur.rowcount == 0:
                raise NotFound("customer not found")

    async def _one(self, where: str, value: str) -> Customer | None:
        async with self.database.reader.execute(f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE {where}",
                                                (value,)) as cur:
            row = await cur.fetchone()
        return customer_from_row(row) if row else None

    async def get_customer(self, customer_id: str) -> Customer | None:
        return await self._one("id = ?", customer_id)

    async def customer_by_external_id(self, external_id: str) -> Customer | None:
        return await self._one("external_id = ?", external_id)

    async def customer_of_visitor(self, visitor_id: str) -> Customer | None:
        return await self._one("id = (SELECT customer_id FROM customer_visitors WHERE visitor_id = ?)", visitor_id)

    async def link_visitor(self, visitor_id: str, customer_id: str, at: float) -> None:
        async with self.database.transaction() as db:
            await db.execute(
                "INSERT INTO customer_visitors (visitor_id, customer_id, linked_at) VALUES (?, ?, ?) "
                "ON CONFLICT (visitor_id) DO UPDATE SET customer_id = excluded.customer_id, "
                "linked_at = excluded.linked_at",
                (visitor_id, customer_id, at),
            )
            # The visitor's rows stored before it had a customer (conversations, tickets, ...).
            schema = await self._schema_of(db)
            for table, column, _ in schema.children("customers"):
                if table != "customer_visitors" and "visitor_id" in schema.columns[table]:
                    await db.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE visitor_id = ? AND "{column}" IS NULL',
                                     (customer_id, visitor_id))

    async def merge_customers(self, source_id: str, target: Customer) -> None:
        async with self.database.transaction() as db:
            await self._save(db, target)
            # Everything that names the source (conversations, visitors, tickets, outbox rows)
            # now names the target, so deleting the source deletes nothing else.
            schema = await self._schema_of(db)
            for table, column, _ in schema.children("customers"):
                await db.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE "{column}" = ?', (target.id, source_id))
            await delete_rows(_Rows(db), schema, "customers", "id", [source_id])

    async def search_customers(self, query: str | None, limit: int, offset: int) -> tuple[list[Customer], int]:
        filters = Filters(sqlite_mark)
        if query:
            filters.add(_FOUND, *[like_pattern(query)] * 6)
        async with self.database.reader.execute(f"SELECT count(*) FROM customers c {filters.where}",
                                                filters.params) as cur:
            total_row = await cur.fetchone()
        async with self.database.reader.execute(
            f"SELECT {CUSTOMER_COLUMNS_OF_C} FROM customers c {filters.where} "
            f"ORDER BY c.last_seen_at DESC, c.id {filters.page(limit, offset)}", filters.params,
        ) as cur:
            rows = await cur.fetchall()
        return [customer_from_row(r) for r in rows], int(total_row[0]) if total_row else 0

    # -- conversations ------------------------------------------------------------------------

    async def find_conversations(
        self, where: ConversationFilter, limit: int, offset: int
    ) -> tuple[list[ConversationRecord], int]:
        filters = conversation_filters(where, Filters(sqlite_mark), _HAS_TAG)
        async with self.database.reader.execute(f"SELECT count(*) FROM conversations {filters.where}",
                                                filters.params) as cur:
            total_row = await cur.fetchone()
        async with self.database.reader.execute(
            f"SELECT {RECORD_COLUMNS} FROM conversations {filters.where} ORDER BY created_at DESC, id "
            f"{filters.page(limit, offset)}", filters.params,
        ) as cur:
            rows = await cur.fetchall()
        return [record_from_row(r) for r in rows], int(total_row[0]) if total_row else 0

    async def conversation_record(self, conversation_id: str) -> ConversationRecord | None:
        async with self.database.reader.execute(f"SELECT {RECORD_COLUMNS} FROM conversations WHERE id = ?",
                                                (conversation_id,)) as cur:
            row = await cur.fetchone()
        return record_from_row(row) if row else None

    async def agent_served_customer(self, agent_id: str, customer_id: str) -> bool:
        async with self.database.reader.execute(
            "SELECT 1 FROM assignment_events e JOIN conversations c ON c.id = e.conversation_id "
            "WHERE c.customer_id = ? AND e.agent_id = ? LIMIT 1",
            (customer_id, agent_id),
        ) as cur:
            return await cur.fetchone() is not None

    # -- export and deletion ------------------------------------------------------------------

    async def customer_data(self, customer_id: str) -> CustomerData | None:
        customer = await self.get_customer(customer_id)
        if customer is None:
            return None
        rows = _Rows(self.database.reader)
        schema = await self._schema_of(self.database.reader)
        conversation_ids = await rows.column("SELECT id FROM conversations WHERE customer_id = ? ORDER BY created_at",
                                             [customer_id])
        visitor_ids = await rows.column("SELECT visitor_id FROM customer_visitors WHERE customer_id = ? "
                                        "ORDER BY linked_at", [customer_id])
        transcripts: list[Transcript] = []
        for conversation_id in conversation_ids:
            transcript = await self._conversations.transcript(conversation_id)
            if transcript is not None:
                transcripts.append(transcript)
        related: dict[str, list[dict[str, object]]] = {}
        await collect_rows(rows, schema, "conversations", "id", conversation_ids, related)
        await collect_rows(rows, schema, "customers", "id", [customer_id], related)
        for table in schema.visitor_tables():
            await collect_rows(rows, schema, table, "visitor_id", visitor_ids, related, include_self=True)
        return CustomerData(customer=customer, visitor_ids=visitor_ids, transcripts=transcripts,
                            related=listed_once(schema, related),
                            files=await stored_files(self._attachments, conversation_ids))

    async def delete_customer(self, customer_id: str, force: bool = False) -> bool:
        async with self.database.transaction() as db:
            rows = _Rows(db)
            if not await rows.column("SELECT 1 FROM customers WHERE id = ?", [customer_id]):
                return False
            if await rows.column("SELECT 1 FROM conversations WHERE customer_id = ? AND status != ? LIMIT 1",
                                 [customer_id, str(ConversationStatus.CLOSED)]) and not force:
                raise Conflict("the customer has an active conversation; close it first (or force)")
            conversation_ids = await rows.column("SELECT id FROM conversations WHERE customer_id = ?", [customer_id])
            visitor_ids = await rows.column("SELECT visitor_id FROM customer_visitors WHERE customer_id = ?",
                                            [customer_id])
            schema = await self._schema_of(db)
            await self._release_articles(db, customer_id)
            files = await referring(rows, "attachments", "conversation_id", conversation_ids, "id")
            await delete_rows(rows, schema, "conversations", "id", conversation_ids)
            for table in schema.visitor_tables():
                await delete_rows(rows, schema, table, "visitor_id", visitor_ids)
            await delete_rows(rows, schema, "customers", "id", [customer_id])
        await self._attachments.remove_files(files)  # once their records' deletion is committed
        return True

    @staticmethod
    async def _release_articles(db: aiosqlite.Connection, customer_id: str) -> None:
        """Knowledge-base articles drafted from the customer's conversations (docs/knowledge-base.md):
        the unpublished ones hold the shopper's question and go (only published articles are in the
        search index, so nothing else needs to change); the published ones, which an admin made the
        shop's, stay, no longer naming the customer or the conversation. Done before the customer's
        rows are deleted by their foreign keys, which would take the published ones too."""
        await db.execute("DELETE FROM kb_articles WHERE source_customer_id = ? AND status != 'published'",
                         (customer_id,))
        await db.execute("UPDATE kb_articles SET source_customer_id = NULL, source_conversation_id = NULL "
                         "WHERE source_customer_id = ?", (customer_id,))

    async def delete_closed_before(self, before: float, limit: int) -> int:
        return await self._delete_some("conversations", "SELECT id FROM conversations WHERE status = ? "
                                       "AND closed_at < ? LIMIT ?", [str(ConversationStatus.CLOSED), before, limit])

    async def delete_tickets_before(self, before: float, limit: int) -> int:
        return await self._delete_some("tickets", "SELECT id FROM tickets WHERE updated_at < ? LIMIT ?",
                                       [before, limit])

    async def _delete_some(self, table: str, select_ids: str, params: list[Any]) -> int:
        async with self.database.transaction() as db:
            rows = _Rows(db)
            ids = await rows.column(select_ids, params)
            files = await referring(rows, "attachments", "conversation_id", ids, "id") \
                if table == "conversations" else []
            await delete_rows(rows, await self._schema_of(db), table, "id", ids)
        await self._attachments.remove_files(files)  # once their records' deletion is committed
        return len(ids)

    # -- reports ------------------------------------------------------------------------------

    async def ratings_report(self, since: float | None, until: float | None, timezone: str = "UTC") -> RatingsReport:
        filters = Filters(sqlite_mark)
        filters.between("r.created_at", since, until)
        where, params = filters.where, filters.params
        base = "FROM ratings r JOIN conversations c ON c.id = r.conversation_id LEFT JOIN agents a ON a.id = c.agent_id"
        db = self.database.reader
        async with db.execute(f"SELECT count(*), avg(r.rating) {base} {where}", params) as cur:
            overall = await cur.fetchone()
        async with db.execute(
            f"SELECT coalesce(c.agent_id, ''), max(coalesce(a.name, c.agent_name)), count(*), avg(r.rating) {base} "
            f"{where} GROUP BY c.agent_id ORDER BY count(*) DESC, c.agent_id", params,
        ) as cur:
            per_agent = [RatingAverage(key=r[0], label=r[1], count=r[2], average=round(r[3], 2))
                         for r in await cur.fetchall()]
        # Days are the business's (business_timezone). Every timezone's offset is a multiple of
        # 15 minutes, so SQL sums quarter hours and each quarter hour falls in one local day.
        async with db.execute(
            f"SELECT CAST(r.created_at / {_QUARTER_HOUR} AS INTEGER) AS quarter, count(*), sum(r.rating) {base} "
            f"{where} GROUP BY quarter", params,
        ) as cur:
            quarters = list(await cur.fetchall())
        zone = ZoneInfo(timezone)
        days: dict[str, list[int]] = {}
        for quarter, n, total in quarters:
            day = datetime.fromtimestamp(quarter * _QUARTER_HOUR, zone).strftime("%Y-%m-%d")
            sums = days.setdefault(day, [0, 0])
            sums[0] += n
            sums[1] += total
        per_day = [RatingAverage(key=day, label=None, count=n, average=round(total / n, 2))
                   for day, (n, total) in sorted(days.items())]
        count = int(overall[0]) if overall else 0
        average = round(overall[1], 2) if overall and overall[1] is not None else None
        return RatingsReport(count=count, average=average, per_agent=per_agent, per_day=per_day)
