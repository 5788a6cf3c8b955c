"""The SQLite file and its connections: one writer, one reader, one checkpointer.

One writer connection, guarded by a lock so a transaction's statements never interleave with
another coroutine's, and ``BEGIN IMMEDIATE`` so several processes sharing the file serialize
their writes; one reader connection that sees only committed data (``_reader.py``).

The busy writes (messages, read marks, status changes, new conversations) are jobs: plain
functions of the writer's sqlite3 connection, many to a transaction (``_group_commit.py``), run
on the event loop's thread when the write lock is free (``_run_batch``), so a message costs no
hand-off to SQLite's thread at all, and its caller hears back only after COMMIT. The rest use
``transaction()``. Every store of this package is constructed with one ``SQLiteDatabase`` and
writes and reads through it.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from ...errors import StartupError
from ...files import create_private_file, make_private_dir
from ..group_commit import UNOBSERVED, DatabaseObserver, GroupCommitter, Outcome
from ..migrations import pending_versions, shipped
from ._group_commit import Batch, Job, WriterBusy, run_batch
from ._reader import ReadConnection

T = TypeVar("T")
log = logging.getLogger("chatserver.storage")
CHECKPOINT_INTERVAL = 0.5  # seconds between WAL checkpoints while there are writes
# A WAL longer than this many frames (pages; 32 MB at SQLite's 4 KB) after a passive checkpoint
# means writes never paused long enough for one to finish: the next checkpoint waits for the
# writer and makes the WAL start again from its beginning (see checkpoint).
WAL_RESTART_FRAMES = 8192
# What a WAL file is cut back to when it starts again (SQLite keeps the file otherwise).
WAL_SIZE_LIMIT = 64 * 1024 * 1024


def migrations() -> list[tuple[int, str]]:
    """The schema migrations shipped with the package, as ``(version, sql)`` in order."""
    return shipped("chatserver.storage.sqlite.migrations")


class SQLiteDatabase:
    """One SQLite file: opened (migrated to the newest schema) and closed, written in
    transactions and group-committed batches, read on its read-only connection."""

    def __init__(self, path: Path, wal_restart_frames: int = WAL_RESTART_FRAMES,
                 observer: DatabaseObserver = UNOBSERVED) -> None:
        self.path = path
        self.wal_restart_frames = wal_restart_frames
        self.observer = observer
        self._writer: aiosqlite.Connection | None = None
        self._reader: ReadConnection | None = None
        self._checkpointer: aiosqlite.Connection | None = None
        self._checkpoints: asyncio.Task[None] | None = None
        self._writes = 0  # write transactions so far (the checkpointer runs only after some)
        self._write_lock = asyncio.Lock()
        self._committer = GroupCommitter(self._run_batch, self._write_lock, self.observer)

    @property
    def name(self) -> str:
        """The file's path (for the log)."""
        return str(self.path)

    @property
    def description(self) -> str:
        return f"the database {self.path}"

    async def open(self, migrate: bool = True) -> list[int]:
        """Open the file, creating it as need be; with ``migrate``, apply the pending migrations.
        The migrations still pending (none once migrated). ``StartupError`` when it cannot be
        opened (a directory, not a database, not writable) or its schema is newer than this
        version's. Whatever fails closes what was opened again (the connections' threads would
        keep the process alive)."""
        try:
            return await self._open(migrate)
        except (OSError, sqlite3.Error) as exc:
            await self.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise StartupError(f"cannot open the database {self.path}: {reason}") from None
        except BaseException:
            await self.close()
            raise

    async def _open(self, migrate: bool) -> list[int]:
        make_private_dir(self.path.parent)
        create_private_file(self.path)
        self._committer = GroupCommitter(self._run_batch, self._write_lock, self.observer)
        self._writer = await aiosqlite.connect(self.path, isolation_level=None, check_same_thread=False)
        await self._writer.execute("PRAGMA journal_mode=WAL")
        await self._writer.execute("PRAGMA synchronous=NORMAL")
        await self._writer.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT:d}")
        await self._writer.execute("PRAGMA busy_timeout=5000")
        await self._writer.execute("PRAGMA foreign_keys=ON")
        if migrate:
            await self.migrate()  # refuses a newer schema too
            pending: list[int] = []
        else:
            pending = await self.pending_migrations()
        reader = await aiosqlite.connect(self.path, isolation_level=None)
        await reader.execute("PRAGMA busy_timeout=5000")
        await reader.execute("PRAGMA query_only=ON")
        self._reader = ReadConnection(reader, self.observer)
        # Checkpoints (copying the WAL into the database, with its fsyncs) run on a connection
        # of their own, so the writer never waits for the disk: with SQLite's automatic
        # checkpoint the commit that crossed 1,000 pages did it, and held every write queued
        # behind it for as long as the fsyncs took (tens of milliseconds on a busy disk).
        await self._writer.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpointer = await aiosqlite.connect(self.path, isolation_level=None)
        await self._checkpointer.execute("PRAGMA busy_timeout=5000")
        self._checkpoints = asyncio.get_running_loop().create_task(self._checkpoint_loop())
        return pending

    async def _checkpoint_loop(self) -> None:
        done = self._writes
        while True:
            await asyncio.sleep(CHECKPOINT_INTERVAL)
            if self._writes == done:
                continue
            done = self._writes
            try:
                await self.checkpoint()
            except sqlite3.Error as exc:
                log.warning("WAL checkpoint failed: %s", exc)

    async def checkpoint(self) -> int:
        """Copy the WAL into the database; returns the WAL's length in frames it found. A
        PASSIVE checkpoint copies what no reader still needs and never blocks the writer, but the
        WAL only starts again from its beginning once a checkpoint finished with no write in
        between: under writes without pause it grew without bound (800 MB in the first five
        seconds of a closed-loop load test), and every page lookup in it slowed down. So when a
        passive one leaves the WAL longer than ``wal_restart_frames``, the next waits for this
        process's writer (its lock) and restarts the WAL: writes queue meanwhile, for as long as
        copying the rest takes, and go in one batch afterwards."""
        assert self._checkpointer is not None
        rows = await self._checkpointer.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
        frames = int(next(iter(rows))[1])
        if frames < self.wal_restart_frames:
            return frames
        async with self._write_lock:
            rows = await self._checkpointer.execute_fetchall("PRAGMA wal_checkpoint(RESTART)")
        busy = int(next(iter(rows))[0])
        if busy:  # another process's writer or a reader held on for longer than the busy timeout
            log.warning("WAL restart checkpoint could not finish frames=%d", frames)
        return frames

    async def close(self) -> None:
        await self._committer.close()
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            await asyncio.gather(self._checkpoints, return_exceptions=True)
            self._checkpoints = None
        for conn in (self._checkpointer, self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._checkpointer = self._reader = self._writer = None

    @property
    def _w(self) -> aiosqlite.Connection:
        assert self._writer is not None, "database is not open"
        return self._writer

    @property
    def reader(self) -> ReadConnection:
        """The read-only connection: each read sees what was committed before it (``_reader.py``)."""
        assert self._reader is not None, "database is not open"
        return self._reader

    async def schema_version(self) -> int:
        async with self._w.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def pending_migrations(self) -> list[int]:
        """The shipped migrations the file lacks, oldest first; ``StartupError`` when its schema
        is newer than the newest shipped (a newer version of chatserver migrated it)."""
        applied = range(await self.schema_version() + 1)  # user_version N: every migration up to N
        return pending_versions(self.description, applied, [version for version, _ in migrations()])

    async def migrate(self) -> list[int]:
        """Apply every shipped migration newer than the file's ``user_version``, each in a
        transaction of its own (``BEGIN IMMEDIATE``: processes starting together apply each once),
        logged once committed; the versions applied. ``StartupError`` when the file's schema is
        newer than this version's."""
        shipped_sql = dict(migrations())
        applied = []
        for version in await self.pending_migrations():
            sql = shipped_sql[version]
            async with self.transaction() as db:
                if version <= await self.schema_version():  # another process applied it meanwhile
                    continue
                for statement in _split_sql(sql):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {version:d}")
            log.info("database migrated version=%d database=%s", version, self.path)
            applied.append(version)
        return applied

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction on the writer (``BEGIN IMMEDIATE``, under the write lock), committed
        when the block ends, rolled back when it raises."""
        async with self._write_lock:
            db = self._w
            self._writes += 1
            started = time.perf_counter()
            try:
                await db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    await db.execute("ROLLBACK")
                    raise
                await db.execute("COMMIT")
            except sqlite3.Error:
                self.observer.database_failed("commit")
                raise
            self.observer.committed(time.perf_counter() - started)

    async def _run_batch(self, jobs: list[Job]) -> tuple[list[Outcome], list[Callable[[], None]]]:
        self._writes += 1
        # aiosqlite's Connection runs a function on its thread with ``_execute`` and holds the
        # sqlite3 connection in ``_conn`` (opened with check_same_thread=False; every use of it
        # holds the write lock): private, so aiosqlite is pinned (pyproject.toml); a newer
        # aiosqlite must be checked for both before the pin moves.
        writer = self._w
        # On the event loop's own thread while no other process holds the write lock: a batch
        # is CPU work and writes into the OS's page cache (checkpoints and their fsyncs run
        # elsewhere), shorter than the two thread wake-ups a hand-off costs, which on a machine
        # with more runnable threads than cores wait for the scheduler each. Otherwise it waits
        # for the lock on the writer's thread (busy_timeout), never on the loop.
        try:
            return run_batch(writer._conn, jobs, wait=False)
        except WriterBusy:
            pass
        result: tuple[list[Outcome], list[Callable[[], None]]] = await writer._execute(  # type: ignore[no-untyped-call]
            run_batch, writer._conn, jobs)
        return result

    async def batched(self, job: Callable[[sqlite3.Connection, Batch], T]) -> T:
        """Run ``job`` on the writer connection in the next group-committed transaction, in a
        savepoint of its own (its exception rolls back only its own writes); returns its result
        once the transaction is committed. Raises ``Unavailable`` if the transaction failed.
        ``job`` must not block or await: it may run on the event loop's thread."""
        result: T = await self._committer.run(job)
        return result

    def pending_writes(self) -> int:
        """How many jobs wait for the next transaction (for tests that fill a batch)."""
        return self._committer.pending()

    async def fetchall(self, sql: str, params: Any = ()) -> list[Any]:
        """Rows of a read on the reader connection, in one hand-off to its thread."""
        return list(await self.reader.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Any = ()) -> Any:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def ping(self) -> None:
        """Raise if the file cannot be read."""
        async with self.reader.execute("SELECT 1") as cur:
            await cur.fetchone()


def _split_sql(sql: str) -> list[str]:
    """Split a migration into statements (migrations contain no semicolons inside literals)."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]
