"""A stop, in two steps: the drain (``Drain``: not ready, no new sessions, open connections
served), then every transport closed while storage is still open (``Shutdown``), so that clients
reconnect by themselves, to another process behind a load balancer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from .engineio_socket import LeanSocket
from .queue_updates import QueueUpdates
from .socketio_server import ChatSocketServer

log = logging.getLogger("chatserver.transport")

SHUTDOWN_STEP_TIMEOUT = 5.0


async def _bounded(step: Awaitable[Any]) -> None:
    """One step of shutting down, given at most ``SHUTDOWN_STEP_TIMEOUT`` seconds (a client that
    cannot be told goodbye is cut off when the server stops)."""
    try:
        await asyncio.wait_for(step, SHUTDOWN_STEP_TIMEOUT)
    except (TimeoutError, ConnectionError, OSError):
        log.warning("a connection did not close in time at shutdown")


class Drain:
    """A stop's first step: for ``period`` seconds ``/readyz`` says not ready and the Engine.IO
    endpoint refuses new sessions (503, which a load balancer passes on to another process),
    while the open connections keep working."""

    def __init__(self, period: float) -> None:
        self.period = period
        self._started = False

    @property
    def draining(self) -> bool:
        return self._started

    async def run(self) -> None:
        """Start draining and return once ``period`` has passed (at once if it had started)."""
        if self._started:
            return
        self._started = True
        if self.period > 0:
            log.info("draining: not ready, new sessions refused drain_period=%s", self.period)
            await asyncio.sleep(self.period)


class Shutdown:
    def __init__(self, sio: ChatSocketServer, queue_updates: QueueUpdates) -> None:
        self.sio = sio
        self.queue_updates = queue_updates
        self._closing = False

    @property
    def closing(self) -> bool:
        """Once set, a connection that closes starts nothing (no grace period, no hooks)."""
        return self._closing

    async def close_connections(self) -> None:
        """End every client's transport while storage is still open, without a Socket.IO
        DISCONNECT (after which stock clients do not reconnect): a WebSocket gets a close frame
        (1001, going away) once the messages it brought are handled, a waiting long-poll is
        answered 503. What follows a disconnect (grace periods) is not started, since a restart
        or another process restores it from storage."""
        if self._closing:
            return
        self._closing = True
        sockets = list(self.sio.eio.sockets.values())
        await _bounded(asyncio.gather(*(s.end_transport() for s in sockets if isinstance(s, LeanSocket))))
        # What did not end in time is cut. Without waiting for their queues: python-engineio's
        # close() waits until a socket's queue is drained, which never happens for a socket whose
        # WebSocket loop had not started yet or whose polling client left, and a stop would then
        # hang.
        for socket in sockets:
            if socket.closed:
                continue
            await _bounded(socket.close(wait=False, abort=True))
            # Cut the WebSocket too: a lean socket's (which aiohttp does not know of, see
            # direct_ws.py) now, with the message it may be handling; the stock socket's writer
            # is woken with the end-of-queue marker (else aiohttp waits for its handler until
            # the client leaves or a ping times out).
            on_direct_path = isinstance(socket, LeanSocket) and socket.abort_websocket()
            if not on_direct_path and isinstance(socket.queue, asyncio.Queue):
                socket.queue.put_nowait(None)
        self.sio.eio.sockets.clear()
        await self.sio.shutdown()
        await self.queue_updates.close()
