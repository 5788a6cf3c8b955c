"""What every change of a conversation's status carries: its system message for the transcript,
the webhook events stored with it, and the announcement to both parties once it is stored."""

from __future__ import annotations

from .models import Conversation, Message, PartyKind
from .ports import ConversationEventLog, NewMessage, Notifier, OutboxRecorder

# The events of conversation changes that shops subscribe to (the ``ConversationEventLog``).
CONVERSATION_CREATED = "conversation.created"
CONVERSATION_ASSIGNED = "conversation.assigned"
CONVERSATION_CLOSED = "conversation.closed"


def system_message(conversation_id: str, body: str, at: float, meta: dict[str, str] | None = None) -> NewMessage:
    """The system's line in the transcript recording a change (``body`` is one of ``SYS_*``)."""
    return NewMessage(conversation_id=conversation_id, kind="system", sender_kind=PartyKind.SYSTEM,
                      sender_id=None, sender_name=None, body=body, created_at=at, meta=meta)


async def recorder(event_log: ConversationEventLog | None, event_type: str,
                   previous_agent_id: str | None = None) -> OutboxRecorder | None:
    """What to store with a change announced as ``event_type``; ``None`` without an event log or
    when nobody subscribes to it."""
    if event_log is None:
        return None
    return await event_log.recorder(event_type, previous_agent_id)


async def announce(notifier: Notifier, conversation: Conversation, previous_agent_id: str | None,
                   message: Message | None) -> None:
    """Tell both parties a conversation changed, then deliver the system message recording it."""
    await notifier.conversation_changed(conversation, previous_agent_id)
    if message is not None:
        await notifier.message_stored(conversation, message, None)
