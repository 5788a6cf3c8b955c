"""The upgrade of a long-polling connection to a WebSocket (Engine.IO v4: the client opens a
WebSocket with the connection's sid, sends ``2probe``, the server answers ``3probe`` and releases a
waiting poll with a NOOP, the client sends ``5``): what polling had not fetched goes onto the
WebSocket in order, and an upgrade that goes wrong leaves polling as it was."""

from __future__ import annotations

import asyncio
import base64

import pytest

from chatserver.transport import engineio_socket

from ..support import LiveServer, wait_until
from .raw_socket import Polling, RawSocket


def _resume(ack_id: int) -> str:
    return f'42/visitor,{ack_id}["session:resume",{{}}]'


async def _served_by_polling(polling: Polling, ack_id: int) -> None:
    """The connection still works over long-polling: an event is answered on a poll."""
    assert await polling.post(_resume(ack_id)) == 200
    status, packets = await polling.get()
    assert status == 200 and packets[-1].startswith(f"43/visitor,{ack_id}[{{\"ok\":true"), packets


async def _upgrade(*, raw: RawSocket, ack_id: int) -> None:
    """Finish the upgrade exchange on ``raw`` and check that an event is answered over it."""
    raw.send_text("2probe")
    assert await raw.text() == "3probe"
    raw.send_text("5")
    raw.send_text(_resume(ack_id))
    assert (await raw.ack(ack_id))[0]["ok"] is True


async def test_the_upgrade_releases_a_waiting_poll_and_moves_what_polling_had_not_fetched(server: LiveServer) -> None:
    polling = await Polling.open(server)
    await polling.join()
    waiting = asyncio.create_task(polling.get())  # a poll waiting for something to send
    raw = await RawSocket.connect(server, f"EIO=4&transport=websocket&sid={polling.sid}")
    try:
        raw.send_text("2probe")
        assert await raw.text() == "3probe"
        assert await asyncio.wait_for(waiting, 5) == (200, ["6"])  # released with a NOOP
        # Events sent over polling meanwhile are answered, but polls no longer carry the answers...
        assert await polling.post(_resume(1), _resume(2)) == 200
        assert await polling.get() == (200, ["6"])
        assert await polling.post(_resume(3)) == 200
        # ...which go onto the WebSocket, in order, once the client finishes the upgrade.
        raw.send_text("5")
        assert [int((await raw.text())[len("43/visitor,"):][:1]) for _ in range(3)] == [1, 2, 3]
        raw.send_text(_resume(4))
        assert (await raw.ack(4))[0]["ok"] is True
        # Polling is over for this connection.
        assert (await polling.get())[0] == 400
        assert await polling.post(_resume(5)) == 400
    finally:
        raw.close()
    hub = server.parts.transport.hub
    await wait_until(lambda: not hub.connections and not hub.sio.eio.sockets, timeout=5,
                     what="the connection and its Engine.IO socket forgotten")


@pytest.mark.parametrize("sent", [["4hello"], ["2probe", "4hello"], ["5"], ["2probe", "2"]],
                         ids=["no-probe", "no-upgrade-packet", "upgrade-before-probe", "ping-instead"])
async def test_an_upgrade_the_client_does_not_follow_through_leaves_polling_as_it_was(
    server: LiveServer, sent: list[str],
) -> None:
    polling = await Polling.open(server)
    await polling.join()
    raw = await RawSocket.connect(server, f"EIO=4&transport=websocket&sid={polling.sid}")
    try:
        for text in sent:
            raw.send_text(text)
        assert await raw.closed_with() == 1002
    finally:
        raw.close()
    await _served_by_polling(polling, 1)
    # And the client may try again.
    again = await RawSocket.connect(server, f"EIO=4&transport=websocket&sid={polling.sid}")
    try:
        await _upgrade(raw=again, ack_id=2)
    finally:
        again.close()


