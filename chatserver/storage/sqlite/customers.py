"""SQLite storage of customer records (migration 0004): the contact directory, which visitors
belong to which customer, conversation listings, exports and deletions.

It shares the ``SQLiteDatabase``'s connections: writes go through its writer transaction, reads
through its read-only connection.

Deleting or exporting "everything held" about a customer or a conversation follows the schema's
foreign keys (``PRAGMA foreign_key_list``) and ``visitor_id`` columns, so rows that other
features keep about a conversation or a visitor (internal notes, tickets, ...) go with it
without this module naming their tables. The one exception: knowledge-base articles drafted
from the customer's conversations are exported by their foreign key, but deleted only while
unpublished (``_release_articles``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
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
from ..rows.conversations import CONVERSATION_COLUMNS, conversation_from_row
from ._reader import Queryable
from .database import SQLiteDatabase

_CUSTOMER_COLUMNS = "id, external_id, name, emails, phone, notes, tags, created_at, last_seen_at"
_RECORD_COLUMNS = f"{CONVERSATION_COLUMNS}, customer_id, tags"
_N_CONVERSATION_COLUMNS = len(CONVERSATION_COLUMNS.split(","))
# SQLite limits bound parameters per statement; long id lists are sent in chunks of this size.
_CHUNK = 500
_QUARTER_HOUR = 900
# Exported and deleted through the transcript or explicitly, not as "related" rows.
_OWN_TABLES = frozenset({"conversations", "messages", "assignment_events", "ratings", "customers",
                         "customer_visitors"})


def _customer(row: sqlite3.Row | tuple[Any, ...]) -> Customer:
    return Customer(id=row[0], external_id=row[1], name=row[2], emails=tuple(json.loads(row[3])), phone=row[4],
                    notes=row[5], tags=tuple(json.loads(row[6])), created_at=row[7], last_seen_at=row[8])


def _customer_params(c: Customer) -> tuple[Any, ...]:
    return (c.external_id, c.name, json.dumps(list(c.emails), ensure_ascii=False), c.phone, c.notes,
            json.dumps(list(c.tags), ensure_ascii=False), c.created_at, c.last_seen_at)


def _record(row: sqlite3.Row | tuple[Any, ...]) -> ConversationRecord:
    tags = row[_N_CONVERSATION_COLUMNS + 1]
    return ConversationRecord(conversation=conversation_from_row(row), customer_id=row[_N_CONVERSATION_COLUMNS],
                              tags=tuple(json.loads(tags)) if tags else ())


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


class SQLiteCustomers:
    """Implements ``CustomerStore``; transcripts (in exports) come from ``conversations``."""

    def __init__(self, database: SQLiteDatabase, conversations: ConversationStore) -> None:
        self.database = database
        self._conversations = conversations
        # The schema does not change once the store is open: what it says is read once.
        self._children_of: dict[str, list[tuple[str, str, str]]] = {}
        self._columns_of: dict[str, set[str]] = {}

    # -- customers ----------------------------------------------------------------------------

    async def add_customer(self, customer: Customer) -> None:
        try:
            async with self.database.transaction() as db:
                await db.execute(f"INSERT INTO customers ({_CUSTOMER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 (customer.id, *_customer_params(customer)))
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
            (*_customer_params(customer), customer.id),
        ) as cur:
            if cur.rowcount == 0:
                raise NotFound("customer not found")

    async def _one(self, where: str, value: str) -> Customer | None:
        async with self.database.reader.execute(f"SELECT {_CUSTOMER_COLUMNS} FROM customers WHERE {where}",
                                          (value,)) as cur:
            row = await cur.fetchone()
        return _customer(row) if row else None

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
            for table, column, _ in await self._children(db, "customers"):
                if table != "customer_visitors" and "visitor_id" in await self._columns(db, table):
                    await db.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE visitor_id = ? AND "{column}" IS NULL',
                                     (customer_id, visitor_id))

    async def merge_customers(self, source_id: str, target: Customer) -> None:
        async with self.database.transaction() as db:
            await self._save(db, target)
            # Everything that names the source (conversations, visitors, tickets, outbox rows)
            # now names the target, so deleting the source deletes nothing else.
            for table, column, _ in await self._children(db, "customers"):
                await db.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE "{column}" = ?', (target.id, source_id))
            await self._delete_rows(db, "customers", "id", [source_id])

    async def search_customers(self, query: str | None, limit: int, offset: int) -> tuple[list[Customer], int]:
        where, params = "", []
        if query:
            pattern = _like(query)
            # Emails are searched one by one (not in their JSON text, where "[" or '"' would match
            # everyone); order numbers in the customer's conversations and offline tickets.
            where = ("WHERE c.name LIKE ? ESCAPE '\\' OR c.phone LIKE ? ESCAPE '\\' "
                     "OR c.external_id LIKE ? ESCAPE '\\' "
                     "OR EXISTS (SELECT 1 FROM json_each(c.emails) e WHERE e.value LIKE ? ESCAPE '\\') "
                     "OR EXISTS (SELECT 1 FROM conversations v "
                     "WHERE v.customer_id = c.id AND v.order_number LIKE ? ESCAPE '\\') "
                     "OR EXISTS (SELECT 1 FROM tickets t "
                     "WHERE t.customer_id = c.id AND t.order_number LIKE ? ESCAPE '\\')")
            params = [pattern] * 6
        async with self.database.reader.execute(f"SELECT count(*) FROM customers c {where}", params) as cur:
            total_row = await cur.fetchone()
        async with self.database.reader.execute(
            f"SELECT {', '.join('c.' + col.strip() for col in _CUSTOMER_COLUMNS.split(','))} FROM customers c "
            f"{where} ORDER BY c.last_seen_at DESC, c.id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        ) as cur:
            rows = await cur.fetchall()
        return [_customer(r) for r in rows], int(total_row[0]) if total_row else 0

    # -- conversations ------------------------------------------------------------------------

    async def find_conversations(
        self, where: ConversationFilter, limit: int, offset: int
    ) -> tuple[list[ConversationRecord], int]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("status", str(where.status) if where.status else None), ("agent_id", where.agent_id),
                              ("department", where.department), ("customer_id", where.customer_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if where.tag is not None:
            clauses.append("EXISTS (SELECT 1 FROM json_each(conversations.tags) WHERE value = ?)")
            params.append(where.tag)
        if where.since is not None:
            clauses.append("created_at >= ?")
            params.append(where.since)
        if where.until is not None:
            clauses.append("created_at < ?")
            params.append(where.until)
        sql_where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        async with self.database.reader.execute(f"SELECT count(*) FROM conversations {sql_where}", params) as cur:
            total_row = await cur.fetchone()
        async with self.database.reader.execute(
            f"SELECT {_RECORD_COLUMNS} FROM conversations {sql_where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        ) as cur:
            rows = await cur.fetchall()
        return [_record(r) for r in rows], int(total_row[0]) if total_row else 0

    async def conversation_record(self, conversation_id: str) -> ConversationRecord | None:
        async with self.database.reader.execute(f"SELECT {_RECORD_COLUMNS} FROM conversations WHERE id = ?",
                                          (conversation_id,)) as cur:
            row = await cur.fetchone()
        return _record(row) if row else None

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
        db = self.database.reader
        conversation_ids = await self._column(db, "SELECT id FROM conversations WHERE customer_id = ? "
                                                  "ORDER BY created_at", [customer_id])
        visitor_ids = await self._column(db, "SELECT visitor_id FROM customer_visitors WHERE customer_id = ? "
                                             "ORDER BY linked_at", [customer_id])
        transcripts: list[Transcript] = []
        for conversation_id in conversation_ids:
            transcript = await self._conversations.transcript(conversation_id)
            if transcript is not None:
                transcripts.append(transcript)
        related: dict[str, list[dict[str, object]]] = {}
        await self._collect_rows(db, "conversations", "id", conversation_ids, related)
        await self._collect_rows(db, "customers", "id", [customer_id], related)
        for table in await self._visitor_tables(db):
            await self._collect_rows(db, table, "visitor_id", visitor_ids, related, include_self=True)
        # A row reached both through the customer and through its visitor (a ticket) is listed once
        # (by its primary key: a worker may have updated an outbox row between the two reads).
        for table, rows in related.items():
            key = await self._primary_key(db, table)
            unique: dict[str, dict[str, object]] = {}
            for row in rows:
                unique.setdefault(str(row[key]) if key in row else json.dumps(row, sort_keys=True, default=str), row)
            related[table] = list(unique.values())
        return CustomerData(customer=customer, visitor_ids=visitor_ids, transcripts=transcripts, related=related)

    async def delete_customer(self, customer_id: str, force: bool = False) -> bool:
        async with self.database.transaction() as db:
            async with db.execute("SELECT 1 FROM customers WHERE id = ?", (customer_id,)) as cur:
                if await cur.fetchone() is None:
                    return False
            async with db.execute("SELECT 1 FROM conversations WHERE customer_id = ? AND status != ? LIMIT 1",
                                  (customer_id, str(ConversationStatus.CLOSED))) as cur:
                if await cur.fetchone() is not None and not force:
                    raise Conflict("the customer has an active conversation; close it first (or force)")
            conversation_ids = await self._column(db, "SELECT id FROM conversations WHERE customer_id = ?",
                                                  [customer_id])
            visitor_ids = await self._column(db, "SELECT visitor_id FROM customer_visitors WHERE customer_id = ?",
                                             [customer_id])
            await self._release_articles(db, customer_id)
            await self._delete_rows(db, "conversations", "id", conversation_ids)
            for table in await self._visitor_tables(db):
                await self._delete_rows(db, table, "visitor_id", visitor_ids)
            await self._delete_rows(db, "customers", "id", [customer_id])
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
        async with self.database.transaction() as db:
            ids = await self._column(db, "SELECT id FROM conversations WHERE status = ? AND closed_at < ? LIMIT ?",
                                     [str(ConversationStatus.CLOSED), before, limit])
            await self._delete_rows(db, "conversations", "id", ids)
        return len(ids)

    async def delete_tickets_before(self, before: float, limit: int) -> int:
        async with self.database.transaction() as db:
            ids = await self._column(db, "SELECT id FROM tickets WHERE updated_at < ? LIMIT ?", [before, limit])
            await self._delete_rows(db, "tickets", "id", ids)
        return len(ids)

    @staticmethod
    async def _column(db: Queryable, sql: str, params: Sequence[Any]) -> list[Any]:
        async with db.execute(sql, params) as cur:
            return [row[0] for row in await cur.fetchall()]

    async def _children(self, db: Queryable, table: str) -> list[tuple[str, str, str]]:
        """``(child table, its column, the referenced column of table)`` for every foreign key to ``table``."""
        if table not in self._children_of:
            self._children_of[table] = await self._find_children(db, table)
        return self._children_of[table]

    async def _find_children(self, db: Queryable, table: str) -> list[tuple[str, str, str]]:
        found = []
        for name in await self._column(db, "SELECT name FROM sqlite_master WHERE type = 'table' "
                                           "AND name NOT LIKE 'sqlite_%' ORDER BY name", []):
            async with db.execute(f'PRAGMA foreign_key_list("{name}")') as cur:
                for row in await cur.fetchall():
                    if row[2] == table and name != table:
                        found.append((name, row[3], row[4] or await self._primary_key(db, table)))
        return found

    @staticmethod
    async def _primary_key(db: Queryable, table: str) -> str:
        async with db.execute(f'PRAGMA table_info("{table}")') as cur:
            for row in await cur.fetchall():
                if row[5] == 1:
                    return str(row[1])
        return "rowid"

    async def _columns(self, db: Queryable, table: str) -> set[str]:
        if table not in self._columns_of:
            async with db.execute(f'PRAGMA table_info("{table}")') as cur:
                self._columns_of[table] = {str(row[1]) for row in await cur.fetchall()}
        return self._columns_of[table]

    async def _visitor_tables(self, db: Queryable) -> list[str]:
        """Tables of other features keyed by the visitor (tickets, ...)."""
        tables = []
        for name in await self._column(db, "SELECT name FROM sqlite_master WHERE type = 'table' "
                                           "AND name NOT LIKE 'sqlite_%' ORDER BY name", []):
            if name not in _OWN_TABLES and "visitor_id" in await self._columns(db, name):
                tables.append(name)
        return tables

    async def _values(self, db: Queryable, table: str, column: str, values: Sequence[Any],
                      wanted: str) -> list[Any]:
        if wanted == column:
            return list(values)
        out: list[Any] = []
        for chunk in _chunks(values):
            out += await self._column(db, f'SELECT "{wanted}" FROM "{table}" WHERE "{column}" IN ({_marks(chunk)})',
                                      chunk)
        return out

    async def _delete_rows(self, db: aiosqlite.Connection, table: str, column: str, values: Sequence[Any]) -> None:
        """Delete the rows of ``table`` whose ``column`` is in ``values``, and first every row that
        refers to them (recursively), so foreign keys hold throughout."""
        if not values:
            return
        for child, child_column, parent_column in await self._children(db, table):
            await self._delete_rows(db, child, child_column,
                                    await self._values(db, table, column, values, parent_column))
        for chunk in _chunks(values):
            await db.execute(f'DELETE FROM "{table}" WHERE "{column}" IN ({_marks(chunk)})', chunk)

    async def _collect_rows(self, db: Queryable, table: str, column: str, values: Sequence[Any],
                            into: dict[str, list[dict[str, object]]], include_self: bool = False) -> None:
        """Add to ``into`` the rows of other features' tables that refer (recursively) to these rows."""
        if not values:
            return
        if include_self and table not in _OWN_TABLES:
            for chunk in _chunks(values):
                async with db.execute(f'SELECT * FROM "{table}" WHERE "{column}" IN ({_marks(chunk)})', chunk) as cur:
                    names = [d[0] for d in cur.description]
                    into.setdefault(table, []).extend(dict(zip(names, row, strict=True))
                                                      for row in await cur.fetchall())
        for child, child_column, parent_column in await self._children(db, table):
            if child in _OWN_TABLES:
                continue
            await self._collect_rows(db, child, child_column,
                                     await self._values(db, table, column, values, parent_column), into,
                                     include_self=True)

    # -- reports ------------------------------------------------------------------------------

    async def ratings_report(self, since: float | None, until: float | None, timezone: str = "UTC") -> RatingsReport:
        clauses, params = [], []
        if since is not None:
            clauses.append("r.created_at >= ?")
            params.append(since)
        if until is not None:
            clauses.append("r.created_at < ?")
            params.append(until)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
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
