"""The PostgreSQL database and its connections: one asyncpg pool per process.

Why asyncpg: it speaks PostgreSQL's binary protocol from C (Cython), with no DB-API layer in
between, and prepares each statement once per connection (its statement cache, keyed by the SQL
text): a store's SQL is constant text with ``$n`` parameters, so after a connection's first use
of a statement each call is one Bind/Execute round trip. psycopg 3 is the other choice; asyncpg
was the faster of the two in its own and third-party benchmarks, and nothing here needs what only
psycopg has (COPY from Python objects asyncpg has too).

The busy writes (messages, read marks, status changes, new conversations) are jobs: coroutine
functions of a connection in a transaction, many to a transaction (group commit, as the SQLite
build does: ``storage/group_commit.py``), and their callers hear back only after COMMIT. Unlike
SQLite's one writer, PostgreSQL takes writes on many connections at once, and a batch spends
most of its time waiting for round trips: so jobs go to one of several *lanes* (``LANES``), each
a group committer with a connection of its own, chosen by the job's key (its conversation). Every
job of one conversation goes through one lane, in the order it was queued, as before; lanes never
write the same conversation row, so they do not wait for each other's locks. A batch
first runs its jobs one after the other with no savepoints (a savepoint costs two round trips);
if one raises, the whole transaction is rolled back and the batch runs again with a savepoint
around each job, so only the failing job fails. Jobs therefore must not have effects outside the
transaction before it commits (``batch.after_commit`` is for those).

Every other write is a ``transaction()``; reads use the pool directly (``fetch``,
``fetchrow``, ``fetchval``). When PostgreSQL cannot be reached (stopped, restarting, network
cut) each of them raises ``Unavailable``: nothing is acknowledged that was not committed, and
the pool opens new connections by itself once it answers again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from ...errors import StartupError, Unavailable
from ...logs import redacted
from ..group_commit import UNOBSERVED, BatchFailed, DatabaseObserver, GroupCommitter, Outcome
from ..migrations import pending_versions, shipped

T = TypeVar("T")
log = logging.getLogger("chatserver.storage")

# The advisory lock (a 64-bit key of our choosing) every host takes while it migrates: when
# several hosts start at once, one applies the migrations and the others wait, then find them
# applied.
MIGRATION_LOCK = 0x63686174_73727672  # "chatsrvr"
# Group-commit lanes per process (at most half the pool, so other transactions and reads always
# find a connection): four keep two PostgreSQL backends busy on a 2-core machine while each lane
# waits for its round trips (docs/benchmarks/chat.md, 2026-12-05).
LANES = 4
CONNECT_TIMEOUT = 5.0  # seconds to open one connection
COMMAND_TIMEOUT = 30.0  # seconds a statement may take before it is cancelled

# What asyncpg raises when the server cannot be reached or the connection broke: the request
# answers ``unavailable`` (nothing was committed, or, for a COMMIT cut off half-way, the client's
# resend is recognised by its client id).
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,  # includes ConnectionDoesNotExistError (the connection was closed)
    asyncpg.PostgresConnectionError,  # class 08
    asyncpg.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.exceptions.OperatorInterventionError,  # class 57: admin shutdown, crash recovery
)


def migrations() -> list[tuple[int, str]]:
    """The PostgreSQL migrations shipped with the package, as ``(version, sql)`` in order."""
    return shipped("chatserver.storage.postgresql.migrations")


class Batch:
    """What a job sees of the transaction it runs in."""

    __slots__ = ("_after_commit", "cache")

    def __init__(self) -> None:
        self._after_commit: list[Callable[[], None]] = []
        # Values read once per transaction by the jobs that need them (a store's own keys).
        self.cache: dict[str, Any] = {}

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on the event loop once the batch is committed (dropped if the job that
        asked fails or the batch does not commit)."""
        self._after_commit.append(callback)


# What a job and a transaction get: a pool's connection (a proxy of asyncpg's Connection).
Connection = asyncpg.pool.PoolConnectionProxy
Job = Callable[[Connection, Batch], Awaitable[Any]]


