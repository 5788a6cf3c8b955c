"""Latency statistics: exact nearest-rank percentiles over every sample kept.

Runs are short (hundreds to a few thousand samples), so every value is kept and sorted; no
histogram approximation is needed, and the report can carry the raw samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile of ``ordered`` (sorted ascending, not empty): the
    smallest value with at least ``q`` percent of the samples at or below it."""
    if not ordered:
        raise ValueError("percentile of no samples")
    if not 0.0 < q <= 100.0:
        raise ValueError("q must be in (0, 100]")
    rank = math.ceil(q / 100.0 * len(ordered))
    return ordered[max(rank, 1) - 1]


@dataclass(frozen=True)
class Summary:
    """A latency distribution in milliseconds."""

    count: int
    min: float
    mean: float
    p50: float
    p90: float
    p99: float
    max: float

    def as_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def summarize(samples_ms: Sequence[float]) -> Summary:
    """Summarize latencies given in milliseconds (at least one)."""
    ordered = sorted(samples_ms)
    return Summary(
        count=len(ordered),
        min=ordered[0],
        mean=math.fsum(ordered) / len(ordered),
        p50=percentile(ordered, 50.0),
        p90=percentile(ordered, 90.0),
        p99=percentile(ordered, 99.0),
        max=ordered[-1],
    )


__all__ = ["Summary", "percentile", "summarize"]
