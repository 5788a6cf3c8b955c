"""The JSON shapes clients see (documented in docs/protocol.md), shared by Socket.IO and REST."""

from __future__ import annotations

from typing import Any

from .domain.cobrowse import CobrowseSession, CobrowseView
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


def cobrowse_session_view(session: CobrowseSession, audience: PartyKind) -> dict[str, Any]:
    """A co-browse session's state as its shopper or an agent sees it (never any page content)."""
    view: dict[str, Any] = {
        "id": session.id,
        "conversation_id": session.conversation_id,
        "status": str(session.status),
        "control": str(session.control),
        "reason": session.reason,
        "agent": {"name": session.agent_name},
        "requested_at": session.requested_at,
        "started_at": session.started_at,
        "ended_at": session.ended_at,
    }
    if audience == PartyKind.AGENT:
        view["agent_id"] = session.agent_id
        view["pages"] = session.pages
    return view


def cobrowse_history_view(sessions: list[CobrowseSession], views: list[CobrowseView]) -> list[dict[str, Any]]:
    """A conversation's co-browse sessions for its transcript: when, how it ended, how much was
    relayed, and who watched for how long."""
    out = []
    for session in sessions:
        watched = [{"agent_id": v.agent_id, "agent_name": v.agent_name, "joined_at": v.joined_at,
                    "left_at": v.left_at,
                    "seconds": round(v.left_at - v.joined_at, 1) if v.left_at is not None else None}
                   for v in views if v.session_id == session.id]
        out.append({**cobrowse_session_view(session, PartyKind.AGENT),
                    "control_granted_at": session.control_granted_at, "bytes_relayed": session.bytes_relayed,
                    "watched": watched})
    return out
