"""python-engineio's aiohttp WebSocket driver, without permessage-deflate.

The stock driver (``engineio.async_drivers.aiohttp.WebSocket``) creates ``WebSocketResponse``
with aiohttp's default ``compress=True``; socket.io-client offers permessage-deflate, so every
WebSocket then holds two zlib streams (about 100 KB a connection) and compresses each small
chat frame. Node's socket.io has it off by default. This driver is the stock one with
``compress=False``: the server declines the extension during the handshake, which every
WebSocket client accepts; the Engine.IO / Socket.IO protocol is unchanged.

``use_uncompressed_websockets`` installs it on a python-engineio server (python-engineio reads
its driver from the ``_async`` table it chose for ``async_mode="aiohttp"``; there is no option).
"""

from __future__ import annotations

from typing import Any

from aiohttp.web import WebSocketResponse
from engineio.async_drivers import aiohttp as eio_aiohttp


class UncompressedWebSocket(eio_aiohttp.WebSocket):  # type: ignore[misc]
    async def __call__(self, environ: dict[str, Any]) -> WebSocketResponse:
        request = environ["aiohttp.request"]
        self._sock = WebSocketResponse(max_msg_size=self.server.max_http_buffer_size, compress=False)
        await self._sock.prepare(request)
        self.environ = environ
        await self.handler(self)
        return self._sock


def use_uncompressed_websockets(eio_server: Any) -> None:
    """Make ``eio_server`` (an aiohttp-mode ``engineio.AsyncServer``) accept WebSockets without
    permessage-deflate."""
    if eio_server.async_mode != "aiohttp":
        raise ValueError("only the aiohttp driver is replaced")
    eio_server._async = {**eio_server._async, "websocket": UncompressedWebSocket}
