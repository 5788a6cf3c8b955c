"""python-engineio's aiohttp WebSocket driver, without permessage-deflate.

The stock driver (``engineio.async_drivers.aiohttp.WebSocket``) creates ``WebSocketResponse``
with aiohttp's default ``compress=True``; socket.io-client offers permessage-deflate, so every
WebSocket then holds two zlib streams (about 100 KB a connection) and compresses each small
chat frame. Node's socket.io has it off by default. This driver is the stock one with
``compress=False``: the server declines the extension during the handshake, which every
WebSocket client accepts; the Engine.IO / Socket.IO protocol is unchanged.

``use_uncompressed_websockets`` installs it on a python-engineio server (python-engineio reads
its driver from the ``_async`` table it chose for ``async_mode="aiohttp"``; there is no option).

``LeanSocket`` (below) is the Engine.IO socket without a writer task and queue per connection;
``ChatSocketServer`` gives it to every new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiohttp import WSMsgType
from aiohttp.web import WebSocketResponse
from engineio import async_socket
from engineio import exceptions as engineio_exceptions
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as eio_aiohttp

# What is kept of a WebSocket's WSGI-style environ once it is open (python-engineio builds one
# from every request header, python-socketio keeps it for the connection's life, and nothing
# here reads it after the handshake): about 1.3 KB a connection less.
_ENVIRON_KEPT = frozenset({"REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "wsgi.url_scheme", "HTTP_HOST",
                           "HTTP_ORIGIN"})


class UncompressedWebSocket(eio_aiohttp.WebSocket):  # type: ignore[misc]
    async def __call__(self, environ: dict[str, Any]) -> WebSocketResponse:
        request = environ["aiohttp.request"]
        self._sock = WebSocketResponse(max_msg_size=self.server.max_http_buffer_size, compress=False)
        await self._sock.prepare(request)
        # Trimmed in place (the same dict is held by python-socketio and by python-engineio's
        # frames below this one), with clear(): deleting keys would keep the dict's table.
        kept = {k: v for k, v in environ.items() if k in _ENVIRON_KEPT}
        environ.clear()
        environ.update(kept)
        self.environ = environ
        await self.handler(self)
        return self._sock


def use_uncompressed_websockets(eio_server: Any) -> None:
    """Make ``eio_server`` (an aiohttp-mode ``engineio.AsyncServer``) accept WebSockets without
    permessage-deflate."""
    if eio_server.async_mode != "aiohttp":
        raise ValueError("only the aiohttp driver is replaced")
    eio_server._async = {**eio_server._async, "websocket": UncompressedWebSocket}


class _NoQueue:
    """Stands in for a LeanSocket's packet queue once packets go straight to the WebSocket:
    what python-engineio would still queue (a CLOSE after the connection ended) is dropped, as
    the stock socket's queue would have been left unread. One instance serves every socket."""

    async def put(self, item: Any) -> None:
        pass

    def put_nowait(self, item: Any) -> None:
        pass

    async def join(self) -> None:
        pass

    def empty(self) -> bool:
        return True


_NO_QUEUE = _NoQueue()


