"""The events visitors and agents share, on both namespaces: joining a conversation (with its
replay), sending, read marks, typing and closing."""

from __future__ import annotations

from typing import Any

from .. import constants as C
from ..domain.conversations import ChatService
from ..domain.models import ConversationStatus, PartyKind
from ..domain.read_marks import ReadMarks
from ..errors import MessageTooLong, RateLimited
from . import schemas as S
from .conversation_views import ConversationViews
from .delivery import Delivery
from .dispatch import Handler
from .queue_views import QueueViews
from .registry import Connection
from .waiting import WaitingVisitors


def check_length(body: str, max_chars: int) -> None:
    if len(body) > max_chars:
        raise MessageTooLong(f"messages are limited to {max_chars} characters")


class ChatEvents:
    def __init__(self, service: ChatService, read_marks: ReadMarks, delivery: Delivery, waiting: WaitingVisitors,
                 queue: QueueViews, views: ConversationViews, max_message_chars: int) -> None:
        self.service = service
        self.views = views
        self.read_marks = read_marks
        self.delivery = delivery
        self.waiting = waiting
        self.queue = queue
        self.max_message_chars = max_message_chars

    def handlers(self) -> dict[str, Handler]:
        return {
            C.EV_CONVERSATION_JOIN: self._on_join,
            C.EV_MESSAGE_SEND: self._on_message_send,
            C.EV_MESSAGE_READ: self._on_message_read,
            C.EV_TYPING: self._on_typing,
            C.EV_CONVERSATION_CLOSE: self._on_close,
        }

    async def _on_join(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.ConversationJoin, data)
        conversation = await self.service.conversation_for(connection.actor, payload.conversation_id)
        watermark = await self.delivery.join(
            connection.sid, connection.namespace, connection.actor.id, conversation.id, payload.after_seq
        )
        if conversation.status == ConversationStatus.CLOSED:  # replayed; nothing follows the closing message
            self.delivery.leave(connection.sid, conversation.id)
        view = await self.views.view(conversation, connection.actor.kind)
        queue = None
        if connection.actor.kind == PartyKind.VISITOR:
            self.waiting.watch(conversation)
            queue = await self.queue.place_of(conversation)
        return {"conversation": view, "last_seq": watermark, "queue": queue}

    async def _on_message_send(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.MessageSend, data)
        check_length(payload.body, self.max_message_chars)
        if not connection.messages.take():
            raise RateLimited("too many messages; slow down")
        message, created = await self.service.send_message(
            connection.actor, payload.conversation_id, payload.client_msg_id, payload.body, connection.sid
        )
        return {"seq": message.seq, "created_at": message.created_at, "duplicate": not created}

    async def _on_message_read(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.MessageRead, data)
        seq = await self.read_marks.mark_read(connection.actor, payload.conversation_id, payload.seq)
        return {"seq": seq}

    async def _on_typing(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.TypingUpdate, data)
        await self.service.set_typing(connection.actor, payload.conversation_id, payload.typing)
        return {}

    async def _on_close(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.ConversationRef, data)
        conversation = await self.service.close(connection.actor, payload.conversation_id)
        return {"conversation": await self.views.view(conversation, connection.actor.kind)}
