"""SQLite storage of read marks: how far each participant has read a conversation, raised only,
never past its last message, and written only when it moves (and then kept in the writer's view
of the conversation, ``messages.WritersView``, so the next message does not read it again)."""

from __future__ import annotations

import sqlite3
from functools import partial

from ...domain.access import check_access
from ...domain.models import Conversation, PartyKind
from ..rows.conversations import PARTY_COLUMN
from ._group_commit import Batch
from ._rows import WITH_READERS, conversation_with_readers, select_conversation
from .database import SQLiteDatabase
from .messages import WritersView


class SQLiteReadMarks:
    """The read-marks part of ``ConversationStore``: ``mark_read``."""

    def __init__(self, database: SQLiteDatabase, view: WritersView) -> None:
        self.database = database
        self.view = view

    async def mark_read(self, conversation_id: str, party: PartyKind, party_id: str,
                        seq: int) -> tuple[Conversation, int, bool]:
        if party not in PARTY_COLUMN:
            raise ValueError("only a participant reads")
        result: tuple[Conversation, int, bool] = await self.database.batched(
            partial(_mark_read, self.view, conversation_id, party, party_id, seq))
        return result


def _mark_read(view: WritersView, conversation_id: str, party: PartyKind, party_id: str, seq: int,
               conn: sqlite3.Connection, batch: Batch) -> tuple[Conversation, int, bool]:
    column = "visitor_read_seq" if party == PartyKind.VISITOR else "agent_read_seq"
    view.check(conn, batch)
    # Only a mark that moves is written: a repeated or stale one changes no page.
    row = conn.execute(
        f"UPDATE conversations SET {column} = MIN(?, last_seq) WHERE id = ? AND {PARTY_COLUMN[party]} = ? AND "
        f"{column} < MIN(?, last_seq) RETURNING {WITH_READERS}",
        (seq, conversation_id, party_id, seq),
    ).fetchone()
    moved = row is not None
    if moved:
        conversation = conversation_with_readers(row)
        view.wrote(conn, batch, conversation)
    else:
        conversation = check_access(select_conversation(conn, conversation_id), party, party_id)
    read = conversation.visitor_read_seq if party == PartyKind.VISITOR else conversation.agent_read_seq
    return conversation, read, moved