class LeanSocket(async_socket.AsyncSocket):  # type: ignore[misc]
    """An Engine.IO socket that writes straight to its WebSocket.

    python-engineio's socket (4.15) runs, for each WebSocket, a writer task fed by an
    ``asyncio.Queue``, a reader that wraps every receive in ``asyncio.wait_for`` (two more tasks
    on Python 3.11) and a task that sleeps until the next ping: four or five tasks and a queue
    per idle connection, and a task wake-up per packet sent. This one, once its WebSocket loop
    runs, sends each packet on the WebSocket directly (aiohttp writes a frame whole, so packets
    keep their order), receives without a timeout per message, and schedules pings with a timer
    (and, once one is sent, a deadline for its answer: a client that misses it is disconnected).
    The packets on the wire are the same. Long-polling, and a polling connection that upgrades,
    keep the stock path (``super()``).
    """

    _ws: Any = None  # the aiohttp WebSocketResponse while the direct path is on
    _reader: asyncio.Task[Any] | None = None  # the task running the direct path's receive loop
    _timed_out = False  # the client did not answer a ping in time
    # python-engineio's attributes (untyped there).
    server: Any
    queue: Any  # an asyncio.Queue, then _NO_QUEUE
    last_ping: float | None
    connected: bool
    upgraded: bool
    closing: bool
    closed: bool

    # Held while packets that must arrive back to back are written (a Socket.IO binary event's
    # header and attachment); made on first use, so sockets that never send binary have none.
    _sequence_lock: asyncio.Lock | None = None

    async def send(self, pkt: Any) -> None:
        lock = self._sequence_lock
        if lock is not None and lock.locked():
            async with lock:
                await self._send_now(pkt)
        else:
            await self._send_now(pkt)

    async def send_sequence(self, packets: list[Any]) -> None:
        """Send ``packets`` with nothing else written between them. (aiohttp writes an
        uncompressed frame before its first await, but may wait for the buffer to drain after
        it; a send from another task could otherwise slip in during that wait.)"""
        if self._ws is None:
            for pkt in packets:  # the stock path queues them in order, with nothing between
                await super().send(pkt)
            return
        if self._sequence_lock is None:
            self._sequence_lock = asyncio.Lock()
        async with self._sequence_lock:
            for pkt in packets:
                await self._send_now(pkt)

    async def _send_now(self, pkt: Any) -> None:
        ws = self._ws
        if ws is None:
            await super().send(pkt)
            return
        if not await self.check_ping_timeout():
            return
        with contextlib.suppress(ConnectionError, RuntimeError):  # closing: the reader loop ends it
            if pkt.binary:  # a Socket.IO binary attachment: one binary WebSocket frame
                await ws.send_bytes(pkt.encode())
            else:
                await ws.send_str(pkt.encode())

    async def send_message(self, text: str) -> None:
        """Send an Engine.IO MESSAGE packet holding ``text`` (an encoded Socket.IO packet): what
        ``send(Packet(MESSAGE, text))`` does, without the packet object on the direct path."""
        ws = self._ws
        lock = self._sequence_lock
        # Polling, a ping that is out (the stock checks apply), or a binary event being written
        # (its header and attachment go back to back): the packet goes the way send() takes.
        if ws is None or self.last_ping or (lock is not None and lock.locked()):
            await self.send(eio_packet.Packet(eio_packet.MESSAGE, data=text))
            return
        if self.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str("4" + text)

    async def _message(self, text: str) -> None:
        try:
            await self.server.handlers["message"](self.sid, text)
        except asyncio.CancelledError:
            raise
        except Exception:
            # As python-engineio's handler wrapper: a handler's error is logged, the socket lives on.
            self.server.logger.exception("message async handler error")

    def schedule_ping(self) -> None:
        # As the stock socket (a new wait only once the previous ping was answered), but a timer
        # instead of a task that sleeps for ping_interval.
        if self.last_ping:
            self.last_ping = None
            asyncio.get_running_loop().call_later(self.server.ping_interval, self._ping)

    def _ping(self) -> None:
        if not self.closing and not self.closed:
            self.last_ping = sent = time.time()
            self.server.start_background_task(self.send, eio_packet.Packet(eio_packet.PING))
            if self._reader is not None:
                asyncio.get_running_loop().call_later(self.server.ping_timeout, self._pong_due, sent)

    def _pong_due(self, sent: float) -> None:
        # No PONG for the ping sent at ``sent`` within ping_timeout: the client is gone. (The
        # stock reader waits ping_interval + ping_timeout on every receive instead: a timeout
        # object and a timer per message received, and per idle connection.)
        reader = self._reader
        if self.last_ping == sent and reader is not None and not self.closed:
            self._timed_out = True
            reader.cancel()

    async def _websocket_handler(self, ws: Any) -> None:
        if self.connected:  # an upgrade from long-polling
            await super()._websocket_handler(ws)
            return
        self.connected = True
        self.upgraded = True
        sock = ws._sock
        # What was sent before this loop ran (the OPEN packet) waits in the queue.
        while not self.queue.empty():
            queued = self.queue.get_nowait()
            self.queue.task_done()
            if queued is not None:
                await sock.send_str(queued.encode())
        self._ws = sock
        self.queue = _NO_QUEUE  # about 3 KB a connection
        self._reader = asyncio.current_task()
        try:
            while True:
                try:
                    message = await sock.receive()
                except (asyncio.CancelledError, ConnectionError, RuntimeError):
                    break
                if message.type == WSMsgType.TEXT or message.type == WSMsgType.BINARY:
                    data = message.data
                else:  # CLOSE, CLOSING, CLOSED, ERROR
                    break
                if type(data) is str and data[:1] == "4" and data[1:2].isdigit():
                    # An Engine.IO MESSAGE holding a Socket.IO packet (which starts with its
                    # type digit): what receive() would do with it, without the packet object
                    # and python-engineio's per-event handler wrapper.
                    await self._message(data[1:])
                    continue
                try:
                    await self.receive(eio_packet.Packet(encoded_packet=data))
                except engineio_exceptions.UnknownPacketError:
                    pass
                except engineio_exceptions.SocketIsClosedError:
                    break
                except Exception:
                    self.server.logger.exception("Unknown receive error")
        finally:
            self._ws = self._reader = None
            await sock.close()
            reason = self.server.reason
            await self.close(wait=False, abort=True,
                             reason=reason.PING_TIMEOUT if self._timed_out else reason.TRANSPORT_CLOSE)
