"""Socket.IO packets no library sends, from a raw WebSocket client: each is answered where the
client can hear it (its ack, an ``error`` event, a CONNECT_ERROR) and the connection serves on,
or, when nothing could be answered, the connection is closed; nothing is held for a binary packet
that cannot be completed, and no traceback or byte of what was sent reaches the log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ..support import LiveServer, make_settings, wait_until
from .raw_socket import BINARY, RawSocket, frame

SECRET = "SECRET-4242"  # in every payload below: it must never reach the log
DEEP = "[" * 1000 + "]" * 1000
NAMESPACES = ["/visitor", "/agent"]


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record of the test; afterwards, none with a traceback or with the client's bytes."""
    with caplog.at_level("INFO"):
        yield caplog
    for record in caplog.records:
        text = record.getMessage()
        assert not record.exc_info and not record.exc_text and "Traceback" not in text, text
        assert SECRET not in text, text


async def _auth(server: LiveServer, namespace: str) -> dict[str, Any]:
    if namespace == "/visitor":
        return {"token": await server.visitor_token()}
    return {"token": (await server.add_agent())["token"]}


async def _connect(server: LiveServer, namespace: str) -> RawSocket:
    raw = await RawSocket.open(server)
    raw.send_text(f"40{namespace}," + json.dumps(await _auth(server, namespace)))
    assert (await raw.text()).startswith(f"40{namespace},{{")
    return raw


@pytest.fixture(params=NAMESPACES)
async def connected(request: pytest.FixtureRequest, server: LiveServer) -> AsyncIterator[tuple[RawSocket, str]]:
    raw = await _connect(server, request.param)
    try:
        yield raw, request.param
    finally:
        raw.close()


def _send(raw: RawSocket, sent: list[str | bytes], namespace: str) -> None:
    """Each item as an Engine.IO MESSAGE: text (``{ns}`` is the namespace) or a binary frame."""
    for item in sent:
        if isinstance(item, bytes):
            raw.send(frame(BINARY, item))
        else:
            raw.send_text("4" + item.replace("{ns}", namespace))


async def _packet(raw: RawSocket, prefix: str) -> str:
    """The next packet starting with ``prefix`` (the ones before it are skipped)."""
    while not (text := await raw.text()).startswith(prefix):
        pass
    return text[len(prefix):]


async def _ack(raw: RawSocket, namespace: str, id: int) -> Any:
    """The next ack with this id (the packets before it are skipped): its one argument."""
    [answer] = json.loads("[" + await _packet(raw, f"43{namespace},{id}["))
    return answer


async def _served(raw: RawSocket, namespace: str) -> None:
    """The connection still answers a well-formed event."""
    raw.send_text(f'42{namespace},999["session:resume",{{}}]')
    assert (await _ack(raw, namespace, 999))["ok"] is True


def _placeholder(num: Any, **extra: Any) -> dict[str, Any]:
    return {"_placeholder": True, "num": num, **extra}


def _batch(ack: str, data: Any) -> str:
    """A co-browse batch header, as a binary event with ack id ``ack`` ("" for none)."""
    return f"51-{{ns}},{ack}" + json.dumps(["cobrowse:events", {"session_id": SECRET, "seq": 1, "data": data}])


