"""Copying the embedded build's SQLite file into an empty PostgreSQL database (``chatserver db
copy``, docs/operations.md "Moving from the embedded build to PostgreSQL").

Both schemas have the same tables and columns (postgresql/migrations/0001_schema.sql), so rows
move as they are: ids, seqs and times unchanged. What is read and written comes from the two
catalogs, not from a list kept here, so a table or column added to both is copied without a
change to this module, and one added to SQLite only stops the copy before it writes anything
(its data would be lost). Files attached to conversations, which the embedded build keeps beside
the database (``attachments/``, sqlite/attachments.py), are written into PostgreSQL's
``attachment_parts`` in the same transaction, as its store keeps them. Two things are not
copied: SQLite's own knowledge-base search index (``SQLITE_ONLY``: PostgreSQL keeps its own,
computed from the copied articles) and the columns PostgreSQL computes itself (generated ones,
and any without a SQLite counterpart, which its defaults or triggers fill).

The rows are read in one SQLite read transaction (a snapshot: a write made meanwhile is either
wholly in it or wholly not) and written in one PostgreSQL transaction: a failure anywhere, or a
table whose row count differs at the end, leaves the target as empty as it was.
"""

from __future__ import annotations

import asyncio
import graphlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiosqlite
import asyncpg

from ..errors import StartupError
from .postgresql.attachments import parts_of
from .postgresql.database import Connection, PostgresDatabase
from .sqlite.attachments import AttachmentFiles
from .sqlite.database import SQLiteDatabase

# Rows per COPY statement: each is a round trip, and stays far inside the pool's statement
# timeout (about 0.1 s for 10,000 messages), while the next chunk is read from SQLite.
CHUNK_ROWS = 10_000

# SQLite's knowledge-base search index: the FTS5 table (with its shadow tables, kb_search_*) and
# the vocabulary for typo correction, both derived from the published articles.
SQLITE_ONLY = frozenset({"kb_search", "kb_words", "kb_word_variants"})


def _sqlite_only(table: str) -> bool:
    return table in SQLITE_ONLY or table.startswith(("kb_search_", "sqlite_"))


class CopyRefused(Exception):
    """The copy did not start (a missing file, a target holding data, schemas that differ);
    nothing was written."""


class CopyFailed(Exception):
    """The copy stopped part-way (PostgreSQL refused a row, the connection broke); its
    transaction was rolled back, nothing was written."""


@dataclass(frozen=True, slots=True)
class TableCount:
    """One table's rows in the SQLite file's snapshot and in PostgreSQL after the copy."""

    table: str
    sqlite: int
    postgresql: int

    @property
    def matches(self) -> bool:
        return self.sqlite == self.postgresql


@dataclass(frozen=True, slots=True)
class CopyResult:
    """Every copied table's counts, in the order copied; ``committed`` when they all matched and
    the copy was committed (otherwise it was rolled back)."""

    counts: list[TableCount]
    committed: bool


@dataclass(frozen=True, slots=True)
class _Table:
    name: str
    columns: tuple[str, ...]  # the ones copied
    identities: tuple[str, ...]  # identity columns among them, whose sequences move past the copied ids


async def copy_sqlite_to_postgresql(source: Path, target_url: str, chunk_rows: int = CHUNK_ROWS,
                                    attachments_dir: Path | None = None) -> CopyResult:
    """Copy every row of the SQLite file ``source`` into the empty PostgreSQL database at
    ``target_url``, after migrating both to their newest schema, with the bytes of the files in
    ``attachments_dir`` (default: ``attachments`` beside ``source``). Raises ``CopyRefused``
    before writing anything, ``CopyFailed`` when the copy was rolled back part-way."""
    if not await asyncio.to_thread(source.is_file):  # opening would create it
        raise CopyRefused(f"{source}: no such file")
    embedded = SQLiteDatabase(source)
    try:
        await embedded.open()  # migrates the file, as a server of this version would on start
    except StartupError as exc:  # not a database (SQLiteDatabase.open says why)
        raise CopyRefused(exc.message) from None
    finally:
        await embedded.close()
    target = PostgresDatabase(target_url, pool_min=1, pool_max=1)
    await target.open()
    try:
        async with _snapshot(source) as sqlite:
            return await _copy(sqlite, target, chunk_rows, attachments_dir or source.parent / "attachments")
    finally:
        await target.close()


class _Rollback(Exception):
    """Raised inside the transaction to undo a copy whose counts differ."""


async def _copy(sqlite: aiosqlite.Connection, target: PostgresDatabase, chunk_rows: int,
                attachments_dir: Path) -> CopyResult:
    counts: list[TableCount] = []
    try:
        async with target.transaction() as conn:
            tables, everything = await _plan(sqlite, conn)
            # Nothing may write while the copy runs (a server started too early): it would wait.
            await conn.execute(f"LOCK TABLE {', '.join(map(_ident, everything))} IN EXCLUSIVE MODE")
            holding = [name for name in everything
                       if await conn.fetchval(f"SELECT EXISTS (SELECT FROM {_ident(name)})")]
            if holding:
                raise CopyRefused(f"{target.name} already holds data (in {', '.join(holding)}): copy only into an "
                                  "empty database")
            for table in tables:
                try:
                    await _copy_rows(sqlite, conn, table, chunk_rows)
                except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    raise CopyFailed(f"table {table.name}: {exc}") from exc
                await _move_sequences(conn, table)
            await _copy_attachment_bytes(sqlite, conn, AttachmentFiles(attachments_dir))
            for table in tables:
                counts.append(TableCount(table.name, await _count_sqlite(sqlite, table.name),
                                         await conn.fetchval(f"SELECT count(*) FROM {_ident(table.name)}")))
            if not all(c.matches for c in counts):
                raise _Rollback()
    except _Rollback:
        return CopyResult(counts, committed=False)
    return CopyResult(counts, committed=True)


