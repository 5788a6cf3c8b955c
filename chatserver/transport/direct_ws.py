"""A WebSocket that, once opened, no longer goes through aiohttp's request machinery.

aiohttp runs a WebSocket inside the HTTP request that opened it: for the connection's whole life
it keeps the request handler protocol, its HTTP parser, the parsed request (every header), the
response object with its reader queue and writer, two tasks and the request's coroutine frames
(aiohttp's, the middlewares', python-engineio's). Measured with tracemalloc on 2,000 idle
Socket.IO connections: about 13 KB a connection, two thirds of all the server held for one.

``accept`` answers the handshake itself (RFC 6455: ``101`` with ``Sec-WebSocket-Accept``, no
extension, no subprotocol), moves the TCP transport from aiohttp's protocol to a
``DirectWebSocket`` (``connections.hand_over``: ``transport.set_protocol``, with the connection
still counted per client address until it ends) and lets aiohttp's protocol forget the
connection without closing it, so the request, its handler and everything they hold are freed
once the request handler returns. ``DirectWebSocket`` is the asyncio shell of the connection: it
feeds what the transport reads to a ``ws_protocol.ServerProtocol`` (RFC 6455 without I/O: the
frames, pings, the close handshake and the frames refused with a close code) and writes what that
returns. Messages are handed, one at a time and in order, to ``on_message`` by a task that exists
only while messages wait; an idle connection has no task, nor a queue, at all. After its close
frame the server waits ``CLOSE_TIMEOUT`` for the client's answer; after a refused frame it closes
the connection once the client is quiet.

Writes never wait for the client to read: a frame goes to the transport at once, so a sender
serving many connections is never held up by a slow one. What the client has not read yet is
bounded instead: while the transport holds more than ``HIGH_WATER`` bytes unsent, nothing more is
read from the client (so it cannot make the server write to itself without reading: pings,
events answered with acks), and a connection whose unsent output passes ``max_unsent`` is cut.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from .connections import hand_over
from .ws_protocol import CloseCode, CloseReceived, Message, Refused, ServerProtocol, frame_header

log = logging.getLogger("chatserver.transport")

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Reading stops while this many messages wait to be handled, and starts again once they are.
INBOX_PAUSE = 64
# Reading stops while the transport holds more than HIGH_WATER bytes the client has not read, and
# starts again once it holds LOW_WATER or less (the transport's write-buffer limits).
HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024
# After the server's close frame, how long the client has to answer it (and close) before the
# connection is cut. Meanwhile what it still sends is read and dropped: closing a TCP connection
# with unread data resets it, and the client could lose the close frame and its code.
CLOSE_TIMEOUT = 2.0
# After a refused frame the stream cannot be parsed on: what arrives is dropped, and the
# connection is closed once the client has been quiet this long (at the latest at CLOSE_TIMEOUT).
DRAIN_QUIET = 0.1
_END = object()  # the connection ended: handled after the messages received before it


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


def handshake_key(request: web.BaseRequest) -> str:
    """The request's ``Sec-WebSocket-Key`` when it is a WebSocket handshake this module can
    answer (RFC 6455 section 4.2.1: GET, HTTP/1.1, ``Upgrade: websocket``, ``Connection``
    holding ``upgrade``, version 13, a 16-byte key). Otherwise raises the refusal to answer:
    ``426 Upgrade Required`` with ``Sec-WebSocket-Version: 13`` for a missing or another version
    (section 4.4), ``400`` for the rest."""
    headers = request.headers
    if (request.method != "GET" or request.version < (1, 1) or headers.get("Upgrade", "").lower() != "websocket"
            or "upgrade" not in [part.strip().lower() for part in headers.get("Connection", "").split(",")]):
        raise web.HTTPBadRequest(text="Not a WebSocket handshake")
    if headers.get("Sec-WebSocket-Version") != "13":
        raise web.HTTPUpgradeRequired(text="WebSocket version 13 only",
                                      headers={"Upgrade": "websocket", "Sec-WebSocket-Version": "13"})
    key = headers.get("Sec-WebSocket-Key", "")
    try:
        if len(base64.b64decode(key, validate=True)) == 16:
            return key
    except (binascii.Error, ValueError):
        pass
    raise web.HTTPBadRequest(text="Not a WebSocket handshake: Sec-WebSocket-Key must be 16 bytes in base64")


def accept(request: web.BaseRequest, key: str, *, max_size: int, max_unsent: int,
           on_message: Callable[[Message], Awaitable[None]],
           on_close: Callable[[], Awaitable[None]]) -> DirectWebSocket | None:
    """Open the WebSocket ``request`` asks for (``key`` from ``handshake_key``) on a
    ``DirectWebSocket`` (messages up to ``max_size`` bytes, cut past ``max_unsent`` bytes unsent);
    ``None`` if the connection is already gone. The request handler should then return at once:
    its response is never sent (aiohttp finds the connection gone)."""
    protocol: Any = request.protocol  # aiohttp's RequestHandler
    transport = request.transport
    if transport is None:
        return None
    if transport.is_closing() or getattr(protocol, "transport", None) is not request.transport:
        return None
    # What the client sent after the handshake request, which aiohttp's parser kept back.
    tail = getattr(protocol, "_message_tail", b"")
    ws = DirectWebSocket(transport, max_size=max_size, max_unsent=max_unsent, on_message=on_message,
                         on_close=on_close)
    hand_over(transport, ws)  # transport.set_protocol, keeping the connection counted (connections.py)
    transport.set_write_buffer_limits(high=HIGH_WATER, low=LOW_WATER)
    # aiohttp's protocol lets go of the connection without closing it: with no transport, its
    # connection_lost only drops it from the server's connections, stops its keep-alive timer and
    # parser, and the request handler's response cannot be written.
    protocol.transport = None
    protocol.connection_lost(None)
    transport.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Accept: " + accept_key(key).encode("ascii") + b"\r\n\r\n")
    if not transport.is_reading():
        transport.resume_reading()
    if tail:
        ws.data_received(bytes(tail))
    return ws


class DirectWebSocket(asyncio.Protocol):
    """The server's end of one WebSocket, straight on its transport (see the module's text)."""

    __slots__ = (
        "_close_sent",
        "_deadline",
        "_draining",
        "_inbox",
        "_inbox_full",
        "_linger",
        "_max_unsent",
        "_on_close",
        "_on_message",
        "_protocol",
        "_transport",
        "_worker",
        "_write_paused",
        "closed",
    )

    def __init__(self, transport: asyncio.Transport, *, max_size: int, max_unsent: int,
                 on_message: Callable[[Message], Awaitable[None]], on_close: Callable[[], Awaitable[None]]) -> None:
        self._transport = transport
        self._protocol = ServerProtocol(max_size=max_size)
        self._max_unsent = max_unsent
        self._on_message = on_message
        self._on_close: Callable[[], Awaitable[None]] | None = on_close
        # Messages waiting to be handled; a deque takes 760 bytes, so only while some wait.
        self._inbox: deque[Any] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._inbox_full = False  # INBOX_PAUSE messages wait: reading stops until half are handled
        self._write_paused = False  # over HIGH_WATER bytes unsent: reading stops until LOW_WATER
        self._close_sent = False  # a close frame was written, or the transport is closing: no more writes
        self._draining = False  # a frame was refused: nothing more is read
        self._deadline = 0.0  # when a draining connection is cut at the latest
        self._linger: asyncio.TimerHandle | None = None  # cuts the connection if the client does not close
        self.closed = False  # the TCP connection is gone

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if self._draining:
            self._close_when_quiet()
            return
        protocol = self._protocol
        protocol.receive_data(data)
        last: CloseReceived | Refused | None = None  # the client's close frame or a refusal: always last
        for event in protocol.events_received():
            if isinstance(event, (str, bytes)):
                self._deliver(event)
            else:
                last = event
        out = protocol.data_to_send()  # pongs, and the close frame answering or refusing
        if last is None:
            if out:
                self._send(out)
        elif isinstance(last, CloseReceived):
            self._closed_by_client(out)
        else:
            log.info("WebSocket closed with %d: %s", last.code, last.reason)
            self._refused(out)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = self._close_sent = True
        self._protocol.receive_eof()
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        self._deliver(_END)

    def pause_writing(self) -> None:
        self._write_paused = True
        self._flow()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._flow()

    def _flow(self) -> None:
        """Read while neither the messages waiting to be handled nor the output the client has not
        read are over their marks; once the server's close frame is out, read in any case (the
        client's answer must be seen)."""
        if self.closed:
            return
        hold = not self._close_sent and (self._inbox_full or self._write_paused)
        transport = self._transport
        if hold and transport.is_reading():
            transport.pause_reading()
        elif not hold and not transport.is_reading():
            transport.resume_reading()

    def hand_to(self, on_message: Callable[[Message], Awaitable[None]],
                on_close: Callable[[], Awaitable[None]]) -> None:
        """Hand the messages not yet handled, and the end of the connection, to these callbacks
        from now on (a WebSocket that upgraded a long-polling connection, or failed to)."""
        self._on_message = on_message
        if self._on_close is not None:
            self._on_close = on_close

    # -- sending ------------------------------------------------------------------------------

    def write(self, opcode: int, payload: bytes) -> None:
        """Write one unfragmented frame now (no waiting for the client to read); past
        ``max_unsent`` bytes unsent the connection is cut instead."""
        if self._close_sent:
            raise ConnectionResetError("the WebSocket is closing")
        self._send(frame_header(opcode, len(payload)) + payload)

    def write_frames(self, frames: Iterable[tuple[int, bytes]]) -> None:
        """Write several unfragmented frames now, together: one write, so nothing can come between
        them (a Socket.IO binary packet's text and attachments) and one system call for them all."""
        if self._close_sent:
            raise ConnectionResetError("the WebSocket is closing")
        parts = []
        for opcode, payload in frames:
            parts.append(frame_header(opcode, len(payload)))
            parts.append(payload)
        self._send(b"".join(parts))

    def _send(self, data: bytes) -> None:
        transport = self._transport
        transport.write(data)
        if self._write_paused and (unsent := transport.get_write_buffer_size()) > self._max_unsent:
            log.warning("WebSocket cut: the client left %d bytes unread (max_unsent_bytes %d)", unsent,
                        self._max_unsent)
            self.abort()

    def close(self, code: int = CloseCode.NORMAL) -> None:
        """Send a close frame; the connection ends when the client answers it and closes, or after
        ``CLOSE_TIMEOUT``."""
        if self._close_sent:
            return
        self._protocol.send_close(code)
        self._close_frame_sent(self._protocol.data_to_send())
        self._linger = asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self._transport.abort)

    def abort(self, *, cancel: bool = False) -> None:
        """Cut the connection now, dropping the messages waiting to be handled; with ``cancel``,
        the one being handled is cancelled too. (``on_close`` still follows.)"""
        self._close_sent = True
        if self._inbox is not None:
            self._inbox.clear()
        worker = self._worker
        if cancel and worker is not None:
            self._worker = None
            worker.cancel()
        self._transport.abort()

    def _closed_by_client(self, out: bytes) -> None:
        """The client's close frame: answered (``out``) unless it answered the server's, and the
        connection closed once that is written."""
        if not self._close_sent:
            self._close_frame_sent(out)
        self._transport.close()

    def _refused(self, out: bytes) -> None:
        """A refused frame, and the close frame saying why (``out``, unless the server's went
        first): the stream cannot be parsed on, so what arrives is dropped and the connection
        closed once the client is quiet."""
        if self._close_sent:
            return
        self._close_frame_sent(out)
        self._draining = True
        self._deadline = asyncio.get_running_loop().time() + CLOSE_TIMEOUT
        self._close_when_quiet()

    def _close_frame_sent(self, out: bytes) -> None:
        # Written whatever the client left unread: the connection ends soon in any case.
        self._transport.write(out)
        self._close_sent = True
        self._flow()

    def _close_when_quiet(self) -> None:
        loop = asyncio.get_running_loop()
        if self._linger is not None:
            self._linger.cancel()
        if loop.time() >= self._deadline:
            self._linger = None
            self._transport.abort()
        else:
            self._linger = loop.call_later(DRAIN_QUIET, self._transport.close)

    # -- receiving ----------------------------------------------------------------------------

    def _deliver(self, item: Any) -> None:
        inbox = self._inbox
        if inbox is None:
            inbox = self._inbox = deque()
        inbox.append(item)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work(inbox))
        elif len(inbox) >= INBOX_PAUSE and not self._inbox_full:
            self._inbox_full = True
            self._flow()

    async def _work(self, inbox: deque[Any]) -> None:
        try:
            while inbox:
                item = inbox.popleft()
                if item is _END:
                    inbox.clear()
                    on_close, self._on_close = self._on_close, None
                    if on_close is not None:
                        await on_close()
                    return
                try:
                    await self._on_message(item)
                except Exception:
                    log.exception("a WebSocket message's handler failed")
                if self._inbox_full and len(inbox) < INBOX_PAUSE // 2:
                    self._inbox_full = False
                    self._flow()
        finally:
            if self._worker is asyncio.current_task():
                self._worker = None
                if not inbox:
                    self._inbox = None
