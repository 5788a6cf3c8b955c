"""Read marks over real Socket.IO connections: a mark that moves is stored and both parties hear
of it; one that does not move changes nothing and tells nobody."""

from __future__ import annotations

import asyncio

from ..support import LiveServer, agent, prechat, visitor


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
