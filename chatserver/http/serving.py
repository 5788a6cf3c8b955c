"""How the application is served: aiohttp's runner and the listening socket, started and stopped
in one place, so that ``chatserver serve`` and the tests' ``LiveServer`` run the same code.

``start`` sets the app up (its ``cleanup_ctx`` runs) and listens, each connection behind an
``EdgeProtocol`` (transport/connections.py: open connections per client address), with
``header_timeout`` as the bound on a request head, ``ServerLog`` as aiohttp's server log and
``access.py``'s access log; it takes the port before the app starts, so a port in use stops it
with one line (``StartupError``) before the database is opened.
``Listener.stop`` runs the app's drain (``DRAIN``: the server still listens, says it is not
ready and refuses new sessions), stops listening, then lets aiohttp close the connections
(``on_shutdown`` first, then requests still being handled get ``shutdown_timeout`` seconds) and
runs the app's cleanup. ``serve_until_signalled`` does both around a wait for SIGINT or SIGTERM,
with a log line once listening (``started``: version, address, backend and database, without
passwords) and one once stopped (``stopped``, with how long the stop took), and stops at once on a
second signal (``StopSignals``), the drain included.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..config import Settings
from ..constants import package_version
from ..errors import StartupError
from ..logs import exception_summary, field, redacted
from ..transport.addresses import parse_networks
from ..transport.connections import ConnectionLimits, EdgeProtocol
from .access import access_log_class
from .access import log as access_log

log = logging.getLogger("chatserver")


class ServerLog(logging.LoggerAdapter[logging.Logger]):
    """The logger aiohttp's request handlers write to. A request that breaks HTTP (a bad request
    line, header or chunk: aiohttp's ``HttpProcessingError``) is the client's doing: one DEBUG line
    with the error's type, never its text (it quotes the bytes received) nor a traceback. Any
    other exception is the server's: ERROR with its type and stack only (``exception_summary``)."""

    def __init__(self) -> None:
        super().__init__(logging.getLogger("aiohttp.server"))

    def log(self, level: int, msg: object, *args: object, exc_info: Any = None, stack_info: bool = False,
            stacklevel: int = 1, extra: Mapping[str, object] | None = None, **kwargs: object) -> None:
        if isinstance(exc_info, BaseException):
            exc: BaseException | None = exc_info
        elif isinstance(exc_info, tuple):
            exc = exc_info[1]
        else:
            exc = sys.exc_info()[1] if exc_info else None
        text = str(msg) % args if args else str(msg)
        if exc is None:
            self.logger.log(level, "%s", text)
        elif isinstance(exc, HttpProcessingError):
            self.logger.debug("%s: a request that breaks HTTP exception=%s", text, type(exc).__name__)
        else:
            self.logger.error("%s %s", text, exception_summary(exc))


# What an application does first when it is stopped, while it still listens (app.py).
DRAIN: web.AppKey[Callable[[], Awaitable[None]]] = web.AppKey("drain")


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
        drain = self.runner.app.get(DRAIN)
        if drain is not None:
            await drain()
        self._server.close()
        await self.runner.cleanup()


async def start(app: web.Application, settings: Settings) -> Listener:
    """Start ``app`` (its start-up and ``cleanup_ctx``) and listen on ``settings.host:port``."""
    # aiohttp closes a connection that is waiting for a request (a new one, or an idle keep-alive
    # one, even with part of a request head received) once its keep-alive timeout has passed
    # since it opened or since the previous response: that is the bound on a request head.
    trusted = parse_networks(settings.trusted_proxies)
    runner = web.AppRunner(app, handle_signals=False, access_log=access_log,
                           access_log_class=access_log_class(trusted, settings.access_log),
                           shutdown_timeout=settings.shutdown_timeout, keepalive_timeout=settings.header_timeout,
                           logger=ServerLog())
    limits = ConnectionLimits(settings.max_connections_per_address, trusted)

    def protocol() -> EdgeProtocol:
        assert runner.server is not None  # set up before the first connection is accepted
        return EdgeProtocol(runner.server, limits)

    # The port first, accepting nothing yet: a port in use stops the start before the database
    # and Redis are touched.
    try:
        server = await asyncio.get_running_loop().create_server(protocol, settings.host, settings.port,
                                                                start_serving=False)
    except OSError as exc:
        raise _cannot_listen(settings, exc) from None
    try:
        await runner.setup()
    except BaseException:
        server.close()
        raise
    try:
        await server.start_serving()
    except BaseException:
        server.close()
        await runner.cleanup()
        raise
    return Listener(runner, server)


