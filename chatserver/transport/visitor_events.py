"""The visitor namespace's own events: resuming a session, starting a chat, rating it and
telling which page the shopper is on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import constants as C
from ..domain.conversations import ChatService
from ..domain.models import PageContext, PartyKind, PreChat
from ..domain.ports import ConversationStore
from ..domain.presence import PresenceChanges
from ..errors import RateLimited
from . import schemas as S
from .chat_events import check_length
from .conversation_views import ConversationViews
from .delivery import Delivery
from .dispatch import Handler
from .queue_views import QueueViews
from .registry import Connection
from .waiting import WaitingVisitors


class VisitorEvents:
    def __init__(self, service: ChatService, presence_changes: PresenceChanges, conversations: ConversationStore,
                 delivery: Delivery, waiting: WaitingVisitors, queue: QueueViews, views: ConversationViews,
                 max_message_chars: int, limits: dict[str, int],
                 check_locale: Callable[[str | None], str | None]) -> None:
        self.service = service
        self.views = views
        self.presence_changes = presence_changes
        self.conversations = conversations
        self.delivery = delivery
        self.waiting = waiting
        self.queue = queue
        self.max_message_chars = max_message_chars
        self.limits = limits
        # The shopper's language, as the widget's catalog names it; one it lacks is invalid_payload.
        self.check_locale = check_locale

    def handlers(self) -> dict[str, Handler]:
        return {
            C.EV_SESSION_RESUME: self._on_resume,
            C.EV_CHAT_START: self._on_chat_start,
            C.EV_CONVERSATION_RATE: self._on_rate,
            C.EV_PAGE_UPDATE: self._on_page_update,
        }

    async def _on_resume(self, connection: Connection, data: Any) -> dict[str, Any]:
        S.parse(S.SessionResume, data)
        conversation = await self.conversations.active_conversation_for_visitor(connection.actor.id)
        if conversation is not None:
            self.waiting.watch(conversation)
        queue = await self.queue.place_of(conversation) if conversation else None
        return {
            "visitor_id": connection.actor.id,
            "conversation": await self.views.view(conversation, PartyKind.VISITOR) if conversation else None,
            "queue": queue,
            "agents_available": await self.presence_changes.agents_available(),
            "limits": self.limits,
        }

    async def _on_chat_start(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.ChatStart, data)
        check_length(payload.question, self.max_message_chars)
        locale = self.check_locale(payload.locale)
        prechat = PreChat(name=payload.name.strip() or "Visitor", question=payload.question, email=payload.email,
                          order_number=payload.order_number, page_url=payload.page_url,
                          page_title=payload.page_title, checkout=payload.checkout, cart_value=payload.cart_value,
                          department=payload.department, locale=locale)
        conversation, created = await self.service.start_chat(connection.actor.id, prechat)
        # Watched at once: queue positions computed from now on include this visitor.
        self.waiting.watch(conversation)
        await self.delivery.join(connection.sid, connection.namespace, connection.actor.id, conversation.id, 0)
        return {
            "created": created,
            "conversation": await self.views.view(conversation, PartyKind.VISITOR),
            "queue": await self.queue.place_of(conversation),
        }

    async def _on_page_update(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.PageUpdate, data)
        if not connection.pages.take():
            raise RateLimited("too many page updates; one per page load is enough")
        page = PageContext(page_url=payload.page_url, page_title=payload.page_title, checkout=payload.checkout,
                           cart_value=payload.cart_value)
        conversation, changed = await self.service.update_page(connection.actor, payload.conversation_id, page)
        return {"conversation": await self.views.view(conversation, PartyKind.VISITOR), "changed": changed}

    async def _on_rate(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.ConversationRate, data)
        rating = await self.service.rate(connection.actor, payload.conversation_id, payload.rating, payload.comment)
        return {"rating": {"rating": rating.rating, "comment": rating.comment, "created_at": rating.created_at}}
