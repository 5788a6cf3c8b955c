"""The JSON shapes clients see (documented in docs/protocol.md), shared by Socket.IO and REST."""

from __future__ import annotations

from typing import Any

from .domain.models import AssignmentEvent, Conversation, Message, PartyKind, Transcript


def message_view(message: Message) -> dict[str, Any]:
    return {
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "kind": message.kind,
        "sender": {"kind": str(message.sender_kind), "name": message.sender_name},
        "body": message.body,
        "meta": message.meta,
        "client_msg_id": message.client_msg_id,
        "created_at": message.created_at,
    }


def _prechat(conversation: Conversation) -> dict[str, Any]:
    p = conversation.prechat
    return {"name": p.name, "email": p.email, "question": p.question, "order_number": p.order_number,
            "page_url": p.page_url, "page_title": p.page_title, "checkout": p.checkout, "cart_value": p.cart_value,
            "department": p.department}


def conversation_view(conversation: Conversation, audience: PartyKind) -> dict[str, Any]:
    """A conversation as the visitor (no internal ids) or an agent sees it."""
    view: dict[str, Any] = {
        "id": conversation.id,
        "status": str(conversation.status),
        "agent": {"name": conversation.agent_name} if conversation.agent_name else None,
        "prechat": _prechat(conversation),
        "created_at": conversation.created_at,
        "assigned_at": conversation.assigned_at,
        "closed_at": conversation.closed_at,
        "closed_by": str(conversation.closed_by) if conversation.closed_by else None,
        "last_seq": conversation.last_seq,
        "read": {"visitor": conversation.visitor_read_seq, "agent": conversation.agent_read_seq},
        "priority": conversation.priority,
    }
    if audience == PartyKind.AGENT:
        view["visitor_id"] = conversation.visitor_id
        view["agent_id"] = conversation.agent_id
    return view


def assignment_view(event: AssignmentEvent) -> dict[str, Any]:
    return {"agent_id": event.agent_id, "event": event.event, "reason": event.reason, "at": event.at}


def transcript_view(transcript: Transcript) -> dict[str, Any]:
    return {
        "conversation": conversation_view(transcript.conversation, PartyKind.AGENT),
        "messages": [message_view(m) for m in transcript.messages],
        "assignments": [assignment_view(a) for a in transcript.assignments],
        "rating": {"rating": transcript.rating.rating, "comment": transcript.rating.comment,
                   "created_at": transcript.rating.created_at} if transcript.rating else None,
    }
