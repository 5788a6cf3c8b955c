"""SQLite storage of messages: each conversation's messages numbered 1, 2, 3... in the
transaction that stores them, a resend (same sender and client id) stored once, and the
participant's right to write checked in the same statement that takes the number.

Messages are written by jobs of the group commit (``_group_commit.py``): a participant's message
in ``append_message``, a conversation's first and system messages by ``insert_message`` from the
job that creates or changes the conversation (``conversations.py``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import partial

from ...domain.access import check_writable
from ...domain.models import Conversation, Message, PartyKind
from ...domain.ports import NewMessage
from ...errors import NotFound
from ..rows.conversations import (
    CONVERSATION_COLUMNS,
    MESSAGE_COLUMNS,
    PARTY_COLUMN,
    SELECT_MESSAGES_AFTER,
    conversation_from_row,
    message_from_row,
    message_values,
    stored_message,
)
from ._group_commit import Batch
from ._rows import select_conversation
from .database import SQLiteDatabase

# Called inside the transaction of every participant's message, after its INSERT: it may write
# in the same transaction (the message.created webhook's outbox items), and must not block.
MessageHook = Callable[[sqlite3.Connection, Batch, Conversation, Message], None]

_INSERT_MESSAGE = f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# A participant's message: a resend (same sender and client id as a stored one) inserts nothing.
_INSERT_UNLESS_RESENT = (_INSERT_MESSAGE + " ON CONFLICT (conversation_id, sender_id, client_msg_id) "
                         "WHERE client_msg_id IS NOT NULL DO NOTHING")


_COUNT_READER = "UPDATE conversations SET readers_version = readers_version + 1 WHERE id = ?"


def _store_message(conn: sqlite3.Connection, m: NewMessage, seq: int, sender_name: str | None,
                   sql: str = _INSERT_MESSAGE) -> Message | None:
    """Insert ``m`` as message ``seq``; ``None`` when ``sql`` is ``_INSERT_UNLESS_RESENT`` and it
    was a resend."""
    if not conn.execute(sql, message_values(m, seq, sender_name)).rowcount:
        return None
    return stored_message(m, seq, sender_name)


def insert_message(conn: sqlite3.Connection, m: NewMessage) -> Message:
    """Store ``m`` (a first or a system message: no sender check, no resend) with the next number
    of its conversation, from a job; ``NotFound`` when there is no such conversation."""
    row = conn.execute(
        "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq", (m.conversation_id,)
    ).fetchone()
    if row is None:
        raise NotFound("conversation not found")
    stored = _store_message(conn, m, int(row[0]), m.sender_name)
    assert stored is not None
    return stored


def _count_reader(conversation_id: str, conn: sqlite3.Connection, batch: Batch) -> None:
    conn.execute(_COUNT_READER, (conversation_id,))


class SQLiteMessages:
    """The messages part of ``ConversationStore``: ``append_message`` and ``messages_after``.
    ``hooks`` run in each stored participant's message's transaction."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self.database = database
        self.hooks: list[MessageHook] = []

    async def append_message(self, message: NewMessage) -> tuple[Conversation, Message, bool]:
        if message.sender_kind not in PARTY_COLUMN or message.sender_id is None:
            raise ValueError("append_message stores a participant's message")
        result: tuple[Conversation, Message, bool] = await self.database.batched(
            partial(self._append_message, message))
        return result

    def _append_message(self, m: NewMessage, conn: sqlite3.Connection, batch: Batch) -> tuple[Conversation, Message,
                                                                                                 bool]:
        assert m.sender_id is not None
        # The sender's right to write is part of the UPDATE that takes the sequence number; only
        # a refused message reads the conversation again, to say why. A resend is refused as the
        # first send would be now; when it is not, the INSERT finds the stored one and inserts
        # nothing (the unique idempotency index), and the sequence number goes back.
        row = conn.execute(
            f"UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ? AND status != 'closed' AND "
            f"{PARTY_COLUMN[m.sender_kind]} = ? RETURNING {CONVERSATION_COLUMNS}, readers_version",
            (m.conversation_id, m.sender_id),
        ).fetchone()
        if row is None:
            check_writable(select_conversation(conn, m.conversation_id), m.sender_kind, m.sender_id)
            raise AssertionError("a writable conversation refused a message")  # pragma: no cover
        conversation = conversation_from_row(row)
        conversation.readers_version = row[-1]
        # A visitor's messages carry the name from their pre-chat form.
        name = m.sender_name if m.sender_kind == PartyKind.AGENT else conversation.prechat.name
        stored = _store_message(conn, m, conversation.last_seq, name, _INSERT_UNLESS_RESENT)
        if stored is None:
            conn.execute("UPDATE conversations SET last_seq = last_seq - 1 WHERE id = ?", (m.conversation_id,))
            conversation.last_seq -= 1
            resent = conn.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages "
                "WHERE conversation_id = ? AND sender_id = ? AND client_msg_id = ?",
                (m.conversation_id, m.sender_id, m.client_msg_id),
            ).fetchone()
            return conversation, message_from_row(resent), False
        for hook in self.hooks:
            hook(conn, batch, conversation, stored)
        return conversation, stored, True

    async def reader_joined(self, conversation_id: str) -> None:
        await self.database.batched(partial(_count_reader, conversation_id))

    async def messages_after(self, conversation_id: str, after_seq: int, limit: int) -> list[Message]:
        rows = await self.database.fetchall(SELECT_MESSAGES_AFTER, (conversation_id, after_seq, limit))
        return [message_from_row(row) for row in rows]
