"""The waiting conversations of this process's visitors: whose places in the queue this process
keeps them told of, and the last place each was told."""

from __future__ import annotations

from ..domain.models import Conversation, ConversationStatus


class WaitingVisitors:
    def __init__(self) -> None:
        # Waiting conversation id -> its visitor's id.
        self.watching: dict[str, str] = {}
        # Waiting conversation id -> the position and estimate last sent, and when (monotonic).
        self.positions_sent: dict[str, tuple[int, float | None, float]] = {}

    def watch(self, conversation: Conversation) -> None:
        """Keep this process's visitor told of their position while the conversation waits."""
        if conversation.status == ConversationStatus.QUEUED:
            self.watching[conversation.id] = conversation.visitor_id
        else:
            self.watching.pop(conversation.id, None)
            self.positions_sent.pop(conversation.id, None)

    def unwatch_visitor(self, visitor_id: str) -> None:
        for conversation_id in [c for c, v in self.watching.items() if v == visitor_id]:
            del self.watching[conversation_id]
            self.positions_sent.pop(conversation_id, None)
