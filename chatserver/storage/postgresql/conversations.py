"""PostgreSQL storage of conversations: created with their first messages, found and listed,
changed by guarded transitions recorded in the assignment history, and read back as transcripts.

Implements the ``ConversationStore`` port; its messages, read marks and ratings are kept by the
parts in ``messages.py``, ``read_marks.py`` and ``ratings.py``, over the same database. Every
change of a conversation locks its row until COMMIT, so hosts sharing the database change one
conversation one after the other, each seeing what the one before committed.
"""

from __future__ import annotations

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
from ..rows import postgres_mark
from ..rows.conversations import (
    CONVERSATION_COLUMNS,
    MESSAGE_COLUMNS,
    SELECT_ACTIVE_FOR_VISITOR,
    SELECT_ASSIGNMENTS,
    SELECT_IDLE_CONVERSATIONS,
    SELECT_RECENT_ASSIGNMENTS,
    SELECT_VISITED_BY_AGENT,
    UPDATE_PAGE,
    assignment_from_row,
    conversation_from_row,
    conversation_listing,
    message_values,
    new_conversation_values,
    recent_assignments_from_rows,
    stored_message,
)
from ._outbox_rows import insert_outbox
from ._sql import numbered
from .database import Batch, Connection, PostgresDatabase
from .messages import SELECT_CONVERSATION_PG, PostgresMessages, insert_message
from .ratings import PostgresRatings
from .read_marks import PostgresReadMarks

_UPDATE_PAGE = numbered(UPDATE_PAGE)
_SELECT_IDLE_CONVERSATIONS = numbered(SELECT_IDLE_CONVERSATIONS)
_SELECT_ACTIVE_FOR_VISITOR = numbered(SELECT_ACTIVE_FOR_VISITOR)
_SELECT_ASSIGNMENTS = numbered(SELECT_ASSIGNMENTS)
_SELECT_VISITED_BY_AGENT = numbered(SELECT_VISITED_BY_AGENT)
_SELECT_RECENT_ASSIGNMENTS = numbered(SELECT_RECENT_ASSIGNMENTS)
_SELECT_SOME = f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ANY($1::text[])"

# The customer the visitor belongs to (customer records link the visitor first), in the same
# statement: a conversation is never stored without its customer.
_INSERT_CONVERSATION = (
    f"INSERT INTO conversations ({CONVERSATION_COLUMNS}, customer_id) VALUES "
    f"({', '.join(f'${n}' for n in range(1, 25))}, "
    "(SELECT customer_id FROM customer_visitors WHERE visitor_id = $2)) RETURNING customer_id"
)
_INSERT_FIRST_MESSAGE = f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"

# A guarded transition in one statement: the row locked (FOR UPDATE reads the version the last
# COMMIT left, whichever host made it) only if its status is one expected, changed, and the
# change recorded in the history under the agent it names, else the one who held it before. No
# row when the conversation is not in an expected status (or does not exist). Returns the
# conversation's columns, then its customer.
_TRANSITION = (
    "WITH old AS (SELECT id AS old_id, agent_id AS previous_agent_id FROM conversations "
    "WHERE id = $1 AND status = ANY($2::text[]) FOR UPDATE), "
    "changed AS (UPDATE conversations SET status = $3, agent_id = $4, agent_name = $5, "
    "assigned_at = coalesce($6, assigned_at), queue_rank = $7, closed_at = $8, closed_by = $9, "
    "department = coalesce($10, department) FROM old WHERE id = old_id "
    f"RETURNING {CONVERSATION_COLUMNS}, customer_id, previous_agent_id), "
    "event AS (INSERT INTO assignment_events (conversation_id, agent_id, event, reason, at) "
    "SELECT id, coalesce(nullif($4, ''), previous_agent_id), $11, $12, $13 FROM changed) "
    f"SELECT {CONVERSATION_COLUMNS}, customer_id FROM changed"
)
_CUSTOMER = len(CONVERSATION_COLUMNS.split(", "))  # the customer's position in _TRANSITION's row


