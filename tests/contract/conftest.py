"""Each contract test runs against every backend: in memory, and a real redis-server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from chatserver.domain.ports import Presence, RoutingState
from chatserver.storage import redis_backend
from chatserver.storage.memory import MemoryPresence, MemoryRoutingState
from chatserver.storage.redis_keys import Keys

BACKENDS = ["memory", "redis"]


@pytest.fixture(params=BACKENDS)
async def routing(request: pytest.FixtureRequest) -> AsyncIterator[RoutingState]:
    if request.param == "memory":
        yield MemoryRoutingState()
        return
    client = redis_backend.connect(request.getfixturevalue("redis_url"))
    try:
        yield redis_backend.RedisRoutingState(client, Keys())
    finally:
        await client.aclose()


@pytest.fixture(params=BACKENDS)
async def presence(request: pytest.FixtureRequest) -> AsyncIterator[Presence]:
    if request.param == "memory":
        yield MemoryPresence()
        return
    client = redis_backend.connect(request.getfixturevalue("redis_url"))
    try:
        yield redis_backend.RedisPresence(client, Keys(), uuid.uuid4().hex, ttl=5.0)
    finally:
        await client.aclose()
