"""Service-level objectives: ``NAME<=VALUE`` / ``NAME>=VALUE`` checks on a run's metrics.

From the command line (``--slo 'rtt_p99_ms<=50'``, repeatable) or a file (``--slo-file FILE``: one
check a line, ``#`` starts a comment). A metric the run did not produce fails its check: an SLO
that cannot be evaluated must not pass a release.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import LoadTestError, UsageError

_OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge, "<": operator.lt,
                                                   ">": operator.gt}
_CHECK = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*(<=|>=|<|>)\s*(-?[0-9.]+(?:e-?[0-9]+)?)\s*$")


@dataclass(frozen=True)
class Objective:
    metric: str
    op: str
    limit: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.limit:g}"

    def check(self, metrics: Mapping[str, Any]) -> dict[str, Any]:
        value = metrics.get(self.metric)
        passed = isinstance(value, int | float) and _OPS[self.op](float(value), self.limit)
        return {"objective": str(self), "value": value, "passed": passed}


def parse_objective(text: str) -> Objective:
    match = _CHECK.match(text)
    if not match:
        raise UsageError(f"an SLO must read NAME<=VALUE or NAME>=VALUE (or < >), not {text!r}")
    return Objective(match[1], match[2], float(match[3]))


def load_objectives(texts: Iterable[str], files: Iterable[Path]) -> list[Objective]:
    objectives = [parse_objective(t) for t in texts]
    for path in files:
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise LoadTestError(f"cannot read SLO file {path}: {exc.strerror}") from None
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if line:
                objectives.append(parse_objective(line))
    return objectives


def check_known_metrics(objectives: Iterable[Objective], known: Iterable[str]) -> None:
    """Refuse objectives on metrics the run cannot produce (a typo would otherwise only fail at
    the end of the run, as a metric the run did not produce)."""
    names = set(known)
    unknown = sorted({o.metric for o in objectives} - names)
    if unknown:
        raise UsageError(f"unknown metric{'s' if len(unknown) > 1 else ''} in --slo: {', '.join(unknown)}; "
                         f"this scenario's metrics are: {', '.join(sorted(names))}")


def check_objectives(objectives: Iterable[Objective], metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [o.check(metrics) for o in objectives]


__all__ = ["Objective", "check_known_metrics", "check_objectives", "load_objectives", "parse_objective"]