# What is sent, and the answer: the ack id it comes back on (None: an "error" event) and its code.
ANSWERED: list[tuple[list[str | bytes], int | None, str]] = [
    (['2{ns},1{"a":"' + SECRET + '"}'], 1, "invalid_payload"),  # an EVENT's data that is an object
    (['2{ns},2"' + SECRET + '"'], 2, "invalid_payload"),  # a string
    (["2{ns},3 42"], 3, "invalid_payload"),  # a number
    (["2{ns},"], None, "invalid_payload"),  # missing
    (["2{ns},4[]"], 4, "invalid_payload"),
    (['2{ns},5[7,"' + SECRET + '"]'], 5, "unknown_event"),  # a name that is no string
    (['2{ns},6["session:resume",' + DEEP + "]"], 6, "invalid_payload"),  # JSON nested 1,000 deep
    (['2{ns},7["session:resume",{"a":"' + SECRET + '",' + '"b":{' * 40 + "}" * 40 + "}]"], 7, "invalid_payload"),
    (["2{ns}," + "1" * 100 + '["session:resume",{}]'], None, "invalid_payload"),  # a 100-digit ack id
    (['2{ns},8["session:resume",{"x":NaN}]'], 8, "invalid_payload"),
    (['3{ns},["' + SECRET + '"]'], None, "invalid_payload"),  # an ACK without an id
    (['3{ns},9{"' + SECRET + '":1}'], None, "invalid_payload"),  # whose data is no array
    (['1{ns},"' + SECRET + '"'], None, "invalid_payload"),  # a DISCONNECT with a payload
    # Binary events: placeholders out of range, a string, null, negative, never named...
    ([_batch("10", _placeholder(5)), SECRET.encode()], 10, "invalid_payload"),
    ([_batch("11", _placeholder("0")), SECRET.encode()], 11, "invalid_payload"),
    ([_batch("12", _placeholder(None)), SECRET.encode()], 12, "invalid_payload"),
    ([_batch("13", _placeholder(-1)), SECRET.encode()], 13, "invalid_payload"),
    ([_batch("14", _placeholder(0, extra=SECRET)), SECRET.encode()], 14, "invalid_payload"),
    ([_batch("15", SECRET), SECRET.encode()], 15, "invalid_payload"),
    ([_batch("", _placeholder(7)), SECRET.encode()], None, "invalid_payload"),
    # ... never filled: the next text packet comes first (the check that the connection serves)
    ([_batch("16", _placeholder(0))], 16, "invalid_payload"),
    # More attachments than a packet may have: refused on the header, what follows dropped.
    (["59999999999-{ns},17" + json.dumps(["cobrowse:events", {"data": _placeholder(0)}]), SECRET.encode() * 1000,
      b"x" * 100_000, b""], 17, "payload_too_large"),
    (["52-{ns},18" + json.dumps(["cobrowse:events", _placeholder(0), _placeholder(1)]), b"a", b"b"], 18,
     "payload_too_large"),
    (['51-{ns},19["cobrowse:events",{"d":{"_placeholder":true,"num":0}},' + DEEP + "]", b"a"], 19, "invalid_payload"),
    (["61-{ns},20" + json.dumps([_placeholder(1)]), SECRET.encode()], None, "invalid_payload"),  # a BINARY_ACK
]


@pytest.mark.parametrize(("sent", "ack", "code"), ANSWERED, ids=lambda v: repr(v)[:60] if isinstance(v, list) else None)
async def test_a_malformed_packet_is_answered_and_the_connection_serves_on(
        connected: tuple[RawSocket, str], log: pytest.LogCaptureFixture, sent: list[str | bytes], ack: int | None,
        code: str) -> None:
    raw, namespace = connected
    _send(raw, sent, namespace)
    raw.send_text(f'42{namespace},999["session:resume",{{}}]')
    if ack is not None:
        answer = await _ack(raw, namespace, ack)
    else:
        event, answer = json.loads(await _packet(raw, f"42{namespace},"))
        assert event == "error" and set(answer) == {"error", "event"}
        assert answer["event"] in ("", "cobrowse:events")  # the event's name, when it could be read
    assert answer["error"]["code"] == code and answer["error"]["message"], answer
    assert (await _ack(raw, namespace, 999))["ok"] is True
    refused = [r.getMessage() for r in log.records if "refused" in r.getMessage()]
    assert len(refused) == 1 and f"code={code}" in refused[0], refused


