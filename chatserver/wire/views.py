"""Views: functions from domain objects to the JSON a client (Socket.IO, docs/protocol.md), a REST
caller (the OpenAPI document, whose answers are described by ``shapes.py``) or a webhook receiver
(docs/webhooks.md) sees. Every wire shape of a domain object is written here, once, so Socket.IO,
REST and webhooks cannot disagree on one; tests/wire/test_views.py converts each view's output to
its shape."""

from __future__ import annotations

import base64
from typing import Any

from ..domain.canned import CannedResponse
from ..domain.cobrowse import CobrowseSession, CobrowseView
from ..domain.knowledge import Article, Category, KnowledgeReport, SearchResult
from ..domain.models import (
    Agent,
    AssignmentEvent,
    Attachment,
    Conversation,
    ConversationRecord,
    Customer,
    CustomerData,
    Message,
    PartyKind,
    Transcript,
)
from ..domain.notes import Note
from ..domain.outbox import OutboxItem
from ..domain.proactive import ProactiveRule, RuleCounts
from ..domain.tickets import Ticket
from ..domain.webhooks import WebhookEndpoint

# -- agents ----------------------------------------------------------------------------------------

def agent_view(agent: Agent) -> dict[str, Any]:
    """An agent as the team sees them: never the password hash or the token version."""
    return {"id": agent.id, "email": agent.email, "name": agent.name, "role": str(agent.role),
            "capacity": agent.capacity, "disabled": agent.disabled, "departments": list(agent.departments)}


# -- conversations ---------------------------------------------------------------------------------

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


def avatar_url(avatar_id: str | None) -> str | None:
    """Where an agent's avatar is served (public, cached for good: a new avatar has a new id)."""
    return f"/avatars/{avatar_id}" if avatar_id else None


