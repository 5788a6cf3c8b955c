"""HTTP by hand over TCP, for requests no client library sends (half a head, an over-size body
that is never finished, a connection from another loopback address), and the sockets this process holds."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from dataclasses import dataclass
from typing import Any


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def connect(port: int, source: str = "127.0.0.1") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection to 127.0.0.1:``port`` from the loopback address ``source`` (any 127.x.y.z:
    each is another client address to the server)."""
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def read_response(reader: asyncio.StreamReader, timeout: float = 10.0) -> RawResponse:
    """The next response on the connection (its body by ``Content-Length``)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, value in
               (line.split(":", 1) for line in lines if ":" in line)}
    body = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), timeout)
    return RawResponse(int(status_line.split()[1]), headers, body)


async def closed_by_server(reader: asyncio.StreamReader, timeout: float) -> bool:
    """Whether the server closes the connection within ``timeout`` seconds (what it sends until
    then is read and dropped)."""
    try:
        async with asyncio.timeout(timeout):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


def open_sockets() -> int:
    """How many sockets this process holds open (the test's and its in-process server's): its
    file descriptors that are sockets (the database's come and go with SQLite's connections)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile (the listing's own descriptor, among others)
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def request_head(method: str, path: str, port: int, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