async def _plan(sqlite: aiosqlite.Connection, conn: Connection) -> tuple[list[_Table], list[str]]:
    """The tables to copy, parents before children, with the columns of each; and every table of
    the target (the copied ones and PostgreSQL's own)."""
    sqlite_columns = {name: await _sqlite_columns(sqlite, name)
                      for (name,) in await sqlite.execute_fetchall(
                          "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                      if not _sqlite_only(name)}
    target: dict[str, list[asyncpg.Record]] = {}
    for row in await conn.fetch(
            "SELECT c.table_name, c.column_name, c.is_generated, c.is_identity FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_schema, table_name) "
            "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
            "AND c.table_name <> 'schema_migrations' ORDER BY c.table_name, c.ordinal_position"):
        target.setdefault(row["table_name"], []).append(row)
    missing = sorted(set(sqlite_columns) - set(target))
    lost = sorted(f"{name}.{column}" for name, columns in sqlite_columns.items() if name in target
                  for column in columns if column not in {row["column_name"] for row in target[name]})
    if missing or lost:
        raise CopyRefused("the PostgreSQL schema has no place for "
                          + ", ".join(missing + lost) + ": is this chatserver older than the one that wrote the file?")

    order = graphlib.TopologicalSorter({name: set() for name in sorted(target)})
    for child, parent in await conn.fetch(
            "SELECT c.relname, p.relname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
            "JOIN pg_class p ON p.oid = k.confrelid "
            "WHERE k.contype = 'f' AND c.relnamespace = current_schema()::regnamespace AND c.oid <> p.oid"):
        order.add(child, parent)
    tables = []
    for name in order.static_order():
        if name not in sqlite_columns:
            continue  # PostgreSQL's own (the search index): filled from the copied rows, not copied
        copied = [row for row in target[name]
                  if row["is_generated"] == "NEVER" and row["column_name"] in sqlite_columns[name]]
        tables.append(_Table(name, tuple(row["column_name"] for row in copied),
                             tuple(row["column_name"] for row in copied if row["is_identity"] == "YES")))
    return tables, sorted(target)


async def _sqlite_columns(sqlite: aiosqlite.Connection, table: str) -> set[str]:
    return {row[1] for row in await sqlite.execute_fetchall(f"PRAGMA table_info({_ident(table)})")}


async def _count_sqlite(sqlite: aiosqlite.Connection, table: str) -> int:
    [(count,)] = await sqlite.execute_fetchall(f"SELECT count(*) FROM {_ident(table)}")
    return int(count)


async def _copy_rows(sqlite: aiosqlite.Connection, conn: Connection, table: _Table, chunk_rows: int) -> None:
    """Every row of ``table``, in COPY statements of ``chunk_rows`` rows, each next chunk read from
    SQLite (on its thread) while the one before is written."""
    async with sqlite.execute(f"SELECT {', '.join(map(_ident, table.columns))} FROM {_ident(table.name)}") as cursor:
        rows = list(await cursor.fetchmany(chunk_rows))
        while rows:
            following = asyncio.ensure_future(cursor.fetchmany(chunk_rows))
            try:
                await conn.copy_records_to_table(table.name, records=rows, columns=table.columns)
            except BaseException:
                await asyncio.gather(following, return_exceptions=True)
                raise
            rows = list(await following)


async def _copy_attachment_bytes(sqlite: aiosqlite.Connection, conn: Connection, files: AttachmentFiles) -> None:
    """The bytes of every copied attachment, from its files into ``attachment_parts`` (one whose
    files are missing stays without bytes: it is served as gone, as it was)."""
    for (attachment_id,) in await sqlite.execute_fetchall("SELECT id FROM attachments ORDER BY id"):
        for variant in ("file", "thumbnail"):
            data = await files.read(attachment_id, variant)
            if data is not None:
                await conn.executemany(
                    "INSERT INTO attachment_parts (attachment_id, variant, part, data) VALUES ($1, $2, $3, $4)",
                    [(attachment_id, variant, n, part) for n, part in enumerate(parts_of(data))])


async def _move_sequences(conn: Connection, table: _Table) -> None:
    """Set each identity column's sequence so that the next row gets the copied maximum plus one
    (COPY gives ids as they are and leaves the sequence at its start)."""
    for column in table.identities:
        await conn.execute(f"SELECT setval(pg_get_serial_sequence($1, $2), "
                           f"coalesce((SELECT max({_ident(column)}) FROM {_ident(table.name)}), 0) + 1, false)",
                           _ident(table.name), column)


def _ident(name: str) -> str:
    """``name`` quoted as an SQL identifier (the same quoting in SQLite and PostgreSQL)."""
    return '"' + name.replace('"', '""') + '"'


@asynccontextmanager
async def _snapshot(path: Path) -> AsyncIterator[aiosqlite.Connection]:
    """A read-only connection to the SQLite file in one read transaction."""
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await conn.execute("PRAGMA query_only=ON")
        # Deferred: the snapshot is taken by the first read after it, and every read until the
        # end sees the file as it was then (WAL mode), whatever is written meanwhile.
        await conn.execute("BEGIN")
        try:
            yield conn
        finally:
            await conn.execute("ROLLBACK")


__all__ = ["CHUNK_ROWS", "CopyFailed", "CopyRefused", "CopyResult", "TableCount", "copy_sqlite_to_postgresql"]
