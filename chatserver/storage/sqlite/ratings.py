"""SQLite storage of visitors' ratings of their conversations (one per conversation)."""

from __future__ import annotations

from ...domain.models import Rating
from ..rows.conversations import SELECT_RATING, UPSERT_RATING, rating_from_row
from .database import SQLiteDatabase


class SQLiteRatings:
    """The ratings part of ``ConversationStore``: ``rate`` and ``rating``."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self.database = database

    async def rate(self, rating: Rating) -> None:
        """Store the visitor's rating of a closed conversation (a second rating replaces the first)."""
        async with self.database.transaction() as db:
            await db.execute(UPSERT_RATING,
                             (rating.conversation_id, rating.rating, rating.comment, rating.created_at))

    async def rating(self, conversation_id: str) -> Rating | None:
        async with self.database.reader.execute(SELECT_RATING, (conversation_id,)) as cur:
            row = await cur.fetchone()
        return rating_from_row(row) if row else None
