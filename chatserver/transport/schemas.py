"""Inbound Socket.IO payloads, parsed into typed structs at the edge."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec

from ..domain.i18n import LANGUAGE_TAG
from ..errors import InvalidPayload

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-:.]+$(?!\n)")]
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
# The body's own limit (``max_message_chars``) is checked separately so it gets its own error code.
Body = Annotated[str, msgspec.Meta(min_length=1, max_length=100_000)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Email = Annotated[str, msgspec.Meta(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$(?!\n)")]
OrderNumber = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Url = Annotated[str, msgspec.Meta(max_length=2048, pattern=r"^https?://")]
PageTitle = Annotated[str, msgspec.Meta(max_length=300)]
CartValue = Annotated[float, msgspec.Meta(ge=0, le=1e9)]
# The shopper's language, a tag such as de or pt-BR (docs/widget.md, Languages).
Locale = Annotated[str, msgspec.Meta(max_length=35, pattern=LANGUAGE_TAG.pattern)]


class Payload(msgspec.Struct, forbid_unknown_fields=True):
    pass


class ChatStart(Payload, kw_only=True):
    name: Name
    question: Body
    email: Email | None = None
    order_number: OrderNumber | None = None
    page_url: Url | None = None
    page_title: PageTitle | None = None
    checkout: bool = False
    cart_value: CartValue | None = None
    department: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    locale: Locale | None = None


class PageUpdate(Payload, kw_only=True):
    conversation_id: Id
    page_url: Url | None = None
    page_title: PageTitle | None = None
    checkout: bool = False
    cart_value: CartValue | None = None


class MessageSend(Payload, kw_only=True):
    conversation_id: Id
    client_msg_id: Id
    body: Body


class ConversationRate(Payload, kw_only=True):
    conversation_id: Id
    rating: Annotated[int, msgspec.Meta(ge=1, le=5)]
    comment: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


class MessageRead(Payload, kw_only=True):
    conversation_id: Id
    seq: Seq


class TypingUpdate(Payload, kw_only=True):
    conversation_id: Id
    typing: bool


class ConversationRef(Payload, kw_only=True):
    conversation_id: Id


class AttachmentLink(Payload, kw_only=True):
    conversation_id: Id
    attachment_id: Id


class ConversationJoin(Payload, kw_only=True):
    conversation_id: Id
    after_seq: Seq = 0


class SessionResume(Payload, kw_only=True):
    pass


class ConversationTransfer(Payload, kw_only=True):
    conversation_id: Id
    to_agent_id: Id | None = None
    to_department: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None


class QueueList(Payload, kw_only=True):
    limit: Annotated[int, msgspec.Meta(ge=1, le=200)] = 50


class PresenceSet(Payload, kw_only=True):
    status: Literal["online", "away"]


class NoteAdd(Payload, kw_only=True):
    conversation_id: Id
    body: Body
    client_note_id: Id | None = None


Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class ConversationEnd(Payload, kw_only=True):
    conversation_id: Id
    tags: Annotated[list[Tag], msgspec.Meta(max_length=10)] = []
    resolution_note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


P = TypeVar("P", bound=Payload)


def _lone_surrogate(value: Any) -> bool:
    """Whether a string anywhere in ``value`` holds a lone UTF-16 surrogate (JSON allows
    ``"\\ud83d"`` alone; no valid text does, and UTF-8 storage cannot hold it)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_lone_surrogate(v) for v in value)
    return False


_utf8_json = msgspec.json.Encoder().encode


def _holds_lone_surrogate(data: dict[str, Any]) -> bool:
    # msgspec writes every string as UTF-8, and refuses one holding a lone surrogate: one call in
    # C for the usual payload, instead of a Python call per value. What it cannot encode for
    # another reason (a type no decoded JSON has) is looked through in Python.
    try:
        _utf8_json(data)
    except UnicodeEncodeError:
        return True
    except (TypeError, ValueError, OverflowError):
        return _lone_surrogate(data)
    return False


def parse(payload_type: type[P], data: Any) -> P:
    """Convert a decoded JSON payload to ``payload_type``; a missing payload counts as ``{}``."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidPayload("payload must be a JSON object")
    if _holds_lone_surrogate(data):
        raise InvalidPayload("text must be valid Unicode (a lone surrogate was sent)")
    try:
        return msgspec.convert(data, payload_type)
    except msgspec.ValidationError as exc:
        raise InvalidPayload(str(exc)) from exc


# -- co-browsing (transport/cobrowse.py) -----------------------------------------------------

NodeId = Annotated[int, msgspec.Meta(ge=0, le=2**31)]
Coordinate = Annotated[float, msgspec.Meta(ge=-100_000, le=100_000)]


class CobrowseRequest(Payload, kw_only=True):
    conversation_id: Id


class CobrowseRef(Payload, kw_only=True):
    session_id: Id


class CobrowseStatusQuery(Payload, kw_only=True):
    conversation_id: Id
    # True on the first query after the shopper's browser loaded a page (not after a reconnect).
    new_page: bool = False


class CobrowseAnswer(Payload, kw_only=True):
    session_id: Id
    accept: bool


class CobrowseControlAnswer(Payload, kw_only=True):
    session_id: Id
    grant: bool


class CobrowseEvents(Payload, kw_only=True):
    """One batch of rrweb events, msgpack-encoded by the shopper's browser, in ``parts`` pieces
    (a large snapshot is split to stay under the transport's message size)."""

    session_id: Id
    seq: Seq
    data: bytes
    snapshot: bool = False
    part: Annotated[int, msgspec.Meta(ge=0, le=4096)] = 0
    parts: Annotated[int, msgspec.Meta(ge=1, le=4096)] = 1
    # The sender's clock (milliseconds), relayed as it is (for the agent's lag figure).
    t: Annotated[float, msgspec.Meta(ge=0, le=1e15)] | None = None


class CobrowsePointer(Payload, kw_only=True):
    session_id: Id
    x: Coordinate
    y: Coordinate
    click: bool = False


class CobrowseScrollTo(Payload, kw_only=True):
    session_id: Id
    node_id: NodeId


class CobrowseAction(Payload, kw_only=True):
    session_id: Id
    action_id: Id
    kind: Literal["click", "input"]
    node_id: NodeId
    value: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


class CobrowseActionResult(Payload, kw_only=True):
    session_id: Id
    action_id: Id
    ok: bool
    reason: Annotated[str, msgspec.Meta(max_length=64, pattern=r"^[a-z_]+$(?!\n)")] | None = None


class CobrowsePing(Payload, kw_only=True):
    session_id: Id
    t: Annotated[float, msgspec.Meta(ge=0, le=1e15)]
