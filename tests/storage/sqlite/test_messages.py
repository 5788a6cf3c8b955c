"""What the SQLite writer keeps of the conversations it appends to (``WritersView`` in
storage/sqlite/messages.py) never outlives the truth in the file: a change by another process, a
batch that failed at COMMIT, or any other write of this process (but an append's or a read
mark's, which keep it) makes the next append read the conversation again, so numbers stay
1, 2, 3... and a refused sender stays refused."""

from __future__ import annotations

import sqlite3

import pytest

from chatserver.domain.models import ConversationStatus, PartyKind
from chatserver.domain.ports import Transition
from chatserver.errors import ConversationClosed, Forbidden, Unavailable
from chatserver.storage.sqlite import SQLiteDatabase
from chatserver.storage.sqlite.agents import SQLiteAgents
from chatserver.storage.sqlite.conversations import SQLiteConversations

from ..support import add_agent, assign, fill_one_batch, message_from, new_conversation, visitor_message
from .support import fails_at_commit


def other_process(database: SQLiteDatabase) -> sqlite3.Connection:
    return sqlite3.connect(database.path, isolation_level=None)


async def test_messages_another_process_stored_are_numbered_around(
    conversations: SQLiteConversations, database: SQLiteDatabase,
) -> None:
    await conversations.create_conversation(new_conversation(), [])
    _, first, _ = await conversations.append_message(visitor_message("here", "m1"))
    other = other_process(database)
    try:  # the other process appends as its store does: the number, then the message
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE conversations SET last_seq = 2 WHERE id = 'c1'")
        other.execute("INSERT INTO messages (conversation_id, seq, kind, sender_kind, sender_id, sender_name, "
                      "client_msg_id, body, created_at) "
                      "VALUES ('c1', 2, 'text', 'visitor', 'v1', 'N', 'o1', 'there', 2)")
        other.execute("COMMIT")
    finally:
        other.close()
    conversation, after, created = await conversations.append_message(visitor_message("here again", "m2"))
    assert created and (first.seq, after.seq, conversation.last_seq) == (1, 3, 3)
    _, resent, created = await conversations.append_message(visitor_message("there", "o1"))
    assert not created and resent.seq == 2  # its resend is found too
    assert [m.seq for m in await conversations.messages_after("c1", 0, 10)] == [1, 2, 3]


async def test_a_conversation_another_process_closed_refuses_the_next_message(
    conversations: SQLiteConversations, database: SQLiteDatabase,
) -> None:
    await conversations.create_conversation(new_conversation(), [])
    await conversations.append_message(visitor_message("open", "m1"))
    other = other_process(database)
    try:
        other.execute("UPDATE conversations SET status = 'closed', closed_at = 3 WHERE id = 'c1'")
    finally:
        other.close()
    with pytest.raises(ConversationClosed):
        await conversations.append_message(visitor_message("too late", "m2"))
    assert [m.body for m in await conversations.messages_after("c1", 0, 10)] == ["open"]


async def test_after_a_batch_failed_at_commit_the_numbers_are_the_files(
    conversations: SQLiteConversations, database: SQLiteDatabase,
) -> None:
    await conversations.create_conversation(new_conversation(), [])
    await conversations.append_message(visitor_message("kept", "m1"))
    results = await fill_one_batch(database, [
        database.batched(fails_at_commit),
        conversations.append_message(visitor_message("lost", "m2")),
        conversations.append_message(visitor_message("lost too", "m3")),
    ])
    assert all(isinstance(r, Unavailable) for r in results), results
    conversation, message, created = await conversations.append_message(visitor_message("next", "m4"))
    assert created and message.seq == conversation.last_seq == 2  # no gap where the lost ones were
    assert [m.seq for m in await conversations.messages_after("c1", 0, 10)] == [1, 2]


async def test_a_change_by_this_process_between_appends_is_seen_by_the_next(
    conversations: SQLiteConversations, database: SQLiteDatabase, agents: SQLiteAgents,
) -> None:
    await add_agent(agents)
    await add_agent(agents, "a2")
    await conversations.create_conversation(new_conversation(), [])
    await assign(conversations)
    await conversations.append_message(message_from(PartyKind.AGENT, "a1", "hello", "a-1"))
    # Reassigned by a write of its own (not a transition): the view is forgotten all the same.
    async with database.transaction() as db:
        await db.execute("UPDATE conversations SET agent_id = 'a2', agent_name = 'A2' WHERE id = 'c1'")
    with pytest.raises(Forbidden):
        await conversations.append_message(message_from(PartyKind.AGENT, "a1", "still here?", "a-2"))
    conversation, message, _ = await conversations.append_message(message_from(PartyKind.AGENT, "a2", "hi", "b-1"))
    assert message.seq == 2 and conversation.agent_id == "a2"
    await conversations.mark_read("c1", PartyKind.VISITOR, "v1", 2)
    conversation, _, _ = await conversations.append_message(visitor_message("thanks", "m1"))
    assert conversation.visitor_read_seq == 2 and conversation.last_seq == 3


async def test_a_read_mark_after_another_change_does_not_revive_what_the_writer_knew(
    conversations: SQLiteConversations,
) -> None:
    """A read mark keeps the writer's view of its conversation, but only if the view held before
    it: after a change of another conversation, that one is read again."""
    await conversations.create_conversation(new_conversation(), [])
    await conversations.create_conversation(new_conversation("c2"), [])
    await conversations.append_message(visitor_message("one", "m1"))
    await conversations.append_message(visitor_message("other", "m2", cid="c2"))
    await conversations.transition(Transition(conversation_id="c2", expect=frozenset({ConversationStatus.QUEUED}),
                                              status=ConversationStatus.CLOSED, agent_id=None, agent_name=None,
                                              at=4.0, event="closed", closed_by=PartyKind.VISITOR))
    conversation, read, moved = await conversations.mark_read("c1", PartyKind.VISITOR, "v1", 1)
    assert moved and read == 1 and conversation.visitor_read_seq == 1
    with pytest.raises(ConversationClosed):
        await conversations.append_message(visitor_message("too late", "m3", cid="c2"))
    conversation, message, _ = await conversations.append_message(visitor_message("two", "m4"))
    assert message.seq == 2 and conversation.visitor_read_seq == 1