class PostgresDatabase:
    """One PostgreSQL database: opened (migrated to the newest schema) and closed, written in
    transactions and group-committed batches, read through the pool."""

    def __init__(self, url: str, pool_min: int = 2, pool_max: int = 10,
                 observer: DatabaseObserver = UNOBSERVED) -> None:
        self.url = url
        self.pool_min = pool_min
        self.pool_max = pool_max
        self.observer = observer
        self._pool: asyncpg.Pool | None = None
        self._lanes = self._new_lanes()

    @property
    def name(self) -> str:
        """The database's address without its password (for the log)."""
        return redacted(self.url)

    @property
    def description(self) -> str:
        return f"PostgreSQL at {self.name}"

    async def open(self, migrate: bool = True) -> list[int]:
        """Open the pool; with ``migrate``, apply the pending migrations. The migrations still
        pending (none once migrated); ``StartupError`` when the database's schema is newer than
        this version's, or PostgreSQL refuses the connection."""
        self._lanes = self._new_lanes()
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=self.pool_min, max_size=self.pool_max, timeout=CONNECT_TIMEOUT,
                command_timeout=COMMAND_TIMEOUT,
                # A connection broken while idle in the pool is replaced, not handed out.
                max_inactive_connection_lifetime=300.0, reset=_no_session_state)
        except CONNECTION_ERRORS as exc:
            raise Unavailable(f"PostgreSQL at {self.name} cannot be reached: {exc}") from exc
        except asyncpg.PostgresError as exc:  # a wrong password, no such database: no retry helps
            raise StartupError(f"{self.description} refused the connection: {exc}") from None
        try:
            if migrate:
                await self.migrate()  # refuses a newer schema too
                return []
            return await self.pending_migrations()
        except BaseException:
            await self.close()  # opened again from the start on the next try
            raise

    async def close(self) -> None:
        for lane in self._lanes:
            await lane.close()
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), timeout=5.0)
            except CONNECTION_ERRORS:  # includes the timeout
                self._pool.terminate()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "database is not open"
        return self._pool

    async def pending_migrations(self) -> list[int]:
        """The shipped migrations the database lacks, oldest first; ``StartupError`` when it has
        one newer than the newest shipped (a newer version of chatserver migrated it)."""
        async with self.connection() as conn:
            applied = await _applied(conn)
        return pending_versions(self.description, applied, [version for version, _ in migrations()])

    async def migrate(self) -> list[int]:
        """Apply every shipped migration not applied yet, each in a transaction of its own, under
        an advisory lock so that hosts starting together apply each exactly once; each logged
        once committed. The versions applied."""
        done = []
        shipped_sql = migrations()
        async with self.connection() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                                   "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
                pending = pending_versions(self.description, await _applied(conn),
                                           [version for version, _ in shipped_sql])
                for version, sql in shipped_sql:
                    if version not in pending:
                        continue
                    async with conn.transaction():
                        await conn.execute(sql)
                        await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
                    log.info("database migrated version=%d database=%s", version, self.name)
                    done.append(version)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        return done

    async def schema_version(self) -> int:
        version = await self.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
        return int(version)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection of the pool, outside any transaction; ``Unavailable`` when PostgreSQL
        cannot be reached. Its use is timed for the metrics as one query (its statements run
        each in a transaction of its own)."""
        started = time.perf_counter()
        try:
            async with self._acquired() as conn:
                yield conn
        except (Unavailable, asyncpg.PostgresError):
            self.observer.database_failed("query")
            raise
        self.observer.queried(time.perf_counter() - started)

    @asynccontextmanager
    async def _acquired(self) -> AsyncIterator[Connection]:
        try:
            async with self.pool.acquire() as conn:
                yield conn
        except CONNECTION_ERRORS as exc:
            raise Unavailable("the database cannot be reached; nothing was changed") from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A connection in a transaction, committed when the block ends, rolled back when it
        raises; timed for the metrics as one commit."""
        started = time.perf_counter()
        try:
            async with self._acquired() as conn, conn.transaction():
                yield conn
        except (Unavailable, asyncpg.PostgresError):
            self.observer.database_failed("commit")
            raise
        self.observer.committed(time.perf_counter() - started)

    def _new_lanes(self) -> list[GroupCommitter]:
        return [GroupCommitter(self._run_batch, asyncio.Lock(), self.observer)
                for _ in range(max(1, min(LANES, self.pool_max // 2)))]

    async def batched(self, job: Job, key: str = "") -> Any:
        """Run ``job`` in the next group-committed transaction of the lane of ``key`` (the
        conversation it writes: one conversation's jobs run in the order queued); its result once
        the transaction is committed (``Unavailable`` if it could not be)."""
        return await self._lanes[zlib.crc32(key.encode()) % len(self._lanes)].run(job)

    def pending_writes(self) -> int:
        """How many jobs wait for the next transaction of their lane (for tests that fill a batch)."""
        return sum(lane.pending() for lane in self._lanes)

    async def _run_batch(self, jobs: list[Job]) -> tuple[list[Outcome], list[Callable[[], None]]]:
        try:
            async with self.pool.acquire() as conn:
                try:
                    async with conn.transaction():
                        return await _run_jobs(conn, jobs, savepoints=False)
                except _JobFailed:
                    pass  # rolled back; again, each job in a savepoint of its own
                async with conn.transaction():
                    return await _run_jobs(conn, jobs, savepoints=True)
        except CONNECTION_ERRORS as exc:
            raise BatchFailed(f"PostgreSQL: {exc}") from exc
        except asyncpg.PostgresError as exc:  # BEGIN or COMMIT refused (a deferred constraint)
            raise BatchFailed(f"PostgreSQL refused the transaction: {exc}") from exc

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self.connection() as conn:
            return await conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with self.connection() as conn:
            return await conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self.connection() as conn:
            return await conn.fetchval(sql, *args)

    async def ping(self) -> None:
        """Raise ``Unavailable`` if PostgreSQL does not answer."""
        await self.fetchval("SELECT 1")


async def _applied(conn: Connection) -> set[int]:
    """The versions recorded in ``schema_migrations`` (none before the first migration made it)."""
    if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
        return set()
    return {int(row[0]) for row in await conn.fetch("SELECT version FROM schema_migrations")}


async def _no_session_state(conn: asyncpg.Connection) -> None:
    """What a connection needs before it goes back to the pool: nothing. asyncpg rolls back a
    transaction left open either way; its default reset also sends ``RESET ALL``, ``UNLISTEN *``,
    ``CLOSE ALL`` and unlocks advisory locks, a round trip on every release (one per batch: 0.45
    s of the server's 23 in a profiled closed loop), for session state no store ever sets (the
    migration's advisory lock is released by the migration itself)."""


class _JobFailed(Exception):
    """A job raised in a batch run without savepoints: the batch runs again with them."""


class BulkJob:
    """A job that can also run together with the jobs of the same ``bulk`` next to it in a batch:
    ``bulk(conn, batch, items)`` stores many ``item``s in one statement and returns each one's
    outcome (a refused item's outcome is its error: ``bulk`` must have written nothing for it).
    Alone (the batch's second run, with a savepoint per job) it runs ``alone(conn, batch, item)``."""

    __slots__ = ("alone", "bulk", "item")

    def __init__(self, bulk: Callable[[Connection, Batch, list[Any]], Awaitable[list[Outcome]]],
                 alone: Callable[[Connection, Batch, Any], Awaitable[Any]], item: Any) -> None:
        self.bulk = bulk
        self.alone = alone
        self.item = item

    async def __call__(self, conn: Connection, batch: Batch) -> Any:
        return await self.alone(conn, batch, self.item)


def _groups(jobs: list[Job]) -> list[list[Job]]:
    """``jobs`` in order, each run of bulk jobs of one ``bulk`` next to each other a group."""
    groups: list[list[Job]] = []
    for job in jobs:
        previous = groups[-1][-1] if groups else None
        if isinstance(job, BulkJob) and isinstance(previous, BulkJob) and previous.bulk == job.bulk:
            groups[-1].append(job)
        else:
            groups.append([job])
    return groups


async def _run_jobs(conn: Connection, jobs: list[Job], savepoints: bool) -> tuple[list[Outcome],
                                                                                  list[Callable[[], None]]]:
    batch = Batch()
    outcomes: list[Outcome] = []
    if not savepoints:
        for group in _groups(jobs):
            first = group[0]
            try:
                if isinstance(first, BulkJob):
                    outcomes += await first.bulk(conn, batch, [job.item for job in group])  # type: ignore[attr-defined]
                else:
                    outcomes.append((True, await first(conn, batch)))
            except CONNECTION_ERRORS:
                raise
            except Exception as exc:
                raise _JobFailed() from exc
        return outcomes, batch._after_commit
    for job in jobs:
        mark = len(batch._after_commit)
        try:
            async with conn.transaction():  # a savepoint: the job's error rolls back only its writes
                result = await job(conn, batch)
        except CONNECTION_ERRORS:
            raise
        except Exception as exc:
            del batch._after_commit[mark:]
            outcomes.append((False, exc))
        else:
            outcomes.append((True, result))
    return outcomes, batch._after_commit
