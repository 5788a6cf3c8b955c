"""Customer records as both databases hold them, and the walk through the schema that finds
everything held about a customer (for an export) or deletes it.

Deleting or exporting "everything held" about a customer or a conversation follows the schema's
foreign keys and ``visitor_id`` columns, so rows that other features keep about a conversation or
a visitor (internal notes, tickets, ...) go with it without the stores naming their tables. Each
database reads its own catalogue into a ``Schema`` once, and gives the walk its connection as
``Rows``; the walk itself is written once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ...domain.models import ConversationFilter, ConversationRecord, Customer
from ..filters import Filters
from . import Row
from .conversations import CONVERSATION_COLUMNS, conversation_from_row

CUSTOMER_COLUMNS = "id, external_id, name, emails, phone, notes, tags, created_at, last_seen_at"
CUSTOMER_COLUMNS_OF_C = ", ".join(f"c.{c.strip()}" for c in CUSTOMER_COLUMNS.split(","))
RECORD_COLUMNS = f"{CONVERSATION_COLUMNS}, customer_id, tags"
_N_CONVERSATION_COLUMNS = len(CONVERSATION_COLUMNS.split(","))
# Long id lists are sent in chunks of this size (SQLite limits bound parameters per statement).
_CHUNK = 500
# Exported and deleted through the transcript or explicitly, not as "related" rows.
OWN_TABLES = frozenset({"conversations", "messages", "assignment_events", "ratings", "customers",
                        "customer_visitors", "attachments", "attachment_parts"})


def customer_from_row(row: Row) -> Customer:
    return Customer(id=row[0], external_id=row[1], name=row[2], emails=tuple(json.loads(row[3])), phone=row[4],
                    notes=row[5], tags=tuple(json.loads(row[6])), created_at=row[7], last_seen_at=row[8])


def customer_values(c: Customer) -> tuple[Any, ...]:
    """The customer's values in ``CUSTOMER_COLUMNS`` order, without the id."""
    return (c.external_id, c.name, json.dumps(list(c.emails), ensure_ascii=False), c.phone, c.notes,
            json.dumps(list(c.tags), ensure_ascii=False), c.created_at, c.last_seen_at)


def record_from_row(row: Row) -> ConversationRecord:
    tags = row[_N_CONVERSATION_COLUMNS + 1]
    return ConversationRecord(conversation=conversation_from_row(row),
                              customer_id=row[_N_CONVERSATION_COLUMNS], tags=tuple(json.loads(tags)) if tags else ())


def like_pattern(text: str) -> str:
    """A LIKE pattern finding ``text`` anywhere (``ESCAPE '\\'``), its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class Schema:
    """What the walk needs to know of the tables (it does not change once a store is open)."""

    tables: list[str]  # by name
    columns: dict[str, list[str]]  # in the table's order, without those the database computes
    primary_keys: dict[str, str]
    foreign_keys: list[tuple[str, str, str, str]]  # (table, its column, the referenced table, its column)

    def children(self, table: str) -> list[tuple[str, str, str]]:
        """``(child table, its column, the referenced column of table)`` for every foreign key to ``table``."""
        return [(child, column, parent_column) for child, column, parent, parent_column in self.foreign_keys
                if parent == table and child != table]

    def visitor_tables(self) -> list[str]:
        """Tables of other features keyed by the visitor (tickets, ...)."""
        return [t for t in self.tables if t not in OWN_TABLES and "visitor_id" in self.columns.get(t, [])]


class Rows(Protocol):
    """A connection of either database, as the walk uses it."""

    def mark(self, n: int) -> str:
        """The database's mark of the ``n``-th parameter (``rows.sqlite_mark``, ``rows.postgres_mark``)."""
        ...

    async def column(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """The first column of the statement's rows."""
        ...

    async def records(self, sql: str, params: Sequence[Any]) -> list[dict[str, object]]:
        """The statement's rows as column name to value."""
        ...

    async def execute(self, sql: str, params: Sequence[Any]) -> None: ...


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _in(rows: Rows, column: str, chunk: Sequence[Any]) -> Filters:
    filters = Filters(rows.mark)
    filters.one_of(f'"{column}"', chunk)
    return filters


async def _values(rows: Rows, table: str, column: str, values: Sequence[Any], wanted: str) -> list[Any]:
    if wanted == column:
        return list(values)
    out: list[Any] = []
    for chunk in _chunks(values):
        where = _in(rows, column, chunk)
        out += await rows.column(f'SELECT "{wanted}" FROM "{table}" {where.where}', where.params)
    return out


async def referring(rows: Rows, table: str, column: str, values: Sequence[Any], wanted: str) -> list[Any]:
    """``wanted`` of the rows of ``table`` whose ``column`` is in ``values`` (the files of
    conversations about to be deleted, say)."""
    out: list[Any] = []
    for chunk in _chunks(values):
        where = _in(rows, column, chunk)
        out += await rows.column(f'SELECT "{wanted}" FROM "{table}" {where.where}', where.params)
    return out


async def delete_rows(rows: Rows, schema: Schema, table: str, column: str, values: Sequence[Any]) -> None:
    """Delete the rows of ``table`` whose ``column`` is in ``values``, and first every row that
    refers to them (recursively), so foreign keys hold throughout."""
    if not values:
        return
    for child, child_column, parent_column in schema.children(table):
        await delete_rows(rows, schema, child, child_column, await _values(rows, table, column, values, parent_column))
    for chunk in _chunks(values):
        where = _in(rows, column, chunk)
        await rows.execute(f'DELETE FROM "{table}" {where.where}', where.params)


async def collect_rows(rows: Rows, schema: Schema, table: str, column: str, values: Sequence[Any],
                       into: dict[str, list[dict[str, object]]], include_self: bool = False) -> None:
    """Add to ``into`` the rows of other features' tables that refer (recursively) to these rows."""
    if not values:
        return
    if include_self and table not in OWN_TABLES:
        for chunk in _chunks(values):
            where = _in(rows, column, chunk)
            columns = ", ".join(f'"{c}"' for c in schema.columns[table])
            into.setdefault(table, []).extend(await rows.records(f'SELECT {columns} FROM "{table}" {where.where}',
                                                                 where.params))
    for child, child_column, parent_column in schema.children(table):
        if child in OWN_TABLES:
            continue
        await collect_rows(rows, schema, child, child_column,
                           await _values(rows, table, column, values, parent_column), into, include_self=True)


def listed_once(schema: Schema, related: dict[str, list[dict[str, object]]]) -> dict[str, list[dict[str, object]]]:
    """``related`` with a row reached both through the customer and through its visitor (a ticket)
    listed once, by its primary key (a worker may have updated an outbox row between the reads)."""
    out = {}
    for table, found in related.items():
        key = schema.primary_keys.get(table, "")
        unique: dict[str, dict[str, object]] = {}
        for row in found:
            unique.setdefault(str(row[key]) if key in row else json.dumps(row, sort_keys=True, default=str), row)
        out[table] = list(unique.values())
    return out


def conversation_filters(where: ConversationFilter, filters: Filters, has_tag: str) -> Filters:
    """``filters`` narrowed to the conversations ``where`` asks for; ``has_tag`` is the database's
    condition that ``conversations.tags`` holds ``{}``."""
    filters.equal("status", str(where.status) if where.status else None)
    filters.equal("agent_id", where.agent_id)
    filters.equal("department", where.department)
    filters.equal("customer_id", where.customer_id)
    if where.tag is not None:
        filters.add(has_tag, where.tag)
    filters.between("created_at", where.since, where.until)
    return filters
