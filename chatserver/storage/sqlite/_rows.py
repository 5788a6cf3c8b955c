"""Reading a conversation from a job of the group commit (a sqlite3 connection, in the writer's
transaction). The columns and row readers both databases share are in ``storage/rows/conversations.py``."""

from __future__ import annotations

import sqlite3

from ...domain.models import Conversation
from ..rows import Row
from ..rows.conversations import CONVERSATION_COLUMNS, SELECT_CONVERSATION, conversation_from_row

# A conversation with how many connections started reading it (``Conversation.readers_version``),
# as the writer's view and the notifier want it: a row of these columns is read by
# ``conversation_with_readers``.
WITH_READERS = f"{CONVERSATION_COLUMNS}, readers_version"


def select_conversation(conn: sqlite3.Connection, conversation_id: str) -> Conversation | None:
    """The conversation as the writer's transaction sees it (from a job)."""
    row = conn.execute(SELECT_CONVERSATION, (conversation_id,)).fetchone()
    return conversation_from_row(row) if row else None


def conversation_with_readers(row: Row) -> Conversation:
    """The conversation of a row of ``WITH_READERS``."""
    conversation = conversation_from_row(row)
    conversation.readers_version = row[-1]
    return conversation


def customer_of(conn: sqlite3.Connection, conversation_id: str) -> str | None:
    """The id of the customer the conversation belongs to (from a job)."""
    row = conn.execute("SELECT customer_id FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
    return str(row[0]) if row and row[0] is not None else None
