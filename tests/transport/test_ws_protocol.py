"""The WebSocket protocol (chatserver/transport/ws_protocol.py) without a socket: RFC 6455's
rules on what a client may send, fed as bytes, checked on the events and the bytes to send. The
same promises over a real connection are in test_direct_websocket.py."""

from __future__ import annotations

import random

import pytest

from chatserver.transport.ws_protocol import (
    CloseCode,
    CloseReceived,
    Event,
    Opcode,
    Refused,
    ServerProtocol,
    State,
    close_code_allowed,
    close_frame,
    frame_header,
)

from .raw_socket import frame

MAX_SIZE = 1000
TEXT, BINARY, CONTINUATION = Opcode.TEXT, Opcode.BINARY, Opcode.CONTINUATION
CLOSE, PING, PONG = Opcode.CLOSE, Opcode.PING, Opcode.PONG


def server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """The frames the server wrote, as (opcode, payload); each must be whole and unmasked."""
    frames, pos = [], 0
    while pos < len(data):
        first, second = data[pos], data[pos + 1]
        assert first & 0xF0 == 0x80, "FIN set, no reserved bit"
        assert not second & 0x80, "a server's frame is not masked"
        length, pos = second, pos + 2
        if length >= 126:
            extra = 2 if length == 126 else 8
            length, pos = int.from_bytes(data[pos:pos + extra], "big"), pos + extra
        frames.append((first & 0x0F, data[pos:pos + length]))
        pos += length
    assert pos == len(data)
    return frames


def fed(*chunks: bytes, protocol: ServerProtocol | None = None) -> tuple[ServerProtocol, list[Event],
                                                                         list[tuple[int, bytes]]]:
    """A protocol fed ``chunks`` one read each: it, what it received and the frames it has to send."""
    protocol = protocol or ServerProtocol(max_size=MAX_SIZE)
    events: list[Event] = []
    out = b""
    for chunk in chunks:
        protocol.receive_data(chunk)
        events += protocol.events_received()
        out += protocol.data_to_send()
    return protocol, events, server_frames(out)


def close_code(payload: bytes) -> int:
    return int.from_bytes(payload[:2], "big")


def refused_with(code: CloseCode, *chunks: bytes) -> None:
    """``chunks`` are refused with ``code``: one close frame out, nothing read afterwards."""
    protocol, events, frames = fed(*chunks)
    assert isinstance(events[-1], Refused) and events[-1].code == code, events
    assert [(op, close_code(payload)) for op, payload in frames if op == CLOSE] == [(CLOSE, code)]
    assert protocol.state is State.CLOSED
    protocol.receive_data(frame(TEXT, b"after"))
    assert protocol.events_received() == () and protocol.data_to_send() == b""


# -- messages -----------------------------------------------------------------------------------


def test_text_and_binary_messages_in_one_read_come_out_in_order() -> None:
    _, events, frames = fed(frame(TEXT, "héllo".encode()) + frame(BINARY, b"\x00\xff") + frame(TEXT, b""))
    assert events == ["héllo", b"\x00\xff", ""]
    assert frames == []


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 125, 126, 127, 65535, 65536, 70000])
def test_every_length_encoding_and_masking(size: int) -> None:
    # 7-bit lengths up to 125, 16-bit from 126, 64-bit from 65536; a mask over any remainder of 4.
    payload = random.Random(size).randbytes(size)
    _, events, _ = fed(frame(BINARY, payload), protocol=ServerProtocol(max_size=100_000))
    assert events == [payload]


def test_a_length_need_not_be_minimally_encoded() -> None:
    # RFC 6455 asks senders for the shortest form; a receiver that refused others would gain nothing.
    head = bytes([0x80 | TEXT, 0x80 | 126]) + (3).to_bytes(2, "big") + bytes(4)  # a zero mask
    _, events, _ = fed(head + b"abc")
    assert events == ["abc"]


