"""Co-browsing across real server processes sharing one Redis: the shopper on one process, the
agent on another, a third process holding someone else. The page's batches go to the agent's
process only (checked on Redis itself), and a late joiner on a fourth connection sees the page."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from chatserver.transport.bus import CobrowseDataEnvelope, decode

from .processes import ServerProcess
from .redis_server import RedisServer
from .support import wait_until
from .test_cluster import FAST, Remote, _admin, _agent_login, _disconnect_all, cluster_redis, http
from .transport.cobrowse_support import received_batches, send_batch, snapshot_events

__all__ = ["cluster_redis", "http"]  # fixtures, used by name


@pytest.fixture
def three_processes(tmp_path: Path, cluster_redis: RedisServer) -> Iterator[list[ServerProcess]]:
    data = tmp_path / "data"
    data.mkdir()
    started = [ServerProcess(data, cluster_redis.url, **FAST).start() for _ in range(3)]
    try:
        yield started
    finally:
        for p in started:
            p.stop()


async def test_a_session_streams_to_the_agents_process_only(three_processes: list[ServerProcess],
                                                            cluster_redis: RedisServer,
                                                            http: aiohttp.ClientSession) -> None:
    a, b, c = (Remote(p, http) for p in three_processes)
    admin = await _admin(a)
    alice = await _agent_login(b, admin, 1)
    bob = await _agent_login(c, admin, 2)
    published: list[tuple[str, Any]] = []
    bus = aioredis.from_url(cluster_redis.url)
    pubsub = bus.pubsub()
    await pubsub.psubscribe("cs:bus:*")

    async def listen() -> None:
        async for message in pubsub.listen():
            if message["type"] == "pmessage":
                published.append((message["channel"].decode(), decode(message["data"])))

    listening = asyncio.ensure_future(listen())
    try:
        console = await b.agent(alice["token"])
        await console.call("presence:set", {"status": "online"})
        other = await c.agent(bob["token"])
        await other.call("presence:set", {"status": "away"})  # Bob's process holds an agent, not this chat
        shopper = await a.visitor()
        cid = (await shopper.call("chat:start", {"name": "Ann", "question": "Help at checkout"}))["conversation"]["id"]
        await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned"
                               and d["conversation"]["id"] == cid)
        session_id = (await console.call("cobrowse:request", {"conversation_id": cid}))["session"]["id"]
        await shopper.wait_for("cobrowse:updated", lambda d: d["session"]["id"] == session_id)
        assert (await shopper.call("cobrowse:respond", {"session_id": session_id, "accept": True}))["ok"]
        assert (await console.call("cobrowse:join", {"session_id": session_id}))["ok"]
        await send_batch(shopper, session_id, 1, snapshot_events("checkout on A", size=120_000), snapshot=True)
        for n in range(2, 12):
            await send_batch(shopper, session_id, n, [{"type": 3, "data": {"n": n}, "timestamp": n}])
        await wait_until(lambda: len(received_batches(console, session_id)) >= 11, what="11 batches")
        assert [seq for seq, _ in received_batches(console, session_id)] == list(range(1, 12))
        assert "cobrowse:events" not in other.events

        # A second console connection of Alice's, on the third process, joins late.
        late = await c.agent(alice["token"])
        assert (await late.call("cobrowse:join", {"session_id": session_id}))["ok"]
        await wait_until(lambda: len(received_batches(late, session_id)) >= 11, what="the late joiner's replay")
        assert received_batches(late, session_id)[0][1][1]["data"]["node"]["text"] == "checkout on A"
        # And the live batches after it, on both connections.
        await send_batch(shopper, session_id, 12, [{"type": 3, "data": {"n": 12}, "timestamp": 12}])
        await wait_until(lambda: len(received_batches(late, session_id)) >= 12
                         and len(received_batches(console, session_id)) >= 12, what="batch 12 on both")
        assert [seq for seq, _ in received_batches(late, session_id)] == list(range(1, 13))

        await asyncio.sleep(0.2)
        data_channels = {channel for channel, envelope in published if isinstance(envelope, CobrowseDataEnvelope)
                         and envelope.to_sid is None}
        # Before the late joiner: the live batches went to one process's channel, never to all.
        assert len(data_channels) >= 1 and "cs:bus:all" not in data_channels
        first_batches = [channel for channel, envelope in published if isinstance(envelope, CobrowseDataEnvelope)
                         and envelope.to_sid is None and envelope.header.get("seq", 0) <= 11]
        assert len(set(first_batches)) == 1, set(first_batches)
        # One publish per part relayed to Alice's first connection (B), none anywhere else.
        assert len(first_batches) == 12
    finally:
        listening.cancel()
        await pubsub.aclose()
        await bus.aclose()
        await _disconnect_all(a, b, c)
