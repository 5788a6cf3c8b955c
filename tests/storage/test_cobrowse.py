"""Co-browse sessions and views on each database: one live session per conversation, guarded
updates, relayed bytes and who watched."""

from __future__ import annotations

import pytest

from chatserver.domain.cobrowse import (
    LIVE,
    CobrowseSession,
    CobrowseStatus,
    CobrowseView,
    ControlState,
    SessionUpdate,
)
from chatserver.errors import NotFound

from .backends import AllStores, add_conversation


def _session(sid: str, cid: str = "c1", at: float = 1.0) -> CobrowseSession:
    return CobrowseSession(id=sid, conversation_id=cid, visitor_id="v1", agent_id="a1", agent_name="Bo",
                           status=CobrowseStatus.REQUESTED, requested_at=at)


async def test_a_conversation_has_one_live_session_and_updates_are_guarded(stores: AllStores) -> None:
    cobrowse = stores.cobrowse
    await add_conversation(stores, "c1", "v1")
    assert await cobrowse.create_session(_session("s1")) == _session("s1")
    assert await cobrowse.create_session(_session("s2", at=2.0)) == _session("s1")  # the live one
    with pytest.raises(NotFound):
        await cobrowse.create_session(_session("s3", cid="missing"))
    started = await cobrowse.update_session(SessionUpdate(
        session_id="s1", expect=frozenset({CobrowseStatus.REQUESTED}), status=CobrowseStatus.ACTIVE, started_at=3.0,
        reason="x", add_pages=2))
    assert started is not None and (started.status, started.started_at, started.pages, started.visitor_id) == (
        CobrowseStatus.ACTIVE, 3.0, 2, "v1")
    assert await cobrowse.update_session(SessionUpdate(  # no longer requested: nothing changes
        session_id="s1", expect=frozenset({CobrowseStatus.REQUESTED}), status=CobrowseStatus.DECLINED)) is None
    assert await cobrowse.update_session(SessionUpdate(  # control not asked for
        session_id="s1", expect=LIVE, expect_control=frozenset({ControlState.REQUESTED}),
        control=ControlState.GRANTED)) is None
    cleared = await cobrowse.update_session(SessionUpdate(session_id="s1", expect=LIVE, clear_reason=True,
                                                          add_pages=1))
    assert cleared is not None and cleared.reason is None and cleared.pages == 3
    assert await cobrowse.live_session_for("c1") == cleared
    assert [s.id for s in await cobrowse.live_sessions()] == ["s1"]
    ended = await cobrowse.update_session(SessionUpdate(session_id="s1", expect=LIVE, status=CobrowseStatus.ENDED,
                                                        ended_at=9.0, reason="chat_ended"))
    assert ended is not None and ended.status == CobrowseStatus.ENDED
    assert await cobrowse.live_session_for("c1") is None and await cobrowse.live_sessions() == []
    assert await cobrowse.create_session(_session("s2", at=10.0)) == _session("s2", at=10.0)  # a new one may start
    assert [s.id for s in await cobrowse.sessions_for("c1")] == ["s1", "s2"]
    assert await cobrowse.get_session("s1") == ended and await cobrowse.get_session("nope") is None


async def test_relayed_bytes_add_up_and_views_open_and_close(stores: AllStores) -> None:
    cobrowse = stores.cobrowse
    await add_conversation(stores, "c1", "v1")
    await add_conversation(stores, "c2", "v1")
    await cobrowse.create_session(_session("s1"))
    await cobrowse.create_session(_session("s2", cid="c2"))
    await cobrowse.add_bytes({"s1": 100, "s2": 5})
    await cobrowse.add_bytes({"s1": 20, "gone": 7})
    await cobrowse.add_bytes({})
    assert [(s.id, s.bytes_relayed) for s in await cobrowse.live_sessions()] == [("s1", 120), ("s2", 5)]
    first = await cobrowse.start_view(CobrowseView(session_id="s1", agent_id="a1", agent_name="Bo", joined_at=2.0))
    await cobrowse.start_view(CobrowseView(session_id="s1", agent_id="a2", agent_name="Cy", joined_at=3.0))
    await cobrowse.start_view(CobrowseView(session_id="s2", agent_id="a2", agent_name="Cy", joined_at=3.0))
    await cobrowse.end_view(first, 4.0)
    await cobrowse.end_view(first, 8.0)  # already closed: kept as it was
    await cobrowse.end_views("s1", 5.0)
    assert [(v.agent_name, v.joined_at, v.left_at) for v in await cobrowse.views_for("c1")] == [
        ("Bo", 2.0, 4.0), ("Cy", 3.0, 5.0)]
    assert [v.left_at for v in await cobrowse.views_for("c2")] == [None]
