"""A returning shopper's earlier conversations on the visitor namespace: ``history:list`` (the
ended chats the widget offers read-only, and the name and email of the last chat for the pre-chat
form) and ``history:read`` (one of them with its messages, without subscribing to anything).
Rules in domain/visitor_history.py; documented in docs/protocol.md."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from .. import constants as C
from ..domain.models import PartyKind
from ..domain.visitor_history import MAX_LISTED, VisitorHistory
from ..wire.views import message_view
from . import schemas as S
from .conversation_views import ConversationViews
from .dispatch import Handler
from .registry import Connection


class HistoryList(S.Payload, kw_only=True):
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_LISTED)] = 5


class HistoryRead(S.Payload, kw_only=True):
    conversation_id: S.Id


class HistoryEvents:
    def __init__(self, history: VisitorHistory, views: ConversationViews) -> None:
        self.history = history
        self.views = views

    def handlers(self) -> dict[str, Handler]:
        return {C.EV_HISTORY_LIST: self._on_list, C.EV_HISTORY_READ: self._on_read}

    async def _on_list(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(HistoryList, data)
        conversations, prefill = await self.history.earlier_conversations(connection.actor.id, payload.limit)
        return {
            "conversations": [await self.views.view(c, PartyKind.VISITOR) for c in conversations],
            "prefill": {"name": prefill.name, "email": prefill.email} if prefill else None,
        }

    async def _on_read(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(HistoryRead, data)
        past = await self.history.read(connection.actor.id, payload.conversation_id)
        return {
            "conversation": await self.views.view(past.conversation, PartyKind.VISITOR),
            "messages": [message_view(m) for m in past.messages],
            "more": past.more,
        }
