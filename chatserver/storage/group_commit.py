"""Group commit, whatever the database: write jobs queued by many coroutines, run together in
one transaction by the backend's batch runner, and each caller told its job's outcome only after
COMMIT. SQLite's jobs and batch runner are in ``sqlite/_group_commit.py``, PostgreSQL's in
``postgresql/database.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ..errors import Unavailable

log = logging.getLogger("chatserver.storage")

Outcome = tuple[bool, Any]  # (True, result) or (False, exception)


class DatabaseObserver(Protocol):
    """Told how long each write transaction and read took, and of each that failed (the server's
    metrics; the command-line tools' stores tell nobody)."""

    def committed(self, seconds: float) -> None:
        """A write transaction (a batch of jobs, or a ``transaction()`` block) was committed."""
        ...

    def queried(self, seconds: float) -> None:
        """A read was answered."""
        ...

    def database_failed(self, operation: str) -> None:
        """A ``commit`` or a ``query`` failed."""
        ...


class Unobserved:
    """The ``DatabaseObserver`` of stores nobody watches."""

    def committed(self, seconds: float) -> None:
        return None

    def queried(self, seconds: float) -> None:
        return None

    def database_failed(self, operation: str) -> None:
        return None


UNOBSERVED = Unobserved()


class BatchFailed(Exception):
    """BEGIN or COMMIT failed, or the database rolled the whole transaction back: no job of the batch
    is stored."""


RunBatch = Callable[[list[Any]], Awaitable[tuple[list[Outcome], list[Callable[[], None]]]]]


class GroupCommitter:
    """Queues write jobs and runs them in batches through ``execute`` (the backend's batch runner:
    one transaction, a job's failure its own), one batch at a time, each under ``lock`` (SQLite's
    writer lock, which the store's other transactions take too)."""

    def __init__(self, execute: RunBatch, lock: asyncio.Lock, observer: DatabaseObserver = UNOBSERVED) -> None:
        self._execute = execute
        self._lock = lock
        self._observer = observer
        self._pending: list[tuple[Any, asyncio.Future[Any]]] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def pending(self) -> int:
        """How many jobs wait for the next batch."""
        return len(self._pending)

    async def run(self, job: Any) -> Any:
        """Run ``job`` in the next batch; its result (or exception) once the batch is committed."""
        if self._closed:
            raise Unavailable("the database is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((job, future))
        if self._task is None:
            self._task = loop.create_task(self._commit_loop())
        return await future

    async def _commit_loop(self) -> None:
        try:
            while self._pending:
                async with self._lock:
                    # Whatever arrived while this task waited for the lock goes in this batch.
                    batch, self._pending = self._pending, []
                    started = time.perf_counter()
                    try:
                        outcomes, after_commit = await self._execute([job for job, _ in batch])
                    except BaseException as exc:
                        self._observer.database_failed("commit")
                        error = Unavailable("the database could not store this; nothing was changed")
                        if not isinstance(exc, BatchFailed):
                            log.exception("write batch failed jobs=%d", len(batch))
                        else:
                            log.warning("write batch failed jobs=%d: %s", len(batch), exc)
                        for _, future in batch:
                            if not future.done():
                                future.set_exception(error)
                        if isinstance(exc, asyncio.CancelledError):
                            raise
                        continue
                    self._observer.committed(time.perf_counter() - started)
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():  # its caller was cancelled; the job is committed all the same
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
                for callback in after_commit:
                    try:
                        callback()
                    except Exception:
                        log.exception("after-commit callback failed")
        finally:
            self._task = None

    async def close(self) -> None:
        """Finish the batches queued so far; jobs queued from now on fail with ``Unavailable``."""
        self._closed = True
        while self._task is not None:
            await asyncio.shield(self._task)
