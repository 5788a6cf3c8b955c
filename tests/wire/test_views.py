"""Each view (chatserver/wire/views.py) over sample domain objects, converted strictly to the shape
its REST answer documents (chatserver/wire/shapes.py): a view that drifts from its shape (a field
added, renamed, dropped or of another type) fails here in milliseconds, not only in the slow
schemathesis run. Each view runs over a sample with every optional part filled and over a bare one,
so both branches of each ``x if x else None`` are converted."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
import pytest

from chatserver.domain.canned import CannedResponse
from chatserver.domain.knowledge import ArticleCount, KnowledgeReport, QueryCount, SearchHit, SearchResult
from chatserver.domain.models import CustomerData, PartyKind, StoredFile
from chatserver.domain.outbox import OutboxItem, OutboxKind, OutboxStatus
from chatserver.domain.webhooks import WebhookEndpoint
from chatserver.wire import shapes
from chatserver.wire.views import (
    agent_view,
    article_view,
    assignment_view,
    attachments_view,
    canned_view,
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
    proactive_origin_view,
    record_view,
    report_view,
    search_view,
    ticket_view,
    webhook_endpoint_view,
)

from .samples import (
    BARE,
    FULL,
    agent,
    article,
    attachment,
    category,
    cobrowse_session,
    cobrowse_views,
    conversation,
    customer,
    file_message,
    message,
    note,
    record,
    ticket,
    transcript,
)

SAMPLES = pytest.mark.parametrize("full", [FULL, BARE], ids=["full", "bare"])


def check(view: Any, shape: type[Any]) -> None:
    """The view converts to its shape, strictly (no coercion) and with no field left over."""
    msgspec.convert(view, shape, strict=True)


def test_an_agent_is_their_shape_without_the_password_hash() -> None:
    view = agent_view(agent())
    check(view, shapes.Agent)
    check({**view, "status": "online"}, shapes.Agent)  # as the team list adds it


def test_a_canned_response_is_its_shape() -> None:
    check(canned_view(CannedResponse(id="r1", shortcut="hello", body="Hi!", created_at=1.0, updated_at=2.0)),
          shapes.CannedResponse)


@SAMPLES
def test_a_webhook_endpoint_is_its_shape_without_the_secret(full: bool) -> None:
    endpoint = WebhookEndpoint(id="w1", url="https://shop.example/hooks", secret="s3cret",
                               events=("ticket.created",) if full else (), created_at=1.0)
    view = webhook_endpoint_view(endpoint)
    assert "secret" not in view
    check(view, shapes.Webhook)


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
    check(message_view(file_message(full)), shapes.Message)
    for event in transcript(full).assignments:
        check(assignment_view(event), shapes.Assignment)


@SAMPLES
def test_a_transcript_with_its_extras_is_the_transcript_shape(full: bool) -> None:
    # As http/conversations.py answers it: the transcript, its record's fields, and the console's extras.
    view = {**full_transcript_view(transcript(full), record(full)), "notes": [note_view(note())],
            "tags": ["refund"], "resolution_note": "Refunded" if full else None,
            "cobrowse": cobrowse_history_view([cobrowse_session(full)], cobrowse_views()),
            "attachments": attachments_view([attachment(full)], [file_message(full)]),
            "proactive": proactive_origin_view("rule-1", None) if full else None}
    check(view, shapes.Transcript)
    assert view["attachments"][0]["sender"]["name"] == ("Ann" if full else "Bob")


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
                        related={"notes": [{"id": 1}]},
                        files=[StoredFile(attachment=attachment(full), data=b"\x00\xffbytes") for full in (FULL, BARE)])
    view = export_view(data)
    check(view, shapes.CustomerExport)
    assert base64.b64decode(view["files"][0]["data"]) == b"\x00\xffbytes"


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
    check(ticket_view(ticket(full), for_agent=True), shapes.Ticket)


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
