"""Read marks over real Socket.IO connections: a mark that moves is stored and both parties hear
of it; one that does not move changes nothing and tells nobody; marks of one reader sent
together (several tabs) are stored as one."""

from __future__ import annotations

import asyncio

import pytest

from chatserver.domain.models import PartyKind

from ..storage.support import server_database, writer_held
from ..support import LiveServer, agent, prechat, visitor, wait_until

pytestmark = pytest.mark.both_backends  # routing, presence or delivery: tests/conftest.py


async def test_only_a_read_mark_that_moves_is_announced(server: LiveServer) -> None:
    console = await agent(server, await server.add_agent())
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat()))["conversation"]["id"]
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    await console.call("conversation:join", {"conversation_id": cid})
    assert (await console.call("message:read", {"conversation_id": cid, "seq": 2})) == {"ok": True, "seq": 2}
    await shopper.wait_for("message:read", lambda d: d == {"conversation_id": cid, "party": "agent", "seq": 2})
    # Again, lower, and the same: the answer is the mark as it is; nobody is told anything.
    assert (await console.call("message:read", {"conversation_id": cid, "seq": 2}))["seq"] == 2
    assert (await console.call("message:read", {"conversation_id": cid, "seq": 1}))["seq"] == 2
    # Past the last message: clamped to it (3: started, the question, the agent joined).
    assert (await console.call("message:read", {"conversation_id": cid, "seq": 99}))["seq"] == 3
    await shopper.wait_for("message:read", lambda d: d["seq"] == 3)
    await asyncio.sleep(0.2)
    assert [d["seq"] for d in shopper.events["message:read"]] == [2, 3]
    assert [d["seq"] for d in console.events["message:read"]] == [2, 3]  # the reader's own tabs hear it too


async def test_marks_of_one_reader_in_flight_together_are_stored_and_announced_once(server: LiveServer) -> None:
    login = await server.add_agent()
    tabs = [await agent(server, login) for _ in range(4)]
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat()))["conversation"]["id"]
    await tabs[0].wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    for i in range(3):
        await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": f"m{i}", "body": f"m{i}"})
    database = server_database(server)
    key = (cid, PartyKind.AGENT, login["agent"]["id"])
    async with writer_held(database):  # the first mark waits for the writer; the others for it
        first = asyncio.ensure_future(tabs[0].call("message:read", {"conversation_id": cid, "seq": 2}))
        await wait_until(lambda: database.pending_writes() == 1, what="the first mark queued")
        rest = [asyncio.ensure_future(tab.call("message:read", {"conversation_id": cid, "seq": seq}))
                for tab, seq in zip(tabs[1:], (4, 6, 5), strict=True)]
        await wait_until(lambda: server.chats.read_marks.waiting_mark(key) == 6, what="the other marks waiting")
        assert database.pending_writes() == 1  # one job for four marks so far
    assert (await first)["seq"] == 2
    assert [(await r)["seq"] for r in rest] == [6, 6, 6]
    await shopper.wait_for("message:read", lambda d: d["seq"] == 6)
    await asyncio.sleep(0.2)
    assert [d["seq"] for d in shopper.events["message:read"]] == [2, 6]
    conversation = await server.parts.stores.conversations.get_conversation(cid)
    assert conversation is not None and conversation.agent_read_seq == 6
