"""RFC 6455 for the server's end of a WebSocket, sans I/O: bytes in, events and bytes to send out.

``ServerProtocol`` is given what the client sent (``receive_data``), in reads cut anywhere, and
gives back what it received (``events_received``: messages, the client's close frame, a refusal)
and the bytes to write (``data_to_send``: pongs, and the close frame that answers the client's or
refuses a frame). It holds no socket, task or timer: every rule below is unit-tested without a
connection (tests/transport/test_ws_protocol.py). ``direct_ws.DirectWebSocket`` is the asyncio
shell around it: it feeds it a transport's reads, writes what it returns, and owns the timers,
flow control and the handing of messages to the Engine.IO socket.

A frame the protocol forbids is refused with a close frame and ends the reading, since the stream
cannot be parsed on (RFC 6455 section 7.1.7): unmasked or with reserved bits set (no extension is
ever agreed), a 64-bit length with its most significant bit set, an unknown opcode, a control frame
that is fragmented or carries over 125 bytes, a continuation with no message or a new message
inside a fragmented one, a close frame with a one-byte payload or a code no endpoint may send
(1002, protocol error); a text message or close reason that is not UTF-8 (1007); a message over
``max_size`` bytes, refused on the header that makes it so, before its payload is read (1009).
Control frames between fragments are handled at once and do not count towards the message's size.
Once the server's close frame is out, frames are still checked but dropped, except the client's
close frame, which ends the handshake whatever it carries.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class Opcode(enum.IntEnum):
    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


class CloseCode(enum.IntEnum):
    """The close codes RFC 6455 (section 7.4.1) and the IANA registry define."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS = 1005  # reported when a close frame has no code: never sent
    ABNORMAL = 1006  # reported when the connection ends without a close frame: never sent
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015  # reported when the TLS handshake fails: never sent


# The codes a close frame may carry: the registered ones that are not only reported locally (1004
# is reserved, so not a member), and 3000-4999 (libraries, frameworks and applications).
_SENDABLE = (frozenset(int(code) for code in CloseCode)
             - {CloseCode.NO_STATUS, CloseCode.ABNORMAL, CloseCode.TLS_HANDSHAKE}) | frozenset(range(3000, 5000))


def close_code_allowed(code: int) -> bool:
    """Whether a close frame may carry ``code``."""
    return code in _SENDABLE