@pytest.mark.parametrize("sent", [
    ['2{ns},1["session:resume",{}]'.replace("{ns}", "/nope")],  # a namespace that does not exist
    ['3/nope,1["' + SECRET + '"]'],
    ["1/nope,x"],
    ["51-/nope,1" + json.dumps(["e", _placeholder(0)]), SECRET.encode()],
    ["51-{other},1" + json.dumps(["e", _placeholder(0)])],  # closed on the header: nothing is kept for it
    ['2{other},1["session:resume",{}]'],  # the other namespace, not connected to
    ['2/visitor?x=1,1["session:resume",{}]'],
    [SECRET.encode()],  # a binary message that follows no binary packet
    ['7{ns},1["' + SECRET + '"]'],  # no such packet type
    ['4{ns},{"message":"' + SECRET + '"}'],  # CONNECT_ERROR: only servers send it
    ["x" + SECRET],
], ids=repr)
async def test_a_packet_that_leaves_nothing_to_answer_on_closes_the_connection(
        server: LiveServer, connected: tuple[RawSocket, str], log: pytest.LogCaptureFixture,
        sent: list[str | bytes]) -> None:
    raw, namespace = connected
    other = NAMESPACES[1 - NAMESPACES.index(namespace)]
    _send(raw, [item.replace("{other}", other) if isinstance(item, str) else item for item in sent], namespace)
    assert await raw.closed_with() == 1000
    assert raw.texts_before_close[-1:] == ["1"]  # Engine.IO's CLOSE first
    await wait_until(lambda: not server.parts.transport.hub.connections, timeout=5, what="the connection forgotten")
    sockets = server.parts.transport.hub.sio.eio.sockets
    assert sockets == {} or all(s.closed for s in sockets.values())


def _connect_error(text: str) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(text)
    assert set(error) == {"message", "code", "data"} and error["data"] == {"code": error["code"],
                                                                          "message": error["message"]}
    return error


@pytest.mark.parametrize(("sent", "namespace", "code"), [
    ("0/nope,", "/nope", "not_found"),  # a namespace that does not exist
    ('0/nope,{"token":"' + SECRET + '"}', "/nope", "not_found"),
    ("0", "/", "not_found"),  # the main namespace: nothing is served there
    ("0/visitor,[1]", "/visitor", "invalid_payload"),  # auth that is no object
    ("0/visitor,5{}", "/visitor", "invalid_payload"),
    ('0/visitor,{"token":' + DEEP + "}", "/visitor", "invalid_payload"),  # deep JSON in the auth
    ('0/agent,{"token":"x","status":' + "[" * 40 + "]" * 40 + "}", "/agent", "invalid_payload"),
    ('0/visitor,{"token":"' + SECRET + '.\u00e9"}', "/visitor", "invalid_token"),  # a non-ASCII signature
    ('0/agent,{"token":"abc.\\u00e9"}', "/agent", "invalid_token"),
    ("0/visitor,{", "/visitor", "invalid_payload"),
    ("0/visitor,{}", "/visitor", "auth_required"),
], ids=repr)
async def test_a_refused_connect_gets_a_structured_connect_error(server: LiveServer, log: pytest.LogCaptureFixture,
                                                                 sent: str, namespace: str, code: str) -> None:
    raw = await RawSocket.open(server)
    try:
        raw.send_text("4" + sent)
        prefix = "44" if namespace == "/" else f"44{namespace},"
        assert _connect_error(await _packet(raw, prefix))["code"] == code
        # The connection is still open: it can connect properly now, and be served.
        for ns in NAMESPACES:
            raw.send_text(f"40{ns}," + json.dumps(await _auth(server, ns)))
            assert (await raw.text()).startswith(f"40{ns},{{")
            await _served(raw, ns)
    finally:
        raw.close()


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_packets_before_connect(server: LiveServer, log: pytest.LogCaptureFixture, namespace: str) -> None:
    # A DISCONNECT of a namespace it is not connected to is what the client wants: nothing to do.
    raw = await RawSocket.open(server)
    try:
        raw.send_text(f"41{namespace},")
        raw.send_text(f"40{namespace}," + json.dumps(await _auth(server, namespace)))
        assert (await raw.text()).startswith(f"40{namespace},{{")
        # Connecting again while connected is refused; the first connection stands.
        raw.send_text(f"40{namespace}," + json.dumps(await _auth(server, namespace)))
        assert _connect_error(await _packet(raw, f"44{namespace},"))["code"] == "conflict"
        await _served(raw, namespace)
        assert len(server.parts.transport.hub.connections) == 1
        # After a DISCONNECT, events of that namespace have nowhere to go: the connection closes.
        raw.send_text(f"41{namespace},")
        await wait_until(lambda: not server.parts.transport.hub.connections, timeout=5, what="the namespace left")
        raw.send_text(f'42{namespace},1["session:resume",{{}}]')
        assert await raw.closed_with() == 1000
    finally:
        raw.close()
    # Events before any CONNECT: the same.
    raw = await RawSocket.open(server)
    try:
        raw.send_text(f'42{namespace},1["session:resume",{{}}]')
        assert await raw.closed_with() == 1000
    finally:
        raw.close()


