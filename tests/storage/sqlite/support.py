"""What tests of the SQLite backend share: a job that fails only at COMMIT, a running server's
database, and a file with a row in every table. (What tests of either database share is in
``tests/storage/support.py``.)"""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import msgspec
import pytest
from aiohttp import web

from chatserver.domain.attachments import Attachment
from chatserver.domain.avatars import AgentAvatar
from chatserver.domain.canned import CannedResponse
from chatserver.domain.clock import ManualClock
from chatserver.domain.cobrowse import CobrowseSession, CobrowseStatus, CobrowseView, SessionUpdate
from chatserver.domain.customers import CustomerFields, CustomerService
from chatserver.domain.knowledge import Article, ArticleStatus, Category, Outcome, SearchSource
from chatserver.domain.lockout import LockoutPolicy
from chatserver.domain.models import (
    Agent,
    Conversation,
    ConversationStatus,
    PageContext,
    PartyKind,
    PreChat,
    Rating,
    Role,
)
from chatserver.domain.notes import NewNote
from chatserver.domain.outbox import OutboxItem, OutboxKind, OutboxStatus
from chatserver.domain.ports import NewMessage, Transition
from chatserver.domain.proactive import ProactiveEvent, ProactiveRule
from chatserver.domain.tickets import Ticket, TicketAnswer, TicketStatus, TranscriptEmail, TranscriptLimits
from chatserver.domain.webhooks import WebhookEndpoint
from chatserver.http.services import SERVICES
from chatserver.storage.postgresql.attachments import PART_BYTES
from chatserver.storage.sqlite import SQLiteDatabase, SQLiteStores, open_sqlite
from chatserver.storage.sqlite._group_commit import Batch
from chatserver.storage.sqlite.conversations import SQLiteConversations

from ..support import add_agent, assign, message_from, visitor_message


def fails_at_commit(conn: sqlite3.Connection, batch: Batch) -> None:
    """A write SQLite accepts and refuses only at COMMIT: a deferred foreign key to nothing."""
    conn.execute("PRAGMA defer_foreign_keys = ON")
    conn.execute("INSERT INTO assignment_events (conversation_id, event, at) VALUES ('no-such-conversation', 'x', 1)")


def database_of(app: web.Application) -> SQLiteDatabase:
    """The database under a running server's stores (for tests that hold its writer or break it)."""
    conversations = app[SERVICES].conversations
    if not isinstance(conversations, SQLiteConversations):  # CHATSERVER_TESTS_DATABASE=postgresql
        pytest.skip("reaches into the SQLite file: runs on the embedded backend")
    return conversations.database


async def fill_file(path: Path) -> Path:
    """The SQLite file at ``path``, made and filled by ``fill_every_table``."""
    stores = await open_sqlite(path)
    try:
        await fill_every_table(stores)
    finally:
        await stores.database.close()
    return path


