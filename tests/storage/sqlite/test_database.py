"""The SQLite database (storage/sqlite/database.py) on a real file: migrations applied once, group
commits that fail whole, waiting for another process's write lock, WAL checkpoints, and reads
that see what was committed before them."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from chatserver.domain.models import PartyKind
from chatserver.errors import NotFound, Unavailable
from chatserver.storage.sqlite import SQLiteDatabase, open_sqlite
from chatserver.storage.sqlite._group_commit import Batch
from chatserver.storage.sqlite.conversations import SQLiteConversations
from chatserver.storage.sqlite.database import CHECKPOINT_INTERVAL, migrations

from ..support import fill_one_batch, new_conversation, visitor_message
from .support import fails_at_commit


async def test_migrations_apply_to_an_empty_database_and_are_not_reapplied(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    stores = await open_sqlite(path)
    assert await stores.database.schema_version() == migrations()[-1][0]
    await stores.database.close()
    again = await open_sqlite(path)  # a second start finds the schema current
    assert await again.database.schema_version() == migrations()[-1][0]
    await again.database.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_when_commit_fails_every_job_of_the_batch_fails_and_nothing_is_stored(
    conversations: SQLiteConversations, database: SQLiteDatabase,
) -> None:
    await conversations.create_conversation(new_conversation(), [])
    results = await fill_one_batch(database, [
        conversations.append_message(visitor_message("one", "m1")),
        database.batched(fails_at_commit),
        conversations.append_message(visitor_message("two", "m2")),
        conversations.mark_read("c1", PartyKind.VISITOR, "v1", 1),
    ])
    assert all(isinstance(r, Unavailable) for r in results), results
    assert await conversations.messages_after("c1", 0, 10) == []
    conversation = await conversations.get_conversation("c1")
    assert conversation is not None and conversation.last_seq == 0
    # The writer is usable again at once: the failed transaction was rolled back.
    _, message, created = await conversations.append_message(visitor_message("one", "m1"))
    assert created and message.seq == 1


async def test_a_job_that_fails_after_writing_loses_its_writes_and_only_its_own(
    conversations: SQLiteConversations, database: SQLiteDatabase,
) -> None:
    """Jobs run without savepoints; one that wrote before failing makes the batch run again with
    a savepoint per job, so its writes go and the others' stay, each job's outcome its own."""
    await conversations.create_conversation(new_conversation(), [])
    runs: list[str] = []
    committed: list[str] = []

    def writes_then_fails(conn: sqlite3.Connection, batch: Batch) -> None:
        runs.append("fails")
        conn.execute("INSERT INTO assignment_events (conversation_id, event, at) VALUES ('c1', 'half-done', 1)")
        batch.after_commit(lambda: committed.append("fails"))
        raise ValueError("refused after writing")

    def writes(conn: sqlite3.Connection, batch: Batch) -> str:
        runs.append("writes")
        conn.execute("INSERT INTO assignment_events (conversation_id, event, at) VALUES ('c1', 'done', 1)")
        batch.after_commit(lambda: committed.append("writes"))
        return "ok"

    results = await fill_one_batch(database, [
        conversations.append_message(visitor_message("one", "m1")),
        database.batched(writes_then_fails),
        database.batched(writes),
        conversations.append_message(visitor_message("lost", "m2", cid="missing")),  # refused before writing
        conversations.append_message(visitor_message("two", "m3")),
    ])
    assert isinstance(results[1], ValueError) and results[2] == "ok" and isinstance(results[3], NotFound)
    assert [r[1].seq for r in (results[0], results[4])] == [1, 2]
    # The first run stopped at the job that wrote and failed; the second ran every job, each in a savepoint.
    assert runs == ["fails", "fails", "writes"]
    assert committed == ["writes"]
    events = await database.fetchall("SELECT event FROM assignment_events WHERE conversation_id = 'c1'")
    assert [row[0] for row in events] == ["done"]
    assert [m.body for m in await conversations.messages_after("c1", 0, 10)] == ["one", "two"]
    conversation = await conversations.get_conversation("c1")
    assert conversation is not None and conversation.last_seq == 2


async def test_a_write_waits_for_another_process_holding_the_lock_without_blocking_the_loop(
    conversations: SQLiteConversations, database: SQLiteDatabase,
) -> None:
    await conversations.create_conversation(new_conversation(), [])
    other = sqlite3.connect(database.path, isolation_level=None)  # as another server process would
    try:
        other.execute("BEGIN IMMEDIATE")
        pending = asyncio.ensure_future(conversations.append_message(visitor_message("waits", "m1")))
        for _ in range(20):  # the event loop keeps running while the write waits for the lock
            await asyncio.sleep(0.01)
        assert not pending.done()
        other.execute("COMMIT")
        _, message, created = await asyncio.wait_for(pending, 10)
        assert created and message.seq == 1
    finally:
        other.close()


async def test_the_wal_is_checkpointed_into_the_database_while_the_server_runs(
    conversations: SQLiteConversations, database: SQLiteDatabase,
) -> None:
    # The writer never checkpoints (that would hold every queued write while the fsyncs run):
    # a connection of its own does, in the background.
    main_file = database.path
    await conversations.create_conversation(new_conversation(), [])
    await asyncio.sleep(CHECKPOINT_INTERVAL * 2)
    before = main_file.stat().st_size
    for i in range(20):
        await conversations.append_message(visitor_message("x" * 2000, f"m{i}"))
    deadline = asyncio.get_running_loop().time() + 10
    while main_file.stat().st_size == before:
        assert asyncio.get_running_loop().time() < deadline, "the database file never grew: no checkpoint ran"
        await asyncio.sleep(CHECKPOINT_INTERVAL / 2)
    assert len(await conversations.messages_after("c1", 0, 100)) == 20


async def test_the_wal_starts_again_under_writes_that_never_pause(tmp_path: Path) -> None:
    """A passive checkpoint never lets the WAL start again while writes keep coming (it grew by
    7 MB a second at a steady 1,000 messages a second, without bound): once it is longer than
    ``wal_restart_frames``, the checkpoint waits for the writer and the WAL starts from its
    beginning, while every write still gets stored."""
    stores = await open_sqlite(tmp_path / "chat.db", wal_restart_frames=64)
    wal = tmp_path / "chat.db-wal"
    try:
        for n in range(10):
            await stores.conversations.create_conversation(new_conversation(f"c{n}"), [])
        stop = asyncio.Event()
        sent = [0] * 10

        async def keep_writing(n: int) -> None:
            while not stop.is_set():
                await stores.conversations.append_message(visitor_message("x" * 500, f"m{sent[n]}", cid=f"c{n}"))
                sent[n] += 1

        writers = [asyncio.create_task(keep_writing(n)) for n in range(10)]
        try:
            deadline = asyncio.get_running_loop().time() + 20
            while not wal.exists() or wal.stat().st_size < 512 * 4096:
                assert asyncio.get_running_loop().time() < deadline, "the writes never filled the WAL"
                await asyncio.sleep(0.02)
            assert await stores.database.checkpoint() >= 64  # found long: restarted
        finally:
            stop.set()
            await asyncio.gather(*writers)
        await stores.conversations.append_message(visitor_message("after", "after", cid="c0"))
        assert await stores.database.checkpoint() < 64  # that write began the WAL again from its start
        for n in range(10):
            stored = await stores.conversations.messages_after(f"c{n}", 0, 100_000)
            assert len(stored) == sent[n] + (n == 0)
    finally:
        await stores.database.close()


async def test_a_read_right_after_a_commit_sees_it_while_other_reads_run(
    conversations: SQLiteConversations, database: SQLiteDatabase,
) -> None:
    """Reads share one connection: a statement left open between two calls on its thread would
    hold a read transaction that other coroutines' reads would see an older database through."""
    for n in range(20):
        await conversations.create_conversation(new_conversation(f"seed{n}"), [])
    stop = asyncio.Event()

    async def other_reads() -> None:
        while not stop.is_set():
            async with database.reader.execute("SELECT id FROM conversations ORDER BY id LIMIT 5") as cur:
                assert await cur.fetchone() is not None
            await database.reader.execute_fetchall("SELECT count(*) FROM messages")

    async def create_then_read(n: int) -> bool:
        await conversations.create_conversation(new_conversation(f"c{n}"), [])
        return await conversations.get_conversation(f"c{n}") is not None

    readers = [asyncio.ensure_future(other_reads()) for _ in range(3)]
    try:
        seen = [await asyncio.gather(*(create_then_read(batch * 50 + i) for i in range(50))) for batch in range(8)]
    finally:
        stop.set()
        await asyncio.gather(*readers)
    assert all(all(batch) for batch in seen), sum(not ok for batch in seen for ok in batch)
