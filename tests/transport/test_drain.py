"""A stop drains, then ends every transport without a Socket.IO disconnect: stock clients
(python-socketio's AsyncClient and socket.io-client with their default reconnection, on
long-polling and on a WebSocket: tests/stock_clients.py) reconnect by themselves once the server
is back, and their chat goes on with nothing acknowledged lost (transport/shutdown.py,
docs/protocol.md). Behind a load balancer they reconnect to another process: tests/test_nginx.py."""

from __future__ import annotations

import asyncio
import signal
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chatserver.config import load_settings
from chatserver.http.serving import STOP_NOW_TIMEOUT

from ..processes import ServerProcess
from ..stock_clients import NodeVisitor, StockVisitor
from ..support import Client, LiveServer, agent, make_settings, wait_until
from ..test_signals import _wait_for_line

TRANSPORTS = pytest.mark.parametrize("transports", [["polling"], ["websocket"]], ids=["polling", "websocket"])
DRAIN = 1.0  # seconds: long enough to be seen draining, short enough for a test


@pytest.fixture
async def draining_server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    server = LiveServer(make_settings(tmp_path, drain_period=DRAIN))
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def _handshake(server: LiveServer) -> tuple[int, Any]:
    assert server.http is not None
    async with server.http.get(f"{server.url}/socket.io/?EIO=4&transport=polling") as resp:
        return resp.status, await resp.json() if resp.content_type == "application/json" else await resp.text()


async def _console_on(server: LiveServer, login: dict[str, Any], cid: str) -> Client:
    console = await agent(server, login)
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == cid
                           and d["conversation"]["status"] == "assigned")
    await console.call("conversation:join", {"conversation_id": cid})
    return console


async def _stored(server: LiveServer, login: dict[str, Any], cid: str, last_seq: int) -> list[str]:
    """The client_msg_ids of the conversation's messages, as an agent who joins gets them."""
    console = await agent(server, login)
    await console.call("conversation:join", {"conversation_id": cid})
    await console.wait_for_seq(cid, last_seq)
    return [m["client_msg_id"] for m in console.messages(cid) if m.get("client_msg_id")]


@TRANSPORTS
async def test_a_stop_drains_then_stock_python_clients_reconnect_by_themselves(
    draining_server: LiveServer, transports: list[str],
) -> None:
    server = draining_server
    login = await server.add_agent()
    shopper = await StockVisitor(server.url, await server.visitor_token(), transports).connect()
    cid = await shopper.start_chat()
    await _console_on(server, login, cid)
    before = await shopper.send("v1")
    assert before["ok"]

    stopping = asyncio.get_running_loop().create_task(server.stop())
    try:
        # Draining: not ready, no new session, and the open connection still served.
        await wait_until(lambda: server.parts.sockets.drain.draining, what="the drain to start")
        status, body = await server.request("GET", "/readyz")
        assert status == 503 and body["status"] == "not_ready" and body["checks"]["process"] == "draining", body
        status, refused = await _handshake(server)
        assert status == 503 and refused["error"]["code"] == "unavailable", refused
        during = await shopper.send("v2")
        assert during["ok"] and not stopping.done()
        await stopping
    finally:
        if not stopping.done():
            stopping.cancel()
    # The transport ended under the client, which is not told to stay away (no Socket.IO
    # DISCONNECT: "io server disconnect" would stop its reconnection).
    await wait_until(lambda: shopper.disconnect_reasons, what="the client to see its connection end")
    assert shopper.disconnect_reasons[0] != shopper.sio.reason.SERVER_DISCONNECT, shopper.disconnect_reasons

    await server.start()  # the same port: what a client behind a load balancer finds elsewhere
    await wait_until(lambda: shopper.back, timeout=15, what="the stock client back by itself, its chat joined")
    after = await shopper.send("v3")
    assert after["ok"] and after["seq"] > during["seq"] > before["seq"]
    assert await _stored(server, login, cid, after["seq"]) == ["v1", "v2", "v3"]
    # The agent's answer reaches the reconnected client.
    console = await agent(server, login)
    await console.call("conversation:join", {"conversation_id": cid})
    answer = await console.call("message:send", {"conversation_id": cid, "client_msg_id": "a1", "body": "ok"})
    await wait_until(lambda: answer["seq"] in shopper.seqs, what="the agent's answer at the client")
    await shopper.sio.disconnect()


@TRANSPORTS
async def test_a_stop_drains_then_socket_io_client_reconnects_by_itself(
    draining_server: LiveServer, transports: list[str],
) -> None:
    server = draining_server
    login = await server.add_agent()
    shopper = await NodeVisitor.start(server.url, await server.visitor_token(), transports)
    try:
        assert (await shopper.next("connected"))["connects"] == 1
        cid = (await shopper.next("started"))["conversation_id"]
        await _console_on(server, login, cid)
        before = await shopper.send("v1")
        assert before["ok"], before

        await server.stop()
        gone = await shopper.next("disconnected")
        # socket.io-client reconnects after a closed or failed transport, never after
        # "io server disconnect".
        assert gone["reason"] in ("transport close", "transport error"), gone
        await server.start()
        assert (await shopper.next("connected"))["connects"] == 2
        assert (await shopper.next("rejoined"))["ok"]
        after = await shopper.send("v2")
        assert after["ok"] and after["seq"] > before["seq"], after
        assert await _stored(server, login, cid, after["seq"]) == ["v1", "v2"]
    finally:
        await shopper.close()


def test_a_drain_period_out_of_range_is_refused() -> None:
    for period in (-1.0, 3601.0):
        with pytest.raises(ValueError, match="drain_period"):
            load_settings({"drain_period": period}, environ={})


def test_a_second_signal_during_the_drain_stops_at_once(tmp_path: Path) -> None:
    """The drain is part of the clean stop: a second SIGTERM ends it, and the process, at once
    (serving.StopSignals), however long drain_period is."""
    server = ServerProcess(tmp_path, None, CHATSERVER_DRAIN_PERIOD="600").start()
    assert server.process is not None
    server.process.send_signal(signal.SIGTERM)
    _wait_for_line(server, "draining: not ready")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{server.url}/readyz", timeout=5)
    assert refused.value.code == 503
    server.process.send_signal(signal.SIGTERM)
    status = server.process.wait(timeout=STOP_NOW_TIMEOUT + 15)
    server.process = None
    assert status == 128 + signal.SIGTERM
    assert "Traceback" not in server.log.read_text()