class State(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"  # the server's close frame is out: only the client's answer counts
    CLOSED = "closed"  # the handshake is over, a frame was refused or the connection ended: nothing is read


@dataclass(frozen=True, slots=True)
class CloseReceived:
    """The client's close frame. When it did not answer the server's, the answer (the same code,
    ``NORMAL`` for none) is in ``data_to_send``. Either way the close handshake is over: the
    connection is to be closed once that is written."""

    code: int  # CloseCode.NO_STATUS when the frame carried none
    reason: str


@dataclass(frozen=True, slots=True)
class Refused:
    """A frame the protocol forbids (see the module's text): nothing after it is read. Unless the
    server's close frame was out already, one with ``code`` is in ``data_to_send``."""

    code: CloseCode
    reason: str


Message = str | bytes  # a text message (decoded) or a binary one
Event = Message | CloseReceived | Refused

_CONTINUATION, _TEXT, _BINARY = Opcode.CONTINUATION, Opcode.TEXT, Opcode.BINARY
_CLOSE, _PING, _PONG = Opcode.CLOSE, Opcode.PING, Opcode.PONG
_CLOSING, _CLOSED = State.CLOSING, State.CLOSED
_MAX_REASON = 120  # bytes of a reason the server sends (a control frame's payload is at most 125)


class _Refusal(Exception):
    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def frame_header(opcode: int, length: int) -> bytes:
    """The header of a whole, unmasked frame (the server's) of ``length`` payload bytes."""
    if length < 126:
        return bytes((0x80 | opcode, length))
    if length < 65536:
        return bytes((0x80 | opcode, 126)) + length.to_bytes(2, "big")
    return bytes((0x80 | opcode, 127)) + length.to_bytes(8, "big")


def close_frame(code: int, reason: str = "") -> bytes:
    """A close frame with ``code`` and ``reason`` (cut to 120 bytes, on a character's boundary)."""
    if not close_code_allowed(code):
        raise ValueError(f"close code {code} may not be sent")
    encoded = reason.encode("utf-8")
    if len(encoded) > _MAX_REASON:
        encoded = encoded[:_MAX_REASON].decode("utf-8", "ignore").encode("utf-8")
    payload = code.to_bytes(2, "big") + encoded
    return frame_header(_CLOSE, len(payload)) + payload


def _unmask(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    if not n:
        return payload
    key = (mask * ((n >> 2) + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


class ServerProtocol:
    """The server's end of one WebSocket connection, once the handshake is answered (see the
    module's text): messages up to ``max_size`` bytes."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_events",
        "_fragments",
        "_fragments_opcode",
        "_fragments_size",
        "_max_size",
        "_need",
        "_out",
        "state",
    )

    def __init__(self, *, max_size: int) -> None:
        self._max_size = max_size
        self._chunks: list[bytes] | None = None  # received bytes not yet making a whole frame
        self._buffered = 0  # their length
        self._need = 2  # how many bytes the next frame needs at least
        self._fragments: list[bytes] | None = None  # a fragmented message being received
        self._fragments_opcode = 0
        self._fragments_size = 0
        # Lists are kept only while there is something in them: most connections are idle.
        self._events: list[Event] | None = None
        self._out: list[bytes] | None = None
        self.state = State.OPEN

    # -- what the shell calls ------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Parse ``data``, what the client sent next; ignored once nothing more is read."""
        if self.state is _CLOSED:
            return
        if self._chunks is not None or len(data) < self._need:
            # Part of a frame: kept until the frame is whole (not joined and re-parsed each time).
            if self._chunks is None:
                self._chunks, self._buffered = [data], len(data)
            else:
                self._chunks.append(data)
                self._buffered += len(data)
            if self._buffered < self._need:
                return
            data = b"".join(self._chunks)
            self._chunks = None
        try:
            rest = self._frames(data)
        except _Refusal as refusal:
            self._refuse(refusal.code, str(refusal))
            return
        if rest:
            self._chunks, self._buffered = [rest], len(rest)

    def receive_eof(self) -> None:
        """The connection ended: drop what was buffered, read nothing more."""
        self.state = State.CLOSED
        self._chunks, self._fragments = None, None

    def events_received(self) -> Sequence[Event]:
        """What was received since the last call, in order; a ``CloseReceived`` or ``Refused`` is
        the last there will be."""
        events, self._events = self._events, None
        return events if events is not None else ()

    def data_to_send(self) -> bytes:
        """The bytes to write since the last call, in order."""
        out, self._out = self._out, None
        return b"".join(out) if out is not None else b""

    def send_close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Start the close handshake: the server's close frame goes to ``data_to_send``, and from
        now on only the client's answer counts. Nothing happens once the handshake has begun."""
        if self.state is not State.OPEN:
            return
        self._send(close_frame(code, reason))
        self.state = State.CLOSING

    # -- parsing -------------------------------------------------------------------------------

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
                if length >> 63:
                    raise _Refusal(CloseCode.PROTOCOL_ERROR, "a 64-bit length with its most significant bit set")
            if first & 0x70:
                raise _Refusal(CloseCode.PROTOCOL_ERROR, "reserved bits set (no extension was agreed)")
            if not second & 0x80:
                raise _Refusal(CloseCode.PROTOCOL_ERROR, "a client's frame must be masked")
            opcode = first & 0x0F
            if opcode >= _CLOSE and (length > 125 or not first & 0x80):
                raise _Refusal(CloseCode.PROTOCOL_ERROR, "a control frame must be whole and at most 125 bytes")
            # A control frame (a ping or a close between fragments) is no part of the message.
            if opcode < _CLOSE and length + self._fragments_size > self._max_size:
                raise _Refusal(CloseCode.MESSAGE_TOO_BIG, f"a message over {self._max_size} bytes")
            if end < start + length:
                need = start + length - pos
                break
            payload = _unmask(data[start:start + length], data[start - 4:start])
            pos = start + length
            self._frame(first & 0x80, opcode, payload)
            if self.state is _CLOSED:
                return b""
        self._need = need
        return data[pos:] if pos < end else b""

    def _frame(self, fin: int, opcode: int, payload: bytes) -> None:
        if self.state is _CLOSING:  # the server's close frame is out: only the client's answer counts
            if opcode == _CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else CloseCode.NO_STATUS
                self._close_received(code, payload[2:].decode("utf-8", "replace"))
            return
        if opcode in (_TEXT, _BINARY):
            if self._fragments is not None:
                raise _Refusal(CloseCode.PROTOCOL_ERROR, "a new message inside a fragmented one")
            if fin:
                self._message(opcode, payload)
            else:
                self._fragments, self._fragments_opcode, self._fragments_size = [payload], opcode, len(payload)
        elif opcode == _CONTINUATION:
            if self._fragments is None:
                raise _Refusal(CloseCode.PROTOCOL_ERROR, "a continuation frame without a message")
            self._fragments.append(payload)
            self._fragments_size += len(payload)
            if fin:
                whole = b"".join(self._fragments)
                self._fragments, self._fragments_size = None, 0
                self._message(self._fragments_opcode, whole)
        elif opcode == _PING:
            self._send(frame_header(_PONG, len(payload)) + payload)
        elif opcode == _PONG:
            pass
        elif opcode == _CLOSE:
            self._client_close(payload)
        else:
            raise _Refusal(CloseCode.PROTOCOL_ERROR, f"opcode {opcode}")

    def _client_close(self, payload: bytes) -> None:
        if len(payload) == 1:
            raise _Refusal(CloseCode.PROTOCOL_ERROR, "a close frame's code is two bytes")
        code: int = CloseCode.NO_STATUS
        reason = ""
        if len(payload) >= 2:
            code = int.from_bytes(payload[:2], "big")
            if not close_code_allowed(code):
                raise _Refusal(CloseCode.PROTOCOL_ERROR, f"close code {code}")
            try:
                reason = payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                raise _Refusal(CloseCode.INVALID_DATA, "a close reason that is not UTF-8") from None
        self._send(close_frame(CloseCode.NORMAL if code == CloseCode.NO_STATUS else code))
        self._close_received(code, reason)

    def _message(self, opcode: int, payload: bytes) -> None:
        message: Message = payload
        if opcode == _TEXT:
            try:
                message = payload.decode("utf-8")
            except UnicodeDecodeError:
                raise _Refusal(CloseCode.INVALID_DATA, "a text message that is not UTF-8") from None
        if self._events is None:  # (not self._event(): this is the path every message takes)
            self._events = [message]
        else:
            self._events.append(message)

    def _close_received(self, code: int, reason: str) -> None:
        self.state = State.CLOSED
        self._event(CloseReceived(code, reason))

    def _refuse(self, code: CloseCode, reason: str) -> None:
        if self.state is State.OPEN:
            self._send(close_frame(code, reason))
        self.state = State.CLOSED
        self._chunks, self._fragments = None, None
        self._event(Refused(code, reason))

    def _event(self, event: Event) -> None:
        if self._events is None:
            self._events = [event]
        else:
            self._events.append(event)

    def _send(self, data: bytes) -> None:
        if self._out is None:
            self._out = [data]
        else:
            self._out.append(data)
