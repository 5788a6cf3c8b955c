"""How the application is served: aiohttp's runner and the listening socket, started and stopped
in one place, so that ``chatserver serve`` and the tests' ``LiveServer`` run the same code.

``start`` sets the app up (its ``cleanup_ctx`` runs) and listens, each connection behind an
``EdgeProtocol`` (transport/connections.py: open connections per client address); ``Listener.stop`` stops
listening, then lets aiohttp close the connections (``on_shutdown`` first, then requests still
being handled get ``settings.shutdown_timeout`` seconds) and runs the app's cleanup. ``serve_until_signalled``
does both around a wait for SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from aiohttp import web

from ..config import Settings
from ..transport.addresses import parse_networks
from ..transport.connections import ConnectionLimits, EdgeProtocol


class Listener:
    """An application being served on a TCP port."""

    def __init__(self, runner: web.AppRunner, server: asyncio.Server) -> None:
        self.runner = runner
        self._server = server

    @property
    def port(self) -> int:
        """The port listened on (the one the system chose, when asked for port 0)."""
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self._server.close()
        await self.runner.cleanup()


async def start(app: web.Application, settings: Settings) -> Listener:
    """Start ``app`` (its start-up and ``cleanup_ctx``) and listen on ``settings.host:port``."""
    # aiohttp closes a connection that is waiting for a request (a new one, or an idle keep-alive
    # one, even with part of a request head received) once its keep-alive timeout has passed
    # since it opened or since the previous response: that is the bound on a request head.
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=settings.shutdown_timeout,
                           keepalive_timeout=settings.header_timeout)
    await runner.setup()
    try:
        handler = runner.server
        assert handler is not None
        limits = ConnectionLimits(settings.max_connections_per_address, parse_networks(settings.trusted_proxies))
        server = await asyncio.get_running_loop().create_server(lambda: EdgeProtocol(handler, limits), settings.host,
                                                                settings.port)
    except BaseException:
        await runner.cleanup()
        raise
    return Listener(runner, server)


async def serve_until_signalled(app: web.Application, settings: Settings, ready: Callable[[], None]) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, then stop cleanly; ``ready`` is called once listening."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        listener = await start(app, settings)
        try:
            ready()
            await stop.wait()
        finally:
            await listener.stop()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
