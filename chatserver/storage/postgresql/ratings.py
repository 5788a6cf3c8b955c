"""PostgreSQL storage of visitors' ratings of their conversations (one per conversation)."""

from __future__ import annotations

from ...domain.models import Rating
from ..rows.conversations import SELECT_RATING, UPSERT_RATING, rating_from_row
from ._sql import numbered
from .database import PostgresDatabase

_SELECT_RATING = numbered(SELECT_RATING)
_UPSERT_RATING = numbered(UPSERT_RATING)


class PostgresRatings:
    """The ratings part of ``ConversationStore``: ``rate`` and ``rating``."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    async def rate(self, rating: Rating) -> None:
        """Store the visitor's rating of a closed conversation (a second rating replaces the first)."""
        async with self.database.connection() as conn:
            await conn.execute(_UPSERT_RATING, rating.conversation_id, rating.rating, rating.comment,
                               rating.created_at)

    async def rating(self, conversation_id: str) -> Rating | None:
        row = await self.database.fetchrow(_SELECT_RATING, conversation_id)
        return rating_from_row(row) if row else None