def test_frames_cut_at_every_byte_give_the_same_events() -> None:
    stream = (frame(TEXT, b"x" * 200) + frame(PING, b"p") + frame(BINARY, b"y" * 70, fin=False)
              + frame(CONTINUATION, b"z" * 3) + frame(TEXT, b"last"))
    expected = (["x" * 200, b"y" * 70 + b"zzz", "last"], [(PONG, b"p")])
    assert fed(stream)[1:] == expected
    for cut in range(1, len(stream)):
        assert fed(stream[:cut], stream[cut:])[1:] == expected, cut
    assert fed(*[stream[i:i + 1] for i in range(len(stream))])[1:] == expected
    rng = random.Random(6455)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(stream)), 5))
        assert fed(*[stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)])[1:] == expected


def test_a_fragmented_message_is_one_message() -> None:
    _, events, _ = fed(frame(TEXT, b"one ", fin=False) + frame(CONTINUATION, b"", fin=False)
                       + frame(CONTINUATION, b"two ", fin=False) + frame(CONTINUATION, b"three"))
    assert events == ["one two three"]
    _, events, _ = fed(frame(BINARY, b"\x01", fin=False), frame(CONTINUATION, b"\x02"))
    assert events == [b"\x01\x02"]


def test_utf8_is_checked_on_the_whole_message_so_a_character_may_span_fragments() -> None:
    e_acute = "é".encode()
    _, events, _ = fed(frame(TEXT, b"caf" + e_acute[:1], fin=False), frame(CONTINUATION, e_acute[1:]))
    assert events == ["café"]


@pytest.mark.parametrize("chunks", [
    [frame(TEXT, b"\xff")],
    [frame(TEXT, b"\xc3")],  # a character cut short at the end of the message
    [frame(TEXT, b"\xed\xa0\x80")],  # a UTF-16 surrogate
    [frame(TEXT, b"\xc0\xaf")],  # an overlong encoding
    [frame(TEXT, b"ok", fin=False), frame(CONTINUATION, b"\xff", fin=False), frame(CONTINUATION, b"")],
], ids=["invalid-byte", "truncated", "surrogate", "overlong", "in-fragments"])
def test_a_text_message_that_is_not_utf8_is_refused_with_1007(chunks: list[bytes]) -> None:
    refused_with(CloseCode.INVALID_DATA, *chunks)


def test_a_binary_message_is_any_bytes() -> None:
    assert fed(frame(BINARY, b"\xff\xc3"))[1] == [b"\xff\xc3"]


# -- control frames -----------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"", b"are you there", b"p" * 125])
def test_a_ping_is_answered_with_a_pong_of_its_payload(payload: bytes) -> None:
    protocol, events, frames = fed(frame(PING, payload))
    assert (events, frames) == ([], [(PONG, payload)])
    assert protocol.data_to_send() == b""  # written once


def test_an_unasked_pong_is_ignored() -> None:
    assert fed(frame(PONG, b"late") + frame(TEXT, b"x"))[1:] == (["x"], [])


def test_control_frames_between_fragments_are_handled_at_once_and_not_counted_in_the_message() -> None:
    # A message of exactly the limit in two fragments, a 125-byte ping between them.
    protocol, events, frames = fed(frame(TEXT, b"a" * (MAX_SIZE - 1), fin=False), frame(PING, b"p" * 125))
    assert (events, frames) == ([], [(PONG, b"p" * 125)])  # the pong does not wait for the message
    _, events, _ = fed(frame(CONTINUATION, b"b"), protocol=protocol)
    assert events == ["a" * (MAX_SIZE - 1) + "b"]


def test_a_close_frame_between_fragments_ends_the_connection_with_its_code() -> None:
    protocol, events, frames = fed(frame(TEXT, b"unfinished", fin=False) + frame(CLOSE, (4000).to_bytes(2, "big")))
    assert events == [CloseReceived(4000, "")]
    assert frames == [(CLOSE, (4000).to_bytes(2, "big"))]
    assert protocol.state is State.CLOSED


@pytest.mark.parametrize("data", [
    frame(PING, b"x" * 126),
    frame(CLOSE, (1000).to_bytes(2, "big") + b"r" * 124),
    frame(PING, b"", length=65536),  # refused on the header: the payload never comes
    frame(PING, b"x", fin=False),
    frame(PONG, b"x", fin=False),
    frame(CLOSE, (1000).to_bytes(2, "big"), fin=False),
], ids=["long-ping", "long-close", "huge-ping", "fragmented-ping", "fragmented-pong", "fragmented-close"])
def test_a_control_frame_is_whole_and_at_most_125_bytes(data: bytes) -> None:
    refused_with(CloseCode.PROTOCOL_ERROR, data)