async def fill_every_table(stores: SQLiteStores) -> None:
    """At least one row in every table the SQLite file shares with PostgreSQL, each written
    through the stores as the server writes it (for tests of ``chatserver db copy``): agents,
    customers and their visitors, chats with messages (one resent), read marks, a page change,
    transfers and a close, a rating and a wrap-up, notes, canned responses, failed logins,
    tickets with answers, webhook endpoints and the outbox, an emailed transcript, a co-browse
    session watched by an agent, and a knowledge base with a published article, a draft, an FAQ
    and the help step's logged searches and outcomes, an attached file, an agent's avatar, a proactive
    rule with its counts and the conversation it led to."""
    now = 1_800_000_000.0
    await add_agent(stores.agents, "a1")
    await stores.agents.add_agent(Agent(id="a2", email="Admin@Example.com", name="Ada", role=Role.ADMIN, capacity=5,
                                        disabled=False, token_version=2, created_at=now, password_hash="h",
                                        departments=("billing", "sales")))
    ids = itertools.count(1)
    customers = CustomerService(customers=stores.customers, conversations=stores.conversations,
                                clock=ManualClock(start=now), new_id=lambda: f"cu{next(ids)}")
    for cid, visitor in (("c1", "v1"), ("c2", "v2")):
        prechat = PreChat(name="Ann Ünal", question="Wo ist mein Paket? 📦", email="ann@example.com",
                          order_number="A-1001", page_url="https://shop.example/cart", checkout=True, cart_value=59.9)
        await stores.conversations.create_conversation(
            Conversation(id=cid, visitor_id=visitor, status=ConversationStatus.QUEUED, prechat=prechat,
                         created_at=now, queue_rank=now + 0.25),
            [NewMessage(conversation_id=cid, kind="text", sender_kind=PartyKind.VISITOR, sender_id=visitor,
                        sender_name="Ann Ünal", body=prechat.question, created_at=now, client_msg_id="m0")])
        await customers.attach_chat(visitor, prechat)
    await customers.create_customer(CustomerFields(name="Bob", emails=["bob@shop.example"], external_id="shop-9"))
    await assign(stores.conversations, "c1", "a1")
    for n in range(1, 6):
        await stores.conversations.append_message(message_from(PartyKind.AGENT, "a1", f"answer {n}", f"a{n}"))
        await stores.conversations.append_message(visitor_message(f"thanks {n}", f"v{n}"))
    resent = await stores.conversations.append_message(visitor_message("thanks 5", "v5"))
    assert resent[2] is False, "a resend stores nothing"
    await stores.conversations.mark_read("c1", PartyKind.VISITOR, "v1", 4)
    await stores.conversations.mark_read("c1", PartyKind.AGENT, "a1", 11)
    await stores.conversations.update_page("c1", PageContext(page_url="https://shop.example/pay", page_title="Pay"))
    assert await stores.conversations.transition(Transition(
        conversation_id="c1", expect=frozenset({ConversationStatus.ASSIGNED}), status=ConversationStatus.CLOSED,
        agent_id="a1", agent_name="A1", at=now + 60, event="closed", closed_by=PartyKind.AGENT)) is not None
    await stores.conversations.rate(Rating(conversation_id="c1", rating=5, comment="schnell", created_at=now + 61))
    await stores.console.set_wrap_up("c1", ["delivery", "refund"], "sent a new parcel")
    for _ in range(2):  # the second is a resend
        await stores.console.add_note(NewNote(conversation_id="c1", agent_id="a1", agent_name="A1",
                                              body="called the courier", created_at=now + 30, client_note_id="n1"))
    await stores.console.save_canned_response(CannedResponse(id="cr1", shortcut="hi", body="Hello! How can I help?",
                                                             created_at=now, updated_at=now + 1))
    await stores.console.record_login_failure("a1@example.com", "192.0.2.7", now, LockoutPolicy())

    mail = OutboxItem(id="o1", kind=OutboxKind.MAIL, target="ann@example.com", payload='{"subject": "T"}',
                      created_at=now, visitor_id="v2")
    ticket = Ticket(id="t1", visitor_id="v2", name="Ann", email="ann@example.com", description="Broken lid",
                    status=TicketStatus.OPEN, created_at=now, updated_at=now, order_number="A-1002")
    await stores.tickets.create_ticket(ticket, [mail])
    await stores.tickets.add_ticket_answer(TicketAnswer(ticket_id="t1", agent_id="a2", agent_name="Ada",
                                                        body="A new one is on its way", created_at=now + 5),
                                           now + 5, [msgspec.structs.replace(mail, id="o2")])
    await stores.tickets.add_webhook(WebhookEndpoint(id="w1", url="https://hooks.example/chat", secret="s3cret",
                                                     events=("conversation.closed",), created_at=now))
    await stores.tickets.enqueue([OutboxItem(id="o3", kind=OutboxKind.WEBHOOK, target="w1", payload="{}",
                                             created_at=now, status=OutboxStatus.FAILED, attempts=12,
                                             last_error="timed out", next_attempt_at=now + 3600)])
    await stores.tickets.enqueue_transcript(
        TranscriptEmail(conversation_id="c1", visitor_id="v1", address="ann@example.com", sent_at=now + 70),
        msgspec.structs.replace(mail, id="o4", visitor_id="v1"), TranscriptLimits(per_conversation=2,
                                                                                 per_address_per_day=5))

    session = await stores.cobrowse.create_session(CobrowseSession(
        id="s1", conversation_id="c2", visitor_id="v2", agent_id="a1", agent_name="A1",
        status=CobrowseStatus.REQUESTED, requested_at=now))
    await stores.cobrowse.update_session(SessionUpdate(session_id=session.id,
                                                       expect=frozenset({CobrowseStatus.REQUESTED}),
                                                       status=CobrowseStatus.ACTIVE, started_at=now + 2, add_pages=1))
    await stores.cobrowse.add_bytes({"s1": 12_345_678_901})
    view = await stores.cobrowse.start_view(CobrowseView(session_id="s1", agent_id="a2", agent_name="Ada",
                                                         joined_at=now + 3))
    await stores.cobrowse.end_view(view, now + 9)

    await stores.knowledge.save_category(Category(id="k1", slug="shipping", name="Shipping", description="Parcels",
                                                  position=1, created_at=now, updated_at=now))
    for article_id, status in (("kb1", ArticleStatus.PUBLISHED), ("kb2", ArticleStatus.DRAFT)):
        await stores.knowledge.save_article(Article(
            id=article_id, slug=f"where-is-my-parcel-{article_id}", title="Where is my parcel?",
            body="Track it with the **courier's** link.", body_html="<p>Track it</p>",
            body_text="Track it with the courier's link.", status=status, created_by="a2", created_at=now,
            updated_at=now, locale="en", category_id="k1", tags=("delivery",), assignee_id="a1",
            source_conversation_id="c1", source_customer_id="cu1",
            published_at=now if status == ArticleStatus.PUBLISHED else None))
    await stores.knowledge.set_faq("k1", ["kb1"])
    await stores.knowledge.record_search("parcel", 1, SearchSource.WIDGET, now)
    await stores.knowledge.record_outcome(Outcome.ANSWERED, "parcel", "kb1", now)
    upload = stores.attachments.directory.parent / "upload-att-00001"  # as the spool hands it over
    upload.write_bytes(b"\x89PNG" + bytes(PART_BYTES + 1))
    await stores.attachments.save_attachment(Attachment(
        id="att-00001", conversation_id="c1", sender_kind=PartyKind.VISITOR, sender_id="v1", name="receipt.png",
        content_type="image/png", size=PART_BYTES + 5, created_at=now, width=2, height=1, thumbnail_type="image/png"),
        upload, b"thumbnail")
    await stores.avatars.save_avatar(AgentAvatar(id="av-1", agent_id="a1", content_type="image/jpeg",
                                                 data=b"\xff\xd8\xff" + bytes(range(256)), created_at=now))
    await stores.proactive.save_proactive_rule(ProactiveRule(
        id="pr-1", name="Payment help", url_pattern="*/payment*", seconds=20, min_cart_value=40.5,
        checkout_step="payment", business_hours_only=True, agent_available_only=True, text="Need a hand?",
        texts={"de": "Brauchen Sie Hilfe?"}, enabled=True, position=1, created_at=now, updated_at=now))
    for event in ProactiveEvent:
        await stores.proactive.record_proactive_event("pr-1", "v1", event, now)
    await stores.proactive.record_proactive_chat("c1", "pr-1", now)
