"""Sample domain objects for the wire tests: ``full`` fills every optional part, a bare one leaves
each at its default, so both branches of each view are taken."""

from __future__ import annotations

from chatserver.domain.cobrowse import CobrowseSession, CobrowseStatus, CobrowseView, ControlState
from chatserver.domain.knowledge import (
    Article,
    ArticleStatus,
    Category,
)
from chatserver.domain.models import (
    Agent,
    AssignmentEvent,
    Attachment,
    Conversation,
    ConversationRecord,
    ConversationStatus,
    Customer,
    Message,
    PartyKind,
    PreChat,
    Rating,
    Role,
    Transcript,
)
from chatserver.domain.notes import Note
from chatserver.domain.tickets import Ticket, TicketAnswer, TicketStatus

FULL, BARE = True, False


def conversation(full: bool) -> Conversation:
    if not full:
        return Conversation(id="c1", visitor_id="v1", status=ConversationStatus.QUEUED,
                            prechat=PreChat(name="Ann", question="Where is my parcel?"), created_at=1.0)
    prechat = PreChat(name="Ann", question="Where is my parcel?", email="ann@example.com", order_number="A-1",
                      page_url="https://shop.example/checkout", page_title="Checkout", checkout=True,
                      cart_value=12.5, department="sales")
    return Conversation(id="c1", visitor_id="v1", status=ConversationStatus.CLOSED, prechat=prechat, created_at=1.0,
                        agent_id="a1", agent_name="Bob", assigned_at=2.0, closed_at=3.0, closed_by=PartyKind.AGENT,
                        last_seq=4, visitor_read_seq=3, agent_read_seq=4, priority=2)


def message(full: bool) -> Message:
    if not full:
        return Message(conversation_id="c1", seq=1, kind="system", sender_kind=PartyKind.SYSTEM, sender_id=None,
                       sender_name=None, body="chat_started", created_at=1.0)
    return Message(conversation_id="c1", seq=2, kind="text", sender_kind=PartyKind.VISITOR, sender_id="v1",
                   sender_name="Ann", body="Hello", created_at=2.0, client_msg_id="m1", meta={"k": "v"})


def transcript(full: bool) -> Transcript:
    return Transcript(conversation=conversation(full), messages=[message(FULL), message(BARE)],
                      assignments=[AssignmentEvent(conversation_id="c1", agent_id="a1", event="assigned", at=2.0,
                                                   reason="routing" if full else None)],
                      rating=Rating(conversation_id="c1", rating=5, comment="Quick", created_at=3.0) if full else None)


def attachment(full: bool) -> Attachment:
    if not full:
        return Attachment(id="att1", conversation_id="c1", sender_kind=PartyKind.AGENT, sender_id="a1",
                          name="label.pdf", content_type="application/pdf", size=1234, created_at=2.0)
    return Attachment(id="att2", conversation_id="c1", sender_kind=PartyKind.VISITOR, sender_id="v1",
                      name="photo.jpg", content_type="image/jpeg", size=56789, created_at=3.0, width=640,
                      height=480, thumbnail_type="image/jpeg")


def file_message(full: bool) -> Message:
    """The message ``attachment(full)`` was posted as."""
    a = attachment(full)
    return Message(conversation_id="c1", seq=5, kind="file", sender_kind=a.sender_kind, sender_id=a.sender_id,
                   sender_name="Ann" if full else "Bob", body=a.name, created_at=a.created_at, client_msg_id="f1",
                   meta=a.meta())


def record(full: bool) -> ConversationRecord:
    if not full:
        return ConversationRecord(conversation=conversation(BARE))
    return ConversationRecord(conversation=conversation(FULL), customer_id="cu1", tags=("refund",))


def customer(full: bool) -> Customer:
    if not full:
        return Customer(id="cu1", created_at=1.0, last_seen_at=2.0)
    return Customer(id="cu1", created_at=1.0, last_seen_at=2.0, external_id="shop-7", name="Ann",
                    emails=("ann@example.com",), phone="+44 20 7946 0000", notes="VIP", tags=("vip",))


def cobrowse_session(full: bool) -> CobrowseSession:
    if not full:
        return CobrowseSession(id="s1", conversation_id="c1", visitor_id="v1", agent_id="a1", agent_name="Bob",
                               status=CobrowseStatus.REQUESTED, requested_at=1.0)
    return CobrowseSession(id="s1", conversation_id="c1", visitor_id="v1", agent_id="a1", agent_name="Bob",
                           status=CobrowseStatus.ENDED, control=ControlState.GRANTED, reason="stopped_by_visitor",
                           requested_at=1.0, started_at=2.0, ended_at=9.0, control_requested_at=3.0,
                           control_granted_at=4.0, pages=3, bytes_relayed=2048)


def cobrowse_views() -> list[CobrowseView]:
    return [CobrowseView(session_id="s1", agent_id="a1", agent_name="Bob", joined_at=2.0, left_at=8.25),
            CobrowseView(session_id="s1", agent_id="a2", agent_name="Cy", joined_at=3.0)]


def note() -> Note:
    return Note(id=1, conversation_id="c1", agent_id="a1", agent_name="Bob", body="Refund agreed", created_at=2.0,
                client_note_id="n1")


def category() -> Category:
    return Category(id="k1", slug="shipping", name="Shipping", description="Parcels", position=0, created_at=1.0,
                    updated_at=1.0)


def article(full: bool) -> Article:
    if not full:
        return Article(id="ar1", slug="refunds", title="Refunds", body="", body_html="", body_text="",
                       status=ArticleStatus.DRAFT, created_by="a1", created_at=1.0, updated_at=1.0)
    return Article(id="ar1", slug="refunds", title="Refunds", body="# Refunds", body_html="<h1>Refunds</h1>",
                   body_text="Refunds", status=ArticleStatus.PUBLISHED, created_by="a1", created_at=1.0,
                   updated_at=2.0, locale="en", category_id="k1", tags=("money",), assignee_id="a1",
                   source_conversation_id="c1", faq_position=1, published_at=2.0)


def agent() -> Agent:
    return Agent(id="a1", email="bob@example.com", name="Bob", role=Role.AGENT, capacity=3, disabled=False,
                 token_version=0, created_at=1.0)


def ticket(full: bool) -> Ticket:
    if not full:
        return Ticket(id="t1", visitor_id="v1", name="Ann", email="ann@example.com", description="Broken",
                      status=TicketStatus.OPEN, created_at=1.0, updated_at=1.0)
    answers = (TicketAnswer(ticket_id="t1", agent_id="a1", agent_name="Bob", body="Sorry", created_at=2.0),
               TicketAnswer(ticket_id="t1", agent_id=None, agent_name="Gone", body="Fixed", created_at=3.0))
    return Ticket(id="t1", visitor_id="v1", name="Ann", email="ann@example.com", description="Broken",
                  status=TicketStatus.ANSWERED, created_at=1.0, updated_at=3.0, order_number="A-1",
                  page_url="https://shop.example/", answers=answers, customer_id="cu1")
