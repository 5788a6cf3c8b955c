"""The PostgreSQL database itself: migrations applied once under the advisory lock when several
hosts start together, group-committed jobs (a failing job fails alone), and ``Unavailable``
while the server is down, with the pool reconnecting by itself."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from chatserver.errors import Unavailable
from chatserver.storage.postgresql.database import Batch, PostgresDatabase, migrations

from ...postgres_server import PostgresServer


async def test_hosts_starting_together_migrate_once(postgres_url: str) -> None:
    databases = [PostgresDatabase(postgres_url, pool_min=1, pool_max=2) for _ in range(4)]
    await asyncio.gather(*(d.open() for d in databases))
    try:
        newest = migrations()[-1][0]
        for database in databases:
            assert await database.schema_version() == newest
        rows = await databases[0].fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [row[0] for row in rows] == [version for version, _ in migrations()]
    finally:
        await asyncio.gather(*(d.close() for d in databases))


async def test_a_failing_job_fails_alone_and_the_others_commit(postgres_url: str) -> None:
    database = PostgresDatabase(postgres_url, pool_min=1, pool_max=2)
    await database.open()
    try:
        async def insert(name: str, conn: asyncpg.Connection, batch: Batch) -> str:
            await conn.execute("INSERT INTO canned_responses (id, shortcut, body, created_at, updated_at) "
                               "VALUES ($1, $1, 'b', 1, 1)", name)
            return name

        async def fails(conn: asyncpg.Connection, batch: Batch) -> None:
            await conn.execute("INSERT INTO canned_responses (id, shortcut, body, created_at, updated_at) "
                               "VALUES ('x', 'taken', 'b', 1, 1)")
            raise ValueError("refused after writing")

        async with database.transaction() as conn:  # the batch lock is free; fill one batch first
            await conn.execute("INSERT INTO canned_responses (id, shortcut, body, created_at, updated_at) "
                               "VALUES ('seed', 'seed', 'b', 1, 1)")
        results = await asyncio.gather(
            database.batched(lambda c, b: insert("a", c, b)), database.batched(fails),
            database.batched(lambda c, b: insert("b", c, b)), return_exceptions=True)
        assert results[0] == "a" and results[2] == "b"
        assert isinstance(results[1], ValueError)
        rows = await database.fetch("SELECT id FROM canned_responses ORDER BY id")
        assert [row[0] for row in rows] == ["a", "b", "seed"]  # nothing of the failed job
    finally:
        await database.close()


async def test_down_means_unavailable_and_the_pool_reconnects_after(postgres_server: PostgresServer) -> None:
    database = PostgresDatabase(postgres_server.new_database(), pool_min=1, pool_max=2)
    await database.open()
    try:
        await database.ping()
        await asyncio.to_thread(postgres_server.stop)
        try:
            with pytest.raises(Unavailable):
                await database.ping()

            async def job(conn: asyncpg.Connection, batch: Batch) -> None:
                await conn.execute("SELECT 1")

            with pytest.raises(Unavailable):
                await database.batched(job)
        finally:
            await asyncio.to_thread(postgres_server.start)
        await database.ping()
        assert await database.fetchval("SELECT 41 + 1") == 42
    finally:
        await database.close()
