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
once the request handler returns. ``DirectWebSocket`` reads and writes frames on the transport:
text and binary messages (fragmented or not), ping/pong, the close handshake, and the errors a
server must refuse with a close code (unmasked or reserved-bit frames, bad opcodes, invalid UTF-8,
a message over ``max_size``). Messages are handed, one at a time and in order, to ``on_message``
by a task that exists only while messages wait; an idle connection has no task at all.

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
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .connections import hand_over

log = logging.getLogger("chatserver.transport")

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_DATA = 1007
CLOSE_TOO_BIG = 1009
_ALLOWED_CLOSE_CODES = frozenset(range(3000, 5000)) | {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                                       1012, 1013, 1014}
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

Message = str | bytes


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


def _unmask(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    if not n:
        return payload
    key = (mask * ((n >> 2) + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def _header(opcode: int, length: int) -> bytes:
    if length < 126:
        return bytes((0x80 | opcode, length))
    if length < 65536:
        return bytes((0x80 | opcode, 126)) + length.to_bytes(2, "big")
    return bytes((0x80 | opcode, 127)) + length.to_bytes(8, "big")


class _Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class DirectWebSocket(asyncio.Protocol):
    """The server's end of one WebSocket, straight on its transport (see the module's text)."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_close_sent",
        "_deadline",
        "_draining",
        "_fragments",
        "_fragments_opcode",
        "_fragments_size",
        "_inbox",
        "_inbox_full",
        "_linger",
        "_max_size",
        "_max_unsent",
        "_need",
        "_on_close",
        "_on_message",
        "_transport",
        "_worker",
        "_write_paused",
        "closed",
    )

    def __init__(self, transport: asyncio.Transport, *, max_size: int, max_unsent: int,
                 on_message: Callable[[Message], Awaitable[None]], on_close: Callable[[], Awaitable[None]]) -> None:
        self._transport = transport
        self._max_size = max_size
        self._max_unsent = max_unsent
        self._on_message = on_message
        self._on_close: Callable[[], Awaitable[None]] | None = on_close
        self._chunks: list[bytes] = []  # received bytes not yet making a whole frame
        self._buffered = 0  # their length
        self._need = 2  # how many bytes the next frame needs at least
        self._fragments: list[bytes] | None = None  # a fragmented message being received
        self._fragments_opcode = 0
        self._fragments_size = 0
        self._inbox: deque[Any] = deque()
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
        if self._buffered or len(data) < self._need:
            # Part of a frame: kept until the frame is whole (not joined and re-parsed each time).
            self._chunks.append(data)
            self._buffered += len(data)
            if self._buffered < self._need:
                return
            data = b"".join(self._chunks)
            self._chunks, self._buffered = [], 0
        try:
            rest = self._frames(data)
        except _Refused as refusal:
            log.info("WebSocket closed with %d: %s", refusal.code, refusal)
            self._fail(refusal.code, str(refusal), drain=True)
            return
        if rest:
            self._chunks.append(rest)
            self._buffered = len(rest)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = self._close_sent = True
        self._chunks, self._buffered, self._fragments = [], 0, None
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
        transport = self._transport
        transport.write(_header(opcode, len(payload)) + payload)
        if self._write_paused and (unsent := transport.get_write_buffer_size()) > self._max_unsent:
            log.warning("WebSocket cut: the client left %d bytes unread (max_unsent_bytes %d)", unsent,
                        self._max_unsent)
            self.abort()

    def close(self, code: int = CLOSE_NORMAL) -> None:
        """Send a close frame; the connection ends when the client answers it and closes, or after
        ``CLOSE_TIMEOUT``."""
        self._fail(code, "")

    def abort(self, *, cancel: bool = False) -> None:
        """Cut the connection now, dropping the messages waiting to be handled; with ``cancel``,
        the one being handled is cancelled too. (``on_close`` still follows.)"""
        self._close_sent = True
        self._inbox.clear()
        worker = self._worker
        if cancel and worker is not None:
            self._worker = None
            worker.cancel()
        self._transport.abort()

    def _fail(self, code: int, reason: str, *, answering: bool = False, drain: bool = False) -> None:
        """Send a close frame with ``code``. ``answering`` the client's own close frame, the
        connection is closed once it is written; else the client has ``CLOSE_TIMEOUT`` to answer
        and close. With ``drain`` (a refused frame: the stream cannot be parsed on) what arrives
        is dropped and the connection closed once the client is quiet."""
        if self._close_sent:
            return
        payload = code.to_bytes(2, "big") + reason.encode("utf-8")[:120]
        self._transport.write(_header(OP_CLOSE, len(payload)) + payload)
        self._close_sent = True
        self._flow()
        loop = asyncio.get_running_loop()
        if answering:
            self._transport.close()
        elif drain:
            self._draining = True
            self._deadline = loop.time() + CLOSE_TIMEOUT
            self._close_when_quiet()
        else:
            self._linger = loop.call_later(CLOSE_TIMEOUT, self._transport.abort)

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

    def _frames(self, data: bytes) -> bytes:
        """Handle every whole frame in ``data``; return what is left of it (and set ``_need``)."""
        pos, end = 0, len(data)
        need = 2
        while end - pos >= 2:
            first, second = data[pos], data[pos + 1]
            length = second & 0x7F
            start = pos + 6  # after the two header bytes and the mask
            if length >= 126:  # the length follows in 2 bytes (126) or 8 (127)
                extra = 2 if length == 126 else 8
                start += extra
                if end < start:
                    need = start - pos
                    break
                length = int.from_bytes(data[pos + 2:pos + 2 + extra], "big")
            if first & 0x70:
                raise _Refused(CLOSE_PROTOCOL_ERROR, "reserved bits set (no extension was agreed)")
            if not second & 0x80:
                raise _Refused(CLOSE_PROTOCOL_ERROR, "a client's frame must be masked")
            opcode = first & 0x0F
            if opcode >= OP_CLOSE and (length > 125 or not first & 0x80):
                raise _Refused(CLOSE_PROTOCOL_ERROR, "a control frame must be whole and at most 125 bytes")
            # A control frame (a ping or a close between fragments) is no part of the message.
            if opcode < OP_CLOSE and length + self._fragments_size > self._max_size:
                raise _Refused(CLOSE_TOO_BIG, f"a message over {self._max_size} bytes")
            if end < start + length:
                need = start + length - pos
                break
            payload = _unmask(data[start:start + length], data[start - 4:start])
            pos = start + length
            self._frame(first & 0x80, opcode, payload)
            if self._transport.is_closing():
                return b""
        self._need = need
        return data[pos:] if pos < end else b""

    def _frame(self, fin: int, opcode: int, payload: bytes) -> None:
        if self._close_sent:  # the server's close frame is out: only the client's answer counts
            if opcode == OP_CLOSE:
                self._transport.close()
            return
        if opcode in (OP_TEXT, OP_BINARY):
            if self._fragments is not None:
                raise _Refused(CLOSE_PROTOCOL_ERROR, "a new message inside a fragmented one")
            if fin:
                self._message(opcode, payload)
            else:
                self._fragments, self._fragments_opcode, self._fragments_size = [payload], opcode, len(payload)
        elif opcode == OP_CONTINUATION:
            if self._fragments is None:
                raise _Refused(CLOSE_PROTOCOL_ERROR, "a continuation frame without a message")
            self._fragments.append(payload)
            self._fragments_size += len(payload)
            if fin:
                whole = b"".join(self._fragments)
                self._fragments, self._fragments_size = None, 0
                self._message(self._fragments_opcode, whole)
        elif opcode == OP_PING:
            self.write(OP_PONG, payload)
        elif opcode == OP_PONG:
            pass
        elif opcode == OP_CLOSE:
            code = CLOSE_NORMAL
            if len(payload) == 1:
                raise _Refused(CLOSE_PROTOCOL_ERROR, "a close frame's code is two bytes")
            if len(payload) >= 2:
                code = int.from_bytes(payload[:2], "big")
                if code not in _ALLOWED_CLOSE_CODES:
                    raise _Refused(CLOSE_PROTOCOL_ERROR, f"close code {code}")
                try:
                    payload[2:].decode("utf-8")
                except UnicodeDecodeError:
                    raise _Refused(CLOSE_INVALID_DATA, "a close reason that is not UTF-8") from None
            self._fail(code, "", answering=True)
        else:
            raise _Refused(CLOSE_PROTOCOL_ERROR, f"opcode {opcode}")

    def _message(self, opcode: int, payload: bytes) -> None:
        if opcode == OP_TEXT:
            try:
                self._deliver(payload.decode("utf-8"))
            except UnicodeDecodeError:
                raise _Refused(CLOSE_INVALID_DATA, "a text message that is not UTF-8") from None
        else:
            self._deliver(payload)

    def _deliver(self, item: Any) -> None:
        self._inbox.append(item)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work())
        elif len(self._inbox) >= INBOX_PAUSE and not self._inbox_full:
            self._inbox_full = True
            self._flow()

    async def _work(self) -> None:
        inbox = self._inbox
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