class PostgresConversations(ConversationParts):
    """Implements ``ConversationStore`` (its messages, read marks and ratings through its parts:
    ``ConversationParts``)."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database
        self.messages: PostgresMessages = PostgresMessages(database)
        self.read_marks = PostgresReadMarks(database)
        self.ratings = PostgresRatings(database)

    async def ping(self) -> None:
        await self.database.ping()

    # -- conversations ------------------------------------------------------------------------

    async def create_conversation(self, conversation: Conversation, first: list[NewMessage],
                                  record: OutboxRecorder | None = None) -> list[Message]:
        stored: list[Message] = await self.database.batched(
            partial(_create_conversation, conversation, first, record), conversation.id)
        return stored

    async def update_page(self, conversation_id: str, page: PageContext) -> Conversation | None:
        async def update(conn: Connection, batch: Batch) -> Conversation | None:
            row = await conn.fetchrow(_UPDATE_PAGE, page.page_url, page.page_title, int(page.checkout),
                                      page.cart_value, conversation_id)
            return conversation_from_row(row) if row else None

        result: Conversation | None = await self.database.batched(update, conversation_id)
        return result

    async def idle_conversations(self, before: float, limit: int) -> list[str]:
        rows = await self.database.fetch(_SELECT_IDLE_CONVERSATIONS, before, limit)
        return [str(row[0]) for row in rows]

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        row = await self.database.fetchrow(SELECT_CONVERSATION_PG, conversation_id)
        return conversation_from_row(row) if row else None

    async def get_conversations(self, conversation_ids: list[str]) -> dict[str, Conversation]:
        if not conversation_ids:
            return {}
        rows = await self.database.fetch(_SELECT_SOME, conversation_ids)
        return {row[0]: conversation_from_row(row) for row in rows}

    async def active_conversation_for_visitor(self, visitor_id: str) -> Conversation | None:
        row = await self.database.fetchrow(_SELECT_ACTIVE_FOR_VISITOR, visitor_id)
        return conversation_from_row(row) if row else None

    async def conversations_with_status(
        self, statuses: Collection[ConversationStatus], agent_id: str | None = None
    ) -> list[Conversation]:
        sql = f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE status = ANY($1::text[])"
        params: list[Any] = [[str(s) for s in statuses]]
        if agent_id is not None:
            sql += " AND agent_id = $2"
            params.append(agent_id)
        sql += " ORDER BY queue_rank, created_at"
        return [conversation_from_row(row) for row in await self.database.fetch(sql, *params)]

    async def list_conversations(
        self, *, status: ConversationStatus | None, agent_id: str | None, limit: int, offset: int
    ) -> list[Conversation]:
        sql, params = conversation_listing(postgres_mark, status, agent_id, limit, offset)
        return [conversation_from_row(row) for row in await self.database.fetch(sql, *params)]

    async def transition(self, change: Transition) -> tuple[Conversation, Message | None] | None:
        result: tuple[Conversation, Message | None] | None = await self.database.batched(
            partial(_transition, change), change.conversation_id)
        return result

    # -- history ------------------------------------------------------------------------------

    async def assignments(self, conversation_id: str) -> list[AssignmentEvent]:
        return [assignment_from_row(row) for row in await self.database.fetch(_SELECT_ASSIGNMENTS, conversation_id)]

    async def recent_assignments(self, since: float, limit: int) -> list[RecentAssignment]:
        return recent_assignments_from_rows(await self.database.fetch(_SELECT_RECENT_ASSIGNMENTS, since, limit))

    async def visited_by_agent(self, conversation_id: str, agent_id: str) -> bool:
        """Whether the agent ever held the conversation (their past chats stay readable to them)."""
        return await self.database.fetchval(_SELECT_VISITED_BY_AGENT, conversation_id, agent_id) is not None


async def _create_conversation(conversation: Conversation, first: list[NewMessage], record: OutboxRecorder | None,
                               conn: Connection, batch: Batch) -> list[Message]:
    # The first messages are numbered here, 1, 2, 3..., as nobody else can write to a
    # conversation not committed yet.
    customer_id = await conn.fetchval(_INSERT_CONVERSATION, *new_conversation_values(conversation, len(first)))
    if first:
        await conn.executemany(_INSERT_FIRST_MESSAGE,
                               [message_values(m, seq, m.sender_name) for seq, m in enumerate(first, 1)])
    conversation.last_seq = len(first)
    if record is not None:
        await insert_outbox(conn, record(conversation, customer_id))
    return [stored_message(m, seq, m.sender_name) for seq, m in enumerate(first, 1)]


async def _transition(change: Transition, conn: Connection,
                      batch: Batch) -> tuple[Conversation, Message | None] | None:
    row = await conn.fetchrow(
        _TRANSITION, change.conversation_id, [str(s) for s in change.expect], str(change.status), change.agent_id,
        change.agent_name, change.at if change.status == ConversationStatus.ASSIGNED else None, change.queue_rank,
        change.at if change.status == ConversationStatus.CLOSED else None,
        str(change.closed_by) if change.closed_by else None, change.department, change.event, change.reason,
        change.at)
    if row is None:
        return None
    updated = conversation_from_row(row)
    message = None
    if change.system_message is not None:
        message = await insert_message(conn, change.system_message)
        updated.last_seq = message.seq  # the row is locked: nobody numbered one since
    if change.record is not None:
        await insert_outbox(conn, change.record(updated, row[_CUSTOMER]))
    return updated, message