async def test_an_upgrade_not_finished_in_time_is_closed_and_polling_goes_on(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engineio_socket, "UPGRADE_TIMEOUT", 0.2)
    polling = await Polling.open(server)
    await polling.join()
    raw = await RawSocket.connect(server, f"EIO=4&transport=websocket&sid={polling.sid}")
    try:
        raw.send_text("2probe")
        assert await raw.text() == "3probe"
        assert await raw.closed_with() == 1000  # no "5" in time
    finally:
        raw.close()
    assert await polling.get() == (200, ["6"])  # the NOOP the probe queued
    await _served_by_polling(polling, 1)


async def test_a_second_websocket_while_one_upgrades_the_connection_is_refused(server: LiveServer) -> None:
    polling = await Polling.open(server)
    await polling.join()
    first = await RawSocket.connect(server, f"EIO=4&transport=websocket&sid={polling.sid}")
    try:
        assert server.http is not None
        headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                   "Sec-WebSocket-Key": base64.b64encode(bytes(16)).decode()}
        async with server.http.get(f"{server.url}/socket.io/?EIO=4&transport=websocket&sid={polling.sid}",
                                   headers=headers) as response:
            assert response.status == 400
        await _upgrade(raw=first, ack_id=1)
    finally:
        first.close()


@pytest.mark.parametrize(("headers", "status"), [
    ({"Sec-WebSocket-Version": "8", "Sec-WebSocket-Key": base64.b64encode(bytes(16)).decode()}, 426),
    ({"Sec-WebSocket-Version": "13"}, 400),  # no key
], ids=["version-8", "no-key"])
async def test_a_refused_upgrade_handshake_leaves_polling_as_it_was(
    server: LiveServer, headers: dict[str, str], status: int,
) -> None:
    polling = await Polling.open(server)
    await polling.join()
    assert server.http is not None
    async with server.http.get(f"{server.url}/socket.io/?EIO=4&transport=websocket&sid={polling.sid}",
                               headers={"Upgrade": "websocket", "Connection": "Upgrade", **headers}) as response:
        assert response.status == status
        if status == 426:
            assert response.headers["Sec-WebSocket-Version"] == "13"
    await _served_by_polling(polling, 1)


async def test_a_connection_closed_while_it_upgrades_closes_its_websocket(server: LiveServer) -> None:
    polling = await Polling.open(server)
    await polling.join()
    raw = await RawSocket.connect(server, f"EIO=4&transport=websocket&sid={polling.sid}")
    try:
        raw.send_text("2probe")
        assert await raw.text() == "3probe"
        assert await polling.post("1") == 200  # the client closes the connection over polling
        assert await raw.closed_with() == 1000  # and the WebSocket that was to carry it is closed
    finally:
        raw.close()
    hub = server.parts.transport.hub
    await wait_until(lambda: not hub.connections and not hub.sio.eio.sockets, timeout=5,
                     what="the connection and its Engine.IO socket forgotten")


async def test_an_upgraded_connection_keeps_nothing_of_its_first_polls_request(server: LiveServer) -> None:
    """python-socketio keeps the environ of the request that opened a connection for as long as it
    lasts; for a connection opened by long-polling that is the first poll's, whose aiohttp request
    holds that HTTP connection's handler and parser. Once a WebSocket carries the connection, it is
    trimmed as a WebSocket's own is."""
    polling = await Polling.open(server)
    await polling.join()
    sio = server.parts.transport.hub.sio
    [environ] = [sio.environ[eio_sid] for eio_sid in list(sio.environ) if eio_sid == polling.sid]
    assert "aiohttp.request" in environ  # polling: what the origin check reads
    raw = await RawSocket.connect(server, f"EIO=4&transport=websocket&sid={polling.sid}")
    try:
        await _upgrade(raw=raw, ack_id=1)
        assert "aiohttp.request" not in environ and environ["QUERY_STRING"].startswith("EIO=4")
    finally:
        raw.close()
