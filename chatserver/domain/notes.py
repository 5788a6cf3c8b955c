"""Internal notes: what agents write in a conversation for each other, never for the visitor.

Notes are kept apart from the conversation's messages (their own table, their own events), so
nothing that sends the visitor messages (live delivery, replay, catch-up, transcripts) can
carry one: the separation is structural, not a filter each path has to remember.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from ..errors import Forbidden
from .actor import Actor
from .conversations import ChatService
from .models import PartyKind


class NewNote(msgspec.Struct, frozen=True, kw_only=True):
    conversation_id: str
    agent_id: str
    agent_name: str
    body: str
    created_at: float
    client_note_id: str | None = None


class Note(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    conversation_id: str
    agent_id: str
    agent_name: str
    body: str
    created_at: float
    client_note_id: str | None = None


class NoteStore(Protocol):
    async def add_note(self, note: NewNote) -> tuple[Note, bool]:
        """Store a note; idempotent on ``(conversation, agent, client_note_id)``: a resend returns
        the stored note with ``created=False``."""
        ...

    async def notes(self, conversation_id: str) -> list[Note]:
        """The conversation's notes, oldest first."""
        ...


async def add_note(service: ChatService, notes: NoteStore, actor: Actor, conversation_id: str, body: str,
                   client_note_id: str | None) -> tuple[Note, bool]:
    """An agent adds a note to a conversation assigned to them (or that they closed)."""
    if actor.kind != PartyKind.AGENT or actor.name is None:
        raise Forbidden("only agents write notes")
    await service.conversation_for(actor, conversation_id)
    return await notes.add_note(NewNote(conversation_id=conversation_id, agent_id=actor.id, agent_name=actor.name,
                                        body=body, created_at=service.clock.now(), client_note_id=client_note_id))


async def notes_for(service: ChatService, notes: NoteStore, actor: Actor, conversation_id: str) -> list[Note]:
    """The notes of a conversation the agent may act on (see ``ChatService.conversation_for``)."""
    if actor.kind != PartyKind.AGENT:
        raise Forbidden("only agents read notes")
    await service.conversation_for(actor, conversation_id)
    return await notes.notes(conversation_id)
