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


def _binomial_cdf(n: int, p: float) -> list[float]:
    """``cdf[k]`` = P(B <= k) for B ~ Binomial(n, p), 0 < p < 1 (from log-probabilities: n may be large)."""
    log_p, log_q = math.log(p), math.log1p(-p)
    total, cdf = 0.0, []
    for k in range(n + 1):
        log_pmf = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q
        total += math.exp(log_pmf)
        cdf.append(min(total, 1.0))
    return cdf


def percentile_interval(ordered: Sequence[float], q: float,
                        confidence: float = 0.95) -> tuple[float | None, float | None]:
    """A distribution-free confidence interval for the ``q``-th percentile of the population
    ``ordered`` (sorted ascending) was drawn from: the sample values of ranks ``lo`` and ``hi``
    (order statistics), chosen so that the true percentile lies below the ``lo``-th sample, and
    above the ``hi``-th, each with probability at most ``(1 - confidence) / 2``. How many samples
    fall at or below the true percentile is Binomial(n, q/100), whatever the distribution. ``None``
    for an end the samples cannot bound: too few of them (for p99 at 95%, fewer than 368 have no
    upper end)."""
    n = len(ordered)
    if n == 0:
        raise ValueError("percentile interval of no samples")
    if not 0.0 < q < 100.0 or not 0.0 < confidence < 1.0:
        raise ValueError("q must be in (0, 100) and confidence in (0, 1)")
    tail = (1.0 - confidence) / 2
    cdf = _binomial_cdf(n, q / 100.0)
    # lo: the largest rank with P(B <= lo - 1) <= tail; hi: the smallest with P(B >= hi) <= tail.
    lo = max((k for k in range(1, n + 1) if cdf[k - 1] <= tail), default=None)
    hi = min((k for k in range(1, n + 1) if 1.0 - cdf[k - 1] <= tail), default=None)
    return (None if lo is None else ordered[lo - 1], None if hi is None else ordered[hi - 1])


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


__all__ = ["Summary", "percentile", "percentile_interval", "summarize"]
