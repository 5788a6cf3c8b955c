"""A message is acknowledged and delivered only after its transaction committed, over real
Socket.IO connections: messages from several chats that share one group commit all fail when its
COMMIT fails (nothing delivered, nothing stored), one refused message does not sink the others,
and a resend after the failure is stored and delivered once."""

from __future__ import annotations

import asyncio
from typing import Any

from chatserver.storage.sqlite import SQLiteDatabase

from ..storage.sqlite.support import database_of, fails_at_commit
from ..support import Client, LiveServer, agent, prechat, visitor, wait_until


async def _pairs(server: LiveServer, n: int) -> list[tuple[Client, Client, str]]:
    pairs = []
    for _ in range(n):
        console = await agent(server, await server.add_agent(capacity=1))
        shopper = await visitor(server)
        cid = (await shopper.call("chat:start", prechat()))["conversation"]["id"]
        await console.wait_for("conversation:updated", lambda d, cid=cid: d["conversation"]["id"] == cid
                               and d["conversation"]["status"] == "assigned")
        await console.call("conversation:join", {"conversation_id": cid})
        pairs.append((console, shopper, cid))
    return pairs


async def _in_one_batch(database: SQLiteDatabase, sends: list[Any], extra: list[Any]) -> tuple[list[Any], list[Any]]:
    """Hold the writer until every send (a client's call) waits in the store, queue ``extra``
    jobs behind them, and let the one transaction run."""
    async with database.transaction():
        calls = [asyncio.ensure_future(send) for send in sends]
        await wait_until(lambda: database.pending_writes() == len(sends), what="every message queued for the writer")
        jobs = [asyncio.ensure_future(job) for job in extra]
        await asyncio.sleep(0)
        assert database.pending_writes() == len(sends) + len(extra)
    return list(await asyncio.gather(*calls)), list(await asyncio.gather(*jobs, return_exceptions=True))


def _new_texts(client: Client, cid: str) -> list[str]:
    return [m["body"] for m in client.messages(cid) if m["kind"] == "text" and m["body"].startswith("msg")]


async def test_when_the_commit_fails_no_message_of_the_batch_is_acknowledged_or_delivered(
    server: LiveServer,
) -> None:
    store = server.parts.stores.conversations
    pairs = await _pairs(server, 3)
    before = {cid: (await store.get_conversation(cid)).last_seq for _, _, cid in pairs}  # type: ignore[union-attr]
    sends = [shopper.call("message:send", {"conversation_id": cid, "client_msg_id": f"m{i}", "body": f"msg {i}"})
             for i, (_, shopper, cid) in enumerate(pairs)]
    sends.append(pairs[0][0].call("message:send", {"conversation_id": pairs[0][2], "client_msg_id": "a0",
                                                   "body": "msg from the agent"}))
    database = database_of(server.app)
    acks, _ = await _in_one_batch(database, sends, [database.batched(fails_at_commit)])
    assert [a["error"]["code"] for a in acks] == ["unavailable"] * 4, acks
    # Nothing reached the other side, and nothing is stored.
    await asyncio.sleep(0.2)
    for console, shopper, cid in pairs:
        assert _new_texts(console, cid) == [] and _new_texts(shopper, cid) == []
        conversation = await store.get_conversation(cid)
        assert conversation is not None and conversation.last_seq == before[cid]
    # The client resends with the same client_msg_id: stored and delivered once.
    console, shopper, cid = pairs[0]
    ack = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "m0", "body": "msg 0"})
    assert ack["ok"] and ack["seq"] == before[cid] + 1 and not ack["duplicate"]
    await console.wait_for_seq(cid, ack["seq"])
    assert _new_texts(console, cid) == ["msg 0"]


async def test_a_refused_message_does_not_affect_the_others_in_its_batch(server: LiveServer) -> None:
    store = server.parts.stores.conversations
    (console_a, shopper_a, cid_a), (console_b, shopper_b, cid_b) = await _pairs(server, 2)
    await shopper_b.call("conversation:close", {"conversation_id": cid_b})
    stranger = await visitor(server)  # a connection handles its events in order: one send each
    sends = [
        shopper_a.call("message:send", {"conversation_id": cid_a, "client_msg_id": "m1", "body": "msg one"}),
        shopper_b.call("message:send", {"conversation_id": cid_b, "client_msg_id": "m2", "body": "msg late"}),
        stranger.call("message:send", {"conversation_id": cid_a, "client_msg_id": "m3", "body": "msg intruder"}),
        console_b.call("message:send", {"conversation_id": cid_a, "client_msg_id": "m4", "body": "msg wrong agent"}),
        console_a.call("message:send", {"conversation_id": cid_a, "client_msg_id": "m5", "body": "msg two"}),
    ]
    acks, _ = await _in_one_batch(database_of(server.app), sends, [])
    assert [a.get("error", {}).get("code") for a in acks] == [None, "conversation_closed", "not_found", "forbidden",
                                                               None]
    assert acks[4]["seq"] == acks[0]["seq"] + 1
    await console_a.wait_for_seq(cid_a, acks[0]["seq"])
    await shopper_a.wait_for_seq(cid_a, acks[4]["seq"])
    assert _new_texts(console_a, cid_a) == ["msg one"] and _new_texts(shopper_a, cid_a) == ["msg two"]
    transcript = await store.transcript(cid_a)
    assert transcript is not None
    assert [m.body for m in transcript.messages if m.body.startswith("msg")] == ["msg one", "msg two"]
