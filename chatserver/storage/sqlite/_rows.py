"""Conversation and message rows: their columns, and the models made of them. Shared by the
stores that read or return conversations (conversations, messages, read marks, customers)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ...domain.models import Conversation, ConversationStatus, Message, PartyKind, PreChat

CONVERSATION_COLUMNS = (
    "id, visitor_id, status, visitor_name, visitor_email, question, order_number, page_url, created_at, "
    "queue_rank, agent_id, agent_name, assigned_at, closed_at, closed_by, last_seq, visitor_read_seq, "
    "agent_read_seq, page_title, checkout, cart_value, department, priority"
)
MESSAGE_COLUMNS = (
    "conversation_id, seq, kind, sender_kind, sender_id, sender_name, client_msg_id, body, meta, created_at"
)
SELECT_CONVERSATION = f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?"
# The column naming the participant who may write to a conversation.
PARTY_COLUMN = {PartyKind.VISITOR: "visitor_id", PartyKind.AGENT: "agent_id"}

# Stored values to their enum members: a dict lookup, where calling the enum costs a few
# Python calls per row (CHECK constraints keep the stored values to these).
_STATUS = {status.value: status for status in ConversationStatus}
_PARTY = {party.value: party for party in PartyKind}


def conversation_from_row(row: sqlite3.Row | tuple[Any, ...]) -> Conversation:
    return Conversation(
        id=row[0],
        visitor_id=row[1],
        status=_STATUS[row[2]],
        prechat=PreChat(name=row[3], email=row[4], question=row[5], order_number=row[6], page_url=row[7],
                        page_title=row[18], checkout=bool(row[19]), cart_value=row[20], department=row[21]),
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


def message_from_row(row: sqlite3.Row | tuple[Any, ...]) -> Message:
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


def select_conversation(conn: sqlite3.Connection, conversation_id: str) -> Conversation | None:
    """The conversation as the writer's transaction sees it (from a job)."""
    row = conn.execute(SELECT_CONVERSATION, (conversation_id,)).fetchone()
    return conversation_from_row(row) if row else None


def customer_of(conn: sqlite3.Connection, conversation_id: str) -> str | None:
    """The id of the customer the conversation belongs to (from a job)."""
    row = conn.execute("SELECT customer_id FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
    return str(row[0]) if row and row[0] is not None else None
