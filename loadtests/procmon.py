"""CPU and memory of a process over time, sampled from ``/proc/PID`` (Linux)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def read_usage(pid: int) -> tuple[float, int] | None:
    """(CPU seconds used so far, resident set in bytes) of ``pid``, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
        with open(f"/proc/{pid}/statm") as fh:
            resident_pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    # Fields after the command name (which may hold spaces) start after the last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime
    return cpu, resident_pages * _PAGE


@dataclass
class ProcessSampler:
    """Samples a process every ``interval`` seconds while running (``start``/``stop``):
    ``samples`` is ``[t, cpu_percent, rss_mb]`` rows, ``t`` from ``t0`` (``time.monotonic()``)."""

    pid: int
    t0: float
    interval: float = 0.5
    samples: list[list[float]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def latest(self) -> tuple[float, float] | None:
        """(CPU %, RSS MB) of the last sample."""
        return (self.samples[-1][1], self.samples[-1][2]) if self.samples else None

    def rss_bytes(self) -> int | None:
        usage = read_usage(self.pid)
        return None if usage is None else usage[1]

    async def _run(self) -> None:
        last = read_usage(self.pid)
        last_t = time.monotonic()
        while last is not None:
            await asyncio.sleep(self.interval)
            usage = read_usage(self.pid)
            now = time.monotonic()
            if usage is None:
                return
            cpu = 100.0 * (usage[0] - last[0]) / max(now - last_t, 1e-6)
            self.samples.append([round(now - self.t0, 2), round(cpu, 1), round(usage[1] / 2**20, 2)])
            last, last_t = usage, now

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def summary(self) -> dict[str, Any]:
        if not self.samples:
            return {"samples": 0}
        cpu = [s[1] for s in self.samples]
        rss = [s[2] for s in self.samples]
        return {"samples": len(self.samples), "cpu_percent_mean": round(sum(cpu) / len(cpu), 1),
                "cpu_percent_max": max(cpu), "rss_mb_max": max(rss), "rss_mb_last": rss[-1]}


__all__ = ["ProcessSampler", "read_usage"]
