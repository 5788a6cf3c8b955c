"""Messages (storage/{sqlite,postgresql}/messages.py) on each database: sequence numbers, resends
stored once, who may write, and one refused message in a batch leaving the others stored."""

from __future__ import annotations

import asyncio

import pytest

from chatserver.domain.models import ConversationStatus, PartyKind
from chatserver.domain.ports import AgentStore, ConversationStore, Transition
from chatserver.errors import ConversationClosed, Forbidden, NotFound
from chatserver.storage.postgresql.database import PostgresDatabase
from chatserver.storage.sqlite import SQLiteDatabase

from .support import add_agent, assign, fill_one_batch, message_from, new_conversation, visitor_message


async def test_messages_get_consecutive_sequence_numbers_even_when_sent_concurrently(
    conversations: ConversationStore,
) -> None:
    await conversations.create_conversation(new_conversation(), [visitor_message("first")])
    results = await asyncio.gather(*(conversations.append_message(visitor_message(f"m{i}", f"id{i}"))
                                     for i in range(50)))
    seqs = sorted(m.seq for _, m, created in results if created)
    assert seqs == list(range(2, 52))
    stored = await conversations.messages_after("c1", 0, 1000)
    assert [m.seq for m in stored] == list(range(1, 52))
    assert (await conversations.get_conversation("c1")).last_seq == 51  # type: ignore[union-attr]


async def test_a_resent_client_message_is_returned_not_stored_again(conversations: ConversationStore) -> None:
    await conversations.create_conversation(new_conversation(), [])
    _, first, created = await conversations.append_message(visitor_message("hello", "same"))
    conversation, again, created_again = await conversations.append_message(visitor_message("hello", "same"))
    assert created and not created_again and again == first
    assert conversation.last_seq == first.seq  # the resend took no sequence number
    assert len(await conversations.messages_after("c1", 0, 10)) == 1
    _, after, _ = await conversations.append_message(visitor_message("next", "other"))
    assert after.seq == first.seq + 1


async def test_a_resend_in_the_same_transaction_as_the_first_send_is_stored_once(
    conversations: ConversationStore,
) -> None:
    await conversations.create_conversation(new_conversation(), [])
    results = await asyncio.gather(*(conversations.append_message(visitor_message("hello", "same")) for _ in range(3)),
                                   conversations.append_message(visitor_message("other", "different")))
    assert [created for _, _, created in results] == [True, False, False, True]
    assert {m.seq for _, m, _ in results[:3]} == {1} and results[3][1].seq == 2
    stored = await conversations.messages_after("c1", 0, 10)
    assert [(m.seq, m.body) for m in stored] == [(1, "hello"), (2, "other")]
    assert (await conversations.get_conversation("c1")).last_seq == 2  # type: ignore[union-attr]


async def test_only_the_owner_and_the_assigned_agent_may_append_and_a_refusal_stores_nothing(
    conversations: ConversationStore, agents: AgentStore,
) -> None:
    await add_agent(agents)
    await add_agent(agents, "a2")
    await conversations.create_conversation(new_conversation(), [visitor_message("first")])
    with pytest.raises(Forbidden):  # queued: not assigned to the agent yet
        await conversations.append_message(message_from(PartyKind.AGENT, "a1", "early", "e1"))
    await assign(conversations)
    with pytest.raises(NotFound):  # another visitor's message is refused as if the id did not exist
        await conversations.append_message(message_from(PartyKind.VISITOR, "v2", "intruder", "x1"))
    with pytest.raises(Forbidden):
        await conversations.append_message(message_from(PartyKind.AGENT, "a2", "intruder", "x2"))
    with pytest.raises(NotFound):
        await conversations.append_message(message_from(PartyKind.VISITOR, "v1", "lost", "x3", cid="missing"))
    conversation, message, created = await conversations.append_message(
        message_from(PartyKind.AGENT, "a1", "hello", "h1"))
    assert created and message.seq == 2 and conversation.last_seq == 2 and conversation.agent_id == "a1"
    assert message.sender_name == "Agent"
    _, from_visitor, _ = await conversations.append_message(message_from(PartyKind.VISITOR, "v1", "hi", "h2"))
    assert from_visitor.seq == 3 and from_visitor.sender_name == "N"  # the pre-chat form's name
    stored = await conversations.messages_after("c1", 0, 10)
    assert [m.body for m in stored] == ["first", "hello", "hi"]
    assert (await conversations.get_conversation("c1")).last_seq == 3  # type: ignore[union-attr]


async def test_a_resend_after_the_conversation_closed_is_refused_as_closed(conversations: ConversationStore) -> None:
    await conversations.create_conversation(new_conversation(), [])
    _, first, _ = await conversations.append_message(visitor_message("hello", "same"))
    await conversations.transition(Transition(conversation_id="c1", expect=frozenset({ConversationStatus.QUEUED}),
                                      status=ConversationStatus.CLOSED, agent_id=None, agent_name=None, at=4.0,
                                      event="closed", closed_by=PartyKind.VISITOR))
    with pytest.raises(ConversationClosed):
        await conversations.append_message(visitor_message("hello", "same"))
    with pytest.raises(NotFound):  # and another visitor still learns nothing
        await conversations.append_message(message_from(PartyKind.VISITOR, "v2", "hello", "same"))
    assert [m.seq for m in await conversations.messages_after("c1", 0, 10)] == [first.seq]


async def test_a_refused_message_in_a_batch_does_not_affect_the_others(
    conversations: ConversationStore, database: SQLiteDatabase | PostgresDatabase,
) -> None:
    await conversations.create_conversation(new_conversation(), [])
    await conversations.create_conversation(new_conversation("c2"), [])
    results = await fill_one_batch(database, [
        conversations.append_message(visitor_message("one", "m1")),
        conversations.append_message(visitor_message("lost", "m2", cid="missing")),
        conversations.append_message(message_from(PartyKind.VISITOR, "v2", "intruder", "m3")),
        conversations.append_message(visitor_message("two", "m4")),
        conversations.append_message(visitor_message("other", "m5", cid="c2")),
    ])
    assert isinstance(results[1], NotFound) and isinstance(results[2], NotFound)
    assert [r[1].seq for r in (results[0], results[3], results[4])] == [1, 2, 1]
    assert [m.body for m in await conversations.messages_after("c1", 0, 10)] == ["one", "two"]
    assert [m.body for m in await conversations.messages_after("c2", 0, 10)] == ["other"]
    assert (await conversations.get_conversation("c1")).last_seq == 2  # type: ignore[union-attr]


async def test_each_message_reports_how_many_readers_joined_before_its_append(
    conversations: ConversationStore,
) -> None:
    await conversations.create_conversation(new_conversation(), [visitor_message("first")])
    alone, _, _ = await conversations.append_message(visitor_message("alone", "m1"))
    assert alone.readers_version == 0
    await conversations.reader_joined("c1")
    await conversations.reader_joined("c1")
    await conversations.reader_joined("missing")  # no such conversation: nothing changes
    # Several at once share a batch (one statement on PostgreSQL): each reports the count.
    results = await asyncio.gather(*(conversations.append_message(visitor_message(f"m{i}", f"id{i}"))
                                     for i in range(5)))
    assert [conversation.readers_version for conversation, _, _ in results] == [2] * 5
    resent, _, created = await conversations.append_message(visitor_message("alone", "m1"))
    assert not created and resent.readers_version == 2
    await conversations.reader_joined("c1")
    after, _, _ = await conversations.append_message(visitor_message("after", "m9"))
    assert after.readers_version == 3
    stored = await conversations.get_conversation("c1")
    assert stored is not None and stored.last_seq == 8
