"""Connections per client address (chatserver/transport/connections.py): one over the cap is
refused at once while other addresses are served; a connection counts until it ends, also when a
WebSocket has taken it off aiohttp; trusted proxies are not counted; refusals are logged once a
minute, not once each. Engine.IO sessions count per client address the same way
(transport/engineio_http.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from chatserver.transport.addresses import parse_networks
from chatserver.transport.connections import REFUSAL_LOG_INTERVAL, ConnectionLimits

from ..raw_http import closed_by_server, connect, open_sockets, read_response, request_head
from ..support import LiveServer, make_settings, wait_until

CAP = 3
CLIENT, OTHER, PROXY = "127.0.0.2", "127.0.0.3", "127.0.0.9"


@pytest.fixture
async def capped(tmp_path: Path) -> AsyncIterator[LiveServer]:
    server = LiveServer(make_settings(tmp_path, max_connections_per_address=CAP, trusted_proxies=(PROXY,)))
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def healthz(server: LiveServer, source: str) -> int:
    """GET /healthz on a new connection from ``source``: its status (429 when refused)."""
    reader, writer = await connect(server.port, source)
    try:
        writer.write(request_head("GET", "/healthz", server.port))
        return (await read_response(reader)).status
    finally:
        writer.close()


async def served_again(server: LiveServer, source: str, timeout: float = 10.0) -> None:
    """Wait until a new connection from ``source`` is served (the server has seen others end)."""
    deadline = time.monotonic() + timeout
    while await healthz(server, source) != 200:
        assert time.monotonic() < deadline, f"connections from {source} are still refused"
        await asyncio.sleep(0.05)


async def test_a_client_over_the_cap_is_refused_while_another_address_is_served(
        capped: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="chatserver.transport")
    baseline = open_sockets()
    held = [await connect(capped.port, CLIENT) for _ in range(CAP)]  # idle: counted all the same
    for _ in range(5):
        reader, writer = await connect(capped.port, CLIENT)
        refused = await read_response(reader)
        assert refused.status == 429 and refused.json()["error"]["code"] == "rate_limited"
        assert refused.headers["connection"] == "close" and await closed_by_server(reader, 10)
        writer.close()
    assert await healthz(capped, OTHER) == 200
    # A trusted proxy's connections carry many clients: not counted.
    through_proxy = [await connect(capped.port, PROXY) for _ in range(CAP + 2)]
    for reader, writer in through_proxy:
        writer.write(request_head("GET", "/healthz", capped.port))
        assert (await read_response(reader)).status == 200
    # One of the client's connections ends: it may open another.
    held.pop()[1].close()
    await served_again(capped, CLIENT)
    for _, writer in held + through_proxy:
        writer.close()
    await wait_until(lambda: open_sockets() <= baseline, what="the server to close every connection")
    # Five refusals, one line.
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused ")]
    assert len(lines) == 1 and "max_connections_per_address=3" in lines[0], lines


async def test_a_websocket_taken_off_aiohttp_counts_until_it_ends(capped: LiveServer) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(CLIENT, 0))) as http:
        sockets = []
        for _ in range(CAP):
            ws = await http.ws_connect(f"{capped.url}/socket.io/?EIO=4&transport=websocket")
            opened = await ws.receive_str(timeout=5)
            assert opened.startswith("0{") and "sid" in json.loads(opened[1:])
            sockets.append(ws)
        assert await healthz(capped, CLIENT) == 429  # the open WebSockets count
        for ws in sockets:
            await ws.close()
    # Once they are closed, they no longer count.
    await served_again(capped, CLIENT)


async def _handshake(http: aiohttp.ClientSession, server: LiveServer, **headers: str) -> tuple[int, str]:
    """A long-polling Engine.IO handshake: its status and the new session's id ("" when refused)."""
    async with http.get(f"{server.url}/socket.io/?EIO=4&transport=polling", headers=headers) as resp:
        body = await resp.text()
        return resp.status, json.loads(body[1:])["sid"] if resp.status == 200 else body


async def test_engineio_sessions_count_per_client_address_until_they_close(capped: LiveServer) -> None:
    """A handshake is free and its session costs memory until it closes: one client address holds
    at most the cap of them, even over one keep-alive connection; a client behind a trusted proxy
    counts by the address the proxy names."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(CLIENT, 0), limit=1)) as http:
        sids = [(await _handshake(http, capped))[1] for _ in range(CAP)]
        status, body = await _handshake(http, capped)
        assert status == 429 and json.loads(body)["error"]["code"] == "rate_limited"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(OTHER, 0))) as other:
            assert (await _handshake(other, capped))[0] == 200
        # One session closes (the client's CLOSE packet): the address may open another.
        async with http.post(f"{capped.url}/socket.io/?EIO=4&transport=polling&sid={sids[0]}", data="1") as resp:
            assert resp.status == 200
        await wait_until(lambda: sids[0] not in capped.parts.transport.hub.sio.eio.sockets, what="the session closed")
        assert (await _handshake(http, capped))[0] == 200
        assert (await _handshake(http, capped))[0] == 429
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(PROXY, 0))) as proxy:
        for _ in range(CAP):
            assert (await _handshake(proxy, capped, **{"X-Forwarded-For": "198.51.100.7"}))[0] == 200
        assert (await _handshake(proxy, capped, **{"X-Forwarded-For": "198.51.100.7"}))[0] == 429
        assert (await _handshake(proxy, capped, **{"X-Forwarded-For": "198.51.100.8"}))[0] == 200


def test_limits_count_by_client_address_and_ipv6_network() -> None:
    now = [0.0]
    limits = ConnectionLimits(2, parse_networks(["10.0.0.0/8"]), clock=lambda: now[0])
    assert limits.key_for(("192.0.2.1", 4711)) == "192.0.2.1"
    assert limits.key_for(("::ffff:192.0.2.1", 4711, 0, 0)) == "192.0.2.1"
    assert limits.key_for(("2001:db8:1:2::5", 4711, 0, 0)) == limits.key_for(("2001:db8:1:2:ffff::9", 1, 0, 0)) \
        == "2001:db8:1:2::/64"
    assert limits.key_for(("2001:db8:1:3::5", 4711, 0, 0)) == "2001:db8:1:3::/64"
    assert limits.key_for(("10.1.2.3", 4711)) is None  # a trusted proxy: not counted
    assert ConnectionLimits(0, ()).key_for(("192.0.2.1", 4711)) is None  # no limit
    key = "192.0.2.1"
    assert limits.acquire(key) and limits.acquire(key) and not limits.acquire(key)
    limits.release(key)
    assert limits.acquire(key) and not limits.acquire(key)


def test_refusals_are_logged_once_per_interval_with_their_count(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="chatserver.transport")
    now = [100.0]
    limits = ConnectionLimits(1, (), clock=lambda: now[0])
    assert limits.acquire("192.0.2.1")
    for _ in range(4):
        assert not limits.acquire("192.0.2.1")
    now[0] += REFUSAL_LOG_INTERVAL
    assert limits.acquire("192.0.2.7") and not limits.acquire("192.0.2.7")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("refused 1 connection(s)") and "latest from 192.0.2.1" in lines[0]
    assert lines[1].startswith("refused 4 connection(s)") and "latest from 192.0.2.7" in lines[1]
