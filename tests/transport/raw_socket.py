"""A WebSocket client written by hand over TCP, for the tests of the WebSocket layer: it sends the
frames no library sends (unmasked, reserved bits, bad close codes) and reads the server's frames
as they are."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

from chatserver.transport.direct_ws import DirectWebSocket, accept_key
from chatserver.transport.engineio_socket import LeanSocket

from ..support import LiveServer

TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True, rsv: int = 0,
          length: int | None = None) -> bytes:
    """A client's frame, as the test wants it (``length`` claims a length the payload need not have)."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    flag = 0x80 if mask else 0
    if n < 126:
        head += bytes([flag | n])
    elif n < 65536:
        head += bytes([flag | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([flag | 127]) + n.to_bytes(8, "big")
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class RawSocket:
    """A WebSocket client written by hand over TCP, to send frames that no library sends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.texts_before_close: list[str] = []

    @classmethod
    async def open(cls, server: LiveServer, with_request: bytes = b"", receive_buffer: int | None = None, *,
                   upgrade: bool = False) -> RawSocket:
        """Connect: a WebSocket from the start, or with ``upgrade`` a long-polling connection
        upgraded to a WebSocket (``2probe``, ``3probe``, ``5``). With ``receive_buffer``, the
        kernel keeps at most about that many bytes the client has not read (a client that does not
        read soon leaves the server's output unsent)."""
        query = "EIO=4&transport=websocket"
        if upgrade:
            query += "&sid=" + (await Polling.open(server)).sid
        raw = await cls.connect(server, query, with_request, receive_buffer)
        if upgrade:
            raw.send_text("2probe")
            assert await raw.text() == "3probe"
            raw.send_text("5")
        else:
            opened = await raw.text()
            assert opened.startswith("0{") and "sid" in json.loads(opened[1:])
        return raw

    @classmethod
    async def connect(cls, server: LiveServer, query: str, with_request: bytes = b"",
                      receive_buffer: int | None = None) -> RawSocket:
        """The WebSocket handshake of ``/socket.io/?query`` (and ``with_request`` in the same
        write), answered ``101``: nothing more."""
        sock = socket.socket()
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(f"GET /socket.io/?{query} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                     f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
                     .encode() + with_request)
        response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert response.startswith(b"HTTP/1.1 101 "), response
        assert f"Sec-WebSocket-Accept: {accept_key(key)}".encode() in response
        assert b"Sec-WebSocket-Extensions" not in response  # permessage-deflate declined
        return cls(reader, writer)

    async def join(self, server: LiveServer, token: str | None = None) -> None:
        self.send_text("40/visitor," + json.dumps({"token": token or await server.visitor_token()}))
        assert (await self.text()).startswith("40/visitor,{")

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    def send_text(self, text: str) -> None:
        self.writer.write(frame(TEXT, text.encode()))

    async def read_frame(self) -> tuple[int, bytes]:
        head = await asyncio.wait_for(self.reader.readexactly(2), 5)
        assert not head[1] & 0x80, "a server's frames are not masked"
        n = head[1] & 0x7F
        if n == 126:
            n = int.from_bytes(await self.reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await self.reader.readexactly(8), "big")
        assert head[0] & 0x80, "the server sends whole frames"
        return head[0] & 0x0F, await self.reader.readexactly(n)

    async def text(self) -> str:
        """The next text message (Engine.IO pings are answered, NOOPs skipped)."""
        while True:
            opcode, payload = await self.read_frame()
            assert opcode == TEXT, (opcode, payload)
            if payload == b"2":
                self.send_text("3")
                continue
            if payload != b"6":
                return payload.decode()

    async def ack(self, ack_id: int) -> Any:
        prefix = f"43/visitor,{ack_id}"
        while not (text := await self.text()).startswith(prefix + "["):
            pass
        return json.loads(text[len(prefix):])

    async def closed_with(self, answer: bool = True) -> int:
        """The close code the server sent, once it also closed the TCP connection (after this
        client answered with its own close frame, as a client does, or without an answer)."""
        opcode, payload = await self.read_frame()
        while opcode == TEXT:
            self.texts_before_close.append(payload.decode())
            opcode, payload = await self.read_frame()
        assert opcode == CLOSE, (opcode, payload)
        if answer:
            self.send(frame(CLOSE, payload[:2]))
        assert await asyncio.wait_for(self.reader.read(), 5) == b""  # and then the connection ended
        return int.from_bytes(payload[:2], "big")

    def close(self) -> None:
        self.writer.close()


class Polling:
    """A long-polling Engine.IO connection driven by hand: its GET and POST requests."""

    def __init__(self, server: LiveServer, sid: str) -> None:
        self.server = server
        self.sid = sid
        self.url = f"{server.url}/socket.io/?EIO=4&transport=polling&sid={sid}"

    @classmethod
    async def open(cls, server: LiveServer) -> Polling:
        assert server.http is not None
        async with server.http.get(f"{server.url}/socket.io/?EIO=4&transport=polling") as response:
            opened = await response.text()
        assert response.status == 200 and opened.startswith("0{"), opened
        return cls(server, json.loads(opened[1:])["sid"])

    async def get(self) -> tuple[int, list[str]]:
        """One poll: its status and the packets it brought."""
        assert self.server.http is not None
        async with self.server.http.get(self.url) as response:
            body = await response.text()
        return response.status, body.split("\x1e") if response.status == 200 else [body]

    async def post(self, *packets: str) -> int:
        assert self.server.http is not None
        async with self.server.http.post(self.url, data="\x1e".join(packets).encode(),
                                         headers={"Content-Type": "text/plain;charset=UTF-8"}) as response:
            await response.read()
            return response.status

    async def join(self, token: str | None = None) -> None:
        """Connect to ``/visitor`` (a new visitor unless ``token``)."""
        assert await self.post("40/visitor," + json.dumps({"token": token or await self.server.visitor_token()})) == 200
        status, packets = await self.get()
        assert status == 200 and packets[0].startswith("40/visitor,{"), packets


@contextlib.asynccontextmanager
async def raw_visitor(server: LiveServer, *, join: bool = True, with_request: bytes = b"", token: str | None = None,
                      receive_buffer: int | None = None, upgrade: bool = False) -> AsyncIterator[RawSocket]:
    """A ``RawSocket`` connected to ``/visitor`` (with ``join``; a new visitor unless ``token``),
    closed afterwards."""
    raw = await RawSocket.open(server, with_request, receive_buffer, upgrade=upgrade)
    try:
        if join:
            await raw.join(server, token)
        yield raw
    finally:
        raw.close()


def server_websocket(server: LiveServer) -> DirectWebSocket:
    """The server's end of its only WebSocket."""
    [lean] = server.parts.transport.hub.sio.eio.sockets.values()
    assert isinstance(lean, LeanSocket) and lean._ws is not None
    return lean._ws
