"""Conversations as a party sees them on Socket.IO: ``wire.views.conversation_view``, and for a
visitor the agent's ``avatar_url`` (domain/avatars.py), read here since views do no I/O."""

from __future__ import annotations

from typing import Any

from ..domain.avatars import AgentAvatars
from ..domain.models import Conversation, PartyKind
from ..wire.views import conversation_view


class ConversationViews:
    def __init__(self, avatars: AgentAvatars) -> None:
        self.avatars = avatars

    async def view(self, conversation: Conversation, audience: PartyKind) -> dict[str, Any]:
        avatar_id = None
        if audience == PartyKind.VISITOR and conversation.agent_id is not None:
            avatar_id = await self.avatars.avatar_id(conversation.agent_id)
        return conversation_view(conversation, audience, agent_avatar_id=avatar_id)