# -- frames refused -----------------------------------------------------------------------------


@pytest.mark.parametrize("rsv", [1, 2, 4, 7])
def test_reserved_bits_are_refused_no_extension_being_agreed(rsv: int) -> None:
    refused_with(CloseCode.PROTOCOL_ERROR, frame(TEXT, b"x", rsv=rsv))


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcodes_are_refused(opcode: int) -> None:
    refused_with(CloseCode.PROTOCOL_ERROR, frame(opcode, b"x"))


def test_a_client_frame_must_be_masked() -> None:
    refused_with(CloseCode.PROTOCOL_ERROR, frame(TEXT, b"x", mask=False))


def test_a_continuation_continues_a_message() -> None:
    refused_with(CloseCode.PROTOCOL_ERROR, frame(CONTINUATION, b"x"))
    refused_with(CloseCode.PROTOCOL_ERROR, frame(TEXT, b"x") + frame(CONTINUATION, b"y"))


@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_no_new_message_inside_a_fragmented_one(opcode: int) -> None:
    refused_with(CloseCode.PROTOCOL_ERROR, frame(TEXT, b"x", fin=False), frame(opcode, b"y"))


def test_what_came_before_a_refused_frame_is_received_and_answered_first() -> None:
    _, events, frames = fed(frame(TEXT, b"first") + frame(PING, b"p") + frame(TEXT, b"x", mask=False)
                            + frame(TEXT, b"never"))
    assert events == ["first", Refused(CloseCode.PROTOCOL_ERROR, "a client's frame must be masked")]
    assert frames == [(PONG, b"p"), (CLOSE, (1002).to_bytes(2, "big") + b"a client's frame must be masked")]


# -- sizes --------------------------------------------------------------------------------------


def test_a_message_of_exactly_max_size_is_received() -> None:
    assert fed(frame(BINARY, b"x" * MAX_SIZE))[1] == [b"x" * MAX_SIZE]
    assert fed(frame(TEXT, b"x" * 600, fin=False), frame(CONTINUATION, b"x" * 400))[1] == ["x" * MAX_SIZE]


def test_a_message_over_max_size_is_refused_on_its_header_before_the_payload_comes() -> None:
    header = frame(TEXT, b"", length=MAX_SIZE + 1)
    refused_with(CloseCode.MESSAGE_TOO_BIG, header)
    refused_with(CloseCode.MESSAGE_TOO_BIG, frame(TEXT, b"x" * 600, fin=False), frame(CONTINUATION, b"", length=401))
    refused_with(CloseCode.MESSAGE_TOO_BIG, frame(TEXT, b"x" * 400, fin=False),
                 frame(CONTINUATION, b"x" * 400, fin=False), frame(CONTINUATION, b"", length=201))
    refused_with(CloseCode.MESSAGE_TOO_BIG, frame(BINARY, b"", length=2**63 - 1))  # the longest a frame may claim


def test_a_64_bit_length_with_its_most_significant_bit_set_is_refused() -> None:
    # RFC 6455 section 5.2: that bit must be 0 (lengths are unsigned 63-bit numbers on the wire).
    refused_with(CloseCode.PROTOCOL_ERROR, frame(BINARY, b"", length=2**63 + 5))


# -- the close handshake ------------------------------------------------------------------------


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000,
                                  4000, 4999])
def test_a_close_frame_is_answered_with_its_code(code: int) -> None:
    protocol, events, frames = fed(frame(CLOSE, code.to_bytes(2, "big") + "au revoir é".encode())
                                   + frame(TEXT, b"after the close"))
    assert events == [CloseReceived(code, "au revoir é")]
    assert frames == [(CLOSE, code.to_bytes(2, "big"))]
    assert protocol.state is State.CLOSED
    protocol.receive_data(frame(TEXT, b"later"))
    assert protocol.events_received() == () and protocol.data_to_send() == b""


