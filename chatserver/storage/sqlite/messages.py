"""SQLite storage of messages: each conversation's messages numbered 1, 2, 3... in the
transaction that stores them, a resend (same sender and client id) stored once, and the
participant's right to write checked in the same transaction, against the conversation as it
sees it (kept by the writer between appends: ``WritersView``).

Messages are written by jobs of the group commit (``_group_commit.py``): a participant's message
in ``append_message``, a conversation's first and system messages by ``insert_message`` from the
job that creates or changes the conversation (``conversations.py``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import partial

from msgspec import structs

from ...domain.access import check_writable
from ...domain.models import Conversation, ConversationStatus, Message, PartyKind
from ...domain.ports import NewMessage
from ...errors import NotFound
from ..rows.conversations import (
    MESSAGE_COLUMNS,
    PARTY_COLUMN,
    SELECT_MESSAGES_AFTER,
    message_from_row,
    message_values,
    stored_message,
)
from ._group_commit import Batch
from ._rows import WITH_READERS, conversation_with_readers
from .database import SQLiteDatabase

# Called inside the transaction of every participant's message, after its INSERT: it may write
# in the same transaction (the message.created webhook's outbox items), and must not block.
MessageHook = Callable[[sqlite3.Connection, Batch, Conversation, Message], None]

_INSERT_MESSAGE = f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# A participant's message: a resend (same sender and client id as a stored one) inserts nothing.
_INSERT_UNLESS_RESENT = (_INSERT_MESSAGE + " ON CONFLICT (conversation_id, sender_id, client_msg_id) "
                         "WHERE client_msg_id IS NOT NULL DO NOTHING")


_COUNT_READER = "UPDATE conversations SET readers_version = readers_version + 1 WHERE id = ?"
_SELECT_CONVERSATION = f"SELECT {WITH_READERS} FROM conversations WHERE id = ?"
_TAKE_SEQ = "UPDATE conversations SET last_seq = ? WHERE id = ?"
# The conversations WritersView keeps (about a kilobyte each), the least recently written
# forgotten first: more than one process has chats going at once.
_KNOWN_CONVERSATIONS = 2_000


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


class WritersView:
    """What the writer knows of the conversations it appends to: each one as of its last append
    or read mark by this process, so that a message costs no read of the conversation's row (nor
    a new version of all its columns) while nothing else writes. It holds only as long as the
    last write of this connection was one it was told of (``wrote``; ``total_changes`` unchanged
    since: any other write here, a status change, a new message of another kind, even one rolled
    back, forgets everything), no other connection committed (``PRAGMA data_version`` at the
    batch's BEGIN), and that write's transaction was committed (a batch that failed as a whole
    leaves its appends' numbers here but not in the file)."""

    __slots__ = ("_committed", "_conversations", "_last_batch", "_writes")

    def __init__(self) -> None:
        self._conversations: dict[str, Conversation] = {}
        self._writes: tuple[int, int] = (-1, -1)  # (data_version, total_changes) after the last append
        self._last_batch: Batch | None = None
        self._committed = True

    def check(self, conn: sqlite3.Connection, batch: Batch) -> None:
        """Forget what may no longer hold: call it at the start of a job that will call ``wrote``
        (``get`` does)."""
        if self._writes != (batch.data_version, conn.total_changes) or (
                batch is not self._last_batch and not self._committed):
            self._conversations.clear()

    def get(self, conn: sqlite3.Connection, batch: Batch, conversation_id: str) -> Conversation | None:
        """The conversation as this transaction sees it (``None``: no such conversation)."""
        self.check(conn, batch)
        known = self._conversations.get(conversation_id)
        if known is not None:
            return known
        row = conn.execute(_SELECT_CONVERSATION, (conversation_id,)).fetchone()
        if row is None:
            return None
        conversation = conversation_with_readers(row)
        self._conversations[conversation_id] = conversation
        return conversation

    def wrote(self, conn: sqlite3.Connection, batch: Batch, conversation: Conversation) -> None:
        """``conversation`` as the job's writes just left it, their only change (an append, a read
        mark): call it last in the job, after its writes."""
        conversations = self._conversations
        conversations.pop(conversation.id, None)  # the most recently written are kept longest
        conversations[conversation.id] = conversation
        if len(conversations) > _KNOWN_CONVERSATIONS:
            del conversations[next(iter(conversations))]
        self._writes = (batch.data_version, conn.total_changes)
        if batch is not self._last_batch:
            self._last_batch, self._committed = batch, False
            batch.after_commit(self._batch_committed)

    def _batch_committed(self) -> None:
        self._committed = True


class SQLiteMessages:
    """The messages part of ``ConversationStore``: ``append_message`` and ``messages_after``.
    ``hooks`` run in each stored participant's message's transaction."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self.database = database
        self.hooks: list[MessageHook] = []
        self.view = WritersView()  # read marks keep it too (read_marks.py)

    async def append_message(self, message: NewMessage) -> tuple[Conversation, Message, bool]:
        if message.sender_kind not in PARTY_COLUMN or message.sender_id is None:
            raise ValueError("append_message stores a participant's message")
        result: tuple[Conversation, Message, bool] = await self.database.batched(
            partial(self._append_message, message))
        return result

    def _append_message(self, m: NewMessage, conn: sqlite3.Connection, batch: Batch) -> tuple[Conversation, Message,
                                                                                                 bool]:
        assert m.sender_id is not None
        # The sender's right to write is checked against the conversation as this transaction
        # sees it (WritersView: read once, then kept while only appends write). A resend is
        # refused as the first send would be now; when it is not, the INSERT finds the stored one
        # and inserts nothing (the unique idempotency index), and no number is taken.
        conversation = self.view.get(conn, batch, m.conversation_id)
        if conversation is None or conversation.status == ConversationStatus.CLOSED or m.sender_id != (
                conversation.visitor_id if m.sender_kind == PartyKind.VISITOR else conversation.agent_id):
            check_writable(conversation, m.sender_kind, m.sender_id)
            raise AssertionError("a writable conversation refused a message")  # pragma: no cover
        # A visitor's messages carry the name from their pre-chat form.
        name = m.sender_name if m.sender_kind == PartyKind.AGENT else conversation.prechat.name
        seq = conversation.last_seq + 1
        stored = _store_message(conn, m, seq, name, _INSERT_UNLESS_RESENT)
        if stored is None:
            resent = conn.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages "
                "WHERE conversation_id = ? AND sender_id = ? AND client_msg_id = ?",
                (m.conversation_id, m.sender_id, m.client_msg_id),
            ).fetchone()
            return conversation, message_from_row(resent), False
        conn.execute(_TAKE_SEQ, (seq, m.conversation_id))
        conversation = structs.replace(conversation, last_seq=seq)
        for hook in self.hooks:
            hook(conn, batch, conversation, stored)
        self.view.wrote(conn, batch, conversation)
        return conversation, stored, True

    async def reader_joined(self, conversation_id: str) -> None:
        await self.database.batched(partial(_count_reader, conversation_id))

    async def messages_after(self, conversation_id: str, after_seq: int, limit: int) -> list[Message]:
        rows = await self.database.fetchall(SELECT_MESSAGES_AFTER, (conversation_id, after_seq, limit))
        return [message_from_row(row) for row in rows]
