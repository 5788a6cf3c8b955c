"""Background work the domain starts (routing after a change, a grace period's end, stored read
marks): one supervisor logs failures, lets tests and shutdown wait for it, and cancels it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("chatserver.conversations")

# A task that ignores its cancellation does not hold a stop up for longer than this.
CANCEL_WAIT = 5.0


class TaskSupervisor:
    """The background tasks one process runs for the domain."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background: a failure is logged, ``idle`` waits for it,
        ``cancel_all`` cancels it."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    async def idle(self) -> None:
        """Wait until background work started so far has finished, including the work it starts
        (used by tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel_all(self) -> None:
        """Cancel every task and wait for them to end, for up to ``CANCEL_WAIT`` seconds (a stop)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CANCEL_WAIT)
