"""What tests of the SQLite backend share: new conversations, messages and agents, a batch filled
on purpose, a job that fails only at COMMIT, and a running server's database."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from chatserver.domain.models import Agent, Conversation, ConversationStatus, PartyKind, PreChat, Role
from chatserver.domain.ports import AgentStore, ConversationStore, NewMessage, Transition
from chatserver.http.services import SERVICES
from chatserver.storage.sqlite import SQLiteDatabase
from chatserver.storage.sqlite._group_commit import Batch
from chatserver.storage.sqlite.conversations import SQLiteConversations


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


async def fill_one_batch(database: SQLiteDatabase, calls: list[Coroutine[Any, Any, Any]]) -> list[Any]:
    """Run ``calls`` as the jobs of one transaction: the writer is held until all of them wait."""
    async with database.transaction():
        tasks = [asyncio.ensure_future(call) for call in calls]
        await asyncio.sleep(0)  # each call queues its job in its first step
        assert database.pending_writes() == len(calls)
    return await asyncio.gather(*tasks, return_exceptions=True)


def fails_at_commit(conn: sqlite3.Connection, batch: Batch) -> None:
    """A write SQLite accepts and refuses only at COMMIT: a deferred foreign key to nothing."""
    conn.execute("PRAGMA defer_foreign_keys = ON")
    conn.execute("INSERT INTO assignment_events (conversation_id, event, at) VALUES ('no-such-conversation', 'x', 1)")


def database_of(app: web.Application) -> SQLiteDatabase:
    """The database under a running server's stores (for tests that hold its writer or break it)."""
    conversations = app[SERVICES].conversations
    assert isinstance(conversations, SQLiteConversations), "the server does not run on SQLite"
    return conversations.database
