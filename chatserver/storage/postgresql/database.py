"""The PostgreSQL database and its connections: one asyncpg pool per process.

Why asyncpg: it speaks PostgreSQL's binary protocol from C (Cython), with no DB-API layer in
between, and prepares each statement once per connection (its statement cache, keyed by the SQL
text): a store's SQL is constant text with ``$n`` parameters, so after a connection's first use
of a statement each call is one Bind/Execute round trip. psycopg 3 is the other choice; asyncpg
was the faster of the two in its own and third-party benchmarks, and nothing here needs what only
psycopg has (COPY from Python objects asyncpg has too).

The busy writes (messages, read marks, status changes, new conversations) are jobs: coroutine
functions of a connection in a transaction, many to a transaction (group commit, as the SQLite
build does: ``storage/group_commit.py``), and their callers hear back only after COMMIT. A batch
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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, TypeVar

import asyncpg

from ...errors import Unavailable
from ..group_commit import BatchFailed, GroupCommitter, Outcome

T = TypeVar("T")
log = logging.getLogger("chatserver.storage")

# The advisory lock (a 64-bit key of our choosing) every host takes while it migrates: when
# several hosts start at once, one applies the migrations and the others wait, then find them
# applied.
MIGRATION_LOCK = 0x63686174_73727672  # "chatsrvr"
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
    found = []
    for entry in resources.files("chatserver.storage.postgresql.migrations").iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text()))
    return sorted(found)


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

    def __init__(self, url: str, pool_min: int = 2, pool_max: int = 10) -> None:
        self.url = url
        self.pool_min = pool_min
        self.pool_max = pool_max
        self._pool: asyncpg.Pool | None = None
        self._batch_lock = asyncio.Lock()
        self._committer = GroupCommitter(self._run_batch, self._batch_lock)

    @property
    def name(self) -> str:
        """The database's address without its password (for the log)."""
        return redacted(self.url)

    async def open(self) -> None:
        self._committer = GroupCommitter(self._run_batch, self._batch_lock)
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=self.pool_min, max_size=self.pool_max, timeout=CONNECT_TIMEOUT,
                command_timeout=COMMAND_TIMEOUT,
                # A connection broken while idle in the pool is replaced, not handed out.
                max_inactive_connection_lifetime=300.0)
        except CONNECTION_ERRORS as exc:
            raise Unavailable(f"PostgreSQL at {self.name} cannot be reached: {exc}") from exc
        await self.migrate()

    async def close(self) -> None:
        await self._committer.close()
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

    async def migrate(self) -> None:
        """Apply every shipped migration not applied yet, each in a transaction of its own, under
        an advisory lock so that hosts starting together apply each exactly once."""
        async with self.connection() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                                   "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
                applied = {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}
                for version, sql in migrations():
                    if version in applied:
                        continue
                    async with conn.transaction():
                        await conn.execute(sql)
                        await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
                    log.info("database migrated version=%d", version)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)

    async def schema_version(self) -> int:
        version = await self.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
        return int(version)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection of the pool, outside any transaction; ``Unavailable`` when PostgreSQL
        cannot be reached."""
        try:
            async with self.pool.acquire() as conn:
                yield conn
        except CONNECTION_ERRORS as exc:
            raise Unavailable("the database cannot be reached; nothing was changed") from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A connection in a transaction, committed when the block ends, rolled back when it
        raises."""
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def batched(self, job: Job) -> Any:
        """Run ``job`` in the next group-committed transaction; its result once the transaction is
        committed (``Unavailable`` if it could not be)."""
        return await self._committer.run(job)

    def pending_writes(self) -> int:
        """How many jobs wait for the next transaction (for tests that fill a batch)."""
        return self._committer.pending()

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


class _JobFailed(Exception):
    """A job raised in a batch run without savepoints: the batch runs again with them."""


async def _run_jobs(conn: Connection, jobs: list[Job], savepoints: bool) -> tuple[list[Outcome],
                                                                                  list[Callable[[], None]]]:
    batch = Batch()
    outcomes: list[Outcome] = []
    for job in jobs:
        if not savepoints:
            try:
                outcomes.append((True, await job(conn, batch)))
            except CONNECTION_ERRORS:
                raise
            except Exception as exc:
                raise _JobFailed() from exc
            continue
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


def redacted(url: str) -> str:
    """``url`` without the password it may carry."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}" if user else f"{scheme}://{host}"
