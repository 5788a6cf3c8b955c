"""Inbound Socket.IO payloads (chatserver/transport/schemas.py), without a server: what each schema
refuses as ``invalid_payload``, and what it takes. tests/transport/test_bad_input.py checks, once
per event, that the server answers such a payload with a structured error and stores nothing."""

from __future__ import annotations

from typing import Any

import pytest

from chatserver.errors import InvalidPayload
from chatserver.transport.customers import VisitorIdentify
from chatserver.transport.schemas import ChatStart, MessageSend, Payload, parse
from chatserver.transport.tickets import TicketCreate

SEND = {"conversation_id": "c1", "client_msg_id": "x", "body": "hi"}
BAD_SENDS: list[Any] = [
    "not an object",
    [SEND["conversation_id"], "x", "hi"],
    {**SEND, "conversation_id": 5},
    {"client_msg_id": "x", "body": "hi"},
    {"conversation_id": "c1", "client_msg_id": "x"},
    {**SEND, "body": ""},
    {**SEND, "body": 42},
    {**SEND, "client_msg_id": "has space"},
    {**SEND, "client_msg_id": "x" * 65},
    {**SEND, "client_msg_id": "x\n"},
    {**SEND, "conversation_id": "c1\n"},
    {**SEND, "extra": 1},
]


@pytest.mark.parametrize("payload", BAD_SENDS)
def test_bad_message_sends_are_invalid(payload: Any) -> None:
    with pytest.raises(InvalidPayload):
        parse(MessageSend, payload)


def test_a_message_send_at_the_edges_parses() -> None:
    # The body's length limit is the server's setting (max_message_chars), checked after parsing.
    sent = parse(MessageSend, {**SEND, "client_msg_id": "A-z_0:9." + "x" * 56, "body": "b" * 4001})
    assert len(sent.client_msg_id) == 64 and len(sent.body) == 4001


START = {"name": "x", "question": "q"}
BAD_STARTS: list[Any] = [
    "not an object",
    {},
    {"name": "x"},
    {"question": "q"},
    {**START, "name": ""},
    {**START, "name": "x" * 101},
    {**START, "name": 5},
    {**START, "email": "nope"},
    {**START, "email": "a@b.co\n"},
    {**START, "locale": "de\n"},
    {**START, "order_number": ""},
    {**START, "page_url": "javascript:alert(1)"},
    {**START, "cart_value": -1},
    {**START, "checkout": "yes"},
    {**START, "extra": True},
]


@pytest.mark.parametrize("payload", BAD_STARTS)
def test_bad_chat_starts_are_invalid(payload: Any) -> None:
    with pytest.raises(InvalidPayload):
        parse(ChatStart, payload)


def test_a_full_chat_start_parses() -> None:
    started = parse(ChatStart, {**START, "name": "x" * 100, "email": "ann@example.com", "order_number": "A-1",
                                "page_url": "https://shop.example/checkout", "cart_value": 0, "checkout": True,
                                "department": "sales"})
    assert started.checkout and started.cart_value == 0 and started.department == "sales"


LONE = "broken \ud83d text"
TICKET = {"name": "Ann", "email": "ann@example.com", "description": "x"}
LONE_SURROGATES: list[tuple[type[Payload], dict[str, Any]]] = [
    (ChatStart, {**START, "page_title": LONE}),
    (ChatStart, {**START, "name": LONE}),
    (ChatStart, {**START, "question": LONE}),
    (ChatStart, {**START, "order_number": LONE}),
    (ChatStart, {**START, LONE: 1}),
    (TicketCreate, {**TICKET, "description": LONE}),
    (TicketCreate, {**TICKET, "order_number": LONE}),
    (VisitorIdentify, {"identity": LONE}),
    (MessageSend, {**SEND, "body": [LONE]}),
]


@pytest.mark.parametrize(("schema", "payload"), LONE_SURROGATES)
def test_a_lone_surrogate_in_any_string_is_invalid(schema: type[Payload], payload: dict[str, Any]) -> None:
    with pytest.raises(InvalidPayload, match="lone surrogate"):
        parse(schema, payload)


def test_whole_emoji_are_text() -> None:
    assert parse(MessageSend, {**SEND, "body": "ok \U0001f600"}).body == "ok \U0001f600"
