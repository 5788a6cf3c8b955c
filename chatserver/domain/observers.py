"""Features that follow conversations: after every change the chat lifecycle makes, each observer
is told (co-browsing ends a conversation's live session when the chat closes or moves to another
agent). A failing observer is logged and never fails the change, which is already stored and
announced."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from .models import Conversation, Message, PartyKind
from .ports import Notifier

log = logging.getLogger("chatserver.conversations")

ConversationObserver = Callable[[Conversation], Awaitable[None]]


class ObservedNotifier:
    """The ``Notifier`` the chat lifecycle is given: the clients' one, then the observers."""

    def __init__(self, clients: Notifier, observers: Sequence[ConversationObserver]) -> None:
        self.clients = clients
        self.observers = tuple(observers)

    async def conversation_changed(self, conversation: Conversation, previous_agent_id: str | None) -> None:
        await self.clients.conversation_changed(conversation, previous_agent_id)
        for observer in self.observers:
            try:
                await observer(conversation)
            except Exception:
                log.exception("conversation observer failed conversation=%s", conversation.id)

    async def message_stored(self, conversation: Conversation, message: Message, origin: str | None) -> None:
        await self.clients.message_stored(conversation, message, origin)

    async def queue_changed(self) -> None:
        await self.clients.queue_changed()

    async def peer_presence(self, conversation: Conversation, party: PartyKind, online: bool) -> None:
        await self.clients.peer_presence(conversation, party, online)

    async def typing(self, conversation: Conversation, party: PartyKind, typing: bool) -> None:
        await self.clients.typing(conversation, party, typing)

    async def read_updated(self, conversation: Conversation, party: PartyKind, seq: int) -> None:
        await self.clients.read_updated(conversation, party, seq)
