"""A visitor swarm: many python-socketio visitors in a worker process of their own.

Running the crowd in another process keeps the measuring clients' event loop quiet: a thousand
queued visitors receive thousands of ``queue:position`` events a second, and parsing them in the
measuring process would delay the timestamps being measured.

The worker (``python -m loadtests.swarm``) connects ``--count`` visitors, each starting a chat, and
reports on stdout, one JSON object a line::

    {"event": "chat", "conversation_id": "..."}      a visitor started a chat (one a chat)
    {"event": "ready", "conversation_ids": [...], "elapsed_s": 4.2}
    {"event": "stopped", "received": {"queue:position": 51234, ...}}
    {"event": "error", "message": "..."}

It disconnects everyone and exits when its standard input closes (or says ``stop``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from .cleanup import Created
from .clients import Api, SocketClient, connect_visitor, new_http_session, prechat
from .errors import LoadTestError
from .server import start_process_group, stop_process_group

DISCONNECT_TIMEOUT = 30.0


# -- worker process --------------------------------------------------------------------------------

def _say(**message: Any) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _start_visitors(api: Api, count: int, concurrency: int, first_index: int, leave: bool,
                          department: str | None, visitors: list[SocketClient]) -> list[str]:
    """Connect ``count`` visitors that each start a chat, ``concurrency`` at a time; returns the
    conversation ids in the order the server acknowledged them. With ``leave`` each visitor
    disconnects once its chat is started (the chat keeps waiting, as when a shopper closes the
    tab)."""
    gate = asyncio.Semaphore(concurrency)
    conversation_ids: list[str] = []

    async def one(n: int) -> None:
        async with gate:
            visitor = await connect_visitor(api, api.http)
            visitors.append(visitor)
            ack = await visitor.call("chat:start", prechat(n, department))
            conversation_ids.append(str(ack["conversation"]["id"]))
            _say(event="chat", conversation_id=conversation_ids[-1])
            if leave:
                await visitor.disconnect()

    async with asyncio.TaskGroup() as group:
        for n in range(first_index, first_index + count):
            group.create_task(one(n))
    return conversation_ids


async def _wait_for_stop() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line or line.strip() == b"stop":
            return


async def _disconnect_all(visitors: list[SocketClient], concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(visitor: SocketClient) -> None:
        async with gate:
            with contextlib.suppress(Exception):
                await visitor.disconnect()

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(one(v) for v in visitors)), DISCONNECT_TIMEOUT)


async def run_worker(url: str, count: int, concurrency: int, first_index: int, leave: bool,
                     department: str | None) -> int:
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    visitors: list[SocketClient] = []
    async with new_http_session() as http:
        api = Api(http, url)
        try:
            started = time.monotonic()
            failure: BaseException | None = None
            try:
                conversation_ids = await _start_visitors(api, count, concurrency, first_index, leave, department,
                                                         visitors)
            except* Exception as group:
                failure = group.exceptions[0]
            if failure is not None:
                reason = str(failure) if isinstance(failure, LoadTestError) else repr(failure)
                _say(event="error", message=f"starting visitors failed: {reason}")
                return 1
            _say(event="ready", conversation_ids=conversation_ids, elapsed_s=round(time.monotonic() - started, 3))
            await _wait_for_stop()
        finally:
            received: Counter[str] = Counter()
            for visitor in visitors:
                received.update(visitor.counts)
            await _disconnect_all(visitors, concurrency)
            _say(event="stopped", received=dict(received))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.swarm", description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--first-index", type=int, default=1)
    parser.add_argument("--leave", action="store_true", help="disconnect each visitor once its chat is started")
    parser.add_argument("--department", help="the department the visitors' chats are for")
    args = parser.parse_args(argv)
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(run_worker(args.url, args.count, args.concurrency, args.first_index, args.leave,
                                     args.department))


# -- controller, in the load tester ----------------------------------------------------------------

class VisitorSwarm:
    """Start a swarm worker and wait until its visitors have all started chats (``async with``);
    on exit, stop it and keep what its visitors received in ``received``."""

    def __init__(self, url: str, count: int, *, created: Created | None = None, concurrency: int = 50,
                 first_index: int = 1, leave: bool = False, department: str | None = None,
                 timeout: float = 120.0) -> None:
        self.url = url
        self.created = created if created is not None else Created()
        self.count = count
        self.leave = leave
        self.department = department
        self.concurrency = concurrency
        self.first_index = first_index
        self.timeout = timeout
        self.process: asyncio.subprocess.Process | None = None
        self.conversation_ids: list[str] = []
        self.elapsed_s = 0.0
        self.received: dict[str, int] = {}

    async def _next_message(self) -> dict[str, Any]:
        """The worker's next report but a started chat (which is recorded in ``created``)."""
        assert self.process is not None and self.process.stdout is not None
        while True:
            line = await self.process.stdout.readline()
            if not line:
                raise LoadTestError(f"the visitor swarm exited unexpectedly (status {await self.process.wait()})")
            message: dict[str, Any] = json.loads(line)
            if message.get("event") != "chat":
                return message
            self.created.conversations.add(str(message["conversation_id"]))

    async def _record_the_rest(self) -> None:
        """After the worker stopped: the chats it reported that were not read yet."""
        with contextlib.suppress(LoadTestError, ValueError):
            while True:
                await self._next_message()

    async def __aenter__(self) -> VisitorSwarm:
        self.process = await start_process_group(
            sys.executable, "-m", "loadtests.swarm", "--url", self.url, "--count", str(self.count),
            "--concurrency", str(self.concurrency), "--first-index", str(self.first_index),
            *(["--leave"] if self.leave else []),
            *(["--department", self.department] if self.department is not None else []),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        try:
            try:
                message = await asyncio.wait_for(self._next_message(), self.timeout)
            except TimeoutError:
                raise LoadTestError(f"the visitor swarm did not start {self.count} chats within "
                                    f"{self.timeout:.0f} s") from None
            if message["event"] != "ready":
                raise LoadTestError(f"the visitor swarm failed: {message.get('message', message)}")
        except BaseException:
            await stop_process_group(self.process)
            await self._record_the_rest()
            raise
        self.conversation_ids = list(message["conversation_ids"])
        self.elapsed_s = float(message["elapsed_s"])
        return self

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
            with contextlib.suppress(TimeoutError, LoadTestError, ValueError):
                message = await asyncio.wait_for(self._next_message(), DISCONNECT_TIMEOUT + 5)
                if message.get("event") == "stopped":
                    self.received = dict(message["received"])
        finally:
            await stop_process_group(process, grace=5.0)


__all__ = ["VisitorSwarm", "main", "run_worker"]


if __name__ == "__main__":
    raise SystemExit(main())
