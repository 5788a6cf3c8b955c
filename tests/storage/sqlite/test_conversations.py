"""SQLite conversations (storage/sqlite/conversations.py) on a real file: guarded transitions
recorded in the assignment history with their system message."""

from __future__ import annotations

import pytest

from chatserver.domain.models import Agent, ConversationStatus, PartyKind, Role
from chatserver.domain.ports import NewMessage, Transition
from chatserver.errors import ConversationClosed, NotFound
from chatserver.storage.sqlite.agents import SQLiteAgents
from chatserver.storage.sqlite.conversations import SQLiteConversations

from .support import new_conversation, visitor_message


async def test_transitions_are_guarded_and_recorded(conversations: SQLiteConversations, agents: SQLiteAgents) -> None:
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
