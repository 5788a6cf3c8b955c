"""Who may act on a conversation: one rule, applied by ``ChatService.conversation_for``, co-browsing and
storage where it checks a sender inside the write itself (``ConversationStore.append_message``)."""

from __future__ import annotations

from ..errors import ConversationClosed, Forbidden, NotFound
from .models import Conversation, ConversationStatus, PartyKind


def check_access(conversation: Conversation | None, kind: PartyKind, party_id: str) -> Conversation:
    """``conversation`` if the party may act on it: the visitor who owns it, or the agent it is
    assigned to (or who closed it). A visitor is refused another visitor's conversation the same
    way as a missing id (``NotFound``); an agent gets ``Forbidden``."""
    if conversation is None:
        raise NotFound("conversation not found")
    if kind == PartyKind.VISITOR:
        if conversation.visitor_id != party_id:
            raise NotFound("conversation not found")
    elif conversation.agent_id != party_id:
        raise Forbidden("this conversation is not assigned to you")
    return conversation


def check_writable(conversation: Conversation | None, kind: PartyKind, party_id: str) -> Conversation:
    """As ``check_access``, and the conversation has not ended (``ConversationClosed``)."""
    conversation = check_access(conversation, kind, party_id)
    if conversation.status == ConversationStatus.CLOSED:
        raise ConversationClosed("the conversation has ended")
    return conversation
