"""SQLite storage of conversations: created with their first messages, found and listed,
changed by guarded transitions recorded in the assignment history, and read back as transcripts.

Implements the ``ConversationStore`` port; its messages, read marks and ratings are kept by the
parts in ``messages.py``, ``read_marks.py`` and ``ratings.py``, over the same database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from functools import partial
from typing import Any

from ...domain.models import (
    AssignmentEvent,
    Conversation,
    ConversationStatus,
    Message,
    PageContext,
    RecentAssignment,
)
from ...domain.ports import NewMessage, OutboxRecorder, Transition
from ..conversation_parts import ConversationParts
from ..rows import sqlite_mark
from ..rows.conversations import (
    CONVERSATION_COLUMNS,
    SELECT_ACTIVE_FOR_VISITOR,
    SELECT_ASSIGNMENTS,
    SELECT_CONVERSATION,
    SELECT_IDLE_CONVERSATIONS,
    SELECT_RECENT_ASSIGNMENTS,
    SELECT_VISITED_BY_AGENT,
    UPDATE_PAGE,
    assignment_from_row,
    conversation_from_row,
    conversation_listing,
    new_conversation_values,
    recent_assignments_from_rows,
)
from ._group_commit import Batch
from ._outbox_rows import insert_outbox_now
from ._rows import customer_of, select_conversation
from .database import SQLiteDatabase
from .messages import SQLiteMessages, insert_message
from .ratings import SQLiteRatings
from .read_marks import SQLiteReadMarks


class SQLiteConversations(ConversationParts):
    """Implements ``ConversationStore`` (its messages, read marks and ratings through its parts:
    ``ConversationParts``)."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self.database = database
        self.messages: SQLiteMessages = SQLiteMessages(database)
        self.read_marks = SQLiteReadMarks(database, self.messages.view)
        self.ratings = SQLiteRatings(database)

    async def ping(self) -> None:
        await self.database.ping()

    # -- conversations ------------------------------------------------------------------------

    async def create_conversation(self, conversation: Conversation, first: list[NewMessage],
                                  record: OutboxRecorder | None = None) -> list[Message]:
        stored: list[Message] = await self.database.batched(
            partial(_create_conversation, conversation, first, record))
        return stored

    async def update_page(self, conversation_id: str, page: PageContext) -> Conversation | None:
        def update(conn: sqlite3.Connection, batch: Batch) -> Conversation | None:
            row = conn.execute(
                UPDATE_PAGE, (page.page_url, page.page_title, int(page.checkout), page.cart_value, conversation_id),
            ).fetchone()
            return conversation_from_row(row) if row else None

        return await self.database.batched(update)

    async def idle_conversations(self, before: float, limit: int) -> list[str]:
        rows = await self.database.fetchall(SELECT_IDLE_CONVERSATIONS, (before, limit))
        return [str(row[0]) for row in rows]

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        row = await self.database.fetchone(SELECT_CONVERSATION, (conversation_id,))
        return conversation_from_row(row) if row else None

    async def get_conversations(self, conversation_ids: list[str]) -> dict[str, Conversation]:
        if not conversation_ids:
            return {}
        marks = ", ".join("?" for _ in conversation_ids)
        rows = await self.database.fetchall(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id IN ({marks})", conversation_ids)
        return {row[0]: conversation_from_row(row) for row in rows}

    async def active_conversation_for_visitor(self, visitor_id: str) -> Conversation | None:
        row = await self.database.fetchone(SELECT_ACTIVE_FOR_VISITOR, (visitor_id,))
        return conversation_from_row(row) if row else None

    async def conversations_with_status(
        self, statuses: Collection[ConversationStatus], agent_id: str | None = None
    ) -> list[Conversation]:
        marks = ", ".join("?" for _ in statuses)
        sql = f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE status IN ({marks})"
        params: list[Any] = [str(s) for s in statuses]
        if agent_id is not None:
            sql += " AND agent_id = ?"
            params.append(agent_id)
        sql += " ORDER BY queue_rank, created_at"
        return [conversation_from_row(row) for row in await self.database.fetchall(sql, params)]

    async def list_conversations(
        self, *, status: ConversationStatus | None, agent_id: str | None, limit: int, offset: int
    ) -> list[Conversation]:
        sql, params = conversation_listing(sqlite_mark, status, agent_id, limit, offset)
        return [conversation_from_row(row) for row in await self.database.fetchall(sql, params)]

    async def transition(self, change: Transition) -> tuple[Conversation, Message | None] | None:
        result: tuple[Conversation, Message | None] | None = await self.database.batched(
            partial(_transition, change))
        return result

    # -- history ------------------------------------------------------------------------------

    async def assignments(self, conversation_id: str) -> list[AssignmentEvent]:
        async with self.database.reader.execute(SELECT_ASSIGNMENTS, (conversation_id,)) as cur:
            rows = await cur.fetchall()
        return [assignment_from_row(row) for row in rows]

    async def recent_assignments(self, since: float, limit: int) -> list[RecentAssignment]:
        async with self.database.reader.execute(SELECT_RECENT_ASSIGNMENTS, (since, limit)) as cur:
            rows = await cur.fetchall()
        return recent_assignments_from_rows(rows)

    async def visited_by_agent(self, conversation_id: str, agent_id: str) -> bool:
        """Whether the agent ever held the conversation (their past chats stay readable to them)."""
        async with self.database.reader.execute(SELECT_VISITED_BY_AGENT, (conversation_id, agent_id)) as cur:
            return await cur.fetchone() is not None


def _create_conversation(conversation: Conversation, first: list[NewMessage], record: OutboxRecorder | None,
                         conn: sqlite3.Connection, batch: Batch) -> list[Message]:
    # The customer the visitor belongs to (customer records link the visitor first), in
    # the same statement: a conversation is never stored without its customer.
    conn.execute(
        f"INSERT INTO conversations ({CONVERSATION_COLUMNS}, customer_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "(SELECT customer_id FROM customer_visitors WHERE visitor_id = ?))",
        (*new_conversation_values(conversation), conversation.visitor_id),
    )
    stored = [insert_message(conn, m) for m in first]
    conversation.last_seq = len(stored)
    if record is not None:
        insert_outbox_now(conn, record(conversation, customer_of(conn, conversation.id)))
    return stored


