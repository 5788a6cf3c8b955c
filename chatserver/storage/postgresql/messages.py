"""PostgreSQL storage of messages: each conversation's messages numbered 1, 2, 3... in the
transaction that stores them, a resend (same sender and client id) stored once, and the
participant's right to write checked in the same statement that takes the number.

Several hosts may write to one conversation at once: the UPDATE that takes the number locks the
conversation's row until COMMIT, so their messages are numbered one after the other with no gap
and no repeat, and a resend waits for the first send's transaction, then finds it (the unique
idempotency index). Nothing here relies on what one process knows.

Messages are written by jobs of the group commit (``database.batched``): a participant's message
in ``append_message``, a conversation's first and system messages by ``insert_message`` from the
job that creates or changes the conversation (``conversations.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import NoReturn

from ...domain.access import check_writable
from ...domain.models import Conversation, Message, PartyKind
from ...domain.ports import NewMessage
from ...errors import NotFound
from ..group_commit import Outcome
from ..rows.conversations import (
    CONVERSATION_COLUMNS,
    MESSAGE_COLUMNS,
    PARTY_COLUMN,
    SELECT_CONVERSATION,
    SELECT_MESSAGES_AFTER,
    conversation_from_row,
    message_from_row,
    meta_text,
    stored_message,
)
from ._sql import numbered
from .database import Batch, BulkJob, Connection, PostgresDatabase

# Called inside the transaction of every participant's message, after its INSERT: it may write
# in the same transaction (the message.created webhook's outbox items).
MessageHook = Callable[[Connection, Batch, Conversation, Message], Awaitable[None]]

SELECT_CONVERSATION_PG = numbered(SELECT_CONVERSATION)
_SELECT_MESSAGES_AFTER = numbered(SELECT_MESSAGES_AFTER)

# The statements below take a message's values as ``_values`` gives them ($1-$8), and its
# sender's name, where they need it, last ($9).
_VALUES = "$1, $2, $3, $4, $5, $6, $7, $8"
_COLUMNS = "conversation_id, kind, sender_kind, sender_id, client_msg_id, body, meta, created_at"

# A first or system message: the next number and the row in one statement; no row when there is
# no such conversation.
_INSERT_MESSAGE = (
    "WITH c AS (UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq) "
    f"INSERT INTO messages ({_COLUMNS}, seq, sender_name) SELECT {_VALUES}, c.last_seq, $9 FROM c "
    "RETURNING seq"
)


def _values(m: NewMessage) -> tuple[object, ...]:
    return (m.conversation_id, m.kind, str(m.sender_kind), m.sender_id, m.client_msg_id, m.body, meta_text(m.meta),
            m.created_at)


def _append_statement(party: PartyKind) -> str:
    """A participant's message in one statement: the number taken only if ``party``'s sender may
    write (no row otherwise), and the message inserted unless it is a resend, whose number is
    then NULL (the last column, after ``readers_version``). A visitor's message carries the name of their pre-chat form,
    an agent's the name it was sent with ($9)."""
    sender_name = "c.visitor_name" if party == PartyKind.VISITOR else "$9"
    return (
        f"WITH c AS (UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 AND status <> 'closed' "
        f"AND {PARTY_COLUMN[party]} = $4 RETURNING {CONVERSATION_COLUMNS}, readers_version), "
        f"m AS (INSERT INTO messages ({_COLUMNS}, seq, sender_name) "
        f"SELECT {_VALUES}, c.last_seq, {sender_name} FROM c "
        "ON CONFLICT (conversation_id, sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING "
        "RETURNING seq) "
        "SELECT c.*, (SELECT seq FROM m) FROM c"
    )


_APPEND = {party: _append_statement(party) for party in PARTY_COLUMN}
# A resend: its number goes back, and the stored message is the answer.
_FIND_RESENT = (f"SELECT {MESSAGE_COLUMNS} FROM messages "
                 "WHERE conversation_id = $1 AND sender_id = $2 AND client_msg_id = $3")
# Every message of a run of them in a batch (migration 0003): a row per message, in order.
_APPEND_MANY = ("SELECT out_conversation, out_seq FROM chat_append_messages($1::text[], $2::text[], $3::text[], "
                "$4::text[], $5::text[], $6::text[], $7::text[], $8::float8[], $9::text[])")
_GIVE_BACK_AND_FIND = (
    "WITH back AS (UPDATE conversations SET last_seq = last_seq - 1 WHERE id = $1) "
    f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND sender_id = $2 AND client_msg_id = $3"
)


