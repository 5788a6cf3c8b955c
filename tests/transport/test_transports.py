"""A whole chat over each way a standard client connects: long-polling only, and long-polling
upgraded to a WebSocket, with python-socketio and with socket.io-client (Node, the widget's and
the console's library; sio_visitor.mjs): connect, a chat started, messages both ways with their
acks, a binary co-browse batch, and nothing left behind once the clients leave."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from loadtests.loadgen import node_binary

from ..support import Client, LiveServer, prechat, wait_until
from .cobrowse_support import active_session, encode_batch, received_batches, send_batch, snapshot_events

NODE_VISITOR = Path(__file__).with_name("sio_visitor.mjs")
TRANSPORTS = pytest.mark.parametrize("transports", [["polling"], ["polling", "websocket"]],
                                     ids=["polling", "polling-then-websocket"])


async def _connect(client: Client, transports: list[str]) -> Client:
    await client.sio.connect(client.server.url, namespaces=[client.namespace], auth={"token": client.token},
                             transports=transports, wait_timeout=5)
    client.server.clients.append(client)
    return client


async def _left(server: LiveServer) -> None:
    hub = server.parts.transport.hub
    await wait_until(lambda: not hub.connections and not hub.sio.eio.sockets, timeout=5,
                     what="every connection and Engine.IO socket forgotten")


@TRANSPORTS
async def test_a_chat_with_python_socketio_clients(server: LiveServer, transports: list[str]) -> None:
    login = await server.add_agent("Alice")
    console = await _connect(Client(server, "/agent", login["token"]), transports)
    shopper = await _connect(Client(server, "/visitor", await server.visitor_token()), transports)
    for client in (console, shopper):
        await wait_until(lambda c=client: c.sio.transport() == transports[-1], timeout=5,
                         what=f"the client on {transports[-1]}")

    started = await shopper.call("chat:start", prechat())
    cid = started["conversation"]["id"]
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    assert (await console.call("conversation:join", {"conversation_id": cid, "after_seq": 0}))["last_seq"] == 3
    sent = await console.call("message:send", {"conversation_id": cid, "client_msg_id": "a-1", "body": "Hello!"})
    assert (await shopper.wait_for_seq(cid, sent["seq"]))["body"] == "Hello!"
    sent = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "v-1", "body": "Hi"})
    assert (await console.wait_for_seq(cid, sent["seq"]))["body"] == "Hi"

    # A binary co-browse batch (a Socket.IO binary event: base64 in a poll, a binary frame on a
    # WebSocket), relayed to the agent as one.
    session_id = await active_session(shopper, console, cid)
    acks = await send_batch(shopper, session_id, 1, snapshot_events("checkout page", size=100_000), snapshot=True,
                            part_size=32 * 1024)
    assert all(a["ok"] for a in acks) and len(acks) > 1
    await wait_until(lambda: len(received_batches(console, session_id)) == 1, timeout=5, what="the batch relayed")
    assert received_batches(console, session_id)[0][1][1]["data"]["node"]["text"] == "checkout page"

    await asyncio.wait_for(shopper.disconnect(), 5)
    await asyncio.wait_for(console.disconnect(), 5)
    await _left(server)


async def _lines(process: asyncio.subprocess.Process) -> Any:
    """The JSON lines the Node visitor prints, one at a time."""
    assert process.stdout is not None
    while line := await asyncio.wait_for(process.stdout.readline(), 10):
        yield json.loads(line)
    raise AssertionError(f"the Node visitor ended early (status {await process.wait()})")


@TRANSPORTS
async def test_a_chat_with_a_socket_io_client_visitor(server: LiveServer, transports: list[str]) -> None:
    login = await server.add_agent("Alice")
    console = await _connect(Client(server, "/agent", login["token"]), ["websocket"])
    batch = encode_batch(snapshot_events("node page", size=2000))
    process = await asyncio.create_subprocess_exec(
        node_binary(), str(NODE_VISITOR), server.url, await server.visitor_token(), ",".join(transports), batch.hex(),
        stdout=asyncio.subprocess.PIPE)
    try:
        lines = _lines(process)
        connected = await anext(lines)
        assert connected == {"event": "connected", "transport": transports[-1]}, connected
        started = await anext(lines)
        assert started["event"] == "started", started
        cid = started["conversation_id"]
        await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
        await console.call("conversation:join", {"conversation_id": cid, "after_seq": 0})
        sent = await console.call("message:send", {"conversation_id": cid, "client_msg_id": "a-1",
                                                   "body": "Hello from Alice"})
        assert await anext(lines) == {"event": "agent_message", "seq": sent["seq"], "body": "Hello from Alice"}
        answered = await anext(lines)
        assert answered["event"] == "sent" and answered["ack"]["ok"] is True, answered
        assert (await console.wait_for_seq(cid, answered["ack"]["seq"]))["body"] == "Hello from Node"

        requested = await console.call("cobrowse:request", {"conversation_id": cid})
        session_id = requested["session"]["id"]
        batch_sent = await anext(lines)
        assert batch_sent == {"event": "batch_sent", "ack": {"ok": True, "seq": 1}}, batch_sent
        assert (await console.call("cobrowse:join", {"session_id": session_id}))["ok"]
        await wait_until(lambda: len(received_batches(console, session_id)) == 1, timeout=5, what="the batch relayed")
        assert received_batches(console, session_id)[0][1][1]["data"]["node"]["text"] == "node page"

        sent = await console.call("message:send", {"conversation_id": cid, "client_msg_id": "a-2", "body": "bye"})
        assert await anext(lines) == {"event": "agent_message", "seq": sent["seq"], "body": "bye"}
        assert await anext(lines) == {"event": "done"}
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    await asyncio.wait_for(console.disconnect(), 5)
    await _left(server)