def _transition(change: Transition, conn: sqlite3.Connection,
                batch: Batch) -> tuple[Conversation, Message | None] | None:
    current = select_conversation(conn, change.conversation_id)
    if current is None or current.status not in change.expect:
        return None
    assigned_at = change.at if change.status == ConversationStatus.ASSIGNED else current.assigned_at
    closed_at = change.at if change.status == ConversationStatus.CLOSED else None
    department = change.department if change.department is not None else current.prechat.department
    conn.execute(
        "UPDATE conversations SET status = ?, agent_id = ?, agent_name = ?, assigned_at = ?, queue_rank = ?, "
        "closed_at = ?, closed_by = ?, department = ? WHERE id = ?",
        (str(change.status), change.agent_id, change.agent_name, assigned_at, change.queue_rank, closed_at,
         str(change.closed_by) if change.closed_by else None, department, change.conversation_id),
    )
    conn.execute(
        "INSERT INTO assignment_events (conversation_id, agent_id, event, reason, at) VALUES (?, ?, ?, ?, ?)",
        (change.conversation_id, change.agent_id if change.agent_id else current.agent_id, change.event,
         change.reason, change.at),
    )
    message = None
    if change.system_message is not None:
        message = insert_message(conn, change.system_message)
    updated = select_conversation(conn, change.conversation_id)
    assert updated is not None
    if change.record is not None:
        insert_outbox_now(conn, change.record(updated, customer_of(conn, change.conversation_id)))
    return updated, message
