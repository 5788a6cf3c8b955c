"""Which waiting conversations this process keeps its visitors told of (no server)."""

from __future__ import annotations

from chatserver.domain.models import Conversation, ConversationStatus, PreChat
from chatserver.transport.waiting import WaitingVisitors


def conversation(cid: str, visitor_id: str, status: ConversationStatus = ConversationStatus.QUEUED) -> Conversation:
    return Conversation(id=cid, visitor_id=visitor_id, status=status, prechat=PreChat(name="N", question="Q"),
                        created_at=1.0, queue_rank=1.0)


def test_a_conversation_is_watched_while_it_waits() -> None:
    waiting = WaitingVisitors()
    waiting.watch(conversation("c1", "v1"))
    assert waiting.watching == {"c1": "v1"}
    waiting.positions_sent["c1"] = (3, 60.0, 0.0)
    waiting.watch(conversation("c1", "v1", ConversationStatus.ASSIGNED))
    assert waiting.watching == {} and waiting.positions_sent == {}


def test_a_visitor_who_left_is_no_longer_told_of_any_of_their_chats() -> None:
    waiting = WaitingVisitors()
    for cid, visitor_id in (("c1", "v1"), ("c2", "v1"), ("c3", "v2")):
        waiting.watch(conversation(cid, visitor_id))
        waiting.positions_sent[cid] = (1, None, 0.0)
    waiting.unwatch_visitor("v1")
    assert waiting.watching == {"c3": "v2"}
    assert list(waiting.positions_sent) == ["c3"]
