"""Tickets, webhook endpoints, the outbox and the transcript limits, on each database: the same
answers from SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from chatserver.domain.outbox import OutboxItem, OutboxKind, OutboxStatus
from chatserver.domain.tickets import Ticket, TicketAnswer, TicketStatus, TranscriptEmail, TranscriptLimits
from chatserver.domain.webhooks import WebhookEndpoint
from chatserver.errors import RateLimited

from .backends import AllStores, add_conversation


def _ticket(n: int, visitor_id: str = "v1") -> Ticket:
    return Ticket(id=f"t{n}", visitor_id=visitor_id, name="Ann", email="ann@example.com", description=f"help {n}",
                  status=TicketStatus.OPEN, created_at=float(n), updated_at=float(n), order_number="A-1")


def _mail(item_id: str, at: float = 1.0, visitor_id: str | None = None) -> OutboxItem:
    return OutboxItem(id=item_id, kind=OutboxKind.MAIL, target="ann@example.com", payload="{}", created_at=at,
                      next_attempt_at=at, visitor_id=visitor_id)


async def test_tickets_are_stored_with_their_outbox_and_answers_in_order(stores: AllStores) -> None:
    tickets = stores.tickets
    for n in (1, 2, 3):
        await tickets.create_ticket(_ticket(n, visitor_id="v2" if n == 2 else "v1"), [_mail(f"m{n}", visitor_id="v1")])
    assert await tickets.ticket("t1") == _ticket(1)
    assert await tickets.ticket("nope") is None
    for body in ("first", "second"):
        answer = TicketAnswer(ticket_id="t1", agent_id="a1", agent_name="Bo", body=body, created_at=5.0)
        answered = await tickets.add_ticket_answer(answer, 5.0, [_mail(f"answer-{body}")])
    assert answered is not None and answered.status == TicketStatus.ANSWERED and answered.updated_at == 5.0
    assert [a.body for a in answered.answers] == ["first", "second"]
    assert await tickets.add_ticket_answer(TicketAnswer(ticket_id="nope", agent_id=None, agent_name="Bo", body="x",
                                                        created_at=5.0), 5.0, [_mail("lost")]) is None
    assert [t.id for t in await tickets.list_tickets(status=None, limit=10, offset=0)] == ["t3", "t2", "t1"]
    assert [t.id for t in await tickets.list_tickets(status=TicketStatus.OPEN, limit=10, offset=0)] == ["t3", "t2"]
    assert [t.id for t in await tickets.list_tickets(status=None, limit=1, offset=1)] == ["t2"]
    assert [t.id for t in await tickets.tickets_for_visitor("v1", 10)] == ["t3", "t1"]
    assert sorted(i.id for i in await tickets.outbox_items(OutboxKind.MAIL, 10)) == [
        "answer-first", "answer-second", "m1", "m2", "m3"]  # nothing of the answer to no ticket


async def test_webhook_endpoints_are_added_listed_and_removed(stores: AllStores) -> None:
    tickets = stores.tickets
    first = WebhookEndpoint(id="w1", url="https://example.com/a", secret="s", events=("ticket.created",),
                            created_at=1.0)
    every = WebhookEndpoint(id="w2", url="https://example.com/b", secret="t", events=(), created_at=2.0)
    await tickets.add_webhook(every)
    await tickets.add_webhook(first)
    assert await tickets.webhooks() == [first, every]
    assert await tickets.webhook("w2") == every and await tickets.webhook("nope") is None
    assert await tickets.remove_webhook("w1") and not await tickets.remove_webhook("w1")
    assert await tickets.webhooks() == [every]


async def test_the_outbox_claims_due_items_in_order_and_keeps_their_outcome(stores: AllStores) -> None:
    tickets = stores.tickets
    assert await tickets.pending_counts() == {}
    await tickets.enqueue([_mail("late", at=5.0), _mail("early", at=1.0), _mail("future", at=100.0)])
    assert await tickets.pending_counts() == {OutboxKind.MAIL: 3}
    assert [i.id for i in await tickets.claim_due(OutboxKind.MAIL, 10.0, 30.0, 10)] == ["early", "late"]
    assert await tickets.next_due(OutboxKind.MAIL) == 40.0  # the lease
    await tickets.mark_sent("early", 11.0)
    await tickets.mark_retry("late", 1, 50.0, "SMTP 451")
    await tickets.mark_failed("future", 3, "refused")
    items = {i.id: i for i in await tickets.outbox_items(OutboxKind.MAIL, 10)}
    assert (items["early"].status, items["early"].attempts, items["early"].sent_at, items["early"].payload) == (
        OutboxStatus.SENT, 1, 11.0, "")
    assert (items["late"].status, items["late"].next_attempt_at, items["late"].last_error) == (
        OutboxStatus.PENDING, 50.0, "SMTP 451")
    assert (items["future"].status, items["future"].attempts) == (OutboxStatus.FAILED, 3)
    assert await tickets.pending_counts() == {OutboxKind.MAIL: 1}  # "late" waits for its retry
    assert await tickets.still_pending("late") and not await tickets.still_pending("early")
    assert await tickets.prune(OutboxKind.MAIL, 6.0) == 1  # "early"; "future" is newer, "late" pending
    assert await tickets.prune(OutboxKind.WEBHOOK, 1000.0) == 0
    assert sorted(i.id for i in await tickets.outbox_items(OutboxKind.MAIL, 10)) == ["future", "late"]


@pytest.mark.parametrize("limit", ["per_conversation", "per_address"])
async def test_transcripts_past_a_limit_are_refused_and_store_nothing(stores: AllStores, limit: str) -> None:
    await add_conversation(stores, "c1", "v1")
    await add_conversation(stores, "c2", "v1")
    limits = TranscriptLimits(per_conversation=2, per_address_per_day=2)

    def sent(n: int, cid: str, at: float) -> tuple[TranscriptEmail, OutboxItem]:
        return TranscriptEmail(conversation_id=cid, visitor_id="v1", address="ann@example.com", sent_at=at), \
            _mail(f"transcript{n}", at=at)

    await stores.tickets.enqueue_transcript(*sent(1, "c1", 1000.0), limits)
    await stores.tickets.enqueue_transcript(*sent(2, "c1" if limit == "per_conversation" else "c2", 1000.0), limits)
    with pytest.raises(RateLimited) as refused:
        await stores.tickets.enqueue_transcript(*sent(3, "c1", 2000.0), limits)
    assert refused.value.details == {"limit": limit}
    assert len(await stores.tickets.outbox_items(OutboxKind.MAIL, 10)) == 2
    if limit == "per_address":  # a day later the address may have one again
        await stores.tickets.enqueue_transcript(*sent(4, "c1", 1000.0 + 86400.0), limits)
