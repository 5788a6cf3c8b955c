"""Co-browse with several hosts sharing PostgreSQL: agents on two hosts starting a session in
one conversation at once get the one session."""

from __future__ import annotations

import asyncio

from chatserver.domain.cobrowse import CobrowseSession, CobrowseStatus

from ..backends import AllStores, add_conversation


async def test_sessions_started_on_two_hosts_at_once_are_one(hosts: tuple[AllStores, AllStores]) -> None:
    await add_conversation(hosts[0], "c1", "v1")
    asked = [CobrowseSession(id=f"s{n}", conversation_id="c1", visitor_id="v1", agent_id=f"a{n}", agent_name="Bo",
                             status=CobrowseStatus.REQUESTED, requested_at=1.0) for n in range(6)]
    results = await asyncio.gather(*(hosts[n % 2].cobrowse.create_session(asked[n]) for n in range(6)))
    assert len({session.id for session in results}) == 1
    assert [s.id for s in await hosts[1].cobrowse.sessions_for("c1")] == [results[0].id]
