"""Each view (chatserver/wire/views.py) over sample domain objects, converted strictly to the shape
its REST answer documents (chatserver/wire/shapes.py): a view that drifts from its shape (a field
added, renamed, dropped or of another type) fails here in milliseconds, not only in the slow
schemathesis run. Each view runs over a sample with every optional part filled and over a bare one,
so both branches of each ``x if x else None`` are converted."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from chatserver.domain.cobrowse import CobrowseSession, CobrowseStatus, CobrowseView, ControlState
from chatserver.domain.knowledge import (
    Article,
    ArticleCount,
    ArticleStatus,
    Category,
    KnowledgeReport,
    QueryCount,
    SearchHit,
    SearchResult,
)
from chatserver.domain.models import (
    Agent,
    AssignmentEvent,
    Conversation,
    ConversationRecord,
    ConversationStatus,
    Customer,
    CustomerData,
    Message,
    PartyKind,
    PreChat,
    Rating,
    Role,
    Transcript,
)
from chatserver.domain.notes import Note
from chatserver.domain.outbox import OutboxItem, OutboxKind, OutboxStatus
from chatserver.domain.tickets import Ticket, TicketAnswer, TicketStatus, ticket_view
from chatserver.wire import shapes
from chatserver.wire.views import (
    article_view,
    assignment_view,
    category_view,
    cobrowse_history_view,
    cobrowse_session_view,
    conversation_view,
    customer_view,
    export_view,
    full_transcript_view,
    message_view,
    note_view,
    outbox_view,
    record_view,
    report_view,
    search_view,
)

FULL, BARE = True, False
SAMPLES = pytest.mark.parametrize("full", [FULL, BARE], ids=["full", "bare"])


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


def check(view: Any, shape: type[Any]) -> None:
    """The view converts to its shape, strictly (no coercion) and with no field left over."""
    msgspec.convert(view, shape, strict=True)


@SAMPLES
def test_a_conversation_as_agents_see_it_is_its_shape(full: bool) -> None:
    check(conversation_view(conversation(full), PartyKind.AGENT), shapes.Conversation)


@SAMPLES
def test_a_conversation_as_the_visitor_sees_it_is_the_shape_without_internal_ids(full: bool) -> None:
    view = conversation_view(conversation(full), PartyKind.VISITOR)
    assert "visitor_id" not in view and "agent_id" not in view
    check({**view, "visitor_id": "v1", "agent_id": None}, shapes.Conversation)


@SAMPLES
def test_messages_and_assignments_are_their_shapes(full: bool) -> None:
    check(message_view(message(full)), shapes.Message)
    for event in transcript(full).assignments:
        check(assignment_view(event), shapes.Assignment)


@SAMPLES
def test_a_transcript_with_its_extras_is_the_transcript_shape(full: bool) -> None:
    # As http/conversations.py answers it: the transcript, its record's fields, and the console's extras.
    view = {**full_transcript_view(transcript(full), record(full)), "notes": [note_view(note())],
            "tags": ["refund"], "resolution_note": "Refunded" if full else None,
            "cobrowse": cobrowse_history_view([cobrowse_session(full)], cobrowse_views())}
    check(view, shapes.Transcript)


@SAMPLES
def test_a_cobrowse_session_as_agents_see_it_is_part_of_its_record(full: bool) -> None:
    session = cobrowse_session(full)
    [history] = cobrowse_history_view([session], cobrowse_views())
    check(history, shapes.CobrowseRecord)
    agent_view = cobrowse_session_view(session, PartyKind.AGENT)
    assert agent_view.items() <= history.items()
    visitor_view = cobrowse_session_view(session, PartyKind.VISITOR)
    assert visitor_view.keys() == agent_view.keys() - {"agent_id", "pages"}


@SAMPLES
def test_conversation_records_and_customers_are_their_shapes(full: bool) -> None:
    check(record_view(record(full)), shapes.ConversationRecord)
    check(customer_view(customer(full)), shapes.Customer)


def test_a_customer_export_is_its_shape() -> None:
    data = CustomerData(customer=customer(FULL), visitor_ids=["v1"], transcripts=[transcript(FULL), transcript(BARE)],
                        related={"notes": [{"id": 1}]})
    check(export_view(data), shapes.CustomerExport)


def test_a_note_is_its_shape() -> None:
    check(note_view(note()), shapes.Note)


@SAMPLES
def test_an_outbox_item_is_its_shape_without_its_payload(full: bool) -> None:
    item = OutboxItem(id="o1", kind=OutboxKind.WEBHOOK, target="w1", payload='{"secret": "data"}', created_at=1.0)
    if full:
        item = OutboxItem(id="o1", kind=OutboxKind.MAIL, target="ann@example.com", payload="{}", created_at=1.0,
                          status=OutboxStatus.SENT, attempts=2, next_attempt_at=5.0, last_error="timeout",
                          sent_at=6.0)
    check(outbox_view(item), shapes.OutboxItem)


@SAMPLES
def test_a_ticket_as_agents_see_it_is_its_shape(full: bool) -> None:
    ticket = Ticket(id="t1", visitor_id="v1", name="Ann", email="ann@example.com", description="Broken",
                    status=TicketStatus.OPEN, created_at=1.0, updated_at=1.0)
    if full:
        answers = (TicketAnswer(ticket_id="t1", agent_id="a1", agent_name="Bob", body="Sorry", created_at=2.0),
                   TicketAnswer(ticket_id="t1", agent_id=None, agent_name="Gone", body="Fixed", created_at=3.0))
        ticket = Ticket(id="t1", visitor_id="v1", name="Ann", email="ann@example.com", description="Broken",
                        status=TicketStatus.ANSWERED, created_at=1.0, updated_at=3.0, order_number="A-1",
                        page_url="https://shop.example/", answers=answers, customer_id="cu1")
    check(ticket_view(ticket, for_agent=True), shapes.Ticket)


@SAMPLES
def test_knowledge_base_categories_and_articles_are_their_shapes(full: bool) -> None:
    categories = {"k1": category()} if full else {}
    check(category_view(category()), shapes.KbCategory)
    check(category_view(category(), published=3), shapes.KbCategory)
    check(article_view(article(full), categories), shapes.KbArticle)
    check(article_view(article(full), categories, full=False), shapes.KbArticle)
    check(article_view(article(full), categories, agents={"a1": agent()} if full else {}), shapes.KbArticle)


@SAMPLES
def test_knowledge_base_search_results_and_the_report_are_their_shapes(full: bool) -> None:
    hits = [SearchHit(article=article(full), score=0.123456, snippet="...refunds...")] if full else []
    check(search_view(SearchResult(query="refnds", hits=hits, corrected=full, did_you_mean="refunds" if full else None),
                      {"k1": category()}), shapes.KbSearchResults)
    outcomes = {"answered": 3, "chat_started": 1, "ticket_created": 0} if full else {
        "answered": 0, "chat_started": 0, "ticket_created": 0}
    report = KnowledgeReport(searches=4, searches_without_results=1,
                             top_searches=[QueryCount(query="refund", count=3, results=2)] if full else [],
                             no_result_searches=[QueryCount(query="xyz", count=1)] if full else [], outcomes=outcomes,
                             top_articles=[ArticleCount(article_id="ar1", title=None, count=2)] if full else [])
    check(report_view(report), shapes.KbReport)


def test_a_view_that_drifts_from_its_shape_fails() -> None:
    # The check is only worth having if it can fail: an undeclared field, or one of another type.
    view = note_view(note())
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        check({**view, "visibility": "agents"}, shapes.Note)
    with pytest.raises(msgspec.ValidationError, match="Expected `int`"):
        check({**view, "id": "1"}, shapes.Note)