def _cannot_listen(settings: Settings, exc: OSError) -> StartupError:
    where = f"{settings.host}:{settings.port}"
    if exc.errno == errno.EADDRINUSE:  # the load tester and the tests look for these words
        return StartupError(f"cannot listen on {where}: address already in use (another process holds the port)")
    return StartupError(f"cannot listen on {where}: {exc.strerror or exc}")


# Seconds the storage gets to close after a second signal (or a signal during start-up); the
# process exits by then whatever still runs (``os._exit``: aiosqlite's worker threads are not
# daemons, and one still open would keep the interpreter from ever exiting).
STOP_NOW_TIMEOUT = 5.0


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _exit_now(signum: int, frame: object) -> None:
    os._exit(128 + signum)


class StopSignals:
    """SIGINT and SIGTERM while ``task`` serves. Once serving, the first asks for a graceful stop
    (``requested``); the second, or any during start-up (nothing to stop gracefully yet), stops
    now: ``task`` is cancelled, and a daemon timer ends the process ``STOP_NOW_TIMEOUT`` seconds
    later if it has not ended by itself. Handlers stay installed until the process exits, so no
    signal ever meets Python's default handlers half-way through a stop."""

    def __init__(self, task: asyncio.Task[Any], stop_now_timeout: float = STOP_NOW_TIMEOUT) -> None:
        self.task = task
        self.stop_now_timeout = stop_now_timeout
        self.requested = asyncio.Event()
        self.serving = False
        self.now: signal.Signals | None = None  # the signal that asked to stop now

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in _SIGNALS:
            loop.add_signal_handler(signum, self.received, signum)

    def stopped(self) -> None:
        """Once stopped (storage closed), a signal ends the process at once: the event loop's
        handlers would give way to Python's defaults when the loop closes (a ``KeyboardInterrupt``
        in whatever the interpreter is doing on its way out)."""
        loop = asyncio.get_running_loop()
        for signum in _SIGNALS:
            loop.remove_signal_handler(signum)
            signal.signal(signum, _exit_now)

    @property
    def exit_status(self) -> int:
        """The process's exit status after a stop now: 128 + the signal's number, as a shell
        reports a process that signal ended."""
        assert self.now is not None
        return 128 + int(self.now)

    def received(self, signum: signal.Signals) -> None:
        if self.serving and not self.requested.is_set():
            log.info("stopping signal=%s (a second signal stops at once)", signum.name)
            self.requested.set()
            return
        if self.now is not None:
            return
        self.now = signum
        log.warning("stopping now signal=%s: storage gets %gs to close, then the process exits status=%d",
                    signum.name, self.stop_now_timeout, self.exit_status)
        timer = threading.Timer(self.stop_now_timeout + 1.0, os._exit, (self.exit_status,))
        timer.daemon = True
        timer.start()
        self.task.cancel()


async def serve_until_signalled(app: web.Application, settings: Settings, ready: Callable[[], None],
                                close_storage: Callable[[], Awaitable[None]]) -> int:
    """Serve ``app`` until SIGINT or SIGTERM, then stop cleanly; ``ready`` is called once
    listening. A second signal (or one during start-up) stops at once: ``close_storage`` is
    given ``STOP_NOW_TIMEOUT`` seconds. Returns the process's exit status: 0 after a clean stop,
    128 + the signal's number after a stop now."""
    task = asyncio.current_task()
    assert task is not None
    signals = StopSignals(task)
    signals.install()
    try:
        listener = await start(app, settings)
        signals.serving = True
        try:
            log.info("started version=%s address=%s backend=%s database=%s pid=%d", package_version(),
                     field(f"http://{settings.host}:{listener.port}", limit=300), field(_backend(settings), limit=300),
                     field(_database(settings), limit=300), os.getpid())
            ready()
            await signals.requested.wait()
        finally:
            stopping = time.monotonic()
            await listener.stop()
            log.info("stopped seconds=%.2f", time.monotonic() - stopping)
    except asyncio.CancelledError:
        if signals.now is None:
            raise
        task.uncancel()
        try:
            await asyncio.wait_for(close_storage(), signals.stop_now_timeout)
        except Exception as exc:  # the process is stopping whatever happened: say so in one line
            log.warning("storage did not close cleanly exception=%s", type(exc).__name__)
    finally:
        signals.stopped()
    # A stop now asked for while the clean stop finished anyway still says so.
    return 0 if signals.now is None else signals.exit_status


def _backend(settings: Settings) -> str:
    return f"redis:{redacted(settings.redis_url)}" if settings.redis_url else "memory"


def _database(settings: Settings) -> str:
    return f"postgresql:{redacted(settings.database_url)}" if settings.database_url else f"sqlite:{settings.db_path}"
