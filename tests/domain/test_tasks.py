"""The task supervisor: background work is waited for, its failures logged, and cancelled on a stop."""

from __future__ import annotations

import asyncio
import logging

import pytest

from chatserver.domain.tasks import TaskSupervisor


async def test_idle_waits_for_work_and_for_the_work_it_starts() -> None:
    tasks = TaskSupervisor()
    done: list[str] = []

    async def second() -> None:
        await asyncio.sleep(0)
        done.append("second")

    async def first() -> None:
        await asyncio.sleep(0)
        done.append("first")
        tasks.spawn(second())

    tasks.spawn(first())
    await tasks.idle()
    assert done == ["first", "second"]


async def test_a_failure_is_logged_and_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    tasks = TaskSupervisor()
    done: list[str] = []

    async def fails() -> None:
        raise RuntimeError("boom")

    async def works() -> None:
        await asyncio.sleep(0)
        done.append("works")

    with caplog.at_level(logging.ERROR, logger="chatserver.conversations"):
        tasks.spawn(fails())
        tasks.spawn(works())
        await tasks.idle()
    assert done == ["works"]
    assert [(r.getMessage(), str(r.exc_info[1]) if r.exc_info else None) for r in caplog.records] == [
        ("background task failed", "boom")]


async def test_cancel_all_stops_work_in_progress() -> None:
    tasks = TaskSupervisor()
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    tasks.spawn(forever())
    await started.wait()
    await tasks.cancel_all()
    assert cancelled.is_set()
    await asyncio.wait_for(tasks.idle(), 1.0)  # nothing left to wait for
