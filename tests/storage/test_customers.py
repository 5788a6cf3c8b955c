"""Customer records on either database: the directory search, merging, deletion of everything
held, retention, the ratings report, and a conversation stored with its customer and webhooks.
(The SQLite file's migration to customers is tested in ``sqlite/test_customers.py``.)"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from chatserver.domain.clock import ManualClock
from chatserver.domain.customers import CustomerFields, CustomerService
from chatserver.domain.identity import sign_identity
from chatserver.domain.knowledge import ArticleFields, KnowledgeService
from chatserver.domain.models import (
    Agent,
    Conversation,
    ConversationFilter,
    ConversationStatus,
    PartyKind,
    PreChat,
    Rating,
    Role,
)
from chatserver.domain.notes import NewNote
from chatserver.domain.outbox import OutboxItem, OutboxKind
from chatserver.domain.ports import NewMessage, Transition
from chatserver.domain.tickets import Ticket, TicketAnswer, TicketStatus
from chatserver.errors import Conflict, InvalidIdentity, NotFound

from .backends import AllStores
from .support import query

SECRET = "shop-secret"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_800_000_000.0)


@pytest.fixture
def customers(stores: AllStores, clock: ManualClock) -> CustomerService:
    ids = itertools.count(1)
    return CustomerService(customers=stores.customers, conversations=stores.conversations, clock=clock,
                           new_id=lambda: f"id{next(ids)}", identity_secret=SECRET, retention_days=30)


async def _chat(stores: AllStores, clock: ManualClock, cid: str, visitor_id: str, order: str | None = None,
                name: str = "Ann") -> Conversation:
    conversation = Conversation(id=cid, visitor_id=visitor_id, status=ConversationStatus.QUEUED,
                                prechat=PreChat(name=name, question="Q", order_number=order),
                                created_at=clock.now(), queue_rank=clock.now())
    await stores.conversations.create_conversation(conversation, [NewMessage(
        conversation_id=cid, kind="text", sender_kind=PartyKind.VISITOR, sender_id=visitor_id, sender_name=name,
        body="Where is my parcel?", created_at=clock.now())])
    return conversation


async def _assign_and_close(stores: AllStores, clock: ManualClock, cid: str, agent_id: str) -> None:
    for expect, status in ((ConversationStatus.QUEUED, ConversationStatus.ASSIGNED),
                           (ConversationStatus.ASSIGNED, ConversationStatus.CLOSED)):
        result = await stores.conversations.transition(Transition(
            conversation_id=cid, expect=frozenset({expect}), status=status, agent_id=agent_id, agent_name="Bo",
            at=clock.now(), event=str(status), closed_by=PartyKind.AGENT if status == "closed" else None))
        assert result is not None


async def _agent(stores: AllStores, agent_id: str = "a1") -> None:
    await stores.agents.add_agent(Agent(id=agent_id, email=f"{agent_id}@example.com", name="Bo", role=Role.AGENT,
                                            capacity=3, disabled=False, token_version=0, created_at=1.0,
                                            password_hash="x"))


async def test_the_directory_finds_customers_by_name_email_phone_order_and_external_id(
        stores: AllStores, clock: ManualClock, customers: CustomerService) -> None:
    await _chat(stores, clock, "c1", "v1", order="ORD-777")
    ann = await customers.attach_chat("v1", PreChat(name="Ann Smith", question="Q", email="Ann@Example.com"))
    clock.advance(1)
    bob = await customers.create_customer(CustomerFields(name="Bob", emails=["bob@shop.example"],
                                                         phone="+44 20 7946 0000", external_id="shop-9"))
    assert ann.emails == ("ann@example.com",) and ann.external_id is None
    for text, expected in [("ann sm", [ann.id]), ("EXAMPLE.COM", [ann.id]), ("7946", [bob.id]),
                            ("ord-777", [ann.id]), ("shop-9", [bob.id]), ("", [bob.id, ann.id]),
                            ("nobody", []), ("%", []), ("_", []), ("[", []), ("]", []), ('"', []), (",", []),
                            ('["ann', []), ("ann@example.com", [ann.id])]:
        found, total = await customers.search(text, 10, 0)
        assert [c.id for c in found] == expected and total == len(expected), text
    page, total = await customers.search(None, 1, 1)
    assert [c.id for c in page] == [ann.id] and total == 2


async def test_identifying_merges_the_anonymous_record_and_its_conversations(
        stores: AllStores, clock: ManualClock, customers: CustomerService) -> None:
    records = stores.customers
    await _chat(stores, clock, "c1", "v1")
    anonymous = await customers.attach_chat("v1", PreChat(name="Ann", question="Q", email="ann@home.example"))
    await _chat(stores, clock, "c2", "v2")  # the same shopper on a second device, already known to the shop
    first = await customers.identify_visitor("v2", sign_identity(SECRET, {
        "external_id": "cust-42", "email": "ann@shop.example", "name": "Ann S", "iat": clock.now()}))
    assert (await records.conversation_record("c2")).customer_id == first.id  # type: ignore[union-attr]

    with pytest.raises(InvalidIdentity):
        await customers.identify_visitor("v1", sign_identity("wrong", {"external_id": "cust-42",
                                                                       "iat": clock.now()}))
    assert (await records.customer_of_visitor("v1")).id == anonymous.id  # type: ignore[union-attr]

    merged = await customers.identify_visitor("v1", sign_identity(SECRET, {"external_id": "cust-42",
                                                                          "iat": clock.now()}))
    assert merged.id == first.id and merged.name == "Ann S"
    assert set(merged.emails) == {"ann@shop.example", "ann@home.example"}
    assert await records.get_customer(anonymous.id) is None
    assert (await records.conversation_record("c1")).customer_id == first.id  # type: ignore[union-attr]
    listed, total = await records.find_conversations(ConversationFilter(customer_id=first.id), 10, 0)
    assert total == 2 and {r.conversation.id for r in listed} == {"c1", "c2"}


async def test_deleting_a_customer_removes_everything_held_and_only_that(
        stores: AllStores, clock: ManualClock, customers: CustomerService) -> None:
    await _agent(stores)
    await _chat(stores, clock, "c1", "v1")
    ann = await customers.attach_chat("v1", PreChat(name="Ann", question="Q"))
    await _chat(stores, clock, "c2", "v2")
    other = await customers.attach_chat("v2", PreChat(name="Cleo", question="Q"))
    with pytest.raises(Conflict):  # an active chat is closed first
        await customers.delete_customer(ann.id)
    await _assign_and_close(stores, clock, "c1", "a1")
    await stores.conversations.rate(Rating(conversation_id="c1", rating=5, comment="great", created_at=clock.now()))
    # another feature's rows about the conversation go with it
    await stores.console.add_note(NewNote(conversation_id="c1", agent_id="a1", agent_name="Bo", body="internal",
                                              created_at=clock.now(), client_note_id="n1"))
    exported = await customers.export_customer(ann.id)
    assert [t.conversation.id for t in exported.transcripts] == ["c1"] and exported.visitor_ids == ["v1"]
    assert exported.transcripts[0].rating is not None
    assert [n["body"] for n in exported.related["conversation_notes"]] == ["internal"]

    await customers.delete_customer(ann.id)
    for table, column in [("conversations", "id"), ("messages", "conversation_id"), ("ratings", "conversation_id"),
                          ("assignment_events", "conversation_id"), ("conversation_notes", "conversation_id")]:
        assert await query(stores.database, f"SELECT count(*) FROM {table} WHERE {column} = 'c1'") == [(0,)], table
    assert await query(stores.database, "SELECT count(*) FROM customer_visitors WHERE visitor_id = 'v1'") == [(0,)]
    assert await query(stores.database, "SELECT count(*) FROM messages WHERE conversation_id = 'c2'") == [(1,)]
    with pytest.raises(NotFound):
        await customers.get_customer(ann.id)
    with pytest.raises(NotFound):
        await customers.delete_customer(ann.id)
    assert (await customers.get_customer(other.id)).name == "Cleo"


async def test_retention_deletes_only_closed_conversations_past_the_period(
        stores: AllStores, clock: ManualClock, customers: CustomerService) -> None:
    await _agent(stores)
    await _chat(stores, clock, "old", "v1")
    await _assign_and_close(stores, clock, "old", "a1")
    await _chat(stores, clock, "old-but-open", "v2")
    clock.advance(25 * 86400)
    await _chat(stores, clock, "recent", "v3")
    await _assign_and_close(stores, clock, "recent", "a1")
    clock.advance(6 * 86400)  # "old" closed 31 days ago, "recent" 6 days ago
    assert await customers.purge_expired_transcripts() == 1
    assert await stores.conversations.get_conversation("old") is None
    assert await stores.conversations.messages_after("old", 0, 10) == []
    assert await stores.conversations.get_conversation("old-but-open") is not None
    assert await stores.conversations.get_conversation("recent") is not None
    assert await customers.purge_expired_transcripts() == 0


async def test_an_article_drafted_from_a_chat_stays_the_customers_after_retention_deleted_the_chat(
        stores: AllStores, clock: ManualClock, customers: CustomerService) -> None:
    await _agent(stores)
    agent = await stores.agents.agent_by_id("a1")
    assert agent is not None
    await _chat(stores, clock, "c1", "v1")
    ann = await customers.attach_chat("v1", PreChat(name="Ann", question="Q"))
    await _assign_and_close(stores, clock, "c1", "a1")
    ids = itertools.count(1)
    knowledge = KnowledgeService(store=stores.knowledge, agents=stores.agents,
                                 read_transcript=customers.transcript_for, now=clock.now,
                                 new_id=lambda: f"kb{next(ids)}", max_body_chars=20_000)
    draft = await knowledge.draft_from_conversation(agent, "c1", ArticleFields(body="It is on its way."))
    clock.advance(31 * 86400)
    assert await customers.purge_expired_transcripts() == 1
    assert await stores.conversations.get_conversation("c1") is None
    assert await knowledge.store.article(draft.id) is not None

    exported = await customers.export_customer(ann.id)
    assert exported.transcripts == []
    assert [(a["id"], a["title"], a["status"]) for a in exported.related["kb_articles"]] == [(draft.id, "Q", "draft")]
    await customers.delete_customer(ann.id)
    assert await knowledge.store.article(draft.id) is None


async def test_the_ratings_report_averages_per_agent_and_per_day(
        stores: AllStores, clock: ManualClock, customers: CustomerService) -> None:
    await _agent(stores, "a1")
    await _agent(stores, "a2")
    day = 86400.0
    start = clock.now() - clock.now() % day  # midnight UTC
    for cid, agent_id, rating, at in [("c1", "a1", 5, start + 10), ("c2", "a1", 3, start + 20),
                                      ("c3", "a2", 4, start + day + 10)]:
        await _chat(stores, clock, cid, f"v-{cid}")
        await _assign_and_close(stores, clock, cid, agent_id)
        await stores.conversations.rate(Rating(conversation_id=cid, rating=rating, comment=None, created_at=at))
    report = await customers.ratings_report(None, None)
    assert (report.count, report.average) == (3, 4.0)
    assert [(a.key, a.count, a.average) for a in report.per_agent] == [("a1", 2, 4.0), ("a2", 1, 4.0)]
    assert [(d.count, d.average) for d in report.per_day] == [(2, 4.0), (1, 4.0)]
    only_first_day = await customers.ratings_report(start, start + day)
    assert only_first_day.count == 2 and [a.key for a in only_first_day.per_agent] == ["a1"]
    empty = await customers.ratings_report(start + 5 * day, None)
    assert (empty.count, empty.average, empty.per_agent, empty.per_day) == (0, None, [], [])


async def test_a_second_shopper_on_the_same_browser_does_not_take_the_first_ones_history(
        stores: AllStores, clock: ManualClock, customers: CustomerService) -> None:
    records = stores.customers
    ann = await customers.identify_visitor("shared", sign_identity(SECRET, {"external_id": "ann", "iat": clock.now()}))
    await _chat(stores, clock, "c1", "shared")
    await customers.attach_chat("shared", PreChat(name="Ann", question="Q"))
    bob = await customers.identify_visitor("shared", sign_identity(SECRET, {"external_id": "bob", "iat": clock.now()}))
    assert bob.id != ann.id and await records.get_customer(ann.id) is not None
    assert (await records.conversation_record("c1")).customer_id == ann.id  # type: ignore[union-attr]
    await _chat(stores, clock, "c2", "shared")
    await customers.attach_chat("shared", PreChat(name="Bob", question="Q"))
    assert (await records.conversation_record("c2")).customer_id == bob.id  # type: ignore[union-attr]
    assert (await customers.get_customer(ann.id)).name is None  # Bob's pre-chat name did not land on Ann


async def test_the_ratings_report_counts_days_in_the_business_timezone(
        stores: AllStores, clock: ManualClock) -> None:
    customers = CustomerService(customers=stores.customers, conversations=stores.conversations, clock=clock,
                                new_id=lambda: "x", timezone="Asia/Kolkata")  # UTC+05:30
    await _agent(stores, "a1")
    day = 86400.0
    midnight_utc = clock.now() - clock.now() % day
    # 18:20 and 18:40 UTC: the same UTC day, but 23:50 and 00:10 in Kolkata (a quarter hour
    # apart from local midnight on each side).
    evening = midnight_utc + 18 * 3600
    for cid, rating, at in [("c1", 5, evening + 20 * 60), ("c2", 1, evening + 40 * 60)]:
        await _chat(stores, clock, cid, f"v-{cid}")
        await _assign_and_close(stores, clock, cid, "a1")
        await stores.conversations.rate(Rating(conversation_id=cid, rating=rating, comment=None, created_at=at))
    report = await customers.ratings_report(None, None)
    assert [(d.count, d.average) for d in report.per_day] == [(1, 5.0), (1, 1.0)]
    first, second = (d.key for d in report.per_day)
    assert (dt.date.fromisoformat(second) - dt.date.fromisoformat(first)).days == 1
    utc = await CustomerService(customers=stores.customers, conversations=stores.conversations, clock=clock,
                                new_id=lambda: "x").ratings_report(None, None)
    assert [(d.count, d.average) for d in utc.per_day] == [(2, 3.0)]


async def test_retention_deletes_tickets_last_changed_before_the_period(
        stores: AllStores, clock: ManualClock, customers: CustomerService) -> None:
    tickets = stores.tickets

    def ticket(tid: str) -> Ticket:
        return Ticket(id=tid, visitor_id=f"v-{tid}", name="Ann", email="ann@example.com", description="Where?",
                      status=TicketStatus.OPEN, created_at=clock.now(), updated_at=clock.now())

    await tickets.create_ticket(ticket("old"), [])
    await tickets.create_ticket(ticket("answered-late"), [])
    clock.advance(29 * 86400)
    assert await tickets.add_ticket_answer(TicketAnswer(ticket_id="answered-late", agent_id=None, agent_name="Bo",
                                                        body="Monday", created_at=clock.now()), clock.now(), [])
    clock.advance(2 * 86400)  # "old" last changed 31 days ago, "answered-late" 2 days ago
    assert await customers.purge_expired_tickets() == 1
    assert await tickets.ticket("old") is None
    kept = await tickets.ticket("answered-late")
    assert kept is not None and [a.body for a in kept.answers] == ["Monday"]
    await customers.apply_retention()  # the periodic job runs both purges
    assert await tickets.ticket("answered-late") is not None


async def test_a_conversation_is_stored_with_its_customer_and_its_webhooks_or_not_at_all(
        stores: AllStores, clock: ManualClock, customers: CustomerService) -> None:
    ann = await customers.attach_chat("v1", PreChat(name="Ann", question="Q"))
    seen: list[tuple[str, str | None]] = []

    def record(conversation: Conversation, customer_id: str | None) -> list[OutboxItem]:
        seen.append((conversation.id, customer_id))
        return [OutboxItem(id=f"o-{conversation.id}-{len(seen)}", kind=OutboxKind.WEBHOOK, target="e1",
                           payload="{}", created_at=clock.now(), visitor_id=conversation.visitor_id)]

    conversation = Conversation(id="c1", visitor_id="v1", status=ConversationStatus.QUEUED,
                                prechat=PreChat(name="Ann", question="Q"), created_at=clock.now(), queue_rank=1.0)
    await stores.conversations.create_conversation(conversation, [], record)
    assert seen == [("c1", ann.id)]
    records = stores.customers
    stored = await records.conversation_record("c1")
    assert stored is not None and stored.customer_id == ann.id
    outbox = await stores.tickets.outbox_items(OutboxKind.WEBHOOK, 10)
    assert [(i.id, i.customer_id) for i in outbox] == [("o-c1-1", ann.id)]

    def broken(conversation: Conversation, customer_id: str | None) -> list[OutboxItem]:
        raise RuntimeError("the webhook could not be recorded")

    with pytest.raises(RuntimeError):
        await stores.conversations.create_conversation(
            Conversation(id="c2", visitor_id="v1", status=ConversationStatus.QUEUED,
                         prechat=PreChat(name="Ann", question="Q"), created_at=clock.now(), queue_rank=2.0),
            [], broken)
    assert await stores.conversations.get_conversation("c2") is None
    with pytest.raises(RuntimeError):
        await stores.conversations.transition(Transition(
            conversation_id="c1", expect=frozenset({ConversationStatus.QUEUED}), status=ConversationStatus.CLOSED,
            agent_id=None, agent_name=None, at=clock.now(), event="closed", closed_by=PartyKind.SYSTEM,
            record=broken))
    current = await stores.conversations.get_conversation("c1")
    assert current is not None and current.status == ConversationStatus.QUEUED
    assert len(await stores.tickets.outbox_items(OutboxKind.WEBHOOK, 10)) == 1
    result = await stores.conversations.transition(Transition(
        conversation_id="c1", expect=frozenset({ConversationStatus.QUEUED}), status=ConversationStatus.CLOSED,
        agent_id=None, agent_name=None, at=clock.now(), event="closed", closed_by=PartyKind.SYSTEM, record=record))
    assert result is not None and seen[-1] == ("c1", ann.id)
    assert len(await stores.tickets.outbox_items(OutboxKind.WEBHOOK, 10)) == 2
