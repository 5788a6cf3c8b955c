"""Long-polling as the reference engine.io server serves it: a client that misses its ping is
closed, and a connection that closes, whichever side closes it, answers the poll that waits at
once with the CLOSE packet; a closed connection's Engine.IO socket is forgotten at once."""

from __future__ import annotations

import asyncio

import socketio

from ..support import LiveServer, visitor, wait_until
from .raw_socket import Polling


def _forgotten(server: LiveServer) -> bool:
    hub = server.parts.transport.hub
    return not hub.connections and not hub.sio.eio.sockets


async def _polling_visitor(server: LiveServer) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(server.url, namespaces=["/visitor"], auth={"token": await server.visitor_token()},
                         transports=["polling"], wait_timeout=5)
    return client


async def test_a_polling_client_that_misses_its_ping_is_closed_and_its_waiting_poll_answered(
    server: LiveServer,
) -> None:
    eio = server.parts.transport.hub.sio.eio
    eio.ping_interval, eio.ping_timeout = 0.3, 1.0  # the client has 1 s to answer each ping
    polling = await Polling.open(server)
    await polling.join()
    # A client that answers its pings stays.
    for _ in range(2):
        assert await polling.get() == (200, ["2"])
        assert await polling.post("3") == 200
    # One that does not: the poll it sends next waits, and is answered with CLOSE once
    # pingTimeout is over; the connection is gone.
    assert await polling.get() == (200, ["2"])
    assert await asyncio.wait_for(polling.get(), 5) == (200, ["1"])
    assert (await polling.get())[0] == 400
    await wait_until(lambda: _forgotten(server), timeout=5, what="the connection and its Engine.IO socket forgotten")


async def test_a_polling_client_that_leaves_has_its_waiting_poll_answered(server: LiveServer) -> None:
    # python-socketio's client keeps a poll waiting and, leaving, waits for it to end.
    client = await _polling_visitor(server)
    assert (await client.call("session:resume", {}, namespace="/visitor", timeout=5))["ok"] is True
    await asyncio.wait_for(client.disconnect(), 5)
    await wait_until(lambda: _forgotten(server), timeout=5, what="the connection and its Engine.IO socket forgotten")


async def test_a_connection_the_server_closes_answers_the_waiting_poll_with_close(server: LiveServer) -> None:
    client = await _polling_visitor(server)
    ended = asyncio.Event()
    client.eio.on("disconnect", lambda *_: ended.set())
    [eio_sid] = list(server.parts.transport.hub.sio.eio.sockets)
    await asyncio.wait_for(server.parts.transport.hub.sio.eio.disconnect(eio_sid), 5)
    await asyncio.wait_for(ended.wait(), 5)  # the client's waiting poll brought the CLOSE packet
    await wait_until(lambda: _forgotten(server), timeout=5, what="the connection and its Engine.IO socket forgotten")


async def test_a_websocket_connection_that_ends_is_forgotten_at_once(server: LiveServer) -> None:
    shopper = await visitor(server)
    await shopper.disconnect()
    await wait_until(lambda: _forgotten(server), timeout=5, what="the connection and its Engine.IO socket forgotten")
