"""PostgreSQL storage of customer records: the contact directory, which visitors belong to which
customer, conversation listings, exports and deletions, retention and the ratings report.

Exports and deletions walk the schema's foreign keys and ``visitor_id`` columns
(``storage/rows/customers.py``, read here from PostgreSQL's catalogue), as the SQLite store does;
knowledge-base articles drafted from the customer's conversations are exported, and deleted only
while unpublished. An export reads in one repeatable-read transaction, so what it lists is one
moment's state even while other hosts write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

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
from ..rows import postgres_mark
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
)
from .attachments import PostgresAttachments
from .database import Connection, PostgresDatabase

_HAS_TAG = "conversations.tags::jsonb @> jsonb_build_array({}::text)"
# As SQLite's LIKE, any case; emails one by one, order numbers of the customer's conversations and
# offline tickets.
_FOUND = ("(c.name ILIKE {0} ESCAPE '\\' OR c.phone ILIKE {0} ESCAPE '\\' OR c.external_id ILIKE {0} ESCAPE '\\' "
          "OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(c.emails::jsonb) AS e (email) "
          "WHERE e.email ILIKE {0} ESCAPE '\\') "
          "OR EXISTS (SELECT 1 FROM conversations v "
          "WHERE v.customer_id = c.id AND v.order_number ILIKE {0} ESCAPE '\\') "
          "OR EXISTS (SELECT 1 FROM tickets t WHERE t.customer_id = c.id AND t.order_number ILIKE {0} ESCAPE '\\'))")
_RATINGS = "FROM ratings r JOIN conversations c ON c.id = r.conversation_id LEFT JOIN agents a ON a.id = c.agent_id"


class _Rows:
    """A PostgreSQL connection as the schema walk uses it (``rows.customers.Rows``)."""

    mark = staticmethod(postgres_mark)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def column(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return [row[0] for row in await self.conn.fetch(sql, *params)]

    async def records(self, sql: str, params: Sequence[Any]) -> list[dict[str, object]]:
        return [dict(row) for row in await self.conn.fetch(sql, *params)]

    async def execute(self, sql: str, params: Sequence[Any]) -> None:
        await self.conn.execute(sql, *params)


async def _read_schema(conn: Connection) -> Schema:
    tables = [r[0] for r in await conn.fetch(
        'SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename COLLATE "C"')]
    columns: dict[str, list[str]] = {}
    # Generated columns (the articles' search vector) are the database's, not data held.
    for table, column in await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND is_generated = 'NEVER' ORDER BY table_name, ordinal_position"):
        columns.setdefault(table, []).append(column)
    primary_keys = {r[0]: r[1] for r in await conn.fetch(
        "SELECT t.relname, a.attname FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
        "WHERE i.indisprimary AND t.relnamespace = current_schema()::regnamespace")}
    foreign_keys = [(r[0], r[1], r[2], r[3]) for r in await conn.fetch(
        "SELECT t.relname, a.attname, p.relname, pa.attname FROM pg_constraint k "
        "JOIN pg_class t ON t.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid "
        "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] "
        "JOIN pg_attribute pa ON pa.attrelid = k.confrelid AND pa.attnum = k.confkey[1] "
        "WHERE k.contype = 'f' AND k.connamespace = current_schema()::regnamespace "
        'ORDER BY t.relname COLLATE "C", a.attname')]
    return Schema(tables=tables, columns=columns, primary_keys=primary_keys, foreign_keys=foreign_keys)


class PostgresCustomers:
    """Implements ``CustomerStore``; transcripts (in exports) come from ``conversations``."""

    def __init__(self, database: PostgresDatabase, conversations: ConversationStore,
                 attachments: PostgresAttachments) -> None:
        self.database = database
        self._conversations = conversations
        self._attachments = attachments
        self._schema: Schema | None = None

    async def _schema_of(self, conn: Connection) -> Schema:
        if self._schema is None:
            self._schema = await _read_schema(conn)
        return self._schema

    # -- customers ----------------------------------------------------------------------------

    async def add_customer(self, customer: Customer) -> None:
        try:
            async with self.database.transaction() as conn:
                await conn.execute(f"INSERT INTO customers ({CUSTOMER_COLUMNS}) "
                                   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                                   customer.id, *customer_values(customer))
        except asyncpg.UniqueViolationError as exc:
            raise Conflict("a customer with this external_id exists") from exc

    async def save_customer(self, customer: Customer) -> None:
        try:
            async with self.database.transaction() as conn:
                await self._save(conn, customer)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict("a customer with this external_id exists") from exc

    @staticmethod
    async def _save(conn: Connection, customer: Customer) -> None:
        status = await conn.execute(
            "UPDATE customers SET external_id = $1, name = $2, emails = $3, phone = $4, notes = $5, tags = $6, "
            "created_at = $7, last_seen_at = $8 WHERE id = $9", *customer_values(customer), customer.id)
        if status == "UPDATE 0":
            raise NotFound("customer not found")

    async def _one(self, where: str, value: str) -> Customer | None:
        row = await self.database.fetchrow(f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE {where}", value)
        return customer_from_row(row) if row else None

    async def get_customer(self, customer_id: str) -> Customer | None:
        return await self._one("id = $1", customer_id)

    async def customer_by_external_id(self, external_id: str) -> Customer | None:
        return await self._one("external_id = $1", external_id)

    async def customer_of_visitor(self, visitor_id: str) -> Customer | None:
        return await self._one("id = (SELECT customer_id FROM customer_visitors WHERE visitor_id = $1)", visitor_id)

    async def link_visitor(self, visitor_id: str, customer_id: str, at: float) -> None:
        async with self.database.transaction() as conn:
            await conn.execute(
                "INSERT INTO customer_visitors (visitor_id, customer_id, linked_at) VALUES ($1, $2, $3) "
                "ON CONFLICT (visitor_id) DO UPDATE SET customer_id = excluded.customer_id, "
                "linked_at = excluded.linked_at", visitor_id, customer_id, at)
            # The visitor's rows stored before it had a customer (conversations, tickets, ...).
            schema = await self._schema_of(conn)
            for table, column, _ in schema.children("customers"):
                if table != "customer_visitors" and "visitor_id" in schema.columns[table]:
                    await conn.execute(f'UPDATE "{table}" SET "{column}" = $1 WHERE visitor_id = $2 '
                                       f'AND "{column}" IS NULL', customer_id, visitor_id)

    async def merge_customers(self, source_id: str, target: Customer) -> None:
        async with self.database.transaction() as conn:
            await self._save(conn, target)
            # Everything that names the source (conversations, visitors, tickets, outbox rows)
            # now names the target, so deleting the source deletes nothing else.
            schema = await self._schema_of(conn)
            for table, column, _ in schema.children("customers"):
                await conn.execute(f'UPDATE "{table}" SET "{column}" = $1 WHERE "{column}" = $2', target.id, source_id)
            await delete_rows(_Rows(conn), schema, "customers", "id", [source_id])

    async def search_customers(self, query: str | None, limit: int, offset: int) -> tuple[list[Customer], int]:
        filters = Filters(postgres_mark)
        if query:
            filters.add(_FOUND.replace("{0}", filters.mark(like_pattern(query))))
        total = await self.database.fetchval(f"SELECT count(*) FROM customers c {filters.where}", *filters.params)
        rows = await self.database.fetch(
            f"SELECT {CUSTOMER_COLUMNS_OF_C} FROM customers c {filters.where} "
            f'ORDER BY c.last_seen_at DESC, c.id COLLATE "C" {filters.page(limit, offset)}', *filters.params)
        return [customer_from_row(r) for r in rows], int(total)

    # -- conversations ------------------------------------------------------------------------

    async def find_conversations(
        self, where: ConversationFilter, limit: int, offset: int
    ) -> tuple[list[ConversationRecord], int]:
        filters = conversation_filters(where, Filters(postgres_mark), _HAS_TAG)
        total = await self.database.fetchval(f"SELECT count(*) FROM conversations {filters.where}", *filters.params)
        rows = await self.database.fetch(
            f'SELECT {RECORD_COLUMNS} FROM conversations {filters.where} ORDER BY created_at DESC, id COLLATE "C" '
            f"{filters.page(limit, offset)}", *filters.params)
        return [record_from_row(r) for r in rows], int(total)

    async def conversation_record(self, conversation_id: str) -> ConversationRecord | None:
        row = await self.database.fetchrow(f"SELECT {RECORD_COLUMNS} FROM conversations WHERE id = $1",
                                           conversation_id)
        return record_from_row(row) if row else None

    async def agent_served_customer(self, agent_id: str, customer_id: str) -> bool:
        return await self.database.fetchval(
            "SELECT 1 FROM assignment_events e JOIN conversations c ON c.id = e.conversation_id "
            "WHERE c.customer_id = $1 AND e.agent_id = $2 LIMIT 1", customer_id, agent_id) is not None

    # -- export and deletion ------------------------------------------------------------------

    async def customer_data(self, customer_id: str) -> CustomerData | None:
        customer = await self.get_customer(customer_id)
        if customer is None:
            return None
        async with self.database.connection() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            rows = _Rows(conn)
            schema = await self._schema_of(conn)
            conversation_ids = await rows.column("SELECT id FROM conversations WHERE customer_id = $1 "
                                                 "ORDER BY created_at", [customer_id])
            visitor_ids = await rows.column("SELECT visitor_id FROM customer_visitors WHERE customer_id = $1 "
                                            "ORDER BY linked_at", [customer_id])
            related: dict[str, list[dict[str, object]]] = {}
            await collect_rows(rows, schema, "conversations", "id", conversation_ids, related)
            await collect_rows(rows, schema, "customers", "id", [customer_id], related)
            for table in schema.visitor_tables():
                await collect_rows(rows, schema, table, "visitor_id", visitor_ids, related, include_self=True)
        transcripts: list[Transcript] = []
        for conversation_id in conversation_ids:
            transcript = await self._conversations.transcript(conversation_id)
            if transcript is not None:
                transcripts.append(transcript)
        return CustomerData(customer=customer, visitor_ids=visitor_ids, transcripts=transcripts,
                            related=listed_once(schema, related),
                            files=await stored_files(self._attachments, conversation_ids))

    async def delete_customer(self, customer_id: str, force: bool = False) -> bool:
        async with self.database.transaction() as conn:
            # Locked first: a host linking a visitor to this customer meanwhile waits, then fails
            # on its foreign key instead of leaving a link to nobody.
            if await conn.fetchval("SELECT 1 FROM customers WHERE id = $1 FOR UPDATE", customer_id) is None:
                return False
            if not force and await conn.fetchval(
                    "SELECT 1 FROM conversations WHERE customer_id = $1 AND status != $2 LIMIT 1",
                    customer_id, str(ConversationStatus.CLOSED)) is not None:
                raise Conflict("the customer has an active conversation; close it first (or force)")
            rows = _Rows(conn)
            conversation_ids = await rows.column("SELECT id FROM conversations WHERE customer_id = $1", [customer_id])
            visitor_ids = await rows.column("SELECT visitor_id FROM customer_visitors WHERE customer_id = $1",
                                            [customer_id])
            schema = await self._schema_of(conn)
            # Articles drafted from the customer's chats: the unpublished ones go, the published
            # ones stay the shop's without naming the customer (as SQLiteCustomers._release_articles).
            await conn.execute("DELETE FROM kb_articles WHERE source_customer_id = $1 AND status != 'published'",
                               customer_id)
            await conn.execute("UPDATE kb_articles SET source_customer_id = NULL, source_conversation_id = NULL "
                               "WHERE source_customer_id = $1", customer_id)
            await delete_rows(rows, schema, "conversations", "id", conversation_ids)
            for table in schema.visitor_tables():
                await delete_rows(rows, schema, table, "visitor_id", visitor_ids)
            await delete_rows(rows, schema, "customers", "id", [customer_id])
        return True

    async def delete_closed_before(self, before: float, limit: int) -> int:
        return await self._delete_some("conversations", "SELECT id FROM conversations WHERE status = $1 "
                                       "AND closed_at < $2 LIMIT $3", [str(ConversationStatus.CLOSED), before, limit])

    async def delete_tickets_before(self, before: float, limit: int) -> int:
        return await self._delete_some("tickets", "SELECT id FROM tickets WHERE updated_at < $1 LIMIT $2",
                                       [before, limit])

    async def _delete_some(self, table: str, select_ids: str, params: list[Any]) -> int:
        async with self.database.transaction() as conn:
            rows = _Rows(conn)
            # SKIP LOCKED: two hosts running retention at once take different rows.
            ids = await rows.column(f"{select_ids} FOR UPDATE SKIP LOCKED", params)
            await delete_rows(rows, await self._schema_of(conn), table, "id", ids)
        return len(ids)

    # -- reports ------------------------------------------------------------------------------

    async def ratings_report(self, since: float | None, until: float | None, timezone: str = "UTC") -> RatingsReport:
        filters = Filters(postgres_mark)
        filters.between("r.created_at", since, until)
        where, params = filters.where, filters.params
        overall = await self.database.fetchrow(f"SELECT count(*), avg(r.rating)::float8 {_RATINGS} {where}", *params)
        per_agent = [RatingAverage(key=r[0], label=r[1], count=int(r[2]), average=round(r[3], 2))
                     for r in await self.database.fetch(
                         f"SELECT coalesce(c.agent_id, ''), max(coalesce(a.name, c.agent_name)), count(*), "
                         f"avg(r.rating)::float8 {_RATINGS} {where} GROUP BY c.agent_id "
                         'ORDER BY count(*) DESC, c.agent_id COLLATE "C" NULLS FIRST', *params)]
        # Days are the business's (business_timezone).
        day = f"to_char(to_timestamp(r.created_at) AT TIME ZONE {filters.mark(timezone)}, 'YYYY-MM-DD')"
        per_day = [RatingAverage(key=r[0], label=None, count=int(r[1]), average=round(r[2] / r[1], 2))
                   for r in await self.database.fetch(
                       f"SELECT {day} AS day, count(*), sum(r.rating) {_RATINGS} {where} GROUP BY day ORDER BY day",
                       *filters.params)]
        count = int(overall[0]) if overall else 0
        average = round(overall[1], 2) if overall and overall[1] is not None else None
        return RatingsReport(count=count, average=average, per_agent=per_agent, per_day=per_day)
