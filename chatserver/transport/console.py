"""The agent console's Socket.IO events (namespace ``/agent``): internal notes and ending a
chat with a wrap-up. Registered in the event dispatcher (dispatch.py) by the app factory;
documented in docs/protocol.md."""

from __future__ import annotations

from typing import Any

from .. import constants as C
from ..domain.console import ConsoleStore
from ..domain.conversations import ChatService
from ..domain.notes import add_note, notes_for
from ..domain.wrapup import end_conversation
from ..errors import MessageTooLong, RateLimited
from ..wire.views import conversation_view, note_view
from . import schemas as S
from .dispatch import Handler
from .notifier import SocketNotifier
from .registry import Connection


class ConsoleEvents:
    def __init__(self, service: ChatService, notifier: SocketNotifier, store: ConsoleStore,
                 max_note_chars: int) -> None:
        self.service = service
        self.notifier = notifier
        self.store = store
        self.max_note_chars = max_note_chars

    def handlers(self) -> dict[str, Handler]:
        return {
            C.EV_NOTE_ADD: self._on_note_add,
            C.EV_NOTE_LIST: self._on_note_list,
            C.EV_CONVERSATION_END: self._on_end,
        }

    async def _on_note_add(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.NoteAdd, data)
        limit = self.max_note_chars
        if len(payload.body) > limit:
            raise MessageTooLong(f"notes are limited to {limit} characters")
        if not connection.messages.take():
            raise RateLimited("too many messages; slow down")
        note, created = await add_note(self.service, self.store, connection.actor, payload.conversation_id,
                                       payload.body, payload.client_note_id)
        view = note_view(note)
        if created:
            # Only agents' connections: the visitor's namespace never hears of notes.
            await self.notifier.to_agent(connection.actor.id, C.EV_NOTE_NEW, {"note": view})
        return {"note": view, "duplicate": not created}

    async def _on_note_list(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.ConversationRef, data)
        notes = await notes_for(self.service, self.store, connection.actor, payload.conversation_id)
        return {"notes": [note_view(n) for n in notes]}

    async def _on_end(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.ConversationEnd, data)
        conversation = await end_conversation(self.service, self.store, connection.actor,
                                              payload.conversation_id, payload.tags, payload.resolution_note)
        wrap_up = await self.store.wrap_up(conversation.id)
        tags, note = wrap_up if wrap_up is not None else ([], None)
        return {"conversation": conversation_view(conversation, connection.actor.kind), "tags": tags,
                "resolution_note": note}
