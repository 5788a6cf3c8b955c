"""Ratings (storage/{sqlite,postgresql}/ratings.py) on each database: one per conversation, the
latest replacing the one before, and part of the transcript."""

from __future__ import annotations

from chatserver.domain.models import Rating
from chatserver.domain.ports import ConversationStore

from .support import new_conversation


async def test_a_second_rating_replaces_the_first_and_shows_in_the_transcript(
    conversations: ConversationStore,
) -> None:
    await conversations.create_conversation(new_conversation(), [])
    assert await conversations.rating("c1") is None
    await conversations.rate(Rating(conversation_id="c1", rating=2, comment="slow", created_at=5.0))
    await conversations.rate(Rating(conversation_id="c1", rating=5, comment=None, created_at=6.0))
    latest = Rating(conversation_id="c1", rating=5, comment=None, created_at=6.0)
    assert await conversations.rating("c1") == latest
    transcript = await conversations.transcript("c1")
    assert transcript is not None and transcript.rating == latest
