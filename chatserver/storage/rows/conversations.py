"""Agent, conversation and message rows: their columns, and the models made of them. Both
databases store these tables with the same columns in the same order (PostgreSQL's schema copies
SQLite's), so one reader serves a sqlite3 row and an asyncpg record alike, by position."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ...domain.models import (
    QUEUE_ASSIGNMENTS,
    Agent,
    AssignmentEvent,
    Conversation,
    ConversationStatus,
    Message,
    PartyKind,
    PreChat,
    Rating,
    RecentAssignment,
    Role,
)
from ...domain.ports import NewMessage
from ..filters import Filters
from . import Mark, Row

AGENT_COLUMNS = "id, email, name, password_hash, role, capacity, disabled, token_version, created_at, departments"
CONVERSATION_COLUMNS = (
    "id, visitor_id, status, visitor_name, visitor_email, question, order_number, page_url, created_at, "
    "queue_rank, agent_id, agent_name, assigned_at, closed_at, closed_by, last_seq, visitor_read_seq, "
    "agent_read_seq, page_title, checkout, cart_value, department, priority, locale"
)
MESSAGE_COLUMNS = (
    "conversation_id, seq, kind, sender_kind, sender_id, sender_name, client_msg_id, body, meta, created_at"
)
# The column naming the participant who may write to a conversation.
PARTY_COLUMN = {PartyKind.VISITOR: "visitor_id", PartyKind.AGENT: "agent_id"}

# Statements both databases run as they are, written with SQLite's ``?`` placeholders
# (PostgreSQL's store numbers them: ``postgresql/_sql.py``).
SELECT_CONVERSATION = f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?"
SELECT_MESSAGES_AFTER = (f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq > ? "
                         "ORDER BY seq LIMIT ?")
SELECT_ACTIVE_FOR_VISITOR = (f"SELECT {CONVERSATION_COLUMNS} FROM conversations "
                             "WHERE visitor_id = ? AND status != 'closed' ORDER BY created_at DESC LIMIT 1")
SELECT_IDLE_CONVERSATIONS = (
    "SELECT c.id FROM conversations c WHERE c.status IN ('queued', 'assigned') AND coalesce("
    "(SELECT m.created_at FROM messages m WHERE m.conversation_id = c.id ORDER BY m.seq DESC LIMIT 1), "
    "c.created_at) < ? ORDER BY c.created_at LIMIT ?"
)
UPDATE_PAGE = ("UPDATE conversations SET page_url = ?, page_title = ?, checkout = ?, cart_value = ? "
               f"WHERE id = ? AND status != 'closed' RETURNING {CONVERSATION_COLUMNS}")
SELECT_ASSIGNMENTS = ("SELECT conversation_id, agent_id, event, reason, at FROM assignment_events "
                      "WHERE conversation_id = ? ORDER BY id")
# The latest assignments from the queue since a time, newest first: read backwards along the
# primary key, so with a busy history the read stops at the limit (no index on ``at``).
SELECT_RECENT_ASSIGNMENTS = (
    "SELECT e.conversation_id, e.at, c.created_at FROM assignment_events e "
    "JOIN conversations c ON c.id = e.conversation_id "
    f"WHERE e.event IN ({', '.join(repr(event) for event in QUEUE_ASSIGNMENTS)}) AND e.at >= ? "
    "ORDER BY e.id DESC LIMIT ?"
)
SELECT_VISITED_BY_AGENT = "SELECT 1 FROM assignment_events WHERE conversation_id = ? AND agent_id = ? LIMIT 1"
SELECT_RATING = "SELECT conversation_id, rating, comment, created_at FROM ratings WHERE conversation_id = ?"
# A second rating of a conversation replaces the first.
UPSERT_RATING = ("INSERT INTO ratings (conversation_id, rating, comment, created_at) VALUES (?, ?, ?, ?) "
                 "ON CONFLICT (conversation_id) DO UPDATE SET rating = excluded.rating, comment = excluded.comment, "
                 "created_at = excluded.created_at")

# Stored values to their enum members: a dict lookup, where calling the enum costs a few
# Python calls per row (CHECK constraints keep the stored values to these).
_STATUS = {status.value: status for status in ConversationStatus}
_PARTY = {party.value: party for party in PartyKind}


def agent_from_row(row: Row) -> Agent:
    return Agent(
        id=row[0],
        email=row[1],
        name=row[2],
        password_hash=row[3],
        role=Role(row[4]),
        capacity=row[5],
        disabled=bool(row[6]),
        token_version=row[7],
        created_at=row[8],
        departments=tuple(d for d in row[9].split(",") if d),
    )


def agent_values(agent: Agent) -> tuple[Any, ...]:
    """The values of ``AGENT_COLUMNS`` that store ``agent``."""
    return (agent.id, agent.email, agent.name, agent.password_hash, str(agent.role), agent.capacity,
            int(agent.disabled), agent.token_version, agent.created_at, ",".join(agent.departments))


def conversation_from_row(row: Row) -> Conversation:
    return Conversation(
        id=row[0],
        visitor_id=row[1],
        status=_STATUS[row[2]],
        prechat=PreChat(name=row[3], email=row[4], question=row[5], order_number=row[6], page_url=row[7],
                        page_title=row[18], checkout=bool(row[19]), cart_value=row[20], department=row[21],
                        locale=row[23]),
        created_at=row[8],
        queue_rank=row[9],
        agent_id=row[10],
        agent_name=row[11],
        assigned_at=row[12],
        closed_at=row[13],
        closed_by=_PARTY[row[14]] if row[14] else None,
        last_seq=row[15],
        visitor_read_seq=row[16],
        agent_read_seq=row[17],
        priority=row[22],
    )


def new_conversation_values(conversation: Conversation, last_seq: int = 0) -> tuple[Any, ...]:
    """The values of ``CONVERSATION_COLUMNS`` that store a new ``conversation`` (never read,
    never closed)."""
    p = conversation.prechat
    return (conversation.id, conversation.visitor_id, str(conversation.status), p.name, p.email, p.question,
            p.order_number, p.page_url, conversation.created_at, conversation.queue_rank, conversation.agent_id,
            conversation.agent_name, conversation.assigned_at, None, None, last_seq, 0, 0, p.page_title,
            int(p.checkout), p.cart_value, p.department, conversation.priority, p.locale)


def message_from_row(row: Row) -> Message:
    return Message(
        conversation_id=row[0],
        seq=row[1],
        kind=row[2],
        sender_kind=_PARTY[row[3]],
        sender_id=row[4],
        sender_name=row[5],
        client_msg_id=row[6],
        body=row[7],
        meta=json.loads(row[8]) if row[8] else None,
        created_at=row[9],
    )


def message_values(m: NewMessage, seq: int, sender_name: str | None) -> tuple[Any, ...]:
    """The values of ``MESSAGE_COLUMNS`` that store ``m`` as message ``seq``."""
    return (m.conversation_id, seq, m.kind, str(m.sender_kind), m.sender_id, sender_name, m.client_msg_id, m.body,
            meta_text(m.meta), m.created_at)


def meta_text(meta: dict[str, str] | None) -> str | None:
    """A message's ``meta`` as its column stores it (JSON text, NULL when empty)."""
    return json.dumps(meta) if meta else None


