"""Latency histograms from the load generator: log buckets of 1% relative width, an equivalent
of an HDR histogram with two significant digits (``loadtests/generator/loadgen.mjs`` fills them).

Bucket ``i`` holds latencies in ``[e^(i/100), e^((i+1)/100))`` microseconds; a percentile is the
middle of the bucket that holds it (within 0.5% of the true value), clamped to the exact minimum
and maximum, which the generator keeps.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

SCALE = 100.0
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


class LogHistogram:
    def __init__(self, counts: Mapping[int, int] | None = None, minimum: float | None = None,
                 maximum: float | None = None) -> None:
        self.counts: Counter[int] = Counter(counts or {})
        self.minimum = minimum
        self.maximum = maximum

    @classmethod
    def from_generator(cls, data: Mapping[str, Any]) -> LogHistogram:
        """From the generator's ``{"counts": {"i": n}, "min": ms, "max": ms}``."""
        return cls({int(k): int(v) for k, v in data.get("counts", {}).items()}, data.get("min"), data.get("max"))

    @classmethod
    def from_counts(cls, counts: Mapping[str, int]) -> LogHistogram:
        return cls({int(k): int(v) for k, v in counts.items()})

    def record_ms(self, ms: float) -> None:
        self.counts[math.floor(math.log(max(ms * 1000.0, 1.0)) * SCALE)] += 1
        self.minimum = ms if self.minimum is None else min(self.minimum, ms)
        self.maximum = ms if self.maximum is None else max(self.maximum, ms)

    def merge(self, other: LogHistogram) -> None:
        self.counts.update(other.counts)
        for value in (other.minimum, other.maximum):
            if value is not None:
                self.minimum = value if self.minimum is None else min(self.minimum, value)
                self.maximum = value if self.maximum is None else max(self.maximum, value)

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile in milliseconds (nearest rank), or None when empty."""
        total = self.count
        if not total:
            return None
        rank = max(math.ceil(q / 100.0 * total), 1)
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                value = math.exp((index + 0.5) / SCALE) / 1000.0
                if self.minimum is not None:
                    value = max(value, self.minimum)
                if self.maximum is not None:
                    value = min(value, self.maximum)
                return value
        return self.maximum

    def summary(self) -> dict[str, float | int | None]:
        """``count``, ``p50``, ``p90``, ``p99``, ``p99.9``, ``min``, ``max`` (milliseconds, rounded)."""
        out: dict[str, float | int | None] = {"count": self.count}
        for q in PERCENTILES:
            value = self.percentile(q)
            out[f"p{q:g}"] = None if value is None else round(value, 3)
        out["min"] = None if self.minimum is None else round(self.minimum, 3)
        out["max"] = None if self.maximum is None else round(self.maximum, 3)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"counts": {str(k): v for k, v in sorted(self.counts.items())}, "min": self.minimum,
                "max": self.maximum}


__all__ = ["PERCENTILES", "LogHistogram"]
