"""What tests of either database's stores share: new conversations, messages and agents, a
batch filled on purpose, a running server's database, and a database that refuses a write."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from chatserver.domain.models import Agent, Conversation, ConversationStatus, PartyKind, PreChat, Role
from chatserver.domain.ports import AgentStore, ConversationStore, NewMessage, Transition
from chatserver.storage.postgresql.conversations import PostgresConversations
from chatserver.storage.postgresql.database import PostgresDatabase
from chatserver.storage.sqlite import SQLiteDatabase
from chatserver.storage.sqlite.conversations import SQLiteConversations

from ..support import LiveServer


def new_conversation(cid: str = "c1") -> Conversation:
    return Conversation(id=cid, visitor_id="v1", status=ConversationStatus.QUEUED,
                        prechat=PreChat(name="N", question="Q"), created_at=1.0, queue_rank=1.0)


def visitor_message(body: str, client_msg_id: str | None = None, cid: str = "c1") -> NewMessage:
    return NewMessage(conversation_id=cid, kind="text", sender_kind=PartyKind.VISITOR, sender_id="v1",
                      sender_name="N", body=body, created_at=2.0, client_msg_id=client_msg_id)


def message_from(sender_kind: PartyKind, sender_id: str, body: str, client_msg_id: str,
                 cid: str = "c1") -> NewMessage:
    return NewMessage(conversation_id=cid, kind="text", sender_kind=sender_kind, sender_id=sender_id,
                      sender_name="Agent" if sender_kind == PartyKind.AGENT else None, body=body, created_at=2.0,
                      client_msg_id=client_msg_id)


async def add_agent(agents: AgentStore, agent_id: str = "a1") -> None:
    await agents.add_agent(Agent(id=agent_id, email=f"{agent_id}@example.com", name=agent_id.upper(), role=Role.AGENT,
                                 capacity=3, disabled=False, token_version=0, created_at=1.0, password_hash="x"))


async def assign(conversations: ConversationStore, cid: str = "c1", agent_id: str = "a1") -> None:
    assert await conversations.transition(Transition(
        conversation_id=cid, expect=frozenset({ConversationStatus.QUEUED}), status=ConversationStatus.ASSIGNED,
        agent_id=agent_id, agent_name=agent_id.upper(), at=3.0, event="assigned")) is not None


@asynccontextmanager
async def _every_lane_held(database: PostgresDatabase) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for lane in database._lanes:
            await stack.enter_async_context(lane._lock)
        yield


def writer_held(database: SQLiteDatabase | PostgresDatabase) -> AbstractAsyncContextManager[Any]:
    """Something that holds the database's group commit while it is entered: SQLite's writer (a
    transaction of its own), the lock of every PostgreSQL lane."""
    if isinstance(database, SQLiteDatabase):
        return database.transaction()
    return _every_lane_held(database)


async def fill_one_batch(database: SQLiteDatabase | PostgresDatabase,
                         calls: list[Coroutine[Any, Any, Any]]) -> list[Any]:
    """Run ``calls`` as the jobs of one transaction: the writer is held until all of them wait."""
    async with writer_held(database):
        tasks = [asyncio.ensure_future(call) for call in calls]
        await asyncio.sleep(0)  # each call queues its job in its first step
        assert database.pending_writes() == len(calls)
    return await asyncio.gather(*tasks, return_exceptions=True)


async def query(database: SQLiteDatabase | PostgresDatabase, sql: str) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (no parameters) on either database, as tuples."""
    if isinstance(database, SQLiteDatabase):
        return [tuple(row) for row in await database.fetchall(sql)]
    return [tuple(row) for row in await database.fetch(sql)]


async def write(database: SQLiteDatabase | PostgresDatabase, sql: str) -> None:
    """Run ``sql`` (no parameters) on either database, in a transaction of its own."""
    if isinstance(database, SQLiteDatabase):
        async with database.transaction() as db:
            await db.execute(sql)
        return
    async with database.transaction() as conn:
        await conn.execute(sql)


def server_database(server: LiveServer) -> SQLiteDatabase | PostgresDatabase:
    """The database under a running server's stores, whichever it runs on."""
    conversations = server.parts.stores.conversations
    assert isinstance(conversations, SQLiteConversations | PostgresConversations)
    return conversations.database


@asynccontextmanager
async def refusing(database: SQLiteDatabase | PostgresDatabase, table: str, when: str,
                   at_commit: bool = False) -> AsyncIterator[None]:
    """While entered, the database refuses rows inserted into ``table`` for which ``when`` (a
    condition on ``NEW``) holds, as a trigger another connection added to its schema would: at
    once, or (``at_commit``) only when the transaction commits, which fails it whole."""
    if isinstance(database, SQLiteDatabase):
        assert not at_commit, "SQLite checks no trigger at COMMIT; hold its writer instead (writer_held)"
        await write(database, f"CREATE TRIGGER refuse_rows BEFORE INSERT ON {table} WHEN {when} "
                              "BEGIN SELECT RAISE(ABORT, 'refused'); END")
        try:
            yield
        finally:
            await write(database, "DROP TRIGGER refuse_rows")
        return
    await write(database, "CREATE FUNCTION refuse_rows() RETURNS trigger LANGUAGE plpgsql AS "
                          "$$ BEGIN RAISE EXCEPTION 'refused'; END $$")
    timing = "CONSTRAINT TRIGGER refuse_rows AFTER INSERT" if at_commit else "TRIGGER refuse_rows BEFORE INSERT"
    deferred = " DEFERRABLE INITIALLY DEFERRED" if at_commit else ""
    await write(database, f"CREATE {timing} ON {table}{deferred} FOR EACH ROW WHEN ({when}) "
                          "EXECUTE FUNCTION refuse_rows()")
    try:
        yield
    finally:
        await write(database, f"DROP TRIGGER refuse_rows ON {table}")
        await write(database, "DROP FUNCTION refuse_rows()")
