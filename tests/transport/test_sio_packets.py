"""The Socket.IO packet decoder (chatserver/transport/sio_packets.py), without a server: every
packet a client may send, and what is refused of what it may not."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chatserver.transport.sio_packets import (
    MAX_ACK_ID,
    MAX_JSON_DEPTH,
    Attachments,
    Packet,
    PacketType,
    Refusal,
    binary_parts,
    decode,
)

T = PacketType


def _decode(text: str, max_attachments: int = 1, max_bytes: int = 1000) -> Packet | Attachments | Refusal:
    return decode(text, max_attachments=max_attachments, max_bytes=max_bytes)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(("text", "packet"), [
    ('0/visitor,{"token":"t"}', Packet(T.CONNECT, "/visitor", None, {"token": "t"})),
    ("0/visitor,", Packet(T.CONNECT, "/visitor")),
    ("0/visitor", Packet(T.CONNECT, "/visitor")),
    ("0", Packet(T.CONNECT, "/")),
    ("0{}", Packet(T.CONNECT, "/", None, {})),
    ("1/agent,", Packet(T.DISCONNECT, "/agent")),
    ("1", Packet(T.DISCONNECT, "/")),
    ('2/visitor,["session:resume",{}]', Packet(T.EVENT, "/visitor", None, ["session:resume", {}])),
    ('2/visitor,12["a",1,"b"]', Packet(T.EVENT, "/visitor", 12, ["a", 1, "b"])),
    ('27["a"]', Packet(T.EVENT, "/", 7, ["a"])),
    (f'2/visitor,{MAX_ACK_ID}["a"]', Packet(T.EVENT, "/visitor", MAX_ACK_ID, ["a"])),
    ('2/visitor,1["a",' + _nested(MAX_JSON_DEPTH - 1) + "]", Packet(T.EVENT, "/visitor", 1,
                                                                    ["a", json.loads(_nested(MAX_JSON_DEPTH - 1))])),
    ('2/visitor,1["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"[[[[[["]', Packet(T.EVENT, "/visitor", 1,
                                                                             ["[" * 38 + '"' + "[" * 6])),
    ("3/agent,4[]", Packet(T.ACK, "/agent", 4, [])),
    ('3/agent,4[{"ok":true}]', Packet(T.ACK, "/agent", 4, [{"ok": True}])),
    ('2/visitor?x=1,["a"]', Packet(T.EVENT, "/visitor?x=1", None, ["a"])),  # a namespace no server has
], ids=repr)
def test_packets_a_client_sends(text: str, packet: Packet) -> None:
    assert _decode(text) == packet


@pytest.mark.parametrize(("text", "kind", "namespace", "id", "code"), [
    ("", None, "/", None, "invalid_payload"),
    ("x", None, "/", None, "invalid_payload"),
    ("/visitor,", None, "/", None, "invalid_payload"),
    ('7/visitor,1["a"]', None, "/visitor", None, "invalid_payload"),  # no such type
    ('4/visitor,{"message":"x"}', None, "/visitor", None, "invalid_payload"),  # servers send CONNECT_ERROR
    ("0/visitor,[1]", T.CONNECT, "/visitor", None, "invalid_payload"),  # auth is an object
    ('0/visitor,"token"', T.CONNECT, "/visitor", None, "invalid_payload"),
    ("0/visitor,5{}", T.CONNECT, "/visitor", None, "invalid_payload"),
    ("0/visitor,{" + '"a":' * 40 + "1" + "}" * 40, T.CONNECT, "/visitor", None, "invalid_payload"),
    ('0/visitor,{"a":' + _nested(1000) + "}", T.CONNECT, "/visitor", None, "invalid_payload"),
    ("0/visitor,{", T.CONNECT, "/visitor", None, "invalid_payload"),
    ("1/visitor,{}", T.DISCONNECT, "/visitor", None, "invalid_payload"),
    ("1/visitor,3", T.DISCONNECT, "/visitor", None, "invalid_payload"),
    ('2/visitor,9{"a":1}', T.EVENT, "/visitor", 9, "invalid_payload"),  # data is an object
    ("2/visitor,9", T.EVENT, "/visitor", 9, "invalid_payload"),  # missing
    ("2/visitor,", T.EVENT, "/visitor", None, "invalid_payload"),
    ("2/visitor,9 ", T.EVENT, "/visitor", 9, "invalid_payload"),
    ("2/visitor,9[]", T.EVENT, "/visitor", 9, "invalid_payload"),  # no name
    ("2/visitor,9 5", T.EVENT, "/visitor", 9, "invalid_payload"),  # a number
    ("2/visitor,9[5]", T.EVENT, "/visitor", 9, "unknown_event"),  # names are strings
    ("2/visitor,9[null,{}]", T.EVENT, "/visitor", 9, "unknown_event"),
    ('2/visitor,9["a",NaN]', T.EVENT, "/visitor", 9, "invalid_payload"),  # strict JSON
    ('2/visitor,9["\\ud83d"]', T.EVENT, "/visitor", 9, "invalid_payload"),  # a lone surrogate
    ('2/visitor,9["a"', T.EVENT, "/visitor", 9, "invalid_payload"),
    ('2/visitor,9["a"]]', T.EVENT, "/visitor", 9, "invalid_payload"),
    ('2/visitor,9["a",' + _nested(MAX_JSON_DEPTH) + "]", T.EVENT, "/visitor", 9, "invalid_payload"),
    ('2/visitor,9["a",' + _nested(1000) + "]", T.EVENT, "/visitor", 9, "invalid_payload"),
    ('2/visitor,9["a",' + '{"a":' * 5000 + "1" + "}" * 5000 + "]", T.EVENT, "/visitor", 9, "invalid_payload"),
    ('2/visitor,' + "1" * 100 + '["a"]', T.EVENT, "/visitor", None, "invalid_payload"),  # ack id too long
    (f'2/visitor,{MAX_ACK_ID + 1}["a"]', T.EVENT, "/visitor", None, "invalid_payload"),
    ('21-/visitor,["a"]', T.EVENT, "/visitor", None, "invalid_payload"),  # attachments on a text packet
    ("3/visitor,[1]", T.ACK, "/visitor", None, "invalid_payload"),  # an ack without an id
    ('3/visitor,4{"a":1}', T.ACK, "/visitor", None, "invalid_payload"),
    ("3/visitor,4", T.ACK, "/visitor", None, "invalid_payload"),
    ('5/visitor,["a"]', T.BINARY_EVENT, "/visitor", None, "invalid_payload"),  # no attachment count
    ('50-/visitor,["a"]', T.BINARY_EVENT, "/visitor", None, "invalid_payload"),
], ids=repr)
def test_malformed_packets_are_refused_with_what_could_be_read(text: str, kind: PacketType | None, namespace: str,
                                                               id: int | None, code: str) -> None:
    refusal = _decode(text)
    assert isinstance(refusal, Refusal), refusal
    assert (refusal.type, refusal.namespace, refusal.id, refusal.error.code) == (kind, namespace, id, code)
    assert refusal.attachments == 0
    # Its words are the decoder's own, never the client's.
    assert refusal.error.message and "visitor" not in refusal.error.message


def _binary(header: Any, count: int = 1, id: int | None = 3, kind: str = "5", namespace: str = "/visitor") -> str:
    return f"{kind}{count}-{namespace},{'' if id is None else id}{json.dumps(header)}"


def _placeholder(num: Any) -> dict[str, Any]:
    return {"_placeholder": True, "num": num}


def test_a_binary_event_gets_its_attachments_in_place_of_its_placeholders() -> None:
    header = ["cobrowse:events", {"session_id": "s", "data": _placeholder(1), "more": [_placeholder(0)]}]
    pending = _decode(_binary(header, count=2), max_attachments=2)
    assert isinstance(pending, Attachments) and not pending.done
    assert pending.add(b"first") is None and not pending.done
    packet = pending.add(b"second")
    assert pending.done
    assert packet == Packet(T.BINARY_EVENT, "/visitor", 3, ["cobrowse:events", {
        "session_id": "s", "data": b"second", "more": [b"first"]}])


def test_a_binary_ack_and_a_binary_event_without_an_ack_id() -> None:
    ack = _decode(_binary([_placeholder(0)], kind="6", id=8))
    assert isinstance(ack, Attachments)
    assert ack.add(b"x") == Packet(T.BINARY_ACK, "/visitor", 8, [b"x"])
    event = _decode(_binary(["e", _placeholder(0)], id=None, namespace="/agent"))
    assert isinstance(event, Attachments)
    assert event.add(b"") == Packet(T.BINARY_EVENT, "/agent", None, ["e", b""])


@pytest.mark.parametrize("header", [
    ["e", _placeholder(1)],  # out of range
    ["e", _placeholder(-1)],
    ["e", _placeholder(10**12)],
    ["e", _placeholder("0")],  # a string
    ["e", _placeholder(None)],  # null
    ["e", _placeholder(0.0)],
    ["e", _placeholder(True)],
    ["e", {"_placeholder": True}],  # no num
    ["e", {**_placeholder(0), "extra": 1}],
    ["e", {"data": "no placeholder at all"}],  # the declared attachment is never named
    ["e", {"_placeholder": 1, "num": 0}],  # not a placeholder (only true is): none left
    ["e", [[[[_placeholder(2)]]]]],
], ids=repr)
def test_bad_placeholders_are_refused_on_the_header(header: list[Any]) -> None:
    refusal = _decode(_binary(header))
    assert isinstance(refusal, Refusal)
    assert (refusal.type, refusal.id, refusal.event, refusal.error.code) == (T.BINARY_EVENT, 3, "e", "invalid_payload")
    assert refusal.attachments == 1  # what follows it is dropped


@pytest.mark.parametrize("count", ["2", "9999999999", "99999999999999999999"])
def test_more_attachments_than_allowed_are_refused_before_the_json_is_read(count: str) -> None:
    refusal = _decode(f'5{count}-/visitor,3["e",' + _nested(1000) + "]")
    assert isinstance(refusal, Refusal)
    assert (refusal.type, refusal.id, refusal.error.code) == (T.BINARY_EVENT, 3, "payload_too_large")
    assert refusal.error.details == {"max_attachments": 1}
    # The binary messages that follow are dropped (until the next text message).
    assert refusal.attachments == int(count) or refusal.attachments > 10**18


def test_attachments_over_max_bytes_are_refused_and_the_rest_dropped() -> None:
    pending = _decode(_binary(["e", _placeholder(0), _placeholder(1), _placeholder(2)], count=3),
                      max_attachments=3, max_bytes=10)
    assert isinstance(pending, Attachments)
    assert pending.add(b"12345") is None
    refusal = pending.add(b"123456")
    assert isinstance(refusal, Refusal)
    assert (refusal.type, refusal.id, refusal.event, refusal.error.code) == (T.BINARY_EVENT, 3, "e",
                                                                             "payload_too_large")
    assert refusal.error.details == {"max_bytes": 10}
    assert not pending.done
    assert pending.add(b"x" * 1000) is None and pending.done  # dropped, and counted
    assert pending.abandon() is None


def test_a_text_packet_before_the_attachments_refuses_the_binary_packet() -> None:
    pending = _decode(_binary(["e", _placeholder(0)]))
    assert isinstance(pending, Attachments)
    refusal = pending.abandon()
    assert isinstance(refusal, Refusal)
    assert (refusal.type, refusal.namespace, refusal.id, refusal.event, refusal.error.code) == (
        T.BINARY_EVENT, "/visitor", 3, "e", "invalid_payload")


def test_dropping_counts_the_declared_attachments_and_keeps_none() -> None:
    dropping = Attachments.dropping(2)
    assert dropping.add(b"a" * 100) is None and not dropping.done
    assert dropping.add(b"b") is None and dropping.done
    assert dropping.abandon() is None


def test_binary_parts_replace_bytes_by_placeholders_in_order() -> None:
    answer = [{"ok": True, "a": b"1", "list": [b"2", {"deep": (b"3", "x")}], "text": "t"}]
    data, attachments = binary_parts(answer)
    assert attachments == [b"1", b"2", b"3"]
    assert data == [{"ok": True, "a": _placeholder(0), "list": [_placeholder(1), {"deep": [_placeholder(2), "x"]}],
                     "text": "t"}]
    assert answer[0]["a"] == b"1"  # the answer itself is left as it was
    # Decoding what would be sent gives the answer back.
    header = "63-/visitor,1" + json.dumps(data)
    pending = _decode(header, max_attachments=3)
    assert isinstance(pending, Attachments)
    pending.add(b"1")
    pending.add(b"2")
    assert pending.add(b"3") == Packet(T.BINARY_ACK, "/visitor", 1, [
        {"ok": True, "a": b"1", "list": [b"2", {"deep": [b"3", "x"]}], "text": "t"}])


def test_binary_parts_of_data_without_bytes_is_that_data() -> None:
    answer = [{"ok": True, "seq": 3, "items": [{"id": "a"}, ("t", 1)]}]
    data, attachments = binary_parts(answer)
    assert data is answer and attachments == []
