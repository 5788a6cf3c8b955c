"""Conversations on PostgreSQL written by several hosts at once (two ``PostgresDatabase`` objects,
each with its own pool and group commit, on one database): messages numbered without gap or
repeat, a resend stored once whichever host gets it, one transition of two racing, and a message
acknowledged only once its transaction is committed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from chatserver.domain.models import Conversation, ConversationStatus, Message, PartyKind
from chatserver.domain.ports import Transition
from chatserver.errors import Unavailable
from chatserver.storage.postgresql.agents import PostgresAgents
from chatserver.storage.postgresql.conversations import PostgresConversations
from chatserver.storage.postgresql.database import Batch, Connection, PostgresDatabase

from ..support import add_agent, assign, message_from, new_conversation, visitor_message


@pytest.fixture
async def hosts(postgres_url: str) -> AsyncIterator[list[PostgresConversations]]:
    """Two hosts' conversation stores over the same database, with conversation c1 assigned to a1."""
    databases = [PostgresDatabase(postgres_url, pool_min=1, pool_max=4) for _ in range(2)]
    await asyncio.gather(*(d.open() for d in databases))
    try:
        stores = [PostgresConversations(d) for d in databases]
        await add_agent(PostgresAgents(databases[0]))
        await stores[0].create_conversation(new_conversation(), [])
        await assign(stores[1])
        yield stores
    finally:
        await asyncio.gather(*(d.close() for d in databases))


async def test_two_hosts_appending_at_once_number_messages_without_gap_or_repeat(
    hosts: list[PostgresConversations],
) -> None:
    a, b = hosts
    sends = []
    for i in range(40):  # both parties, both hosts, interleaved
        sends.append(a.append_message(visitor_message(f"v{i}", f"v{i}")))
        sends.append(b.append_message(message_from(PartyKind.AGENT, "a1", f"a{i}", f"a{i}")))
    results = await asyncio.gather(*sends)
    assert all(created for _, _, created in results)
    assert sorted(m.seq for _, m, _ in results) == list(range(1, 81))
    stored = await b.messages_after("c1", 0, 1000)
    assert [m.seq for m in stored] == list(range(1, 81))
    assert sorted(m.body for m in stored) == sorted(m.body for _, m, _ in results)
    assert (await a.get_conversation("c1")).last_seq == 80  # type: ignore[union-attr]


async def test_a_resend_through_either_host_is_stored_once(hosts: list[PostgresConversations]) -> None:
    a, b = hosts
    results = await asyncio.gather(*(host.append_message(visitor_message("hello", "same"))
                                     for _ in range(5) for host in (a, b)),
                                   b.append_message(visitor_message("other", "different")))
    assert sum(created for _, _, created in results) == 2
    first = next(m for _, m, created in results[:-1] if created)
    assert all(m == first for _, m, _ in results[:-1])
    stored = await a.messages_after("c1", 0, 10)
    assert [m.seq for m in stored] == [1, 2] and sorted(m.body for m in stored) == ["hello", "other"]
    assert (await b.get_conversation("c1")).last_seq == 2  # type: ignore[union-attr]
    _, after, created = await a.append_message(visitor_message("next", "next"))
    assert created and after.seq == 3  # the resends gave their numbers back


async def test_of_two_hosts_assigning_one_conversation_one_wins(postgres_url: str) -> None:
    databases = [PostgresDatabase(postgres_url, pool_min=1, pool_max=2) for _ in range(2)]
    await asyncio.gather(*(d.open() for d in databases))
    try:
        stores = [PostgresConversations(d) for d in databases]
        agents = PostgresAgents(databases[0])
        await add_agent(agents, "a1")
        await add_agent(agents, "a2")
        await stores[0].create_conversation(new_conversation(), [])
        results = await asyncio.gather(*(store.transition(Transition(
            conversation_id="c1", expect=frozenset({ConversationStatus.QUEUED}), status=ConversationStatus.ASSIGNED,
            agent_id=agent_id, agent_name=agent_id, at=3.0, event="assigned"))
            for store, agent_id in ((stores[0], "a1"), (stores[1], "a2"))))
        won = [result[0].agent_id for result in results if result is not None]
        assert len(won) == 1
        assert [e.agent_id for e in await stores[1].assignments("c1")] == won
        assert (await stores[0].get_conversation("c1")).agent_id == won[0]  # type: ignore[union-attr]
    finally:
        await asyncio.gather(*(d.close() for d in databases))


async def test_a_message_is_acknowledged_only_after_commit(hosts: list[PostgresConversations]) -> None:
    a, b = hosts
    in_transaction = asyncio.Event()
    release = asyncio.Event()

    async def slow_hook(conn: Connection, batch: Batch, conversation: Conversation, message: Message) -> None:
        in_transaction.set()
        await release.wait()

    a.messages.hooks.append(slow_hook)
    sending = asyncio.ensure_future(a.append_message(visitor_message("hello", "m1")))
    await in_transaction.wait()
    # Inserted, not committed: not acknowledged, and no other host sees it.
    assert not sending.done()
    assert await b.messages_after("c1", 0, 10) == []
    release.set()
    _, sent, created = await sending
    assert created and [m.seq for m in await b.messages_after("c1", 0, 10)] == [sent.seq]


async def test_a_message_whose_commit_fails_is_refused_and_its_resend_stored(
    hosts: list[PostgresConversations],
) -> None:
    a, b = hosts
    async with a.database.transaction() as conn:  # a write PostgreSQL refuses only at COMMIT
        await conn.execute("CREATE TABLE deferred_check (conversation_id TEXT REFERENCES conversations (id) "
                           "DEFERRABLE INITIALLY DEFERRED)")

    async def fails_at_commit(conn: Connection, batch: Batch, conversation: Conversation, message: Message) -> None:
        await conn.execute("INSERT INTO deferred_check VALUES ('no-such-conversation')")
        batch.after_commit(lambda: pytest.fail("after_commit ran for a transaction that did not commit"))

    a.messages.hooks.append(fails_at_commit)
    with pytest.raises(Unavailable):
        await a.append_message(visitor_message("hello", "m1"))
    assert await b.messages_after("c1", 0, 10) == []
    assert (await b.get_conversation("c1")).last_seq == 0  # type: ignore[union-attr]
    _, again, created = await b.append_message(visitor_message("hello", "m1"))
    assert created and again.seq == 1