def stored_message(m: NewMessage, seq: int, sender_name: str | None) -> Message:
    """``m`` as it was stored as message ``seq``."""
    return Message(
        conversation_id=m.conversation_id, seq=seq, kind=m.kind, sender_kind=m.sender_kind, sender_id=m.sender_id,
        sender_name=sender_name, body=m.body, created_at=m.created_at, client_msg_id=m.client_msg_id, meta=m.meta,
    )


def assignment_from_row(row: Row) -> AssignmentEvent:
    return AssignmentEvent(conversation_id=row[0], agent_id=row[1], event=row[2], reason=row[3], at=row[4])


def recent_assignments_from_rows(rows: Sequence[Row]) -> list[RecentAssignment]:
    """``SELECT_RECENT_ASSIGNMENTS``'s rows (newest first), oldest first."""
    return [RecentAssignment.of(row[0], row[1], row[2]) for row in reversed(rows)]


def rating_from_row(row: Row) -> Rating:
    return Rating(conversation_id=row[0], rating=row[1], comment=row[2], created_at=row[3])


def conversation_listing(mark: Mark, status: ConversationStatus | None, agent_id: str | None, limit: int,
                         offset: int) -> tuple[str, list[Any]]:
    """``ConversationStore.list_conversations``'s statement, newest first, and its values, with
    the database's parameter ``mark``."""
    filters = Filters(mark)
    filters.equal("status", None if status is None else str(status))
    filters.equal("agent_id", agent_id)
    where = filters.where  # its values are bound before the page's
    return (f"SELECT {CONVERSATION_COLUMNS} FROM conversations {where} ORDER BY created_at DESC "
            f"{filters.page(limit, offset)}", filters.params)

