"""The server's periodic work: a loop that runs a job every so often until told to stop, and the
jobs that need more than one part (the routing state's heartbeat and repair)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from .backend import Backend
from .domain.chat_parts import ChatParts
from .domain.ports import Notifier
from .errors import ChatError
from .transport.recovery import Recovery

log = logging.getLogger("chatserver")


async def every(interval: float, work: Callable[[], Awaitable[None]], name: str, stop: asyncio.Event) -> None:
    """Run ``work`` every ``interval`` seconds until ``stop`` is set. (Stopping by cancellation
    alone is not enough: redis-py can turn a cancelled command into a connection error.)"""
    while not stop.is_set():
        try:
            await work()
        except ChatError as exc:
            log.warning("%s: %s", name, exc.message)
        except Exception:
            log.exception("%s failed", name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


def heartbeat(backend: Backend, chats: ChatParts, notifier: Notifier,
              recovery: Recovery) -> Callable[[], Awaitable[None]]:
    """Refresh this process's heartbeat; after Redis was unreachable or lost its data (restarted
    without persistence, however briefly), record this process's connections again and merge
    the queue and agents' loads back from the database. After a write to Redis failed following
    a commit, make the agents' loads exactly what the database says."""
    async def beat() -> None:
        try:
            lost = await backend.heartbeat()
        except ChatError:
            backend.healthy = False
            raise
        if lost:
            log.warning("routing store lost its data (restarted without persistence?)")
            backend.healthy = False
        if not backend.healthy or chats.repair.needed:
            log.warning("restoring routing state from the database presence=%s", not backend.healthy)
            if not backend.healthy:
                await recovery.reregister_connections()
            await chats.restorer.restore(repair=True)
            backend.healthy = True
            await notifier.queue_changed()
            await chats.dispatcher.dispatch()

    return beat
