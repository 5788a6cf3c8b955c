"""Conversations (storage/{sqlite,postgresql}/conversations.py) on each database: guarded
transitions recorded in the assignment history with their system message and what they announce,
and the reads that find and list conversations."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from chatserver.domain.models import (
    Agent,
    Conversation,
    ConversationStatus,
    PageContext,
    PartyKind,
    PreChat,
    RecentAssignment,
    Role,
)
from chatserver.domain.outbox import OutboxItem, OutboxKind
from chatserver.domain.ports import AgentStore, ConversationStore, NewMessage, Transition
from chatserver.errors import ConversationClosed, NotFound
from chatserver.storage.postgresql.database import PostgresDatabase
from chatserver.storage.sqlite import SQLiteDatabase

from .support import add_agent, assign, new_conversation, query, visitor_message, write


async def test_transitions_are_guarded_and_recorded(conversations: ConversationStore, agents: AgentStore) -> None:
    await agents.add_agent(Agent(id="a1", email="a@example.com", name="A", role=Role.AGENT, capacity=3, disabled=False,
                                token_version=0, created_at=1.0, password_hash="x"))
    await conversations.create_conversation(new_conversation(), [])
    assign = Transition(conversation_id="c1", expect=frozenset({ConversationStatus.QUEUED}),
                        status=ConversationStatus.ASSIGNED, agent_id="a1", agent_name="A", at=5.0, event="assigned")
    result = await conversations.transition(assign)
    assert result is not None and result[0].status == ConversationStatus.ASSIGNED and result[0].agent_id == "a1"
    assert await conversations.transition(assign) is None  # no longer queued: nothing changes
    close = Transition(conversation_id="c1", expect=frozenset({ConversationStatus.ASSIGNED}),
                       status=ConversationStatus.CLOSED, agent_id="a1", agent_name="A", at=6.0, event="closed",
                       closed_by=PartyKind.AGENT,
                       system_message=NewMessage(conversation_id="c1", kind="system", sender_kind=PartyKind.SYSTEM,
                                                 sender_id=None, sender_name=None, body="closed", created_at=6.0))
    closed = await conversations.transition(close)
    assert closed is not None and closed[1] is not None and closed[1].seq == 1
    assert [e.event for e in await conversations.assignments("c1")] == ["assigned", "closed"]
    with pytest.raises(ConversationClosed):
        await conversations.append_message(visitor_message("too late", "late"))
    with pytest.raises(NotFound):
        await conversations.append_message(visitor_message("nowhere", "x", cid="missing"))


async def test_recent_assignments_from_the_queue_are_read_back_from_the_history(
    conversations: ConversationStore, agents: AgentStore,
) -> None:
    await add_agent(agents)

    def change(cid: str, event: str, at: float, status: ConversationStatus = ConversationStatus.ASSIGNED,
               expect: ConversationStatus = ConversationStatus.QUEUED) -> Transition:
        return Transition(conversation_id=cid, expect=frozenset({expect}), status=status, agent_id="a1",
                          agent_name="A1", at=at, event=event, queue_rank=at - 100 if status == "queued" else None)

    for n, (event, at) in enumerate([("assigned", 10.0), ("taken", 20.5), ("assigned", 31.25), ("taken", 40.0)]):
        await conversations.create_conversation(replace(new_conversation(f"c{n}"), created_at=5.0 + n), [])
        assert await conversations.transition(change(f"c{n}", event, at)) is not None
    # A chat put back in the queue and assigned again counts twice; moves that are not
    # assignments from the queue (released, transferred, closed) never.
    assert await conversations.transition(change("c0", "released", 50.0, ConversationStatus.QUEUED,
                                                 ConversationStatus.ASSIGNED)) is not None
    assert await conversations.transition(change("c0", "assigned", 60.0)) is not None
    assert await conversations.transition(change("c1", "transferred", 61.0, expect=ConversationStatus.ASSIGNED))
    assert await conversations.transition(change("c2", "closed", 62.0, ConversationStatus.CLOSED,
                                                 ConversationStatus.ASSIGNED)) is not None

    recent = await conversations.recent_assignments(0.0, 50)
    assert recent == [RecentAssignment(conversation_id="c0", at=10.0, waited=5.0),
                      RecentAssignment(conversation_id="c1", at=20.5, waited=14.5),
                      RecentAssignment(conversation_id="c2", at=31.25, waited=24.25),
                      RecentAssignment(conversation_id="c3", at=40.0, waited=32.0),
                      RecentAssignment(conversation_id="c0", at=60.0, waited=55.0)]
    assert await conversations.recent_assignments(20.5, 50) == recent[1:]  # since, inclusive
    assert await conversations.recent_assignments(0.0, 2) == recent[-2:]  # the latest, oldest first
    assert await conversations.recent_assignments(61.0, 50) == []


# The visitor ends c1 while an agent holds it (the history names that agent).
_CLOSING = Transition(conversation_id="c1", expect=frozenset({ConversationStatus.ASSIGNED}),
                      status=ConversationStatus.CLOSED, agent_id=None, agent_name=None, at=6.0, event="closed",
                      closed_by=PartyKind.VISITOR)


async def test_a_transition_keeps_what_it_does_not_change_and_records_the_agent_who_held_it(
    conversations: ConversationStore, agents: AgentStore,
) -> None:
    await add_agent(agents)
    first = [visitor_message("a"), visitor_message("b")]
    created = new_conversation()
    created.prechat = PreChat(name="N", question="Q", department="billing")
    assert [m.seq for m in await conversations.create_conversation(created, first)] == [1, 2]
    await assign(conversations)
    result = await conversations.transition(replace(_CLOSING, system_message=NewMessage(
        conversation_id="c1", kind="system", sender_kind=PartyKind.SYSTEM, sender_id=None, sender_name=None,
        body="closed", created_at=6.0, meta={"reason": "visitor"})))
    assert result is not None
    closed, message = result
    assert message is not None and message.seq == 3 and closed.last_seq == 3
    assert (closed.status, closed.agent_id, closed.closed_at, closed.closed_by) == (
        ConversationStatus.CLOSED, None, 6.0, PartyKind.VISITOR)
    assert (closed.assigned_at, closed.prechat.department) == (3.0, "billing")  # kept
    assert await conversations.get_conversation("c1") == closed
    events = await conversations.assignments("c1")
    assert [(e.event, e.agent_id, e.at) for e in events] == [("assigned", "a1", 3.0), ("closed", "a1", 6.0)]
    assert await conversations.visited_by_agent("c1", "a1") and not await conversations.visited_by_agent("c1", "a2")
    stored = await conversations.messages_after("c1", 1, 10)
    assert [(m.seq, m.body, m.meta) for m in stored] == [(2, "b", None), (3, "closed", {"reason": "visitor"})]


async def test_what_a_change_announces_is_stored_with_it_or_not_at_all(
    conversations: ConversationStore, agents: AgentStore, database: SQLiteDatabase | PostgresDatabase,
) -> None:
    await add_agent(agents)
    await write(database, "INSERT INTO customers (id, created_at, last_seen_at) VALUES ('cu1', 1, 1)")
    await write(database, "INSERT INTO customer_visitors (visitor_id, customer_id, linked_at) VALUES ('v1', 'cu1', 1)")
    seen: list[tuple[str, int, str | None]] = []

    def record(conversation: Conversation, customer_id: str | None) -> list[OutboxItem]:
        seen.append((conversation.id, conversation.last_seq, customer_id))
        return [OutboxItem(id=f"o{len(seen)}", kind=OutboxKind.WEBHOOK, target="e1", payload="{}", created_at=1.0,
                           visitor_id=conversation.visitor_id)]

    def broken(conversation: Conversation, customer_id: str | None) -> list[OutboxItem]:
        raise RuntimeError("the webhook could not be recorded")

    await conversations.create_conversation(new_conversation(), [visitor_message("a")], record)
    with pytest.raises(RuntimeError):
        await conversations.create_conversation(new_conversation("c2"), [visitor_message("x", cid="c2")], broken)
    assert await conversations.get_conversation("c2") is None
    await assign(conversations)
    with pytest.raises(RuntimeError):
        await conversations.transition(replace(_CLOSING, record=broken))
    assert (await conversations.get_conversation("c1")).status == ConversationStatus.ASSIGNED  # type: ignore[union-attr]
    assert await conversations.transition(replace(_CLOSING, record=record)) is not None
    assert seen == [("c1", 1, "cu1"), ("c1", 1, "cu1")]
    rows = await query(database, "SELECT id, visitor_id, customer_id FROM outbox ORDER BY id")
    assert rows == [("o1", "v1", "cu1"), ("o2", "v1", "cu1")]
    assert [e.event for e in await conversations.assignments("c1")] == ["assigned", "closed"]


async def test_conversations_are_found_and_listed(conversations: ConversationStore, agents: AgentStore) -> None:
    await add_agent(agents)
    for n in (1, 2, 3):
        conversation = new_conversation(f"c{n}")
        conversation.visitor_id = f"v{n}"
        conversation.created_at = conversation.queue_rank = float(n)
        await conversations.create_conversation(conversation, [])
    await conversations.append_message(NewMessage(conversation_id="c2", kind="text", sender_kind=PartyKind.VISITOR,
                                                  sender_id="v2", sender_name=None, body="hi", created_at=9.0))
    await assign(conversations, "c3")
    assert sorted(await conversations.get_conversations(["c1", "c3", "missing"])) == ["c1", "c3"]
    assert await conversations.get_conversations([]) == {}
    queued = await conversations.conversations_with_status([ConversationStatus.QUEUED])
    assert [c.id for c in queued] == ["c1", "c2"]  # by queue rank
    held = await conversations.conversations_with_status([ConversationStatus.QUEUED, ConversationStatus.ASSIGNED],
                                                         agent_id="a1")
    assert [c.id for c in held] == ["c3"]
    listed = await conversations.list_conversations(status=None, agent_id=None, limit=2, offset=1)
    assert [c.id for c in listed] == ["c2", "c1"]  # newest first
    assert [c.id for c in await conversations.list_conversations(
        status=ConversationStatus.ASSIGNED, agent_id="a1", limit=10, offset=0)] == ["c3"]
    assert await conversations.list_conversations(
        status=ConversationStatus.QUEUED, agent_id="a1", limit=10, offset=0) == []
    assert await conversations.idle_conversations(before=5.0, limit=10) == ["c1", "c3"]  # c2 spoke at 9
    assert await conversations.idle_conversations(before=5.0, limit=1) == ["c1"]
    active = await conversations.active_conversation_for_visitor("v2")
    assert active is not None and active.id == "c2"
    page = PageContext(page_url="/cart", page_title="Cart", checkout=True, cart_value=12.5)
    moved = await conversations.update_page("c2", page)
    assert moved is not None and (moved.prechat.page_url, moved.prechat.checkout, moved.prechat.cart_value) == (
        "/cart", True, 12.5)
    await conversations.transition(Transition(
        conversation_id="c2", expect=frozenset({ConversationStatus.QUEUED}), status=ConversationStatus.CLOSED,
        agent_id=None, agent_name=None, at=10.0, event="closed", closed_by=PartyKind.VISITOR))
    assert await conversations.update_page("c2", page) is None and await conversations.update_page("x", page) is None
    assert await conversations.active_conversation_for_visitor("v2") is None
    assert await conversations.transcript("missing") is None
