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
from loadtests.stats import percentile, summarize

ROOT = Path(__file__).resolve().parents[2]


def test_routing_scenario_completes_and_reports_consistent_numbers(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadtests", "routing", "--queued", "20", "--samples", "10", "--warmup", "2",
         "--interval", "0.02", "--max-duration", "90", "--report-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=110,
    )
    # 0: met the target, 3: missed it; either way the run completed.
    assert done.returncode in (0, 3), done.stdout + done.stderr
    assert "routing (the measured latency)" in done.stdout
    assert ("PASS" in done.stdout) == (done.returncode == 0)

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
    assert report["target"]["passed"] == (report["summary_ms"]["routing"]["p99"] <= 20.0 and report["complete"])
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


def test_a_routing_run_cut_short_does_not_pass() -> None:
    from loadtests.scenarios.routing import RoutingConfig, RoutingResult

    fast = RoutingResult(config=RoutingConfig(), routing_ms=[1.0, 2.0])
    assert fast.passed
    fast.complete = False
    assert not fast.passed
