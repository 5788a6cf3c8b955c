"""A distributed run on Locust end to end: a real ``chatserver serve``, a real Locust master and
two real workers (processes, as on several machines), headless for a few seconds. What is
asserted is the merged result, never a speed: both workers' messages counted, no duplicate, none
out of order, none lost, resumes done, the report written, the live metrics served."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..processes import ServerProcess
from ..redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = "loadtests/cluster/locustfile.py"


def _locust(*args: str, log: Path) -> subprocess.Popen[bytes]:
    # `python -m locust` from the repository's root: this tree's loadtests is the one imported.
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "locust", "-f", LOCUSTFILE, *args], cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _server(tmp_path: Path) -> ServerProcess:
    # as for any load test: one address sends far more than a person types (docs/loadtesting.md)
    return ServerProcess(tmp_path, None, CHATSERVER_MESSAGE_RATE="1000000", CHATSERVER_MESSAGE_BURST="1000000",
                         CHATSERVER_EVENT_RATE="1000000", CHATSERVER_EVENT_BURST="1000000").start()


def _scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return ""


def test_a_master_and_two_workers_merge_the_chat_checks_of_both(tmp_path: Path) -> None:
    server = _server(tmp_path)
    master_port, metrics_port = free_port(), free_port()
    report = tmp_path / "chat-report.json"
    try:
        master = _locust("--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(master_port),
                         "--headless", "--expect-workers", "2", "--only-summary",
                         "--target-urls", server.url, "--admin-file", str(tmp_path / "first-admin.txt"),
                         "--pairs", "4", "--ramp-up", "0", "--duration", "2", "--pace", "20",
                         "--reconnect-every", "5", "--chat-report", str(report),
                         "--prometheus-port", str(metrics_port), log=tmp_path / "master.log")
        workers = [_locust("--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port),
                           log=tmp_path / f"worker-{n}.log") for n in (1, 2)]
        live = ""
        while master.poll() is None and 'chatload_requests_total{name="round trip"}' not in live:
            live = _scrape(metrics_port)
            time.sleep(0.2)
        status = master.wait(timeout=60)
        for worker in workers:
            worker.wait(timeout=30)
    finally:
        server.stop()
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(tmp_path.glob("*.log")))
    assert status == 0, logs
    assert "chatload_users" in live and "chatload_delivered_total" in live, live

    merged = json.loads(report.read_text())
    print(json.dumps(merged, indent=2))
    assert merged["passed"] is True
    assert len(merged["workers"]) == 2
    for worker in merged["workers"].values():  # each worker's pairs took part
        assert worker["delivered"] > 0 and worker["resumes"] > 0 and worker["cpu_s"] > 0
    checks = merged["chat_checks"]
    assert checks["delivered"] == sum(w["delivered"] for w in merged["workers"].values())
    assert checks["duplicates"] == checks["out_of_order"] == checks["lost"] == checks["resumes_incomplete"] == 0
    assert merged["requests"]["chat start"]["count"] == merged["requests"]["chat end"]["count"] == 4
    round_trips = merged["requests"]["round trip"]
    assert round_trips["count"] > 0 and round_trips["failures"] == 0 and merged["failures"] == {}
    # every round trip is two messages delivered (the ping to the agent, the answer to the visitor)
    assert checks["delivered"] >= 2 * round_trips["count"]
    assert merged["cpu"]["workers_s"] > 0 and merged["cpu"]["generator_us_per_message"] > 0


def test_one_process_with_python_socketios_client_passes_the_same_checks(tmp_path: Path) -> None:
    server = _server(tmp_path)
    report = tmp_path / "chat-report.json"
    try:
        run = _locust("--headless", "--only-summary", "--client", "python-socketio", "--target-urls", server.url,
                      "--admin-file", str(tmp_path / "first-admin.txt"), "--pairs", "2", "--ramp-up", "0",
                      "--duration", "1.5", "--pace", "20", "--reconnect-every", "4", "--chat-report", str(report),
                      log=tmp_path / "locust.log")
        status = run.wait(timeout=60)
    finally:
        server.stop()
    assert status == 0, (tmp_path / "locust.log").read_text()[-3000:]
    merged = json.loads(report.read_text())
    assert merged["passed"] is True and merged["workers"] == {}
    checks = merged["chat_checks"]
    assert checks["delivered"] > 0 and checks["resumes"] > 0
    assert checks["duplicates"] == checks["out_of_order"] == checks["lost"] == 0


def test_bad_options_stop_the_run_before_it_starts_with_one_line(tmp_path: Path) -> None:
    run = _locust("--headless", "--target-urls", "http://192.0.2.1:8080", "--pairs", "0", log=tmp_path / "out.log")
    status = run.wait(timeout=60)
    said = (tmp_path / "out.log").read_text()
    assert status == 2, said
    assert "refusing to load-test 192.0.2.1" in said and "--pairs must be at least 1" in said
    assert "Traceback" not in said
