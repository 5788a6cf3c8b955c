"""Stock Socket.IO clients as a third party uses them, with their default reconnection:
python-socketio's ``AsyncClient`` (``StockVisitor``) and socket.io-client in Node
(``NodeVisitor``, running sio_reconnecting_visitor.mjs). Each is a visitor that starts a chat and,
on every later connect, resumes it from the last seq it has; what they do after a server stops is
their own (no reconnect by hand)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from loadtests.loadgen import node_binary

from .support import prechat, wait_until

NODE_VISITOR = Path(__file__).with_name("transport") / "sio_reconnecting_visitor.mjs"


class StockVisitor:
    """python-socketio's client, reconnection on (its default)."""

    def __init__(self, url: str, token: str, transports: list[str],
                 http: aiohttp.ClientSession | None = None) -> None:
        self.url = url
        self.token = token
        self.transports = transports
        self.sio = socketio.AsyncClient(**({"http_session": http} if http else {}))
        self.connects = 0
        self.sids: list[str] = []  # the Engine.IO session id of each connection
        self.disconnect_reasons: list[str] = []
        self.conversation_id: str | None = None
        self.seqs: set[int] = set()
        self.rejoined = 0
        self.sio.on("connect", self._connected, namespace="/visitor")
        self.sio.on("disconnect", self.disconnect_reasons.append, namespace="/visitor")
        self.sio.on("message:new", self._message, namespace="/visitor")

    async def connect(self) -> StockVisitor:
        await self.sio.connect(self.url, namespaces=["/visitor"], auth={"token": self.token},
                               transports=self.transports, wait_timeout=5)
        await wait_until(lambda: self.connects == 1, what="the first connect")
        return self

    async def start_chat(self, n: int = 1) -> str:
        started = await self.call("chat:start", prechat(n))
        self.conversation_id = str(started["conversation"]["id"])
        return self.conversation_id

    @property
    def back(self) -> bool:
        """Connected again after a drop, and its chat joined again."""
        return self.sio.connected and self.rejoined == len(self.disconnect_reasons) > 0

    async def _connected(self) -> None:
        self.connects += 1
        self.sids.append(str(self.sio.eio.sid))
        if self.conversation_id is not None:
            # In a task: a call from the connect handler would wait on the handler itself.
            asyncio.get_running_loop().create_task(self._rejoin())

    async def _rejoin(self) -> None:
        await self.call("session:resume")
        joined = await self.call("conversation:join", {"conversation_id": self.conversation_id,
                                                       "after_seq": max(self.seqs, default=0)})
        if joined.get("ok"):
            self.rejoined += 1

    def _message(self, message: dict[str, Any]) -> None:
        self.seqs.add(message["seq"])

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.sio.call(event, data, namespace="/visitor", timeout=5)

    async def send(self, client_msg_id: str) -> dict[str, Any]:
        ack = await self.call("message:send", {"conversation_id": self.conversation_id, "client_msg_id": client_msg_id,
                                               "body": f"message {client_msg_id}"})
        return dict(ack)


class NodeVisitor:
    """socket.io-client in a Node process (its default reconnection), driven line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._lines = self._read()

    @classmethod
    async def start(cls, url: str, token: str, transports: list[str], ca_file: Path | None = None) -> NodeVisitor:
        env = {**os.environ, **({"NODE_EXTRA_CA_CERTS": str(ca_file)} if ca_file else {})}
        process = await asyncio.create_subprocess_exec(
            node_binary(), str(NODE_VISITOR), url, token, ",".join(transports),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env)
        return cls(process)

    async def _read(self) -> AsyncIterator[dict[str, Any]]:
        assert self.process.stdout is not None
        while line := await asyncio.wait_for(self.process.stdout.readline(), 20):
            yield json.loads(line)
        raise AssertionError(f"the Node visitor ended early (status {await self.process.wait()})")

    async def next(self, event: str) -> dict[str, Any]:
        """The next line of this event (the lines before it are passed over)."""
        async for line in self._lines:
            if line["event"] == event:
                return line
        raise AssertionError(f"no {event}")

    async def send(self, client_msg_id: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(f"send {client_msg_id}\n".encode())
        return (await self.next("sent"))["ack"]  # type: ignore[no-any-return]

    async def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
