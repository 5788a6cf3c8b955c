"""The load generator process (``generator/loadgen.mjs``, Node.js + socket.io-client) and the
reference relays (``reference/``), started and read from the load tester.

The generator reports one JSON object a line on stdout (progress every second, phases, the
result); ``Generator`` hands each to a callback and keeps the result. It holds its connections
until told to stop, so the server can be measured with every client still connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from .errors import LoadTestError
from .server import free_loopback_port, start_process_group, stop_process_group

HERE = Path(__file__).resolve().parent
GENERATOR = HERE / "generator" / "loadgen.mjs"
NODE_RELAY = HERE / "reference" / "relay.mjs"
# The storing relay's SQLite binding, built by ``npm ci`` (an optional dependency: it compiles
# with node-gyp, so a machine without a C++ compiler installs everything else).
ROOT = HERE.parent
BETTER_SQLITE3 = ROOT / "node_modules" / "better-sqlite3" / "build" / "Release" / "better_sqlite3.node"


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        raise LoadTestError("these scenarios need Node.js (node) on PATH for the load generator; "
                            "`make install` installs its packages (npm ci)")
    if not (ROOT / "node_modules" / "socket.io-client").is_dir():
        raise LoadTestError("node_modules/socket.io-client is missing: run `npm ci` (part of `make install`)")
    return node


class Generator:
    """``async with Generator(job, on_message) as gen: await gen.ready(); ...; await gen.result()``."""

    def __init__(self, job: dict[str, Any], on_message: Callable[[dict[str, Any]], None]) -> None:
        self.job = job
        self.on_message = on_message
        self.process: asyncio.subprocess.Process | None = None
        self._ready: asyncio.Future[dict[str, Any]] | None = None
        self._result: asyncio.Future[dict[str, Any]] | None = None
        self._reader: asyncio.Task[None] | None = None
        self.stderr_tail = b""

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    async def __aenter__(self) -> Generator:
        loop = asyncio.get_running_loop()
        self._ready, self._result = loop.create_future(), loop.create_future()
        self.process = await start_process_group(
            node_binary(), str(GENERATOR), json.dumps(self.job), cwd=ROOT,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        self._reader = loop.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        assert self._ready is not None and self._result is not None
        # A line can be long (a result with histograms): read without a line-length limit.
        while line := await self.process.stdout.readline():
            message = json.loads(line)
            event = message.get("event")
            if event == "ready" and not self._ready.done():
                self._ready.set_result(message)
            elif event == "result" and not self._result.done():
                self._result.set_result(message)
            elif event == "error":
                failure = LoadTestError(f"the load generator failed: {message.get('message')}")
                for future in (self._ready, self._result):
                    if not future.done():
                        future.set_exception(failure)
            self.on_message(message)
        status = await self.process.wait()
        if self.process.stderr is not None:
            self.stderr_tail = (await self.process.stderr.read())[-2000:]
        failure = LoadTestError(f"the load generator exited (status {status}): "
                                f"{self.stderr_tail.decode(errors='replace')}")
        for future in (self._ready, self._result):
            if not future.done():
                future.set_exception(failure)

    async def ready(self) -> dict[str, Any]:
        assert self._ready is not None
        return await self._ready

    async def result(self) -> dict[str, Any]:
        assert self._result is not None
        return await self._result

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        process = self.process
        if process is None:
            return
        try:
            if process.stdin is not None and process.returncode is None:
                with contextlib.suppress(ConnectionError):
                    process.stdin.write(b"stop\n")
                    await process.stdin.drain()
                    process.stdin.close()
            await stop_process_group(process, grace=10.0)
        finally:
            if self._reader is not None:
                self._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, LoadTestError):
                    await self._reader
            for future in (self._ready, self._result):
                if future is not None and not future.done():
                    future.cancel()
                if future is not None and future.done() and not future.cancelled():
                    future.exception()  # retrieved: no "exception never retrieved" warning


class ReferenceRelay:
    """A reference relay on a free loopback port for the length of an ``async with`` block:
    ``kind`` is ``node`` (socket.io 4.8, ``reference/relay.mjs``), ``node_sqlite`` (the same relay
    storing every message in a SQLite file before relaying it) or ``aiohttp`` (raw WebSocket,
    ``reference/raw_relay.py``). The storing relay's database is ``data_dir/relay.sqlite``: a
    temporary directory removed afterwards unless ``data_dir`` is given."""

    KINDS = ("node", "node_sqlite", "aiohttp")

    def __init__(self, kind: str, data_dir: Path | None = None) -> None:
        if kind not in self.KINDS:
            raise LoadTestError(f"unknown reference relay {kind!r}")
        self.kind = kind
        self.port = free_loopback_port()
        self.process: asyncio.subprocess.Process | None = None
        self._data_dir = data_dir
        self._temporary: tempfile.TemporaryDirectory[str] | None = None

    @property
    def database(self) -> Path:
        """The storing relay's SQLite file."""
        assert self._data_dir is not None, "only the storing relay has a database"
        return self._data_dir / "relay.sqlite"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def __aenter__(self) -> ReferenceRelay:
        if self.kind == "node":
            command = [node_binary(), str(NODE_RELAY), str(self.port)]
        elif self.kind == "node_sqlite":
            if not BETTER_SQLITE3.exists():
                raise LoadTestError(f"the storing Node relay needs better-sqlite3, which npm ci did not build "
                                    f"({BETTER_SQLITE3} is missing: install a C++ compiler and make, then "
                                    "run make install again)")
            if self._data_dir is None:
                self._temporary = tempfile.TemporaryDirectory(prefix="chatserver-relay-")
                self._data_dir = Path(self._temporary.name)
            command = [node_binary(), str(NODE_RELAY), str(self.port), str(self.database)]
        else:
            command = [sys.executable, "-m", "loadtests.reference.raw_relay", str(self.port)]
        self.process = await start_process_group(*command, cwd=ROOT, stdin=asyncio.subprocess.DEVNULL,
                                                 stdout=asyncio.subprocess.DEVNULL)
        try:
            await self._listening()
        except BaseException:
            await self._stop()
            raise
        return self

    async def _listening(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.returncode is not None:
                raise LoadTestError(f"the {self.kind} reference relay exited with status {self.process.returncode}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            return
        raise LoadTestError(f"the {self.kind} reference relay did not listen within 20 s")

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._stop()

    async def _stop(self) -> None:
        if self.process is not None:
            await stop_process_group(self.process, kill_after=5.0)
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None


__all__ = ["Generator", "ReferenceRelay", "node_binary"]
