"""Socket.IO v4 packets from a client, decoded and checked without I/O (and ``binary_parts``, for
the server's packets that carry bytes).

Each text message a client sends over Engine.IO is one Socket.IO packet::

    <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]

``decode`` turns it into a ``Packet``, or into a ``Refusal`` that says what is wrong in words of
its own (never quoting the client's bytes) and what could be read of it (type, namespace, ack
id), so that the server can answer where the client will hear it. A binary packet
(``BINARY_EVENT``, ``BINARY_ACK``) comes back as ``Attachments``: its JSON, checked, waiting for
the binary messages that follow it (``add``); the last one gives the ``Packet`` with the bytes in
place of their placeholders.

The limits, all checked before anything is kept:
- JSON at most ``MAX_JSON_DEPTH`` arrays and objects deep (the CONNECT's auth too);
- an ack id of at most ``MAX_ACK_ID`` (a JavaScript client's largest exact integer);
- a binary packet declares 1 to ``max_attachments`` attachments, of ``max_bytes`` bytes together,
  and its placeholders (objects ``{"_placeholder": true, "num": N}``) name exactly those, each an
  integer ``0 <= N < count``: a packet that could never be completed is refused on its header.
"""

from __future__ import annotations

import enum
import itertools
import re
import sys
from typing import Any, NamedTuple

import msgspec

from ..errors import ChatError, InvalidPayload, PayloadTooLarge, UnknownEvent

MAX_JSON_DEPTH = 32
MAX_ACK_ID = 2**53 - 1


class PacketType(enum.IntEnum):
    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


class Packet(NamedTuple):
    type: PacketType
    namespace: str
    id: int | None = None
    # The JSON payload (None when there is none): an EVENT's is ``[name, *args]`` with ``name`` a
    # string, an ACK's a list, a CONNECT's an object.
    data: Any = None


class Refusal(NamedTuple):
    """A packet that is not acted on, and what could be read of it."""

    error: ChatError  # what the client is told
    type: PacketType | None  # None: not a packet type a client may send (nor any at all)
    namespace: str = "/"
    id: int | None = None
    event: str = ""  # the event's name, when it could be read
    # Binary messages the packet declared: they follow it, and are dropped unread.
    attachments: int = 0


_TYPES = tuple(PacketType)
_CONNECT, _DISCONNECT, _EVENT, _, _CONNECT_ERROR, _BINARY_EVENT, _BINARY_ACK = _TYPES  # (ACK: the rest)
# type, attachment count, namespace (up to a comma, or to the end), ack id digits.
_HEAD = re.compile(r"([0-9])(?:([0-9]+)-)?(?:(/[^,]*)(?:,|\Z))?([0-9]*)")
_MAX_COUNT_DIGITS = 10  # more than any limit can be: read as "too many"
_MAX_ID_DIGITS = len(str(MAX_ACK_ID))
_decode_json = msgspec.json.Decoder().decode
_new_packet = tuple.__new__  # Packet(...) without its generated __new__ (a packet per message)
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_NOT_JSON = "the packet is not valid JSON (or holds text that is not valid Unicode)"


def _too_deep(text: str) -> bool:
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(itertools.accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0) > MAX_JSON_DEPTH


def decode(text: str, *, max_attachments: int, max_bytes: int) -> Packet | Attachments | Refusal:
    """One packet a client sent as text (an Engine.IO MESSAGE's data)."""
    head = _HEAD.match(text)
    if head is None:
        return Refusal(InvalidPayload("not a Socket.IO packet"), None)
    type_digit, count, namespace, digits = head.groups()
    if namespace is None:
        namespace = "/"
    kind = _TYPES[int(type_digit)] if type_digit <= "6" else None
    if kind is None or kind is _CONNECT_ERROR:
        return Refusal(InvalidPayload("not a packet type a client sends"), None, namespace)
    binary = kind is _BINARY_EVENT or kind is _BINARY_ACK
    if binary != (count is not None):
        return Refusal(InvalidPayload("binary packets, and only they, declare their attachments"), kind, namespace)
    declared = 0
    if count is not None:
        declared = int(count) if len(count) <= _MAX_COUNT_DIGITS else sys.maxsize
    id = None
    if digits:
        id = int(digits) if len(digits) <= _MAX_ID_DIGITS else MAX_ACK_ID + 1
        if id > MAX_ACK_ID:
            return Refusal(InvalidPayload(f"an ack id is an integer up to {MAX_ACK_ID}"), kind, namespace,
                           attachments=declared)
    if binary and declared < 1:
        return Refusal(InvalidPayload("a binary packet has at least one attachment"), kind, namespace, id)
    if declared > max_attachments:
        return Refusal(PayloadTooLarge(f"a binary packet has at most {max_attachments} attachments",
                                       details={"max_attachments": max_attachments}),
                       kind, namespace, id, attachments=declared)
    payload = text[head.end():]
    data: Any = None
    if payload:
        # JSON cannot be deeper than it has brackets: counting them (some may be in strings) is
        # enough for all but large payloads.
        if payload.count("[") + payload.count("{") > MAX_JSON_DEPTH and _too_deep(payload):
            return Refusal(InvalidPayload(f"JSON is nested at most {MAX_JSON_DEPTH} deep"), kind, namespace, id,
                           attachments=declared)
        try:
            data = _decode_json(payload)
        except msgspec.DecodeError:
            # Not strict JSON (NaN, a lone surrogate that no storage takes, ...).
            return Refusal(InvalidPayload(_NOT_JSON), kind, namespace, id, attachments=declared)
    if kind is _EVENT or kind is _BINARY_EVENT:
        if type(data) is not list or not data:
            return Refusal(InvalidPayload("an event is a JSON array: [name, payload]"), kind, namespace, id,
                           attachments=declared)
        event = data[0]
        if type(event) is not str:
            return Refusal(UnknownEvent("event names are strings"), kind, namespace, id, attachments=declared)
    elif kind is _CONNECT:
        if id is not None or not (data is None or type(data) is dict):
            return Refusal(InvalidPayload("a CONNECT carries an auth object, or nothing"), kind, namespace)
        return _new_packet(Packet, (kind, namespace, None, data))
    elif kind is _DISCONNECT:
        if payload or id is not None:
            return Refusal(InvalidPayload("a DISCONNECT carries nothing"), kind, namespace)
        return _new_packet(Packet, (kind, namespace, None, None))
    else:
        if id is None or type(data) is not list:
            return Refusal(InvalidPayload("an ack is an ack id and a JSON array"), kind, namespace,
                           attachments=declared)
        event = ""
    if not binary:
        return _new_packet(Packet, (kind, namespace, id, data))
    slots = _placeholders(data, declared)
    if slots is None:
        return Refusal(InvalidPayload(f"a binary packet's placeholders must name its {declared} attachment(s), "
                                      "each as {\"_placeholder\": true, \"num\": N}"),
                       kind, namespace, id, event, attachments=declared)
    return Attachments(Packet(kind, namespace, id, data), slots, declared, max_bytes)


