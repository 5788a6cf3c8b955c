"""The Redis process bus: a process listens before it serves."""

from __future__ import annotations

import asyncio

from chatserver.storage import redis_backend
from chatserver.storage.redis_keys import Keys


async def _nothing() -> None:
    return None


async def test_a_message_published_as_soon_as_start_returns_is_received(redis_url: str) -> None:
    """start() returns once the channels are subscribed: a process that took clients before would
    lose what other processes publish to them meanwhile (Redis pub/sub keeps nothing)."""
    client = redis_backend.connect(redis_url)
    received: asyncio.Queue[bytes] = asyncio.Queue()
    listener = redis_backend.RedisBroker(client, redis_url, Keys(), "listener")
    sender = redis_backend.RedisBroker(client, redis_url, Keys(), "sender")
    try:
        await listener.start(received.put, _nothing)
        assert listener.connected.is_set()
        await sender.publish("listener", b"first")
        assert await asyncio.wait_for(received.get(), 5) == b"first"
    finally:
        await listener.stop()
        await client.aclose()


async def test_start_gives_up_waiting_when_redis_is_unreachable() -> None:
    """Unreachable at start: the process starts anyway, not ready, and keeps trying."""
    url = "redis://127.0.0.1:1/0"
    client = redis_backend.connect(url)
    broker = redis_backend.RedisBroker(client, url, Keys(), "alone")
    try:
        await asyncio.wait_for(broker.start(lambda _: _nothing(), _nothing, subscribed_within=0.3), 5)
        assert not broker.connected.is_set()
    finally:
        await broker.stop()
        await client.aclose()
