"""Telling this process's clients that the queue moved: each waiting visitor their place and
estimated wait (``queue:position``), agents the head of the queue (``queue:updated``). Every
process does it for its own clients when a ``QueueEnvelope`` reaches it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from .. import constants as C
from ..domain.ports import RoutingState
from ..domain.queue import estimate_wait
from .bus import QueueEnvelope
from .notifier import SocketNotifier
from .queue_views import AGENT_QUEUE_LIMIT, QueueViews
from .registry import ConnectionRegistry
from .socketio_server import ChatSocketServer
from .waiting import WaitingVisitors

log = logging.getLogger("chatserver.notifier")

# Position updates: the first HEAD_PLACES waiting visitors hear every change (coalesced to one
# per queue_update_interval); visitors further back hear at most every FAR_UPDATE_INTERVAL
# seconds, so a long queue costs a few hundred updates a second, not one per visitor per change.
# Updates go out in chunks of YIELD_EVERY, CHUNK_PAUSE seconds apart.
HEAD_PLACES = 50
FAR_UPDATE_INTERVAL = 2.0
YIELD_EVERY = 25
CHUNK_PAUSE = 0.002
SecondsPerPlace = Callable[[], Awaitable[float | None]]


class QueueUpdates:
    def __init__(self, sio: ChatSocketServer, notifier: SocketNotifier, routing: RoutingState,
                 waiting: WaitingVisitors, connections: ConnectionRegistry, queue: QueueViews,
                 seconds_per_place: SecondsPerPlace, queue_update_interval: float) -> None:
        self.sio = sio
        self.routing = routing
        self.waiting = waiting
        self.connections = connections
        self.queue = queue
        self.seconds_per_place = seconds_per_place
        self.queue_update_interval = queue_update_interval
        self._queue_dirty = False
        self._agents_stale = False  # the agents' queue view must be resent
        self._queue_task: asyncio.Task[None] | None = None
        notifier.add_envelope_handler(QueueEnvelope, self._queue_changed_here)

    async def close(self) -> None:
        if self._queue_task is not None:
            self._queue_task.cancel()
            await asyncio.gather(self._queue_task, return_exceptions=True)

    async def _queue_changed_here(self, envelope: QueueEnvelope) -> None:
        """Coalesce: the first update goes out at once, then at most one per interval."""
        self._queue_dirty = True
        self._agents_stale = True
        if self._queue_task is None or self._queue_task.done():
            self._queue_task = asyncio.get_running_loop().create_task(self._flush_queue_updates())

    async def _flush_queue_updates(self) -> None:
        while self._queue_dirty:
            self._queue_dirty = False
            started = time.monotonic()
            try:
                await self._send_queue_updates()
            except Exception:
                log.exception("queue update failed")
            await asyncio.sleep(max(0.0, self.queue_update_interval - (time.monotonic() - started)))

    async def _send_queue_updates(self) -> None:
        sent = 0
        now = time.monotonic()
        watching, positions_sent = self.waiting.watching, self.waiting.positions_sent
        if watching:
            conversation_ids = list(watching)
            positions = await self.routing.positions(conversation_ids)
            per_place = await self.seconds_per_place()
            for conversation_id, position in zip(conversation_ids, positions, strict=True):
                visitor_id = watching.get(conversation_id)
                if position is None or visitor_id is None:
                    continue
                estimate = estimate_wait(position, per_place)
                last = positions_sent.get(conversation_id)
                if last is not None and last[:2] == (position, estimate):
                    continue
                if last is not None and position > HEAD_PLACES and now - last[2] < FAR_UPDATE_INTERVAL:
                    self._queue_dirty = True  # due later: a following flush sends it
                    continue
                positions_sent[conversation_id] = (position, estimate, now)
                sent += 1
                if sent % YIELD_EVERY == 0:
                    # Pause between chunks, not just yield: the chunk's socket writers then run
                    # before the next chunk queues more, so routing and chat traffic wait for
                    # one chunk at most, never for a whole flush.
                    await asyncio.sleep(CHUNK_PAUSE)
                await self.sio.lean_emit(
                    C.EV_QUEUE_POSITION,
                    {"conversation_id": conversation_id, "position": position, "estimated_wait_s": estimate},
                    room=C.visitor_room(visitor_id), namespace=C.VISITOR_NAMESPACE,
                )
        if self._agents_stale and self.connections.has_local_agents():
            self._agents_stale = False
            await self.sio.lean_emit(C.EV_QUEUE_UPDATED, await self.queue.snapshot(AGENT_QUEUE_LIMIT),
                                     room=C.ROOM_AGENTS, namespace=C.AGENT_NAMESPACE)
