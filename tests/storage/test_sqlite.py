"""The SQLite store on a real file: migrations, sequence numbers, idempotency, guarded transitions."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest

from chatserver.domain.models import Agent, Conversation, ConversationStatus, PartyKind, PreChat, Role
from chatserver.domain.ports import NewMessage, Transition
from chatserver.errors import ConversationClosed, Forbidden, NotFound, Unavailable
from chatserver.storage._group_commit import Batch
from chatserver.storage.sqlite import CHECKPOINT_INTERVAL, SQLiteStore, migrations


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "chat.db")
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def _conversation(cid: str = "c1") -> Conversation:
    return Conversation(id=cid, visitor_id="v1", status=ConversationStatus.QUEUED,
                        prechat=PreChat(name="N", question="Q"), created_at=1.0, queue_rank=1.0)


def _message(body: str, client_msg_id: str | None = None, cid: str = "c1") -> NewMessage:
    return NewMessage(conversation_id=cid, kind="text", sender_kind=PartyKind.VISITOR, sender_id="v1",
                      sender_name="N", body=body, created_at=2.0, client_msg_id=client_msg_id)


async def test_migrations_apply_to_an_empty_database_and_are_not_reapplied(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    store = SQLiteStore(path)
    await store.open()
    assert await store.schema_version() == migrations()[-1][0]
    await store.close()
    again = SQLiteStore(path)
    await again.open()  # a second start finds the schema current
    assert await again.schema_version() == migrations()[-1][0]
    await again.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_messages_get_consecutive_sequence_numbers_even_when_sent_concurrently(store: SQLiteStore) -> None:
    await store.create_conversation(_conversation(), [_message("first")])
    results = await asyncio.gather(*(store.append_message(_message(f"m{i}", f"id{i}")) for i in range(50)))
    seqs = sorted(m.seq for _, m, created in results if created)
    assert seqs == list(range(2, 52))
    stored = await store.messages_after("c1", 0, 1000)
    assert [m.seq for m in stored] == list(range(1, 52))
    assert (await store.get_conversation("c1")).last_seq == 51  # type: ignore[union-attr]


async def test_a_resent_client_message_is_returned_not_stored_again(store: SQLiteStore) -> None:
    await store.create_conversation(_conversation(), [])
    _, first, created = await store.append_message(_message("hello", "same"))
    _, again, created_again = await store.append_message(_message("hello", "same"))
    assert created and not created_again and again.seq == first.seq
    assert len(await store.messages_after("c1", 0, 10)) == 1


async def test_transitions_are_guarded_and_recorded(store: SQLiteStore) -> None:
    await store.add_agent(Agent(id="a1", email="a@example.com", name="A", role=Role.AGENT, capacity=3, disabled=False,
                                token_version=0, created_at=1.0, password_hash="x"))
    await store.create_conversation(_conversation(), [])
    assign = Transition(conversation_id="c1", expect=frozenset({ConversationStatus.QUEUED}),
                        status=ConversationStatus.ASSIGNED, agent_id="a1", agent_name="A", at=5.0, event="assigned")
    result = await store.transition(assign)
    assert result is not None and result[0].status == ConversationStatus.ASSIGNED and result[0].agent_id == "a1"
    assert await store.transition(assign) is None  # no longer queued: nothing changes
    close = Transition(conversation_id="c1", expect=frozenset({ConversationStatus.ASSIGNED}),
                       status=ConversationStatus.CLOSED, agent_id="a1", agent_name="A", at=6.0, event="closed",
                       closed_by=PartyKind.AGENT,
                       system_message=NewMessage(conversation_id="c1", kind="system", sender_kind=PartyKind.SYSTEM,
                                                 sender_id=None, sender_name=None, body="closed", created_at=6.0))
    closed = await store.transition(close)
    assert closed is not None and closed[1] is not None and closed[1].seq == 1
    assert [e.event for e in await store.assignments("c1")] == ["assigned", "closed"]
    with pytest.raises(ConversationClosed):
        await store.append_message(_message("too late", "late"))
    with pytest.raises(NotFound):
        await store.append_message(_message("nowhere", "x", cid="missing"))


async def test_read_marks_only_move_forward_and_never_past_the_last_message(store: SQLiteStore) -> None:
    await _agent(store)
    await store.create_conversation(_conversation(), [_message("a"), _message("b")])
    await _assign(store)
    assert (await store.mark_read("c1", PartyKind.AGENT, "a1", 1))[1:] == (1, True)
    assert (await store.mark_read("c1", PartyKind.AGENT, "a1", 0))[1:] == (1, False)
    assert (await store.mark_read("c1", PartyKind.AGENT, "a1", 1))[1:] == (1, False)
    conversation, read, moved = await store.mark_read("c1", PartyKind.AGENT, "a1", 99)
    assert (read, moved) == (2, True) and conversation.agent_read_seq == 2 and conversation.id == "c1"
    assert (await store.mark_read("c1", PartyKind.AGENT, "a1", 99))[1:] == (2, False)
    assert (await store.mark_read("c1", PartyKind.VISITOR, "v1", 1))[1:] == (1, True)
    with pytest.raises(NotFound):
        await store.mark_read("missing", PartyKind.AGENT, "a1", 1)


async def test_read_marks_follow_who_may_act_on_the_conversation(store: SQLiteStore) -> None:
    await _agent(store)
    await store.create_conversation(_conversation(), [_message("a")])
    with pytest.raises(Forbidden):  # queued: no agent holds it yet
        await store.mark_read("c1", PartyKind.AGENT, "a1", 1)
    await _assign(store)
    with pytest.raises(NotFound):  # another visitor is told nothing exists
        await store.mark_read("c1", PartyKind.VISITOR, "v2", 1)
    with pytest.raises(Forbidden):
        await store.mark_read("c1", PartyKind.AGENT, "a2", 1)
    conversation = await store.get_conversation("c1")
    assert conversation is not None and (conversation.visitor_read_seq, conversation.agent_read_seq) == (0, 0)


async def _agent(store: SQLiteStore, agent_id: str = "a1") -> None:
    await store.add_agent(Agent(id=agent_id, email=f"{agent_id}@example.com", name=agent_id.upper(), role=Role.AGENT,
                                capacity=3, disabled=False, token_version=0, created_at=1.0, password_hash="x"))


async def _assign(store: SQLiteStore, cid: str = "c1", agent_id: str = "a1") -> None:
    assert await store.transition(Transition(
        conversation_id=cid, expect=frozenset({ConversationStatus.QUEUED}), status=ConversationStatus.ASSIGNED,
        agent_id=agent_id, agent_name=agent_id.upper(), at=3.0, event="assigned")) is not None


def _from(sender_kind: PartyKind, sender_id: str, body: str, client_msg_id: str, cid: str = "c1") -> NewMessage:
    return NewMessage(conversation_id=cid, kind="text", sender_kind=sender_kind, sender_id=sender_id,
                      sender_name="Agent" if sender_kind == PartyKind.AGENT else None, body=body, created_at=2.0,
                      client_msg_id=client_msg_id)


async def test_only_the_owner_and_the_assigned_agent_may_append_and_a_refusal_stores_nothing(
    store: SQLiteStore,
) -> None:
    await _agent(store)
    await _agent(store, "a2")
    await store.create_conversation(_conversation(), [_message("first")])
    with pytest.raises(Forbidden):  # queued: not assigned to the agent yet
        await store.append_message(_from(PartyKind.AGENT, "a1", "early", "e1"))
    await _assign(store)
    with pytest.raises(NotFound):  # another visitor's message is refused as if the id did not exist
        await store.append_message(_from(PartyKind.VISITOR, "v2", "intruder", "x1"))
    with pytest.raises(Forbidden):
        await store.append_message(_from(PartyKind.AGENT, "a2", "intruder", "x2"))
    with pytest.raises(NotFound):
        await store.append_message(_from(PartyKind.VISITOR, "v1", "lost", "x3", cid="missing"))
    conversation, message, created = await store.append_message(_from(PartyKind.AGENT, "a1", "hello", "h1"))
    assert created and message.seq == 2 and conversation.last_seq == 2 and conversation.agent_id == "a1"
    assert message.sender_name == "Agent"
    _, from_visitor, _ = await store.append_message(_from(PartyKind.VISITOR, "v1", "hi", "h2"))
    assert from_visitor.seq == 3 and from_visitor.sender_name == "N"  # the pre-chat form's name
    stored = await store.messages_after("c1", 0, 10)
    assert [m.body for m in stored] == ["first", "hello", "hi"]
    assert (await store.get_conversation("c1")).last_seq == 3  # type: ignore[union-attr]


async def test_a_resend_after_the_conversation_closed_is_refused_as_closed(store: SQLiteStore) -> None:
    await store.create_conversation(_conversation(), [])
    _, first, _ = await store.append_message(_message("hello", "same"))
    await store.transition(Transition(conversation_id="c1", expect=frozenset({ConversationStatus.QUEUED}),
                                      status=ConversationStatus.CLOSED, agent_id=None, agent_name=None, at=4.0,
                                      event="closed", closed_by=PartyKind.VISITOR))
    with pytest.raises(ConversationClosed):
        await store.append_message(_message("hello", "same"))
    with pytest.raises(NotFound):  # and another visitor still learns nothing
        await store.append_message(_from(PartyKind.VISITOR, "v2", "hello", "same"))
    assert [m.seq for m in await store.messages_after("c1", 0, 10)] == [first.seq]


async def _fill_one_batch(store: SQLiteStore, calls: list[Coroutine[Any, Any, Any]]) -> list[Any]:
    """Run ``calls`` as the jobs of one transaction: the writer is held until all of them wait."""
    async with store._transaction():
        tasks = [asyncio.ensure_future(call) for call in calls]
        await asyncio.sleep(0)  # each call queues its job in its first step
        assert store.pending_writes() == len(calls)
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_refused_message_in_a_batch_does_not_affect_the_others(store: SQLiteStore) -> None:
    await store.create_conversation(_conversation(), [])
    await store.create_conversation(_conversation("c2"), [])
    results = await _fill_one_batch(store, [
        store.append_message(_message("one", "m1")),
        store.append_message(_message("lost", "m2", cid="missing")),
        store.append_message(_from(PartyKind.VISITOR, "v2", "intruder", "m3")),
        store.append_message(_message("two", "m4")),
        store.append_message(_message("other", "m5", cid="c2")),
    ])
    assert isinstance(results[1], NotFound) and isinstance(results[2], NotFound)
    assert [r[1].seq for r in (results[0], results[3], results[4])] == [1, 2, 1]
    assert [m.body for m in await store.messages_after("c1", 0, 10)] == ["one", "two"]
    assert [m.body for m in await store.messages_after("c2", 0, 10)] == ["other"]
    assert (await store.get_conversation("c1")).last_seq == 2  # type: ignore[union-attr]


def _fails_at_commit(conn: sqlite3.Connection, batch: Batch) -> None:
    """A write SQLite accepts and refuses only at COMMIT: a deferred foreign key to nothing."""
    conn.execute("PRAGMA defer_foreign_keys = ON")
    conn.execute("INSERT INTO assignment_events (conversation_id, event, at) VALUES ('no-such-conversation', 'x', 1)")


async def test_when_commit_fails_every_job_of_the_batch_fails_and_nothing_is_stored(store: SQLiteStore) -> None:
    await store.create_conversation(_conversation(), [])
    results = await _fill_one_batch(store, [
        store.append_message(_message("one", "m1")),
        store.batched(_fails_at_commit),
        store.append_message(_message("two", "m2")),
        store.mark_read("c1", PartyKind.VISITOR, "v1", 1),
    ])
    assert all(isinstance(r, Unavailable) for r in results), results
    assert await store.messages_after("c1", 0, 10) == []
    conversation = await store.get_conversation("c1")
    assert conversation is not None and conversation.last_seq == 0
    # The writer is usable again at once: the failed transaction was rolled back.
    _, message, created = await store.append_message(_message("one", "m1"))
    assert created and message.seq == 1


async def test_a_write_waits_for_another_process_holding_the_lock_without_blocking_the_loop(
    store: SQLiteStore,
) -> None:
    await store.create_conversation(_conversation(), [])
    other = sqlite3.connect(store.path, isolation_level=None)  # as another server process would
    try:
        other.execute("BEGIN IMMEDIATE")
        pending = asyncio.ensure_future(store.append_message(_message("waits", "m1")))
        for _ in range(20):  # the event loop keeps running while the write waits for the lock
            await asyncio.sleep(0.01)
        assert not pending.done()
        other.execute("COMMIT")
        _, message, created = await asyncio.wait_for(pending, 10)
        assert created and message.seq == 1
    finally:
        other.close()


async def test_the_wal_is_checkpointed_into_the_database_while_the_server_runs(store: SQLiteStore) -> None:
    # The writer never checkpoints (that would hold every queued write while the fsyncs run):
    # a connection of its own does, in the background.
    main_file = store.path
    await store.create_conversation(_conversation(), [])
    await asyncio.sleep(CHECKPOINT_INTERVAL * 2)
    before = main_file.stat().st_size
    for i in range(20):
        await store.append_message(_message("x" * 2000, f"m{i}"))
    deadline = asyncio.get_running_loop().time() + 10
    while main_file.stat().st_size == before:
        assert asyncio.get_running_loop().time() < deadline, "the database file never grew: no checkpoint ran"
        await asyncio.sleep(CHECKPOINT_INTERVAL / 2)
    assert len(await store.messages_after("c1", 0, 100)) == 20


async def test_a_database_at_the_previous_version_is_migrated_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    first_version, first_sql = migrations()[0]
    with sqlite3.connect(path) as raw:
        raw.executescript(first_sql)
        raw.execute(f"PRAGMA user_version = {first_version}")
        raw.execute("INSERT INTO conversations (id, visitor_id, status, visitor_name, question, created_at, last_seq) "
                    "VALUES ('old', 'v', 'closed', 'N', 'Q', 1.0, 1)")
        raw.execute("INSERT INTO messages (conversation_id, seq, kind, sender_kind, body, created_at) "
                    "VALUES ('old', 1, 'text', 'visitor', 'kept', 1.0)")
    store = SQLiteStore(path)
    await store.open()
    try:
        assert await store.schema_version() == migrations()[-1][0]
        conversation = await store.get_conversation("old")
        assert conversation is not None and conversation.prechat.checkout is False
        assert [m.body for m in await store.messages_after("old", 0, 10)] == ["kept"]
    finally:
        await store.close()


def _database_at(path: Path, version: int) -> sqlite3.Connection:
    raw = sqlite3.connect(path)
    for number, sql in migrations():
        if number <= version:
            raw.executescript(sql)
    raw.execute(f"PRAGMA user_version = {version}")
    return raw


async def test_a_database_at_version_5_with_data_in_every_table_is_migrated_to_the_newest(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    with _database_at(path, 5) as raw:
        raw.execute("INSERT INTO agents (id, email, name, password_hash, role, capacity, disabled, token_version, "
                    "created_at, departments) VALUES ('a1', 'a@example.com', 'Bo', 'x', 'agent', 3, 0, 0, 1.0, '')")
        raw.execute("INSERT INTO customers (id, external_id, name, emails, created_at, last_seen_at) "
                    "VALUES ('cu1', 'shop-1', 'Ann', '[\"ann@example.com\"]', 1.0, 2.0)")
        raw.execute("INSERT INTO customer_visitors (visitor_id, customer_id, linked_at) VALUES ('v1', 'cu1', 1.0)")
        raw.execute("INSERT INTO conversations (id, visitor_id, status, visitor_name, question, created_at, last_seq, "
                    "agent_id, agent_name, closed_at, customer_id, tags, resolution_note, checkout, priority) "
                    "VALUES ('c1', 'v1', 'closed', 'Ann', 'Q', 1.0, 2, 'a1', 'Bo', 3.0, 'cu1', '[\"refund\"]', "
                    "'sent a label', 1, 1)")
        raw.execute("INSERT INTO messages (conversation_id, seq, kind, sender_kind, body, created_at) "
                    "VALUES ('c1', 1, 'text', 'visitor', 'kept', 1.0), ('c1', 2, 'system', 'system', 'closed', 3.0)")
        raw.execute("INSERT INTO assignment_events (conversation_id, agent_id, event, reason, at) "
                    "VALUES ('c1', 'a1', 'assigned', NULL, 2.0)")
        raw.execute("INSERT INTO ratings (conversation_id, rating, comment, created_at) VALUES ('c1', 5, 'ok', 4.0)")
        raw.execute("INSERT INTO conversation_notes (conversation_id, agent_id, agent_name, body, created_at) "
                    "VALUES ('c1', 'a1', 'Bo', 'VIP', 2.5)")
        raw.execute("INSERT INTO canned_responses (id, shortcut, body, created_at, updated_at) "
                    "VALUES ('r1', 'hi', 'Hello!', 1.0, 1.0)")
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "AND name NOT LIKE 'sqlite_%'")}
        empty = [t for t in tables if raw.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] == 0]
        assert set(empty) <= {"login_failures"}, empty  # every table of version 5 holds data but one
    store = SQLiteStore(path)
    await store.open()
    try:
        assert await store.schema_version() == migrations()[-1][0]
        transcript = await store.transcript("c1")
        assert transcript is not None
        assert [m.body for m in transcript.messages] == ["kept", "closed"]
        assert transcript.rating is not None and transcript.rating.comment == "ok"
        assert [a.event for a in transcript.assignments] == ["assigned"]
        assert transcript.conversation.prechat.checkout is True and transcript.conversation.priority == 1
        agent = await store.agent_by_id("a1")
        assert agent is not None and agent.name == "Bo"
    finally:
        await store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT customer_id, tags, resolution_note FROM conversations").fetchall() == [
            ("cu1", '["refund"]', "sent a label")]
        assert raw.execute("SELECT body FROM conversation_notes").fetchall() == [("VIP",)]
        assert raw.execute("SELECT shortcut FROM canned_responses").fetchall() == [("hi",)]
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []


async def test_a_database_at_version_6_gets_its_tickets_and_outbox_rows_linked_to_customers(tmp_path: Path) -> None:
    path = tmp_path / "v6.db"
    with _database_at(path, 6) as raw:
        raw.execute("INSERT INTO customers (id, name, emails, created_at, last_seen_at) "
                    "VALUES ('cu1', 'Ann', '[]', 1.0, 2.0)")
        raw.execute("INSERT INTO customer_visitors (visitor_id, customer_id, linked_at) VALUES ('v1', 'cu1', 1.0)")
        for tid, visitor, name, email, at in [("t1", "v1", "Ann", "ann@example.com", 1.0),
                                              ("t2", "v2", "Tina", "Tina@Example.com", 2.0),
                                              ("t3", "v2", "Tina T.", "tina@example.com", 3.0)]:
            raw.execute("INSERT INTO tickets (id, visitor_id, name, email, order_number, description, status, "
                        "created_at, updated_at) VALUES (?, ?, ?, ?, 'ORD-1', 'help', 'open', ?, ?)",
                        (tid, visitor, name, email, at, at))
        raw.execute("INSERT INTO ticket_answers (ticket_id, agent_name, body, created_at) "
                    "VALUES ('t2', 'Bo', 'Mon', 4)")
        for oid, visitor, payload in [
            ("o1", "v2", '{"type": "ticket.created"}'), (
                "o2", None, '{"type": "customer.updated", "data": {"customer": {"id": "cu1"}}}'),
            ("o3", None, '{"type": "customer.updated", "data": {"customer": {"id": "gone"}}}'),
        ]:
            raw.execute("INSERT INTO outbox (id, visitor_id, kind, target, payload, status, next_attempt_at, "
                        "created_at) VALUES (?, ?, 'webhook', 'e1', ?, 'pending', 0, 0)", (oid, visitor, payload))
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as raw:
        linked = dict(raw.execute("SELECT id, customer_id FROM tickets").fetchall())
        assert linked["t1"] == "cu1" and linked["t2"] == linked["t3"] != "cu1"
        name, emails = raw.execute("SELECT name, emails FROM customers WHERE id = ?", (linked["t2"],)).fetchone()
        assert (name, emails) == ("Tina T.", '["tina@example.com"]')  # the latest ticket's
        assert raw.execute("SELECT customer_id FROM customer_visitors WHERE visitor_id = 'v2'").fetchone() == (
            linked["t2"],)
        outbox = dict(raw.execute("SELECT id, customer_id FROM outbox").fetchall())
        assert outbox == {"o1": linked["t2"], "o2": "cu1", "o3": None}
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []


async def test_a_read_right_after_a_commit_sees_it_while_other_reads_run(store: SQLiteStore) -> None:
    """Reads share one connection: a statement left open between two calls on its thread would
    hold a read transaction that other coroutines' reads would see an older database through."""
    for n in range(20):
        await store.create_conversation(_conversation(f"seed{n}"), [])
    stop = asyncio.Event()

    async def other_reads() -> None:
        while not stop.is_set():
            async with store._r.execute("SELECT id FROM conversations ORDER BY id LIMIT 5") as cur:
                assert await cur.fetchone() is not None
            await store._r.execute_fetchall("SELECT count(*) FROM messages")

    async def create_then_read(n: int) -> bool:
        await store.create_conversation(_conversation(f"c{n}"), [])
        return await store.get_conversation(f"c{n}") is not None

    readers = [asyncio.ensure_future(other_reads()) for _ in range(3)]
    try:
        seen = [await asyncio.gather(*(create_then_read(batch * 50 + i) for i in range(50))) for batch in range(8)]
    finally:
        stop.set()
        await asyncio.gather(*readers)
    assert all(all(batch) for batch in seen), sum(not ok for batch in seen for ok in batch)