def test_a_close_frame_without_a_code_is_answered_with_1000() -> None:
    _, events, frames = fed(frame(CLOSE, b""))
    assert events == [CloseReceived(CloseCode.NO_STATUS, "")]
    assert frames == [(CLOSE, (1000).to_bytes(2, "big"))]


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535])
def test_a_close_code_no_endpoint_may_send_is_refused(code: int) -> None:
    # 1005, 1006 and 1015 are only ever reported locally; 1004 is reserved; below 3000 unassigned
    # codes are for the RFC's successors; nothing past 4999.
    refused_with(CloseCode.PROTOCOL_ERROR, frame(CLOSE, code.to_bytes(2, "big")))


def test_a_close_frame_of_one_byte_is_refused() -> None:
    refused_with(CloseCode.PROTOCOL_ERROR, frame(CLOSE, b"\x03"))


def test_a_close_reason_that_is_not_utf8_is_refused_with_1007() -> None:
    refused_with(CloseCode.INVALID_DATA, frame(CLOSE, (1000).to_bytes(2, "big") + b"\xff"))


def test_after_the_servers_close_only_the_clients_answer_counts() -> None:
    protocol = ServerProtocol(max_size=MAX_SIZE)
    protocol.send_close(CloseCode.GOING_AWAY)
    assert server_frames(protocol.data_to_send()) == [(CLOSE, (1001).to_bytes(2, "big"))]
    assert protocol.state is State.CLOSING
    # Messages and pings are dropped (nor are fragments checked); the answer ends the handshake,
    # whatever code it carries, and nothing more is sent.
    answered, events, frames = fed(frame(TEXT, b"x") + frame(PING, b"p") + frame(CONTINUATION, b"y")
                                   + frame(CLOSE, (5000).to_bytes(2, "big")), protocol=protocol)
    assert (events, frames) == ([CloseReceived(5000, "")], [])
    assert answered.state is State.CLOSED


def test_after_the_servers_close_a_malformed_frame_is_refused_without_a_second_close_frame() -> None:
    protocol = ServerProtocol(max_size=MAX_SIZE)
    protocol.send_close()
    protocol.data_to_send()
    _, events, frames = fed(frame(TEXT, b"x", mask=False), protocol=protocol)
    assert (events, frames) == ([Refused(CloseCode.PROTOCOL_ERROR, "a client's frame must be masked")], [])
    assert protocol.state is State.CLOSED


def test_the_server_closes_once() -> None:
    protocol = ServerProtocol(max_size=MAX_SIZE)
    protocol.send_close(CloseCode.PROTOCOL_ERROR, "bad packet")
    protocol.send_close(CloseCode.NORMAL)
    assert server_frames(protocol.data_to_send()) == [(CLOSE, (1002).to_bytes(2, "big") + b"bad packet")]
    answered, _, _ = fed(frame(CLOSE, b""))
    answered.send_close()
    assert answered.data_to_send() == b""


def test_a_connection_that_ended_reads_nothing_more() -> None:
    protocol, _, _ = fed(frame(TEXT, b"half", fin=False) + frame(TEXT, b"cut short")[:4])
    protocol.receive_eof()
    assert protocol.state is State.CLOSED
    assert fed(frame(CONTINUATION, b"x"), protocol=protocol)[1:] == ([], [])


# -- what the server sends ----------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 125, 126, 65535, 65536])
def test_frame_header_uses_the_shortest_length_encoding(length: int) -> None:
    header = frame_header(BINARY, length)
    assert len(header) == (2 if length < 126 else 4 if length < 65536 else 10)
    assert server_frames(header + bytes(length)) == [(BINARY, bytes(length))]


def test_close_codes_that_may_be_sent() -> None:
    allowed = [code for code in range(70000) if close_code_allowed(code)]
    assert allowed == [1000, 1001, 1002, 1003, *range(1007, 1015), *range(3000, 5000)]
    with pytest.raises(ValueError, match="1006"):
        close_frame(CloseCode.ABNORMAL)


def test_a_long_close_reason_is_cut_on_a_character_boundary() -> None:
    [(opcode, payload)] = server_frames(close_frame(CloseCode.NORMAL, "é" * 100))  # 200 bytes of UTF-8
    assert opcode == CLOSE and len(payload) <= 125
    assert payload[2:].decode("utf-8") == "é" * 60
