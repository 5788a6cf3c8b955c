"""PostgreSQL storage of read marks: how far each participant has read a conversation, raised
only, never past its last message, and written only when it moves."""

from __future__ import annotations

from functools import partial

from ...domain.access import check_access
from ...domain.models import Conversation, PartyKind
from ..rows.conversations import CONVERSATION_COLUMNS, PARTY_COLUMN, conversation_from_row
from .database import Batch, Connection, PostgresDatabase
from .messages import select_conversation


def _mark_read_statement(party: PartyKind) -> str:
    # Only a mark that moves is written: a repeated or stale one changes no page. The row lock
    # makes ``last_seq`` the one the last committed message left, whichever host stored it.
    column = "visitor_read_seq" if party == PartyKind.VISITOR else "agent_read_seq"
    return (f"UPDATE conversations SET {column} = least($1, last_seq) WHERE id = $2 AND "
            f"{PARTY_COLUMN[party]} = $3 AND {column} < least($1, last_seq) RETURNING {CONVERSATION_COLUMNS}")


_MARK_READ = {party: _mark_read_statement(party) for party in PARTY_COLUMN}


class PostgresReadMarks:
    """The read-marks part of ``ConversationStore``: ``mark_read``."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    async def mark_read(self, conversation_id: str, party: PartyKind, party_id: str,
                        seq: int) -> tuple[Conversation, int, bool]:
        if party not in PARTY_COLUMN:
            raise ValueError("only a participant reads")
        result: tuple[Conversation, int, bool] = await self.database.batched(
            partial(_mark_read, conversation_id, party, party_id, seq), conversation_id)
        return result


async def _mark_read(conversation_id: str, party: PartyKind, party_id: str, seq: int, conn: Connection,
                     batch: Batch) -> tuple[Conversation, int, bool]:
    row = await conn.fetchrow(_MARK_READ[party], seq, conversation_id, party_id)
    moved = row is not None
    conversation = conversation_from_row(row) if row else check_access(
        await select_conversation(conn, conversation_id), party, party_id)
    read = conversation.visitor_read_seq if party == PartyKind.VISITOR else conversation.agent_read_seq
    return conversation, read, moved
