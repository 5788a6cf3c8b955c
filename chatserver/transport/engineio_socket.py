"""python-engineio's aiohttp WebSocket driver, replaced: every WebSocket on a DirectWebSocket.

The stock driver (``engineio.async_drivers.aiohttp.WebSocket``) runs each WebSocket on aiohttp's
``WebSocketResponse`` with aiohttp's default ``compress=True``; socket.io-client offers
permessage-deflate, so every WebSocket then holds two zlib streams (about 100 KB a connection) and
compresses each small chat frame (Node's socket.io has it off by default). This driver opens every
WebSocket, a new one and one that upgrades a long-polling connection alike, on a
``direct_ws.DirectWebSocket``: no extension (the server declines permessage-deflate, which every
WebSocket client accepts), and one implementation of the frame rules, close codes and limits for
both. The Engine.IO / Socket.IO protocol is unchanged.

``use_uncompressed_websockets`` installs it on a python-engineio server (python-engineio reads
its driver from the ``_async`` table it chose for ``async_mode="aiohttp"``; there is no option),
with the bound on what a client may leave unread (``max_unsent_bytes``, read by the driver from
the server object as python-engineio's own ``max_http_buffer_size`` is).

``LeanSocket`` (below) is the Engine.IO socket without a writer task and queue per connection,
which also runs the upgrade exchange; ``ChatSocketServer`` gives it to every new connection.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web
from engineio import async_socket
from engineio import packet as eio_packet

from . import direct_ws
from .ws_protocol import CloseCode, Message, Opcode

log = logging.getLogger("chatserver.transport")

# A WebSocket upgrading a long-polling connection that has not finished the exchange (``2probe``,
# ``3probe``, ``5``) within this many seconds is closed, and polling goes on (the reference
# engine.io server's upgradeTimeout).
UPGRADE_TIMEOUT = 10.0

# What is kept of a WebSocket's WSGI-style environ once it is open (python-engineio builds one
# from every request header, python-socketio keeps it for the connection's life, and nothing
# here reads it after the handshake): about 1.3 KB a connection less.
_ENVIRON_KEPT = frozenset({"REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "wsgi.url_scheme", "HTTP_HOST",
                           "HTTP_ORIGIN"})


def _trim(environ: dict[str, Any]) -> None:
    # In place (the same dict is held by python-socketio and by python-engineio), with clear():
    # deleting keys would keep the dict's table.
    kept = {k: v for k, v in environ.items() if k in _ENVIRON_KEPT}
    environ.clear()
    environ.update(kept)


class UncompressedWebSocket:
    """The driver python-engineio calls for a WebSocket request: ``handler`` is the bound
    ``_websocket_handler`` of the Engine.IO socket it is for (a ``LeanSocket``), which this driver
    never calls: the socket is served over a ``DirectWebSocket`` instead."""

    def __init__(self, handler: Any, server: Any) -> None:
        self.handler = handler
        self.server = server

    async def __call__(self, environ: dict[str, Any]) -> web.StreamResponse:
        request = environ["aiohttp.request"]
        socket = self.handler.__self__
        assert isinstance(socket, LeanSocket)  # ChatSocketServer makes every Engine.IO socket one
        if socket.connected:
            self._upgrade(request, socket)
        else:
            await self._open(request, socket, environ)
        # Never sent: once the WebSocket is open, aiohttp no longer holds the connection, and this
        # request, with all aiohttp held for it, ends here.
        return web.Response()

    async def _open(self, request: web.BaseRequest, socket: LeanSocket, environ: dict[str, Any]) -> None:
        """A new WebSocket connection (``transport=websocket``)."""
        try:
            key = direct_ws.handshake_key(request)
        except web.HTTPException:
            await socket.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_ERROR)
            self.server.sockets.pop(socket.sid, None)
            raise
        _trim(environ)
        ws = self._accept(request, key, socket.received, socket.websocket_ended)
        if ws is None:  # the client left during the handshake
            await socket.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
        else:
            socket.attach(ws)

    def _upgrade(self, request: web.BaseRequest, socket: LeanSocket) -> None:
        """A WebSocket for a long-polling connection: polling goes on until the client finishes
        the upgrade exchange on it (``LeanSocket.upgrade``); a refused handshake leaves polling
        as it was."""
        key = direct_ws.handshake_key(request)
        if socket.upgrade_pending:
            raise web.HTTPBadRequest(text="This connection is already being upgraded")
        ws = self._accept(request, key, socket.upgrade_received, socket.upgrade_ended)
        if ws is not None:
            socket.upgrade(ws)

    def _accept(self, request: web.BaseRequest, key: str, on_message: Callable[[Message], Awaitable[None]],
                on_close: Callable[[], Awaitable[None]]) -> direct_ws.DirectWebSocket | None:
        return direct_ws.accept(request, key, max_size=self.server.max_http_buffer_size,
                                max_unsent=self.server.max_unsent_bytes, on_message=on_message, on_close=on_close)


def use_uncompressed_websockets(eio_server: Any, *, max_unsent_bytes: int) -> None:
    """Make ``eio_server`` (an aiohttp-mode ``engineio.AsyncServer``) accept WebSockets without
    permessage-deflate, cut once a client leaves more than ``max_unsent_bytes`` unread."""
    if eio_server.async_mode != "aiohttp":
        raise ValueError("only the aiohttp driver is replaced")
    eio_server._async = {**eio_server._async, "websocket": UncompressedWebSocket}
    eio_server.max_unsent_bytes = max_unsent_bytes


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
    runs, writes each packet on the WebSocket at once (a whole frame, never waiting for the client
    to read it, so packets keep their order and a sender is never held up by a slow reader:
    direct_ws.py bounds what a client leaves unread), receives without a timeout per message, and
    schedules pings with a timer (and, once one is sent, a deadline for its answer: a client that
    misses it is disconnected). The packets on the wire are the same. Long-polling keeps the
    stock queue and polls (``super()``), with the same ping deadline, a bound on what waits for
    the client's polls (``max_unsent_bytes``) and a CLOSE packet for a poll that waits when the
    socket closes, until the client upgrades it (``upgrade``).
    """

    _ws: direct_ws.DirectWebSocket | None = None  # the WebSocket, while the direct path is on
    _timed_out = False  # the client did not answer a ping in time
    # Long-polling: the size of the packets queued for the client's polls, and whether the
    # connection was cut for leaving more than max_unsent_bytes of them unfetched.
    _queued = 0
    _cut = False
    # A WebSocket upgrading this long-polling connection, until the exchange ends either way.
    _probe: direct_ws.DirectWebSocket | None = None
    # The environ of the request that opened the connection, which python-socketio keeps for the
    # connection's life: trimmed once a WebSocket carries it (ChatSocketServer sets it).
    connect_environ: dict[str, Any] | None = None
    _probe_timer: asyncio.TimerHandle | None = None
    # The server is stopping and ended this connection's transport (end_transport), which waits
    # for the socket to close.
    stopped = False
    _closed_waiter: asyncio.Future[None] | None = None
    # python-engineio's attributes (untyped there).
    server: Any
    queue: Any  # an asyncio.Queue, then _NO_QUEUE
    last_ping: float | None
    connected: bool
    upgrading: bool  # the probe is answered: polls get a NOOP at once
    upgraded: bool
    closing: bool
    closed: bool

    async def send(self, pkt: Any) -> None:
        ws = self._ws
        if ws is None:
            await self._queue_for_polling(pkt)
            return
        if not await self.check_ping_timeout():
            return
        _write(ws, pkt)

    async def _queue_for_polling(self, pkt: Any) -> None:
        if self._cut:
            return
        await super().send(pkt)
        if self.queue is _NO_QUEUE:  # the socket's WebSocket has ended: nothing was queued
            return
        self._queued += _size(pkt)
        if self._queued > self.server.max_unsent_bytes and not self.closed:
            # A client that does not poll: cut as a WebSocket that is not read. What waits is
            # dropped, a poll is answered with CLOSE, and the socket closes from a task of its
            # own (its disconnect handlers are no business of the sender's).
            log.warning("Long-polling connection cut: the client left %d bytes unfetched (max_unsent_bytes %d)",
                        self._queued, self.server.max_unsent_bytes)
            self._cut = True
            while not self.queue.empty():
                self.queue.get_nowait()
                self.queue.task_done()
            self._queued = 0
            self.queue.put_nowait(eio_packet.Packet(eio_packet.CLOSE))
            _close_soon(self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_ERROR))

    async def poll(self) -> list[Any]:
        packets: list[Any] = await super().poll()
        self._queued -= sum(map(_size, packets))
        return packets

    def write_message(self, text: str) -> bool:
        """Write an Engine.IO MESSAGE packet holding ``text`` (an encoded Socket.IO packet) on the
        socket's WebSocket now, without suspending; ``False``, with nothing done, when it must go
        the way ``send_message`` takes (long-polling, or a ping that is out: the stock checks
        apply). A closed socket takes it and drops it."""
        ws = self._ws
        if ws is None or self.last_ping:
            return False
        if not self.closed:
            # (Not contextlib.suppress: a context manager object and two calls per frame.)
            try:  # noqa: SIM105
                ws.write(Opcode.TEXT, ("4" + text).encode("utf-8"))
            except ConnectionError:  # closing: websocket_ended follows
                pass
        return True

    async def send_message(self, text: str) -> None:
        """Send an Engine.IO MESSAGE packet holding ``text``: what ``send(Packet(MESSAGE, text))``
        does, without the packet object on the direct path (``write_message``)."""
        if not self.write_message(text):
            await self.send(eio_packet.Packet(eio_packet.MESSAGE, data=text))

    async def send_binary_message(self, text: str, attachments: list[bytes]) -> None:
        """Send a Socket.IO binary packet: ``text`` (its encoded header) and each attachment as an
        Engine.IO MESSAGE packet. On the direct path all its frames go in one write (a co-browse
        batch relayed costs one system call, not two); else each packet the way ``send`` takes."""
        ws = self._ws
        if ws is None or self.last_ping:
            await self.send(eio_packet.Packet(eio_packet.MESSAGE, data=text))
            for attachment in attachments:
                await self.send(eio_packet.Packet(eio_packet.MESSAGE, data=attachment))
            return
        if self.closed:
            return
        frames = [(Opcode.TEXT, ("4" + text).encode("utf-8"))]
        frames += [(Opcode.BINARY, attachment) for attachment in attachments]
        with contextlib.suppress(ConnectionError):  # closing: websocket_ended follows
            ws.write_frames(frames)

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
            asyncio.get_running_loop().call_later(self.server.ping_timeout, self._pong_due, sent)

    def _pong_due(self, sent: float) -> None:
        # No PONG for the ping sent at ``sent`` within ping_timeout: the client is gone. (The
        # stock reader waits ping_interval + ping_timeout on every receive instead: a timeout
        # object and a timer per message received, and per idle connection; for long-polling it
        # relies on a task that visits every socket once per ping_timeout.)
        if self.last_ping != sent or self.closing or self.closed:
            return
        self._timed_out = True
        ws = self._ws
        if ws is not None:
            ws.abort()  # websocket_ended closes the socket
        else:  # long-polling: closed now, and a poll that waits is answered with CLOSE
            _close_soon(self.close(wait=False, reason=self.server.reason.PING_TIMEOUT))

    def attach(self, ws: direct_ws.DirectWebSocket) -> None:
        """Go on over ``ws``, a WebSocket just opened for this socket (or that upgraded it)."""
        self.connected = True
        self.upgraded = True
        # What was sent and not yet polled (the OPEN packet of a new WebSocket; what an upgrading
        # connection was sent since its last poll) goes first, in order; NOOPs were for polls.
        while not self.queue.empty():
            queued = self.queue.get_nowait()
            self.queue.task_done()
            if queued is not None and queued.packet_type != eio_packet.NOOP:
                _write(ws, queued)
        self._ws = ws
        self.queue = _NO_QUEUE  # about 3 KB a connection
        if self.connect_environ is not None:
            # Upgraded from long-polling: the first poll's environ still held its aiohttp request
            # (and, through it, that HTTP connection's handler and parser).
            _trim(self.connect_environ)
            self.connect_environ = None

    # -- the upgrade from long-polling (Engine.IO v4: "2probe" -> "3probe", then "5") ------------

    @property
    def upgrade_pending(self) -> bool:
        return self._probe is not None

    def upgrade(self, ws: direct_ws.DirectWebSocket) -> None:
        """Upgrade this long-polling connection over ``ws``, a WebSocket just opened for it, once
        the client finishes the exchange on it (within ``UPGRADE_TIMEOUT``)."""
        self._probe = ws
        self._probe_timer = asyncio.get_running_loop().call_later(UPGRADE_TIMEOUT, self._upgrade_failed,
                                                                  CloseCode.NORMAL)

    async def upgrade_received(self, data: Message) -> None:
        """A message on the upgrading WebSocket."""
        ws = self._probe
        if ws is None:
            return
        if data == "2probe":
            ws.write(Opcode.TEXT, b"3probe")
            self.upgrading = True  # from now on a poll is answered at once, with a NOOP
            self.queue.put_nowait(eio_packet.Packet(eio_packet.NOOP))  # so is a poll waiting now
        elif data == "5" and self.upgrading:
            self._end_upgrade()
            ws.hand_to(self.received, self.websocket_ended)
            self.attach(ws)
        else:  # anything else: the upgrade failed (as the reference server, and python-engineio, say)
            self._upgrade_failed(CloseCode.PROTOCOL_ERROR)

    async def upgrade_ended(self) -> None:
        """The upgrading WebSocket closed before the exchange was over: polling goes on."""
        self._end_upgrade()

    def _upgrade_failed(self, code: int) -> None:
        ws = self._probe
        if ws is not None:
            self._end_upgrade()
            ws.hand_to(_ignore_message, _ignore_end)  # what it still brings concerns nobody
            ws.close(code)

    def _end_upgrade(self) -> None:
        self._probe = None
        self.upgrading = False
        if self._probe_timer is not None:
            self._probe_timer.cancel()
            self._probe_timer = None

    async def end_transport(self) -> None:
        """The server is stopping: end this connection as a dropped transport, so that stock
        clients reconnect by themselves (after an Engine.IO CLOSE packet python-socketio's client
        does not, nor socket.io-client after a Socket.IO DISCONNECT). A WebSocket is closed with
        1001 (going away), after the messages it brought are handled; a long-polling connection
        is closed without its CLOSE packet, and the poll that waits is answered ``503`` by the
        endpoint (``stopped``)."""
        if self.closing or self.closed:
            return
        self.stopped = True
        self._upgrade_failed(CloseCode.GOING_AWAY)
        ws = self._ws
        if ws is None:
            await self.close(wait=False, abort=True, reason=self.server.reason.SERVER_DISCONNECT)
            return
        # Returns once websocket_ended closed the socket: the client answered (or CLOSE_TIMEOUT
        # passed) and the messages received before were handled.
        self._closed_waiter = asyncio.get_running_loop().create_future()
        ws.close(CloseCode.GOING_AWAY)
        await self._closed_waiter

    def abort_websocket(self) -> bool:
        """Cut this socket's WebSocket now, cancelling a message being handled (the server is
        stopping); ``False`` if it has none on the direct path."""
        probe = self._probe
        if probe is not None:
            self._end_upgrade()
            probe.abort()
        ws = self._ws
        if ws is None:
            return False
        ws.abort(cancel=True)
        return True

    async def received(self, data: Message) -> None:
        """One WebSocket message from the client (called in order, one at a time): an Engine.IO
        packet, read as the reference engine.io server reads it (what python-engineio's
        ``receive`` does, without its packet object and per-event handler wrapper)."""
        # A binary message is a Socket.IO binary attachment; a text one starts with the packet type.
        if isinstance(data, str):
            kind = data[:1]
            if kind == "4":  # MESSAGE
                data = data[1:]
            elif kind == "b":  # a binary message in base64 (what a client with forceBase64 sends)
                try:
                    data = base64.b64decode(data[1:])
                except binascii.Error:
                    await self._refuse("a base64 message that is not base64")
                    return
            else:
                await self._control_packet(kind)
                return
        # A message's data, to the server's handler, in this task (no wrapper nor task per message).
        try:
            await self.server.handlers["message"](self.sid, data)
        except asyncio.CancelledError:
            raise
        except Exception:
            # As python-engineio's handler wrapper: a handler's error is logged, the socket lives on.
            self.server.logger.exception("message async handler error")

    async def _control_packet(self, kind: str) -> None:
        """A text message that carries no data: a packet of type ``kind`` (its first character)."""
        if kind == "3":  # PONG
            self.schedule_ping()
        elif kind == "1":  # CLOSE
            await self.close(wait=False, abort=True, reason=self.server.reason.CLIENT_DISCONNECT)
        elif kind == "2":
            await self._refuse("a ping from the client (in Engine.IO v4 only the server pings)")
        elif not kind or kind not in "056":  # OPEN, UPGRADE and NOOP are ignored, as the reference server does
            await self._refuse("a message that is not an Engine.IO packet")

    async def _refuse(self, what: str) -> None:
        """Close the connection, as the reference server does on a packet it cannot parse (and
        python-engineio logged a traceback for): with 1002, logging what it was but none of it."""
        log.info("Engine.IO socket %s closed with 1002: %s", self.sid, what)
        ws = self._ws
        if ws is not None:
            ws.close(CloseCode.PROTOCOL_ERROR)
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_ERROR)

    async def websocket_ended(self) -> None:
        """The WebSocket is closed (by either side, or cut); after its last message was handled."""
        self._ws = None
        reason = self.server.reason
        await self.close(wait=False, abort=True,
                         reason=reason.PING_TIMEOUT if self._timed_out else reason.TRANSPORT_CLOSE)

    async def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        if self.closing or self.closed:
            return
        ws = self._ws
        if ws is None and self.queue is not _NO_QUEUE:
            # Long-polling. The CLOSE packet is queued here (python-engineio's send drops it when a
            # ping is overdue), also for an abort, so that a poll waiting now is answered with it
            # at once, as the reference server answers it (the stock socket left it waiting until
            # ping_interval + ping_timeout). Nothing waits for a later poll to fetch it: a closed
            # socket's polls are refused, so such a wait would never end.
            await super().close(wait=False, abort=True, reason=reason)
            if self.stopped:  # a waiting poll ends with nothing, and is answered 503
                self.queue.put_nowait(None)
            elif not self._cut:  # (a cut connection's CLOSE is queued already)
                self.queue.put_nowait(eio_packet.Packet(eio_packet.CLOSE))
        else:
            await super().close(wait=wait, abort=abort, reason=reason)
            # The stock socket leaves closing the WebSocket to its writer task, once the client
            # has read the CLOSE packet; here it is closed after that packet went out.
            if ws is not None:
                ws.close()
        self._upgrade_failed(CloseCode.NORMAL)  # a connection that is closed upgrades no more
        # Closed sockets leave the server's table now (python-engineio dropped them when a request
        # for them came, or its monitor task passed by: up to ping_timeout later).
        if self.server.sockets.get(self.sid) is self:
            del self.server.sockets[self.sid]
        if self._closed_waiter is not None and not self._closed_waiter.done():
            self._closed_waiter.set_result(None)


# Closes started from a timer or a sender, held until they are done.
_closing: set[asyncio.Task[None]] = set()


def _close_soon(close: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(close)
    _closing.add(task)
    task.add_done_callback(_closing.discard)


def _size(pkt: Any) -> int:
    """What a packet queued for polling counts towards max_unsent_bytes: its text (characters) or
    bytes; nothing for the control packets (PING, NOOP, CLOSE, OPEN)."""
    data = pkt.data
    return len(data) if isinstance(data, str | bytes) else 0


async def _ignore_message(data: Message) -> None:
    pass


async def _ignore_end() -> None:
    pass


def _write(ws: direct_ws.DirectWebSocket, pkt: Any) -> None:
    """Write the Engine.IO packet ``pkt`` on ``ws`` as one frame (binary for a Socket.IO binary
    attachment)."""
    encoded = pkt.encode()
    with contextlib.suppress(ConnectionError):  # closing: websocket_ended follows
        if pkt.binary:
            ws.write(Opcode.BINARY, encoded)
        else:
            ws.write(Opcode.TEXT, encoded.encode("utf-8"))
