"""The outbox and transcript limits with several hosts sharing PostgreSQL: each due item is
claimed by one host, the limits count every host's transcripts, and message.created items are
written in the message's transaction with the endpoints read once in it."""

from __future__ import annotations

import asyncio

import pytest

from chatserver.domain.models import Message, PartyKind
from chatserver.domain.outbox import OutboxItem, OutboxKind
from chatserver.domain.tickets import TranscriptEmail, TranscriptLimits
from chatserver.domain.webhooks import WebhookEndpoint
from chatserver.errors import NotFound, RateLimited
from chatserver.storage.postgresql.conversations import PostgresConversations
from chatserver.storage.postgresql.database import Batch, Connection, PostgresDatabase
from chatserver.storage.postgresql.tickets import PostgresTickets

from ..backends import AllStores, NoMessages, add_conversation, conversation, open_postgres
from ..support import fill_one_batch, message_from, new_conversation, visitor_message


def _mail(n: int) -> OutboxItem:
    return OutboxItem(id=f"i{n:03}", kind=OutboxKind.MAIL, target="ann@example.com", payload="{}", created_at=1.0,
                      next_attempt_at=1.0)


async def test_hosts_claiming_at_once_each_claim_other_items(hosts: tuple[AllStores, AllStores]) -> None:
    await hosts[0].tickets.enqueue([_mail(n) for n in range(200)])
    claimed: list[list[str]] = [[], []]

    async def claim_all(host: int) -> None:
        while True:
            items = await hosts[host].tickets.claim_due(OutboxKind.MAIL, 10.0, 60.0, 7)
            if not items:
                return
            claimed[host] += [i.id for i in items]

    await asyncio.gather(*(claim_all(host) for host in (0, 1, 0, 1)))
    every = claimed[0] + claimed[1]
    assert sorted(every) == [_mail(n).id for n in range(200)]  # each once
    assert claimed[0] and claimed[1]  # both took part


async def test_transcript_limits_count_every_hosts_sends(hosts: tuple[AllStores, AllStores]) -> None:
    await add_conversation(hosts[0], "c1", "v1")
    limits = TranscriptLimits(per_conversation=3, per_address_per_day=100)

    async def send(n: int) -> bool:
        sent = TranscriptEmail(conversation_id="c1", visitor_id="v1", address=f"{n}@example.com", sent_at=1000.0)
        try:
            await hosts[n % 2].tickets.enqueue_transcript(sent, _mail(n), limits)
        except RateLimited:
            return False
        return True

    results = await asyncio.gather(*(send(n) for n in range(12)))
    assert results.count(True) == 3
    assert len(await hosts[0].tickets.outbox_items(OutboxKind.MAIL, 100)) == 3


def _message(seq: int) -> Message:
    return Message(conversation_id="c1", seq=seq, kind="text", sender_kind=PartyKind.VISITOR, sender_id="v1",
                   sender_name=None, body=f"message {seq}", created_at=2.0)


class Recorded:
    """What the message hook was given and did: the endpoints it saw, the wake-ups."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, ...]] = []
        self.woken = 0

    def items_for(self, endpoints: object, conv: object, message: Message) -> list[OutboxItem]:
        assert isinstance(endpoints, tuple)
        self.seen.append(tuple(e.id for e in endpoints))
        return [OutboxItem(id=f"{e.id}-{message.seq}", kind=OutboxKind.WEBHOOK, target=e.id, payload="{}",
                           created_at=2.0, next_attempt_at=2.0, visitor_id="v1") for e in endpoints]

    def queued(self) -> None:
        self.woken += 1


async def _hooked(database: PostgresDatabase) -> tuple[PostgresTickets, NoMessages, Recorded]:
    messages = NoMessages()
    tickets = PostgresTickets(database, messages)
    recorded = Recorded()
    tickets.write_with_messages(recorded.items_for, recorded.queued)
    return tickets, messages, recorded


async def test_message_items_are_written_in_the_messages_transaction(postgres_url: str) -> None:
    async with open_postgres(postgres_url) as database, open_postgres(postgres_url) as other:
        tickets, messages, recorded = await _hooked(database)
        [hook] = messages.hooks
        async with database.transaction() as conn:
            await conn.execute("INSERT INTO conversations (id, visitor_id, status, visitor_name, question, "
                               "created_at) VALUES ('c1', 'v1', 'queued', 'Ann', 'Q', 1)")
        await tickets.add_webhook(WebhookEndpoint(id="w1", url="https://example.com/", secret="s", events=(),
                                                  created_at=1.0))

        async def two_messages(conn: Connection, batch: Batch) -> None:
            await hook(conn, batch, conversation("c1"), _message(1))
            # Another host adds an endpoint: this transaction goes on with the endpoints it read.
            await PostgresTickets(other, NoMessages()).add_webhook(WebhookEndpoint(
                id="w2", url="https://example.com/2", secret="s", events=(), created_at=2.0))
            await hook(conn, batch, conversation("c1"), _message(2))

        await database.batched(two_messages)
        assert recorded.seen == [("w1",), ("w1",)] and recorded.woken == 2
        await database.batched(lambda conn, batch: hook(conn, batch, conversation("c1"), _message(3)))
        assert recorded.seen[-1] == ("w1", "w2")  # the next transaction reads them again
        assert sorted(i.id for i in await tickets.outbox_items(OutboxKind.WEBHOOK, 10)) == [
            "w1-1", "w1-2", "w1-3", "w2-3"]


async def test_a_message_rolled_back_leaves_no_item_and_wakes_nobody(postgres_url: str) -> None:
    async with open_postgres(postgres_url) as database:
        tickets, messages, recorded = await _hooked(database)
        [hook] = messages.hooks
        await tickets.add_webhook(WebhookEndpoint(id="w1", url="https://example.com/", secret="s", events=(),
                                                  created_at=1.0))

        async def refused(conn: Connection, batch: Batch) -> None:
            await hook(conn, batch, conversation("c1"), _message(1))
            raise ValueError("the message was refused after its hook ran")

        with pytest.raises(ValueError):
            await database.batched(refused)
        assert await tickets.outbox_items(OutboxKind.WEBHOOK, 10) == []
        assert recorded.woken == 0


async def test_messages_stored_many_to_a_statement_each_get_their_items(postgres_url: str) -> None:
    """Messages next to each other in a batch go in one statement (migration 0003): each stored
    one gets its items in the transaction, a refused one and a resend none."""
    async with open_postgres(postgres_url) as database:
        conversations = PostgresConversations(database)
        tickets = PostgresTickets(database, conversations.messages)
        recorded = Recorded()
        tickets.write_with_messages(recorded.items_for, recorded.queued)
        await tickets.add_webhook(WebhookEndpoint(id="w1", url="https://example.com/", secret="s", events=(),
                                                  created_at=1.0))
        await conversations.create_conversation(new_conversation(), [])
        results = await fill_one_batch(database, [
            conversations.append_message(visitor_message("one", "m1")),
            conversations.append_message(message_from(PartyKind.VISITOR, "v2", "intruder", "m2")),
            conversations.append_message(visitor_message("one", "m1")),
            conversations.append_message(visitor_message("two", "m3")),
        ])
        assert isinstance(results[1], NotFound)
        assert [(r[1].seq, r[2]) for r in (results[0], results[2], results[3])] == [(1, True), (1, False), (2, True)]
        assert sorted(i.id for i in await tickets.outbox_items(OutboxKind.WEBHOOK, 10)) == ["w1-1", "w1-2"]
        assert recorded.seen == [("w1",), ("w1",)] and recorded.woken == 2
