"""A returning shopper's earlier conversations: the list the widget offers read-only, each one's
messages, and the name and email of the last chat to fill in the pre-chat form again.

Whose they are: the conversations of the customer record the visitor belongs to. An anonymous
record belongs to one browser (one visitor: customers.py makes one per visitor and merges it
only into an identified customer), so an anonymous shopper sees what they wrote in this browser;
a shopper the shop signed in (``visitor:identify``) sees the customer's conversations from every
browser. Another visitor's conversation is ``NotFound``, as a missing id is."""

from __future__ import annotations

import msgspec

from ..errors import NotFound
from .models import Conversation, ConversationFilter, ConversationStatus, Message
from .ports import ConversationStore, CustomerStore

MAX_LISTED = 20
# A past conversation is read whole up to this many messages (its first ones); the widget says
# when there were more.
MAX_MESSAGES = 500


class Prefill(msgspec.Struct, frozen=True, kw_only=True):
    """What the shopper gave in their last chat's pre-chat form."""

    name: str
    email: str | None


class PastConversation(msgspec.Struct, frozen=True, kw_only=True):
    conversation: Conversation
    messages: list[Message]
    more: bool  # messages after the first MAX_MESSAGES were left out


class VisitorHistory:
    """The visitor's own conversations, read-only."""

    def __init__(self, customers: CustomerStore, conversations: ConversationStore) -> None:
        self.customers = customers
        self.conversations = conversations

    async def earlier_conversations(self, visitor_id: str, limit: int) -> tuple[list[Conversation], Prefill | None]:
        """Up to ``limit`` (at most ``MAX_LISTED``) of the visitor's ended conversations, newest
        first, and the pre-chat name and email of their latest conversation of any status."""
        customer = await self.customers.customer_of_visitor(visitor_id)
        if customer is None:
            return [], None
        latest, _ = await self.customers.find_conversations(ConversationFilter(customer_id=customer.id), 1, 0)
        ended, _ = await self.customers.find_conversations(
            ConversationFilter(customer_id=customer.id, status=ConversationStatus.CLOSED), min(limit, MAX_LISTED), 0)
        prefill = None
        if latest:
            prechat = latest[0].conversation.prechat
            prefill = Prefill(name=prechat.name, email=prechat.email)
        return [record.conversation for record in ended], prefill

    async def may_read(self, visitor_id: str, conversation_id: str) -> bool:
        """Whether the conversation is one of the visitor's (their own, or their customer's): the
        rule of ``read``, for what goes with a conversation (its files' links)."""
        try:
            await self._own(visitor_id, conversation_id)
        except NotFound:
            return False
        return True

    async def _own(self, visitor_id: str, conversation_id: str) -> Conversation:
        record = await self.customers.conversation_record(conversation_id)
        if record is None:
            raise NotFound("conversation not found")
        if record.conversation.visitor_id != visitor_id:
            customer = await self.customers.customer_of_visitor(visitor_id)
            if customer is None or record.customer_id != customer.id:
                raise NotFound("conversation not found")
        return record.conversation

    async def read(self, visitor_id: str, conversation_id: str) -> PastConversation:
        """One of the visitor's conversations with its messages (``NotFound`` for anyone else's)."""
        conversation = await self._own(visitor_id, conversation_id)
        messages = await self.conversations.messages_after(conversation_id, 0, MAX_MESSAGES + 1)
        return PastConversation(conversation=conversation, messages=messages[:MAX_MESSAGES],
                                more=len(messages) > MAX_MESSAGES)