async def insert_message(conn: Connection, m: NewMessage) -> Message:
    """Store ``m`` (a first or a system message: no sender check, no resend) with the next number
    of its conversation, from a job; ``NotFound`` when there is no such conversation."""
    seq = await conn.fetchval(_INSERT_MESSAGE, *_values(m), m.sender_name)
    if seq is None:
        raise NotFound("conversation not found")
    return stored_message(m, seq, m.sender_name)


async def _refused(conn: Connection, m: NewMessage) -> NoReturn:
    """Why ``m`` was refused (only now is its conversation read again); a resend is refused as the
    first send would be now."""
    assert m.sender_id is not None
    check_writable(await select_conversation(conn, m.conversation_id), m.sender_kind, m.sender_id)
    raise AssertionError("a writable conversation refused a message")  # pragma: no cover


async def select_conversation(conn: Connection, conversation_id: str) -> Conversation | None:
    """The conversation as ``conn``'s transaction sees it (from a job)."""
    row = await conn.fetchrow(SELECT_CONVERSATION_PG, conversation_id)
    return conversation_from_row(row) if row else None


_COUNT_READER = "UPDATE conversations SET readers_version = readers_version + 1 WHERE id = $1"


async def _count_reader(conversation_id: str, conn: Connection, batch: Batch) -> None:
    await conn.execute(_COUNT_READER, conversation_id)


class PostgresMessages:
    """The messages part of ``ConversationStore``: ``append_message`` and ``messages_after``.
    ``hooks`` run in each stored participant's message's transaction."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database
        self.hooks: list[MessageHook] = []

    async def append_message(self, message: NewMessage) -> tuple[Conversation, Message, bool]:
        if message.sender_kind not in PARTY_COLUMN or message.sender_id is None:
            raise ValueError("append_message stores a participant's message")
        result: tuple[Conversation, Message, bool] = await self.database.batched(
            BulkJob(self._append_many, self._append_message, message), message.conversation_id)
        return result

    async def _append_message(self, conn: Connection, batch: Batch,
                              m: NewMessage) -> tuple[Conversation, Message, bool]:
        """One message, alone (in its own savepoint)."""
        assert m.sender_id is not None
        agent = m.sender_kind == PartyKind.AGENT
        row = await conn.fetchrow(_APPEND[m.sender_kind], *_values(m), *((m.sender_name,) if agent else ()))
        if row is None:
            await _refused(conn, m)
        conversation = conversation_from_row(row)
        conversation.readers_version = row[-2]
        if row[-1] is None:
            conversation.last_seq -= 1
            resent = await conn.fetchrow(_GIVE_BACK_AND_FIND, m.conversation_id, m.sender_id, m.client_msg_id)
            assert resent is not None
            return conversation, message_from_row(resent), False
        return conversation, await self._stored(conn, batch, m, conversation), True

    async def _append_many(self, conn: Connection, batch: Batch, items: list[NewMessage]) -> list[Outcome]:
        """The messages next to each other in a batch, in one statement (migration 0003)."""
        columns = [list(column) for column in zip(
            *((*_values(m), m.sender_name if m.sender_kind == PartyKind.AGENT else None) for m in items),
            strict=True)]
        rows = await conn.fetch(_APPEND_MANY, *columns)
        outcomes: list[Outcome] = []
        for m, (stored_row, seq) in zip(items, rows, strict=True):
            if stored_row is None:  # nothing was written for it: only it fails
                try:
                    await _refused(conn, m)
                except Exception as exc:
                    outcomes.append((False, exc))
                continue
            conversation = conversation_from_row(stored_row)
            conversation.readers_version = stored_row["readers_version"]
            if seq is None:  # a resend: its number went back
                resent = await conn.fetchrow(_FIND_RESENT, m.conversation_id, m.sender_id, m.client_msg_id)
                assert resent is not None
                outcomes.append((True, (conversation, message_from_row(resent), False)))
                continue
            outcomes.append((True, (conversation, await self._stored(conn, batch, m, conversation), True)))
        return outcomes

    async def _stored(self, conn: Connection, batch: Batch, m: NewMessage, conversation: Conversation) -> Message:
        """The message stored as number ``conversation.last_seq``, after its hooks ran."""
        # A visitor's messages carry the name from their pre-chat form.
        name = m.sender_name if m.sender_kind == PartyKind.AGENT else conversation.prechat.name
        stored = stored_message(m, conversation.last_seq, name)
        for hook in self.hooks:
            await hook(conn, batch, conversation, stored)
        return stored

    async def reader_joined(self, conversation_id: str) -> None:
        await self.database.batched(partial(_count_reader, conversation_id), conversation_id)

    async def messages_after(self, conversation_id: str, after_seq: int, limit: int) -> list[Message]:
        rows = await self.database.fetch(_SELECT_MESSAGES_AFTER, conversation_id, after_seq, limit)
        return [message_from_row(row) for row in rows]
