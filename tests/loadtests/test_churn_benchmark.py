"""The churn soak runs end to end at a tiny size: a real ``chatserver serve`` subprocess, whole
chats one after another through real Socket.IO connections, the server's memory sampled. Memory
growth and speed are never asserted here (a few hundred chats are all warm-up); only that every
chat completed and the report is consistent. The figures are printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHATS = 120


def test_churn_scenario_completes_every_chat_and_reports_memory(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadtests", "churn", "--chats", str(CHATS), "--concurrency", "10", "--sample-every",
         "30", "--max-duration", "90", "--report-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=110,
    )
    print(done.stdout)
    # 0: memory stayed within the bound, 3: it grew more; either way the run completed.
    assert done.returncode in (0, 3), done.stdout + done.stderr
    assert ("PASS" in done.stdout) == (done.returncode == 0)

    [report_file] = tmp_path.glob("churn-*.json")
    report = json.loads(report_file.read_text())
    assert report["complete"] is True and report["server"]["managed"] is True
    assert report["errors"] == {} and report["chats_done"] == CHATS
    assert report["summary_ms"]["chat"]["count"] == CHATS
    samples = report["rss_samples"]
    assert [s["chats"] for s in samples] == [0, 30, 60, 90, 120]
    assert all(s["rss_kb"] > 0 for s in samples)
    assert isinstance(report["rss_growth_kb_per_1000_chats"], float)
    assert report["target"]["passed"] == (report["rss_growth_kb_per_1000_chats"] <= 200.0)