async def test_a_well_formed_ack_for_nothing_is_ignored(connected: tuple[RawSocket, str],
                                                        log: pytest.LogCaptureFixture) -> None:
    # The server asks clients for no acks: one for an id it never sent is dropped, binary or not.
    raw, namespace = connected
    _send(raw, ['3{ns},5["' + SECRET + '"]', "61-{ns},6" + json.dumps([_placeholder(0)]), SECRET.encode()],
          namespace)
    await _served(raw, namespace)


async def test_attachments_are_bounded_in_bytes_and_nothing_is_kept(tmp_path: Path,
                                                                     log: pytest.LogCaptureFixture) -> None:
    settings = make_settings(tmp_path, max_binary_attachments=3, max_http_buffer_size=300_000,
                             cobrowse_max_part_bytes=100_000)
    server = LiveServer(settings)
    await server.start()
    raw = await _connect(server, "/visitor")
    try:
        header = "53-/visitor,1" + json.dumps(["cobrowse:events", [_placeholder(0), _placeholder(1),
                                                                    _placeholder(2)]])
        _send(raw, [header, b"a" * 200_000, b"b" * 200_000, b"c" * 200_000], "/visitor")
        answer = await _ack(raw, "/visitor", 1)
        assert answer["error"] == {"code": "payload_too_large", "details": {"max_bytes": 300_000},
                                   "message": answer["error"]["message"]}
        await _served(raw, "/visitor")
        assert server.parts.transport.hub.sio._attachments == {}  # nothing held for the refused packet
        # Three attachments within the bound arrive whole.
        _send(raw, [header, b"a" * 100_000, b"b" * 100_000, b"c"], "/visitor")
        answer = await _ack(raw, "/visitor", 1)
        assert answer["error"]["code"] == "invalid_payload"  # the handler's own check: one bytes object
        await _served(raw, "/visitor")
    finally:
        raw.close()
        await server.close()


async def test_a_polling_client_is_closed_without_its_request_waiting(server: LiveServer,
                                                                      log: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=polling"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as opened:
            sid = json.loads((await opened.text())[1:])["sid"]
        token = await server.visitor_token()
        async with http.post(f"{url}&sid={sid}", data="40/visitor," + json.dumps({"token": token})) as posted:
            assert posted.status == 200
        async with http.get(f"{url}&sid={sid}") as polled:
            assert (await polled.text()).startswith("40/visitor,{")
        # A packet for a namespace it is not connected to: answered at once, and the session ends.
        async with http.post(f"{url}&sid={sid}", data='42/nope,1["' + SECRET + '"]') as posted:
            assert posted.status == 200
        await wait_until(lambda: not server.parts.transport.hub.connections, timeout=5, what="the connection forgotten")
        async with http.get(f"{url}&sid={sid}") as polled:
            assert polled.status == 400 or await polled.text() == "1"


async def test_a_flood_of_refused_packets_writes_a_bounded_log(server: LiveServer,
                                                               log: pytest.LogCaptureFixture) -> None:
    """A line per refused packet, until the flood outruns the log's allowance: then the lines held
    back are counted in the next one written, so that bad input cannot fill the disk through the
    log (165 kB of bad packets once wrote 7.3 MB)."""
    raw = await _connect(server, "/visitor")
    try:
        flood = 1000
        for n in range(flood):
            _send(raw, [f'5{{ns}},{n}["cobrowse:events",{{"_placeholder":true,"num":"{SECRET}"}}]'], "/visitor")
        raw.send_text("4" + '2/visitor,99999["session:resume",{}]')
        assert json.loads(await _packet(raw, "43/visitor,99999"))[0]["ok"] is True  # served on
    finally:
        raw.close()
    refused = [r.getMessage() for r in log.records if r.getMessage().startswith("packet refused")]
    assert 50 <= len(refused) <= 150, len(refused)  # the burst, and what the rate allows meanwhile
    assert all("code=invalid_payload" in line for line in refused)
