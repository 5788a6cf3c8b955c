"""Redis presence across processes: a process that stops heartbeating has its connections swept
by exactly one survivor, and its agents go offline."""

from __future__ import annotations

import asyncio

from chatserver.domain.models import AgentStatus
from chatserver.storage import redis_backend
from chatserver.storage.redis_keys import Keys


async def test_a_dead_process_is_swept_once_and_its_agents_go_offline(redis_url: str) -> None:
    client = redis_backend.connect(redis_url)
    try:
        dead = redis_backend.RedisPresence(client, Keys(), "dead", ttl=0.2)
        survivors = [redis_backend.RedisPresence(client, Keys(), f"alive{i}", ttl=30) for i in range(2)]
        await dead.heartbeat()
        for s in survivors:
            await s.heartbeat()
        await dead.agent_connected("agent-1", "sid-1")
        await dead.visitor_connected("visitor-1", "sid-2")
        await survivors[0].agent_connected("agent-2", "sid-3")
        assert await survivors[0].processes_of([("agent", "agent-1")]) == {"dead"}
        assert sorted(await survivors[1].available_agents()) == ["agent-1", "agent-2"]
        # The process alive: nothing to sweep.
        assert await survivors[0].expire_dead_connections() == []

        await asyncio.sleep(0.35)  # "dead" stops refreshing its heartbeat
        results = await asyncio.gather(*(s.expire_dead_connections() for s in survivors))
        swept = [r for r in results if r]
        assert len(swept) == 1, "exactly one survivor sweeps a dead process"
        assert sorted(swept[0]) == [("agent", "agent-1", 0), ("process", "dead", 0), ("visitor", "visitor-1", 0)]
        assert await survivors[1].status("agent-1") == AgentStatus.OFFLINE
        assert await survivors[1].available_agents() == ["agent-2"]
        assert await survivors[1].processes_of([("visitor", "visitor-1")]) == set()
    finally:
        await client.aclose()


async def test_a_burst_of_more_commands_than_connections_waits_instead_of_failing(redis_url: str) -> None:
    # 300 visitors at once (a storm of chat starts): more commands in flight than the pool's
    # 100 connections; each waits for a connection, none fails.
    client = redis_backend.connect(redis_url)
    try:
        presence = redis_backend.RedisPresence(client, Keys("burst:"), "p1", ttl=30)
        await presence.heartbeat()
        counts = await asyncio.gather(*(presence.visitor_connected(f"v{i}", f"sid{i}") for i in range(300)))
        assert counts == [1] * 300
        assert await presence.processes_of([("visitor", "v299")]) == {"p1"}
    finally:
        await client.aclose()
