"""Clients written by hand over TCP, for the attack scenarios: they send what no library sends
(partial headers, oversized bodies, frames nobody reads, packets that lie about themselves).

``RawWebSocket`` speaks just enough RFC 6455 and Engine.IO v4 to open a Socket.IO connection and
send frames. Its frames are masked with the all-zero key (valid, and free to compute), so a
client can push hundreds of megabytes without spending its CPU on masking.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from urllib.parse import urlsplit

OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING = 0x1, 0x2, 0x8, 0x9
_ZERO_MASK = b"\x00\x00\x00\x00"


class Closed(Exception):
    """The server closed the connection (or refused it)."""


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def frame(opcode: int, payload: bytes) -> bytes:
    """A client's frame, whole, masked with the zero key."""
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + _ZERO_MASK + payload


async def open_connection(url: str, local_host: str | None = None) -> tuple[asyncio.StreamReader,
                                                                            asyncio.StreamWriter]:
    host, port = host_port(url)
    return await asyncio.open_connection(host, port, local_addr=(local_host, 0) if local_host else None)


class RawWebSocket:
    """One Engine.IO WebSocket connection, frames sent and read by hand."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str, *, within: float = 10.0) -> RawWebSocket:
        reader, writer = await open_connection(url)
        host, port = host_port(url)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
                     f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), within)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            writer.close()
            raise Closed("the WebSocket handshake was not answered") from exc
        if not head.startswith(b"HTTP/1.1 101 "):
            writer.close()
            raise Closed(f"the WebSocket handshake was refused: {head.splitlines()[0]!r}")
        ws = cls(reader, writer)
        opened = await ws.read_text(within)
        if not opened.startswith("0{"):
            raise Closed(f"no Engine.IO OPEN packet: {opened[:40]!r}")
        return ws

    async def join(self, namespace: str, token: str, within: float = 10.0) -> None:
        """Connect to a Socket.IO namespace with ``token``."""
        self.send_text(f"40{namespace}," + json.dumps({"token": token}))
        answer = await self.read_text(within)
        if not answer.startswith(f"40{namespace},"):
            raise Closed(f"the namespace refused the connection: {answer[:80]!r}")

    def send_text(self, text: str) -> None:
        self.writer.write(frame(OP_TEXT, text.encode()))

    def send_binary(self, data: bytes) -> None:
        self.writer.write(frame(OP_BINARY, data))

    async def drain(self) -> None:
        try:
            await self.writer.drain()
        except (ConnectionError, OSError) as exc:
            raise Closed("the server closed the connection") from exc

    async def read_frame(self, within: float = 10.0) -> tuple[int, bytes]:
        """The next frame the server sends (unmasked, unfragmented, as servers send them)."""
        try:
            async with asyncio.timeout(within):
                first, second = await self.reader.readexactly(2)
                n = second & 0x7F
                if n == 126:
                    n = int.from_bytes(await self.reader.readexactly(2), "big")
                elif n == 127:
                    n = int.from_bytes(await self.reader.readexactly(8), "big")
                return first & 0x0F, await self.reader.readexactly(n)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise Closed("the server closed the connection") from exc

    async def read_text(self, within: float = 10.0) -> str:
        """The next text frame, answering the server's Engine.IO pings on the way."""
        while True:
            opcode, payload = await self.read_frame(within)
            if opcode == OP_CLOSE:
                raise Closed(f"closed by the server with {int.from_bytes(payload[:2], 'big') if payload else None}")
            if opcode != OP_TEXT:
                continue
            text = payload.decode()
            if text == "2":
                self.send_text("3")
                continue
            return text

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


__all__ = ["Closed", "RawWebSocket", "frame", "host_port", "open_connection"]
