"""The shared state behind the domain: in memory (one process) or in Redis (several)."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from .config import Settings
from .domain.ports import Presence, RoutingState
from .metrics import Metrics
from .storage.memory import MemoryPresence, MemoryRoutingState
from .transport.bus import Bus, LocalBus


class Backend:
    """The routing state, presence and process bus, in memory or in Redis (settings redis_url)."""

    def __init__(self, settings: Settings, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.redis: Any = None
        self.presence: Presence
        self.routing: RoutingState
        self.bus: Bus
        if settings.redis_url is None:
            self.routing, self.presence, self.bus = MemoryRoutingState(), MemoryPresence(), LocalBus()
            return
        from .storage import redis_backend as rb
        from .storage.redis_keys import Keys

        process_id = uuid.uuid4().hex[:12]
        keys = Keys(settings.redis_prefix)
        observer = metrics if metrics is not None else rb.UNOBSERVED
        self.redis = rb.connect(settings.redis_url)
        self.routing = rb.RedisRoutingState(self.redis, keys, observer)
        self.redis_presence = rb.RedisPresence(self.redis, keys, process_id, settings.presence_ttl, observer)
        self.presence = self.redis_presence
        self.redis_bus = rb.RedisBroker(self.redis, settings.redis_url, keys, process_id, observer)
        self.bus = self.redis_bus

    # False from a failed heartbeat until connections and the queue are restored into Redis.
    healthy = True

    async def ping(self) -> None:
        await self.routing.ping()
        if not self.healthy:
            raise ConnectionError("restoring routing state after an outage")
        if self.redis is not None and not self.redis_bus.connected.is_set():
            raise ConnectionError("the process bus is reconnecting")

    @property
    def name(self) -> str:
        return "memory" if self.redis is None else "redis"

    async def heartbeat(self) -> bool:
        """Refresh this process's heartbeat; ``True`` when Redis lost its data meanwhile."""
        if self.redis is not None:
            return await self.redis_presence.heartbeat()
        return False

    async def close(self) -> None:
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis_presence.unregister()
            await self.redis.aclose()
