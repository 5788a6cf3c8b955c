"""The routing benchmark runs end to end at a tiny size: a real ``chatserver serve`` subprocess, a
real visitor swarm process and real python-socketio agents. Speed is never asserted here (the
machine is shared); only that the run completes and its numbers are consistent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.errors import LoadTestError
from loadtests.server import check_target_url, is_loopback
from loadtests.stats import percentile, percentile_interval, summarize

ROOT = Path(__file__).resolve().parents[2]


def test_routing_scenario_completes_and_reports_consistent_numbers(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadtests", "routing", "--queued", "20", "--samples", "10", "--warmup", "2",
         "--interval", "0.02", "--max-duration", "90", "--report-dir", str(tmp_path),
         # A target no busy machine's samples can prove missed: 10 samples leave the verdict open.
         "--target-p99-ms", "5000"],
        cwd=ROOT, capture_output=True, text=True, timeout=110,
    )
    # 0: met the target, 3: missed it, 4: too few samples to tell (10 always are); the run completed.
    assert done.returncode == 4, done.stdout + done.stderr
    assert "routing (the measured latency)" in done.stdout
    assert "INCONCLUSIVE (the p99's 95% confidence interval from 10 samples: " in done.stdout

    [report_file] = tmp_path.glob("routing-*.json")
    report = json.loads(report_file.read_text())
    assert report["complete"] is True
    assert report["server"]["managed"] is True
    for name in ("routing", "close_ack", "start_ack"):
        samples = report["samples_ms"][name]
        summary = report["summary_ms"][name]
        assert len(samples) == summary["count"] == 10
        assert all(value > 0 for value in samples)
        assert summary["min"] <= summary["p50"] <= summary["p90"] <= summary["p99"] <= summary["max"]
        assert summary["max"] == max(samples)
    assert report["target"] == {"p99_ms_at_most": 5000.0, "verdict": "INCONCLUSIVE", "passed": False}
    interval = report["p99_interval_ms"]
    assert interval["samples"] == 10 and interval["high"] is None  # 10 samples cannot bound a p99 from above
    assert interval["low"] in report["samples_ms"]["routing"]
    # The backlog held at the requested size, and the queue was served in order.
    assert report["queue"]["before_agents"] == 20 + 2 * 3
    assert report["queue"]["at_end"] == 20
    assert report["fifo_violations"] == 0


def test_non_loopback_targets_are_refused() -> None:
    assert check_target_url("http://127.0.0.1:8080/", allow_remote=False) == "http://127.0.0.1:8080"
    assert check_target_url("http://localhost:8080", allow_remote=False) == "http://localhost:8080"
    assert check_target_url("http://[::1]:8080", allow_remote=False) == "http://[::1]:8080"
    assert not is_loopback("10.0.0.5")
    with pytest.raises(LoadTestError, match="only loopback"):
        check_target_url("http://shop.example:8080", allow_remote=False)
    with pytest.raises(LoadTestError, match="only loopback"):
        check_target_url("http://192.168.1.10:8080", allow_remote=False)


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    summary = summarize([3.0, 1.0, 2.0])
    assert (summary.count, summary.min, summary.p50, summary.max, summary.mean) == (3, 1.0, 2.0, 3.0, 2.0)


def test_percentile_intervals_are_the_order_statistics_the_binomial_gives() -> None:
    values = [float(v) for v in range(1, 1001)]
    # p99 of 1,000: between the 983rd and the 997th sample (the 18th- and the 4th-worst).
    assert percentile_interval(values, 99) == (983.0, 997.0)
    # The median of 100: the textbook ranks 40 and 61.
    assert percentile_interval(values[:100], 50) == (40.0, 61.0)
    # Under 368 samples nothing bounds a p99 from above at 95%; at 368 the largest does.
    assert percentile_interval(values[:367], 99)[1] is None
    assert percentile_interval(values[:368], 99)[1] == 368.0
    assert percentile_interval([5.0], 99) == (5.0, None)


def test_a_routing_p99_is_judged_by_its_confidence_interval() -> None:
    from loadtests.scenarios.routing import RoutingConfig, RoutingResult

    def result(routing_ms: list[float]) -> RoutingResult:
        return RoutingResult(config=RoutingConfig(), routing_ms=routing_ms)

    few = result([1.0, 2.0])  # a fast p99 from two samples tells nothing
    assert few.verdict() == "INCONCLUSIVE" and few.inconclusive and not few.passed
    many = result([1.0 + i / 1000 for i in range(1000)])
    assert many.verdict() == "PASS" and many.passed
    many.complete = False  # cut short by --max-duration
    assert many.verdict() == "FAIL" and not many.inconclusive
    # The target inside the interval: 10 of 1,000 samples over 20 ms puts the p99 around it.
    close = result([5.0] * 990 + [25.0] * 10)
    assert close.verdict() == "INCONCLUSIVE"
    assert result([5.0] * 950 + [25.0] * 50).verdict() == "FAIL"
