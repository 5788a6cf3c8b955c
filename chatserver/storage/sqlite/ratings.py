"""SQLite storage of visitors' ratings of their conversations (one per conversation)."""

from __future__ import annotations

from ...domain.models import Rating
from .database import SQLiteDatabase


class SQLiteRatings:
    """The ratings part of ``ConversationStore``: ``rate`` and ``rating``."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self.database = database

    async def rate(self, rating: Rating) -> None:
        """Store the visitor's rating of a closed conversation (a second rating replaces the first)."""
        async with self.database.transaction() as db:
            await db.execute(
                "INSERT INTO ratings (conversation_id, rating, comment, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (conversation_id) DO UPDATE SET rating = excluded.rating, comment = excluded.comment, "
                "created_at = excluded.created_at",
                (rating.conversation_id, rating.rating, rating.comment, rating.created_at),
            )

    async def rating(self, conversation_id: str) -> Rating | None:
        async with self.database.reader.execute(
            "SELECT conversation_id, rating, comment, created_at FROM ratings WHERE conversation_id = ?",
            (conversation_id,),
        ) as cur:
            row = await cur.fetchone()
        return Rating(conversation_id=row[0], rating=row[1], comment=row[2], created_at=row[3]) if row else None
