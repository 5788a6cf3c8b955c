"""The attacks scenario end to end at a small size: a real ``chatserver serve`` subprocess, each
attack from raw sockets while a probe from another loopback address checks that others are still
served. At this size every attack must pass: the server refuses or bounds what the attacker sends,
answers what it must, and returns to its baseline (its memory and descriptors are read from /proc;
no speed is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_attack_is_refused_or_bounded_and_the_server_returns_to_its_baseline(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadtests", "attacks", "--scale", "0.05", "--hold", "4", "--settle", "20",
         "--attack-seconds", "30", "--server-setting", "header_timeout=1", "--max-duration", "200",
         "--report-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    print(done.stdout)
    [report_file] = tmp_path.glob("attacks-*.json")
    report = json.loads(report_file.read_text())
    outcomes = {a["name"]: a for a in report["attacks"]}
    assert list(outcomes) == ["attachments", "oversize-post", "slow-headers", "unread-pings", "bad-placeholders"]
    # What each attacker saw: refused or answered, never left hanging.
    assert outcomes["attachments"]["counts"]["bytes_sent"] > 0
    assert outcomes["oversize-post"]["counts"].get("answered_413") == 15
    assert outcomes["slow-headers"]["counts"]["closed_by_server"] == 50
    assert outcomes["bad-placeholders"]["counts"]["acknowledged"] >= 100
    for name, outcome in outcomes.items():
        assert outcome["passed"], (name, outcome)
        assert outcome["log_tracebacks"] == 0 and not outcome["probe_failures"], (name, outcome)
    assert done.returncode == 0, done.stdout + done.stderr