_Slot = tuple[dict[str, Any] | list[Any], Any, int]  # (container, key or index, attachment number)


def _placeholders(data: list[Any], count: int) -> list[_Slot] | None:
    """Where ``data`` holds placeholders, if they name exactly attachments ``0 .. count-1``."""
    slots: list[_Slot] = []
    pending: list[dict[str, Any] | list[Any]] = [data]
    while pending:
        node = pending.pop()
        for key, value in (node.items() if type(node) is dict else enumerate(node)):
            if type(value) is dict:
                if value.get("_placeholder") is not True:
                    pending.append(value)
                    continue
                num = value.get("num")
                if len(value) != 2 or type(num) is not int or not 0 <= num < count:
                    return None
                slots.append((node, key, num))
            elif type(value) is list:
                pending.append(value)
    if {num for _, _, num in slots} != set(range(count)):
        return None
    return slots


class Attachments:
    """A binary packet, checked, while its attachments arrive (one binary message each); or, made
    by ``dropping``, the attachments of a refused one, counted and thrown away."""

    __slots__ = ("_due", "_max_bytes", "_packet", "_parts", "_size", "_slots")

    def __init__(self, packet: Packet | None, slots: list[_Slot], count: int, max_bytes: int) -> None:
        self._packet = packet
        self._slots = slots
        self._due = count
        self._parts: list[bytes] = []
        self._size = 0
        self._max_bytes = max_bytes

    @classmethod
    def dropping(cls, count: int) -> Attachments:
        return cls(None, [], count, 0)

    @property
    def namespace(self) -> str | None:
        """The namespace of the packet being assembled (None while dropping)."""
        return None if self._packet is None else self._packet.namespace

    @property
    def done(self) -> bool:
        """No more attachments are due."""
        return self._due <= 0

    def add(self, data: bytes) -> Packet | Refusal | None:
        """One attachment: ``None`` while more are due (or they are being dropped), then the
        finished packet; a ``Refusal`` as soon as they pass ``max_bytes`` together (what is left
        of them is then dropped)."""
        self._due -= 1
        packet = self._packet
        if packet is None:
            return None
        self._size += len(data)
        if self._size > self._max_bytes:
            self._drop()
            return Refusal(PayloadTooLarge(f"a binary packet's attachments hold at most {self._max_bytes} bytes",
                                           details={"max_bytes": self._max_bytes}),
                           packet.type, packet.namespace, packet.id, _event_of(packet))
        self._parts.append(data)
        if self._due > 0:
            return None
        for container, key, num in self._slots:
            container[key] = self._parts[num]
        self._drop()
        return packet

    def abandon(self) -> Refusal | None:
        """A text message came while attachments were due: the packet is refused (``None`` if it
        was already)."""
        packet = self._packet
        self._drop()
        if packet is None:
            return None
        return Refusal(InvalidPayload("a binary packet's attachments must follow it, before any other packet"),
                       packet.type, packet.namespace, packet.id, _event_of(packet))

    def _drop(self) -> None:
        self._packet, self._parts, self._slots = None, [], []


def _event_of(packet: Packet) -> str:
    return packet.data[0] if packet.type is PacketType.BINARY_EVENT else ""


def binary_parts(data: Any) -> tuple[Any, list[bytes]]:
    """What a binary packet (``BINARY_EVENT``, ``BINARY_ACK``) carrying ``data`` sends: ``data``
    with each ``bytes`` in it replaced by a placeholder, and the bytes, in placeholder order.
    ``data`` itself and no bytes when it holds none (the usual case: only looked through)."""
    if not _holds_bytes(data):
        return data, []
    attachments: list[bytes] = []
    return _without_bytes(data, attachments), attachments


def _holds_bytes(value: Any) -> bool:
    kind = type(value)
    if kind is dict:
        items = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        return kind is bytes
    for item in items:
        kind = type(item)
        if kind is bytes or ((kind is dict or kind is list or kind is tuple) and _holds_bytes(item)):
            return True
    return False


def _without_bytes(value: Any, attachments: list[bytes]) -> Any:
    kind = type(value)
    if kind is bytes:
        attachments.append(value)
        return {"_placeholder": True, "num": len(attachments) - 1}
    if kind is dict:
        return {key: _without_bytes(item, attachments) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_without_bytes(item, attachments) for item in value]
    return value
