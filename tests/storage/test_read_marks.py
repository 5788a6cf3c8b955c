"""Read marks (storage/{sqlite,postgresql}/read_marks.py) on each database: they only move
forward, never past the last message, and only for who may act on the conversation."""

from __future__ import annotations

import pytest

from chatserver.domain.models import PartyKind
from chatserver.domain.ports import AgentStore, ConversationStore
from chatserver.errors import Forbidden, NotFound

from .support import add_agent, assign, new_conversation, visitor_message


async def test_read_marks_only_move_forward_and_never_past_the_last_message(
    conversations: ConversationStore, agents: AgentStore,
) -> None:
    await add_agent(agents)
    await conversations.create_conversation(new_conversation(), [visitor_message("a"), visitor_message("b")])
    await assign(conversations)
    assert (await conversations.mark_read("c1", PartyKind.AGENT, "a1", 1))[1:] == (1, True)
    assert (await conversations.mark_read("c1", PartyKind.AGENT, "a1", 0))[1:] == (1, False)
    assert (await conversations.mark_read("c1", PartyKind.AGENT, "a1", 1))[1:] == (1, False)
    conversation, read, moved = await conversations.mark_read("c1", PartyKind.AGENT, "a1", 99)
    assert (read, moved) == (2, True) and conversation.agent_read_seq == 2 and conversation.id == "c1"
    assert (await conversations.mark_read("c1", PartyKind.AGENT, "a1", 99))[1:] == (2, False)
    assert (await conversations.mark_read("c1", PartyKind.VISITOR, "v1", 1))[1:] == (1, True)
    with pytest.raises(NotFound):
        await conversations.mark_read("missing", PartyKind.AGENT, "a1", 1)


async def test_read_marks_follow_who_may_act_on_the_conversation(
    conversations: ConversationStore, agents: AgentStore,
) -> None:
    await add_agent(agents)
    await conversations.create_conversation(new_conversation(), [visitor_message("a")])
    with pytest.raises(Forbidden):  # queued: no agent holds it yet
        await conversations.mark_read("c1", PartyKind.AGENT, "a1", 1)
    await assign(conversations)
    with pytest.raises(NotFound):  # another visitor is told nothing exists
        await conversations.mark_read("c1", PartyKind.VISITOR, "v2", 1)
    with pytest.raises(Forbidden):
        await conversations.mark_read("c1", PartyKind.AGENT, "a2", 1)
    conversation = await conversations.get_conversation("c1")
    assert conversation is not None and (conversation.visitor_read_seq, conversation.agent_read_seq) == (0, 0)