def conversation_view(conversation: Conversation, audience: PartyKind, *,
                      agent_avatar_id: str | None = None) -> dict[str, Any]:
    """A conversation as the visitor (no internal ids; the agent's ``avatar_url``, from
    ``agent_avatar_id``) or an agent sees it."""
    agent: dict[str, Any] | None = {"name": conversation.agent_name} if conversation.agent_name else None
    if agent is not None and audience == PartyKind.VISITOR:
        agent["avatar_url"] = avatar_url(agent_avatar_id)
    view: dict[str, Any] = {
        "id": conversation.id,
        "status": str(conversation.status),
        "agent": agent,
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


# -- co-browsing -----------------------------------------------------------------------------------

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


# -- the console -----------------------------------------------------------------------------------

def canned_view(canned: CannedResponse) -> dict[str, Any]:
    return {"id": canned.id, "shortcut": canned.shortcut, "body": canned.body, "created_at": canned.created_at,
            "updated_at": canned.updated_at}


def proactive_rule_view(rule: ProactiveRule) -> dict[str, Any]:
    return {"id": rule.id, "name": rule.name, "url_pattern": rule.url_pattern, "seconds": rule.seconds,
            "min_cart_value": rule.min_cart_value, "checkout_step": rule.checkout_step,
            "business_hours_only": rule.business_hours_only, "agent_available_only": rule.agent_available_only,
            "text": rule.text, "texts": dict(rule.texts), "enabled": rule.enabled, "position": rule.position,
            "created_at": rule.created_at, "updated_at": rule.updated_at}


def proactive_origin_view(rule_id: str, rule: ProactiveRule | None) -> dict[str, Any]:
    """The rule that started a conversation, as agents' transcripts name it."""
    return {"rule_id": rule_id, "name": rule.name if rule else None}


def proactive_counts_view(counts: RuleCounts) -> dict[str, Any]:
    return {"rule_id": counts.rule_id, "name": counts.name, "enabled": counts.enabled, "shown": counts.shown,
            "answered": counts.answered, "chats": counts.chats}


def note_view(note: Note) -> dict[str, Any]:
    return {"id": note.id, "conversation_id": note.conversation_id, "agent": {"id": note.agent_id,
            "name": note.agent_name}, "body": note.body, "client_note_id": note.client_note_id,
            "created_at": note.created_at}


# -- customer records ------------------------------------------------------------------------------

def customer_view(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "external_id": customer.external_id,
        "identified": customer.external_id is not None,
        "name": customer.name,
        "emails": list(customer.emails),
        "phone": customer.phone,
        "notes": customer.notes,
        "tags": list(customer.tags),
        "created_at": customer.created_at,
        "last_seen_at": customer.last_seen_at,
    }


def record_view(record: ConversationRecord) -> dict[str, Any]:
    return {**conversation_view(record.conversation, PartyKind.AGENT), "customer_id": record.customer_id,
            "tags": list(record.tags)}


def full_transcript_view(transcript: Transcript, record: ConversationRecord) -> dict[str, Any]:
    view = transcript_view(transcript)
    view["conversation"].update(customer_id=record.customer_id, tags=list(record.tags))
    return view


def attachment_view(attachment: Attachment, sender_name: str | None = None) -> dict[str, Any]:
    """A stored file's record as agents' transcripts list it (never its bytes or a link); the
    sender's name is its file message's."""
    return {"id": attachment.id, "name": attachment.name, "content_type": attachment.content_type,
            "size": attachment.size, "width": attachment.width, "height": attachment.height,
            "sender": {"kind": str(attachment.sender_kind), "name": sender_name}, "created_at": attachment.created_at}


def attachments_view(attachments: list[Attachment], messages: list[Message]) -> list[dict[str, Any]]:
    """A transcript's files in the order of their messages, each with its sender's name."""
    posted = {(m.meta or {}).get("attachment_id"): m for m in messages if m.kind == "file"}
    ordered = sorted(attachments, key=lambda a: posted[a.id].seq if a.id in posted else 2**63)
    return [attachment_view(a, posted[a.id].sender_name if a.id in posted else None) for a in ordered]


def export_view(data: CustomerData) -> dict[str, Any]:
    return {
        "customer": customer_view(data.customer),
        "visitor_ids": data.visitor_ids,
        "conversations": [transcript_view(t) for t in data.transcripts],
        "files": [{"attachment": attachment_view(f.attachment), "conversation_id": f.attachment.conversation_id,
                   "data": base64.b64encode(f.data).decode()} for f in data.files],
        "related": data.related,
    }


# -- offline tickets -------------------------------------------------------------------------------

def ticket_view(ticket: Ticket, *, for_agent: bool) -> dict[str, Any]:
    """A ticket as agents (with internal ids) or its visitor see it."""
    view: dict[str, Any] = {
        "id": ticket.id, "reference": ticket.reference, "status": str(ticket.status), "name": ticket.name,
        "email": ticket.email, "order_number": ticket.order_number, "description": ticket.description,
        "page_url": ticket.page_url, "created_at": ticket.created_at, "updated_at": ticket.updated_at,
        "answers": [{"agent": {"name": a.agent_name}, "body": a.body, "created_at": a.created_at}
                    for a in ticket.answers],
    }
    if for_agent:
        view["visitor_id"] = ticket.visitor_id
        view["customer_id"] = ticket.customer_id
        for answer_view, answer in zip(view["answers"], ticket.answers, strict=True):
            answer_view["agent_id"] = answer.agent_id
    return view


# -- webhooks and the outbox -----------------------------------------------------------------------

def webhook_endpoint_view(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint as admins list it: never its secret (shown once, in the answer that created it)."""
    return {"id": endpoint.id, "url": endpoint.url, "events": list(endpoint.events), "created_at": endpoint.created_at}


def outbox_view(item: OutboxItem) -> dict[str, Any]:
    # Never the payload: it holds messages and answers.
    return {"id": item.id, "kind": str(item.kind), "target": item.target, "status": str(item.status),
            "attempts": item.attempts, "next_attempt_at": item.next_attempt_at, "last_error": item.last_error,
            "created_at": item.created_at, "sent_at": item.sent_at}


# -- the knowledge base ----------------------------------------------------------------------------

def article_url(article: Article) -> str:
    return f"/help/articles/{article.slug}"


def category_view(category: Category, published: int | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {"id": category.id, "slug": category.slug, "name": category.name,
                            "description": category.description, "position": category.position}
    if published is not None:
        view["articles"] = published
    return view


def article_view(article: Article, categories: dict[str, Category], *, full: bool = True,
                 agents: dict[str, Agent] | None = None) -> dict[str, Any]:
    """An article as the API shows it; ``agents`` (given to staff) adds the draft's workflow and Markdown."""
    category = categories.get(article.category_id) if article.category_id else None
    view: dict[str, Any] = {
        "id": article.id, "slug": article.slug, "url": article_url(article), "title": article.title,
        "summary": article.summary, "status": str(article.status), "locale": article.locale,
        "category": {"id": category.id, "slug": category.slug, "name": category.name} if category else None,
        "tags": list(article.tags), "faq_position": article.faq_position, "updated_at": article.updated_at,
        "published_at": article.published_at,
    }
    if full:
        view["body_html"] = article.body_html
    if agents is not None:
        assignee = agents.get(article.assignee_id) if article.assignee_id else None
        view.update(body=article.body, created_at=article.created_at, created_by=article.created_by,
                    source_conversation_id=article.source_conversation_id,
                    assignee={"id": assignee.id, "name": assignee.name} if assignee else None)
    return view


def search_view(result: SearchResult, categories: dict[str, Category]) -> dict[str, Any]:
    return {"query": result.query, "corrected": result.corrected, "did_you_mean": result.did_you_mean,
            "results": [{**article_view(h.article, categories, full=False), "snippet": h.snippet,
                         "score": round(h.score, 4)} for h in result.hits]}


def report_view(report: KnowledgeReport) -> dict[str, Any]:
    return {
        "searches": report.searches, "searches_without_results": report.searches_without_results,
        "top_searches": [{"query": q.query, "count": q.count, "results": q.results} for q in report.top_searches],
        "no_result_searches": [{"query": q.query, "count": q.count} for q in report.no_result_searches],
        "outcomes": report.outcomes, "deflection_rate": report.deflection_rate,
        "top_articles": [{"article_id": a.article_id, "title": a.title, "count": a.count}
                         for a in report.top_articles],
    }
