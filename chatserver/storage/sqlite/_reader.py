"""The store's read-only connection, read so that every read sees what was committed before it.

With aiosqlite, ``async with conn.execute(sql) as cur: await cur.fetchone()`` is three calls on the
connection's thread (execute, fetch, close), and between them the statement stays open. An open
statement keeps the connection's read transaction open, and every other coroutine's read that
runs on that thread meanwhile runs in the same transaction: it sees the database as it was when
the first statement started, without what was committed since. Measured: with three coroutines
reading in a loop, 500 to 1,250 of 2,000 reads made right after a commit did not see it (a
visitor answering a request a moment after it was stored was told it did not exist).

``ReadConnection.execute`` keeps aiosqlite's shape (awaitable, or ``async with``, giving
``fetchone``/``fetchall``/``description``) but runs the statement, reads every row and closes it
in one call on the thread, so no statement is ever left open between calls and each read is a
transaction of its own.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Generator, Iterable, Sequence
from typing import Any

import aiosqlite

from ..group_commit import UNOBSERVED, DatabaseObserver


def _read(conn: sqlite3.Connection, sql: str, parameters: Iterable[Any]) -> tuple[list[Any], Any]:
    cursor = conn.execute(sql, tuple(parameters))
    try:
        return cursor.fetchall(), cursor.description
    finally:
        cursor.close()


class ReadRows:
    """The rows of one read, already fetched."""

    __slots__ = ("_rows", "description")

    def __init__(self, rows: list[Any], description: Any) -> None:
        self._rows = rows
        self.description = description

    async def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    async def fetchall(self) -> list[Any]:
        return list(self._rows)

    async def __aenter__(self) -> ReadRows:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None


class _PendingRead:
    """What ``ReadConnection.execute`` returns: await it, or use it with ``async with``."""

    __slots__ = ("_connection", "_parameters", "_sql")

    def __init__(self, connection: ReadConnection, sql: str, parameters: Iterable[Any]) -> None:
        self._connection = connection
        self._sql = sql
        self._parameters = parameters

    async def _run(self) -> ReadRows:
        rows, description = await self._connection._call(_read, self._sql, self._parameters)
        return ReadRows(rows, description)

    def __await__(self) -> Generator[Any, None, ReadRows]:
        return self._run().__await__()

    async def __aenter__(self) -> ReadRows:
        return await self._run()

    async def __aexit__(self, *exc_info: object) -> None:
        return None


class ReadConnection:
    def __init__(self, connection: aiosqlite.Connection, observer: DatabaseObserver = UNOBSERVED) -> None:
        self._connection = connection
        self._observer = observer

    async def _call(self, fn: Any, *args: Any) -> Any:
        # aiosqlite runs a function on its thread with ``_execute`` and holds the sqlite3
        # connection in ``_conn`` (private: aiosqlite is pinned in pyproject.toml; check both
        # before moving the pin, as for the writer's group commit).
        started = time.perf_counter()
        try:
            result = await self._connection._execute(fn, self._connection._conn, *args)  # type: ignore[no-untyped-call]
        except sqlite3.Error:
            self._observer.database_failed("query")
            raise
        self._observer.queried(time.perf_counter() - started)
        return result

    def execute(self, sql: str, parameters: Sequence[Any] | Iterable[Any] = ()) -> _PendingRead:
        return _PendingRead(self, sql, parameters)

    async def execute_fetchall(self, sql: str, parameters: Sequence[Any] | Iterable[Any] = ()) -> list[Any]:
        rows, _ = await self._call(_read, sql, parameters)
        return list(rows)

    async def close(self) -> None:
        await self._connection.close()


# Either connection, for helpers that read inside a write transaction or on their own.
Queryable = aiosqlite.Connection | ReadConnection
