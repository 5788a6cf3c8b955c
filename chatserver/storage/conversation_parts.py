"""What both databases' conversation stores do alike: each keeps messages, read marks and ratings
in parts of their own (``messages.py``, ``read_marks.py``, ``ratings.py`` of each backend) and
answers those parts of ``ConversationStore`` by handing them on; a transcript is assembled from
the store's own reads."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol

from ..domain.models import AssignmentEvent, Conversation, Message, PartyKind, Rating, Transcript
from ..domain.ports import NewMessage


class MessagesPart(Protocol):
    async def append_message(self, message: NewMessage) -> tuple[Conversation, Message, bool]: ...

    async def messages_after(self, conversation_id: str, after_seq: int, limit: int) -> list[Message]: ...

    async def reader_joined(self, conversation_id: str) -> None: ...


class ReadMarksPart(Protocol):
    async def mark_read(self, conversation_id: str, party: PartyKind, party_id: str,
                        seq: int) -> tuple[Conversation, int, bool]: ...


class RatingsPart(Protocol):
    async def rate(self, rating: Rating) -> None: ...

    async def rating(self, conversation_id: str) -> Rating | None: ...


class ConversationParts(ABC):
    """The share of ``ConversationStore`` a backend's conversation store gets by handing on to its
    parts; it gives the parts and its own ``get_conversation`` and ``assignments``."""

    messages: MessagesPart
    read_marks: ReadMarksPart
    ratings: RatingsPart

    @abstractmethod
    async def get_conversation(self, conversation_id: str) -> Conversation | None: ...

    @abstractmethod
    async def assignments(self, conversation_id: str) -> list[AssignmentEvent]: ...

    async def append_message(self, message: NewMessage) -> tuple[Conversation, Message, bool]:
        return await self.messages.append_message(message)

    async def messages_after(self, conversation_id: str, after_seq: int, limit: int) -> list[Message]:
        return await self.messages.messages_after(conversation_id, after_seq, limit)

    async def reader_joined(self, conversation_id: str) -> None:
        await self.messages.reader_joined(conversation_id)

    async def mark_read(self, conversation_id: str, party: PartyKind, party_id: str,
                        seq: int) -> tuple[Conversation, int, bool]:
        return await self.read_marks.mark_read(conversation_id, party, party_id, seq)

    async def rate(self, rating: Rating) -> None:
        await self.ratings.rate(rating)

    async def rating(self, conversation_id: str) -> Rating | None:
        return await self.ratings.rating(conversation_id)

    async def transcript(self, conversation_id: str) -> Transcript | None:
        conversation = await self.get_conversation(conversation_id)
        if conversation is None:
            return None
        messages = await self.messages_after(conversation_id, 0, 1_000_000)
        return Transcript(
            conversation=conversation, messages=messages, assignments=await self.assignments(conversation_id),
            rating=await self.rating(conversation_id),
        )
