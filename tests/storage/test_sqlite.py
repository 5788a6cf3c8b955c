"""The SQLite store on a real file: migrations, sequence numbers, idempotency, guarded transitions."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatserver.domain.models import Agent, Conversation, ConversationStatus, PartyKind, PreChat, Role
from chatserver.domain.ports import NewMessage, Transition
from chatserver.errors import ConversationClosed, NotFound
from chatserver.storage.sqlite import SQLiteStore, migrations


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
    seqs = sorted(m.seq for m, created in results if created)
    assert seqs == list(range(2, 52))
    stored = await store.messages_after("c1", 0, 1000)
    assert [m.seq for m in stored] == list(range(1, 52))
    assert (await store.get_conversation("c1")).last_seq == 51  # type: ignore[union-attr]


async def test_a_resent_client_message_is_returned_not_stored_again(store: SQLiteStore) -> None:
    await store.create_conversation(_conversation(), [])
    first, created = await store.append_message(_message("hello", "same"))
    again, created_again = await store.append_message(_message("hello", "same"))
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
    await store.create_conversation(_conversation(), [_message("a"), _message("b")])
    assert await store.mark_read("c1", PartyKind.AGENT, 1) == 1
    assert await store.mark_read("c1", PartyKind.AGENT, 0) == 1
    assert await store.mark_read("c1", PartyKind.AGENT, 99) == 2
    assert await store.mark_read("c1", PartyKind.VISITOR, 1) == 1
    with pytest.raises(NotFound):
        await store.mark_read("missing", PartyKind.AGENT, 1)


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
