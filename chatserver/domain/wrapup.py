"""Ending a chat from the console: the agent's tags and resolution note, stored on the conversation."""

from __future__ import annotations

import re
from typing import Protocol

from ..errors import Forbidden, InvalidPayload
from .actor import Actor
from .conversations import ChatService
from .models import Conversation, ConversationStatus, PartyKind

TAG_RE = re.compile(r"^[a-z0-9][a-z0-9 _-]{0,31}$(?!\n)")
MAX_TAGS = 10
MAX_RESOLUTION_NOTE = 2000


class WrapUpStore(Protocol):
    async def set_wrap_up(self, conversation_id: str, tags: list[str], resolution_note: str | None) -> None:
        """Store the tags (a JSON array) and the resolution note on the conversation."""
        ...


def check_wrap_up(tags: list[str], resolution_note: str | None) -> tuple[list[str], str | None]:
    """Normalized tags (trimmed, lower-case, each once, in the order given) and note."""
    normalized = list(dict.fromkeys(" ".join(t.split()).lower() for t in tags))
    if len(normalized) > MAX_TAGS:
        raise InvalidPayload(f"at most {MAX_TAGS} tags")
    bad = [t for t in normalized if not TAG_RE.fullmatch(t)]
    if bad:
        raise InvalidPayload("a tag is 1-32 characters: letters a-z, digits, space, _ and -")
    note = resolution_note.strip() if resolution_note else None
    if note is not None and len(note) > MAX_RESOLUTION_NOTE:
        raise InvalidPayload(f"the resolution note is limited to {MAX_RESOLUTION_NOTE} characters")
    return normalized, note or None


async def end_conversation(service: ChatService, store: WrapUpStore, actor: Actor, conversation_id: str,
                           tags: list[str], resolution_note: str | None) -> Conversation:
    """The agent ends the chat with a wrap-up, or records the wrap-up of a chat that has ended
    (the visitor may have left first). The wrap-up is stored before the chat closes: a failure
    in between leaves an open chat that already carries its tags, and a retry completes it."""
    if actor.kind != PartyKind.AGENT:
        raise Forbidden("only agents end a chat with a wrap-up")
    tags, note = check_wrap_up(tags, resolution_note)
    conversation = await service.conversation_for(actor, conversation_id)
    await store.set_wrap_up(conversation_id, tags, note)
    if conversation.status != ConversationStatus.CLOSED:
        conversation = await service.close(actor, conversation_id)
    else:
        refreshed = await service.conversations.get_conversation(conversation_id)
        assert refreshed is not None
        conversation = refreshed
    return conversation
