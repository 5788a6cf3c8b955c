"""The load profiles of a distributed run as plain functions of the run time: how many
visitor/agent pairs should run ``t`` seconds in, and how fast to start or stop them. The
locustfile's ``LoadTestShape`` asks this every second; tests ask it directly."""

from __future__ import annotations

import math
from dataclasses import dataclass

PROFILES = ("ramp", "steps", "spike", "soak")


@dataclass(frozen=True)
class Profile:
    """``ramp``: up to ``pairs`` over ``ramp_up`` s, then ``duration`` s at that. ``steps``:
    ``step_pairs`` more every ``step_seconds`` up to ``pairs``, for ``duration`` s in all.
    ``spike``: ``pairs`` (ramped up over ``ramp_up`` s), and from ``spike_at`` s for
    ``spike_seconds`` s ``spike_pairs`` started at once; ``duration`` s in all. ``soak``: up to
    ``pairs`` over ``ramp_up`` s, then ``hours`` hours at that."""

    kind: str = "ramp"
    pairs: int = 10
    ramp_up: float = 10.0
    duration: float = 60.0
    step_pairs: int = 10
    step_seconds: float = 30.0
    spike_pairs: int = 100
    spike_at: float = 30.0
    spike_seconds: float = 10.0
    hours: float = 1.0

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in PROFILES:
            problems.append(f"--load-profile must be one of {', '.join(PROFILES)}, not {self.kind!r}")
        for name in ("pairs", "step_pairs", "spike_pairs"):
            if getattr(self, name) < 1:
                problems.append(f"--{name.replace('_', '-')} must be at least 1")
        for name in ("duration", "step_seconds", "spike_seconds", "hours"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                problems.append(f"--{name.replace('_', '-')} must be a positive number of "
                                f"{'hours' if name == 'hours' else 'seconds'}")
        for name in ("ramp_up", "spike_at"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                problems.append(f"--{name.replace('_', '-')} must be 0 or more seconds")
        if self.kind == "spike" and self.spike_at + self.spike_seconds > self.duration:
            problems.append("--spike-at + --spike-seconds must end within --duration")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def total_seconds(self) -> float:
        """How long the load runs (the pairs then stop)."""
        if self.kind == "ramp":
            return self.ramp_up + self.duration
        if self.kind == "soak":
            return self.ramp_up + self.hours * 3600
        return self.duration

    @property
    def peak_pairs(self) -> int:
        return max(self.pairs, self.spike_pairs) if self.kind == "spike" else self.pairs

    def _ramp_rate(self) -> float:
        return self.pairs / self.ramp_up if self.ramp_up > 0 else float(self.pairs)

    def at(self, t: float) -> tuple[int, float] | None:
        """``(pairs, pairs started or stopped per second)`` at ``t`` s into the run, ``None``
        once the run is over."""
        if t >= self.total_seconds:
            return None
        if self.kind == "steps":
            step = int(t // self.step_seconds)
            return min(self.pairs, self.step_pairs * (step + 1)), float(self.step_pairs)
        if self.kind == "spike" and self.spike_at <= t < self.spike_at + self.spike_seconds:
            return self.spike_pairs, float(max(self.spike_pairs, self.pairs))
        if self.kind == "spike" and t >= self.spike_at + self.spike_seconds:
            return self.pairs, float(max(self.spike_pairs, self.pairs))  # back down at once
        return self.pairs, self._ramp_rate()


__all__ = ["PROFILES", "Profile"]
