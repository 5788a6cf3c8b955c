"""The chat scenarios run end to end at a tiny size on every CI run: a real ``chatserver serve``
subprocess, the real Node.js load generator (socket.io-client) and the real reference relays.
Figures are printed (``pytest -s``), never asserted: the machine is shared. What is asserted is
that each run completes and its report holds together."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loadtests.errors import LoadTestError
from loadtests.histogram import LogHistogram
from loadtests.html import render
from loadtests.procmon import ProcessSampler
from loadtests.scenarios.chat import ChatConfig, TargetRun
from loadtests.slo import check_objectives, load_objectives, parse_objective

from ..processes import run_together
from ..redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]


Run = tuple[subprocess.CompletedProcess[str], dict[str, Any]]


def html_page(tmp_path: Path, scenario: str) -> str:
    [page] = tmp_path.glob(f"{scenario}-*.html")
    return page.read_text()


def chart(page: str, title: str) -> str:
    """The SVG of the chart titled ``title``."""
    match = re.search(rf'<svg [^>]*aria-label="{re.escape(html.escape(title))}".*?</svg>', page)
    assert match, title
    return match[0]


def chart_points(svg: str) -> dict[str, dict[float, float]]:
    """Each series' points (x -> y, in the data's units), from the lines' ``data-points``."""
    points: dict[str, dict[float, float]] = {}
    for label, data in re.findall(r'<polyline data-series="([^"]*)" data-points="([^"]*)"', svg):
        for pair in data.split():
            x, y = pair.split(",")
            points.setdefault(html.unescape(label), {})[float(x)] = float(y)
    return points


def check_html_report(page: str, report: dict[str, Any]) -> None:
    """The page plots each second's own p99 (from that second's histogram alone), marks where every
    phase of every target began on the time axis, shades the measured window and labels its axes."""
    p99 = chart(page, "round trip p99 of each second")
    plotted = chart_points(p99)
    for target in report["targets"]:
        expected = {}
        for t, counts in target["second_histograms"]["rows"]:
            value = LogHistogram.from_counts(counts).percentile(99)
            if value is not None:
                expected[float(t)] = round(value, 3)
        assert expected and plotted[target["label"]] == pytest.approx(expected), target["label"]
        # Seconds without a round trip are gaps, not the last five seconds' value held on.
        silent = [row[0] for row in target["timeline"]["rows"] if row[7] == 0]
        assert not set(silent) & set(plotted[target["label"]])
        for t, phase in target["phases"]:
            assert (f'class="phase" data-target="{html.escape(target["label"])}" data-phase="{phase}" '
                    f'data-t="{t:g}"') in p99, (target["label"], phase)
    assert 'class="measured"' in p99
    assert ">seconds from the start of the run</text>" in p99 and '>ms</text>' in p99
    messages = chart(page, "messages delivered per second")
    assert ">messages/s</text>" in messages and 'data-phase="measure"' in messages
    curve = chart(page, "round trip: latency by percentile")
    assert ">p99</text>" in curve and ">p50</text>" in curve


def run_load(tmp_path: Path, *args: str, timeout: float = 60) -> Run:
    """Run a scenario with connections opened at once; its output and its JSON report."""
    done = subprocess.run([sys.executable, "-m", "loadtests", *args, "--ramp-up", "0", "--max-duration", "45",
                           "--report-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    print(done.stdout)
    reports = sorted(tmp_path.glob(f"{args[0]}-*.json"))
    assert reports, done.stdout + done.stderr
    html_page = reports[-1].with_suffix(".html").read_text()
    assert "<svg" in html_page and "http://" not in html_page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    report = json.loads(reports[-1].read_text())
    # Every metric the run reported is one an objective may name (--slo refuses the others).
    assert set(report["metrics"]) <= ChatConfig(**report["config"]).metric_names()
    return done, report


def check_compare_report(done: subprocess.CompletedProcess[str], report: dict[str, Any], order: list[str]) -> None:
    assert done.returncode == 0, done.stdout + done.stderr
    assert [t["target"] for t in report["targets"]] == order
    for target in report["targets"]:
        metrics = target["metrics"]
        assert target["complete"] and metrics["errors"] == 0, target["errors"]
        assert metrics["pairs"] == 3 and metrics["messages_per_s"] > 0
        rtt = target["latency_ms"]["rtt"]
        assert rtt["count"] > 0 and rtt["min"] <= rtt["p50"] <= rtt["p99"] <= rtt["max"]
        assert target["server_process"]["rows"], "the server process was sampled"
        # Messages/s per server core: messages/s over the server's mean CPU share while measured.
        cpu = metrics["server_cpu_percent_mean"]
        assert cpu > 0 and metrics["messages_per_s_per_core"] == pytest.approx(
            metrics["messages_per_s"] / (cpu / 100), rel=1e-3, abs=0.1)
    by_target = {t["target"]: t for t in report["targets"]}
    assert by_target["chatserver"]["redis_url"] is None and by_target["chatserver_redis"]["redis_url"]
    assert "messages_per_s_ratio_to_node" in report["metrics"]
    assert "messages_per_s_ratio_to_node_sqlite" in report["metrics"]
    mine, storing = by_target["chatserver"]["metrics"], by_target["node_sqlite"]["metrics"]
    on_redis = by_target["chatserver_redis"]["metrics"]
    assert report["metrics"]["messages_per_s_per_core_ratio_to_node_sqlite"] == pytest.approx(
        mine["messages_per_s_per_core"] / storing["messages_per_s_per_core"], abs=1e-3)
    # The Redis build against the embedded build of the same run.
    assert report["metrics"]["chatserver_redis_messages_per_s_per_core_ratio_to_chatserver"] == pytest.approx(
        on_redis["messages_per_s_per_core"] / mine["messages_per_s_per_core"], abs=1e-3)
    assert "chatserver + Redis / chatserver (embedded), same run: messages/s" in done.stdout
    assert "comparison (same generator, same run" in done.stdout
    [table_row] = [line for line in done.stdout.splitlines() if line.startswith("  node + SQLite ")]
    assert f"{storing['messages_per_s_per_core']:,.0f}" in table_row and table_row.rstrip().endswith("1.00")
    assert report["slo"]["passed"] is True


def test_compare_runs_the_same_ping_pong_against_chatserver_and_the_reference_relays(tmp_path: Path) -> None:
    done, report = run_load(tmp_path, "compare", "--pairs", "3", "--duration", "1", "--warmup", "0.3",
                            "--slo", "errors<=0")
    check_compare_report(done, report, ["chatserver", "chatserver_redis", "node", "node_sqlite", "aiohttp"])
    # The Redis build ran on a redis-server of the run's own, sampled too.
    [on_redis] = [t for t in report["targets"] if t["target"] == "chatserver_redis"]
    assert "redis_cpu_percent_mean" in on_redis["metrics"]
    assert "started redis-server on redis://127.0.0.1:" in done.stdout
    check_html_report(html_page(tmp_path, "compare"), report)


def test_compare_runs_the_redis_build_on_a_given_redis_first(tmp_path: Path, redis_url: str) -> None:
    done, report = run_load(tmp_path, "compare", "--pairs", "3", "--duration", "1", "--warmup", "0.3",
                            "--redis-url", redis_url, "--redis-first", "--slo", "errors<=0")
    check_compare_report(done, report, ["chatserver", "chatserver_redis", "node", "node_sqlite", "aiohttp"])
    assert report["targets"][1]["redis_url"] == redis_url and "started redis-server" not in done.stdout
    assert report["server"]["redis_url"] is None, "the first chatserver is the embedded build"
    # The Redis build's run came first; the report keeps the embedded build first (ratios are to it).
    assert done.stdout.index("chatserver + Redis: 6 connections up") < done.stdout.index("chatserver: 6 connections up")


def test_compare_without_a_server_cpu_share_fails_naming_the_target_and_why(tmp_path: Path) -> None:
    admin = tmp_path / "first-admin.txt"
    admin.write_text("email: admin@example.com\npassword: not-used\n")
    # No server needs to answer: the run is refused before it connects.
    done = subprocess.run([sys.executable, "-m", "loadtests", "compare", "--pairs", "2", "--url",
                           f"http://127.0.0.1:{free_port()}", "--admin-file", str(admin), "--no-report"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "chatserver: its CPU share cannot be read" in done.stderr and "--server-pid" in done.stderr
    assert "messages/s" not in done.stdout
    done = subprocess.run([sys.executable, "-m", "loadtests", "compare", "--cobrowse", "--pairs", "2", "--url",
                           f"http://127.0.0.1:{free_port()}", "--admin-file", str(admin), "--no-report"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "chatserver: its CPU share cannot be read, so neither its batches/s per core" in done.stderr


def test_a_target_without_cpu_samples_says_why_its_share_cannot_be_read() -> None:
    run = TargetRun("node_sqlite", "node + SQLite", "http://127.0.0.1:1",
                    result={"delivered": 100, "measured_s": 1.0})
    assert "no server process was sampled" in (run.cpu_share_problem() or "")
    run.server = ProcessSampler(pid=4242, t0=0.0)
    assert "process 4242 gave no CPU sample" in (run.cpu_share_problem() or "")
    assert "messages_per_s_per_core" not in run.metrics()
    run.server.samples = [[0.5, 0.0, 10.0]]
    assert "used no CPU" in (run.cpu_share_problem() or "")
    run.server.samples = [[0.5, 50.0, 10.0], [1.0, 30.0, 10.0]]
    assert run.cpu_share_problem() is None
    assert run.metrics()["messages_per_s_per_core"] == 250.0
    # Co-browse batches: batches/s per server core, and the agent's checks of what it received.
    run.job_cobrowse = {"eventsPerBatch": 2}
    run.result["errors"] = {"lost": 1, "out_of_order": 2}
    metrics = run.metrics()
    assert metrics["batches_per_s_per_core"] == 250.0 and metrics["events_per_s_per_core"] == 500.0
    assert (metrics["batches_lost"], metrics["batches_duplicated"], metrics["batches_out_of_order"],
            metrics["batches_incomplete"]) == (1, 0, 2, 0)


def check_cobrowse_compare(done: subprocess.CompletedProcess[str], report: dict[str, Any]) -> None:
    """Both targets relayed batches, each with its batches/s per server core and relay latency,
    and chatserver's per-core figure as a ratio to the Node relay's."""
    assert [t["target"] for t in report["targets"]] == ["chatserver", "node"]
    for target in report["targets"]:
        metrics = target["metrics"]
        assert target["complete"] and metrics["pairs"] == 3 and metrics["batches_per_s"] > 0, target["errors"]
        cpu = metrics["server_cpu_percent_mean"]
        assert cpu > 0 and metrics["batches_per_s_per_core"] == pytest.approx(
            metrics["batches_per_s"] / (cpu / 100), rel=1e-3, abs=0.1)
        relay = target["latency_ms"]["relay"]
        assert relay["count"] > 0 and relay["min"] <= relay["p50"] <= relay["p99"] <= relay["max"]
        assert "messages_per_s" not in metrics and "rtt" not in target["latency_ms"]
    mine, node = (t["metrics"] for t in report["targets"])
    assert report["metrics"]["batches_per_s_per_core_ratio_to_node"] == pytest.approx(
        mine["batches_per_s_per_core"] / node["batches_per_s_per_core"], abs=1e-3)
    assert "co-browse comparison (same generator, same run" in done.stdout
    [node_row] = [line for line in done.stdout.splitlines() if line.startswith("  node socket.io 4.8 ") and
                  "batches/s" not in line]
    assert f"{node['batches_per_s_per_core']:,.0f}" in node_row and node_row.rstrip().endswith("1.00")


def test_compare_cobrowse_relays_the_same_batches_through_chatserver_and_the_node_relay(tmp_path: Path) -> None:
    done, report = run_load(tmp_path, "compare", "--cobrowse", "--pairs", "3", "--in-flight", "2", "--duration",
                            "1.5", "--warmup", "0.5", "--snapshot-kb", "40", "--references-first",
                            "--slo", "errors<=0")
    assert done.returncode == 0, done.stdout + done.stderr
    check_cobrowse_compare(done, report)
    for target in report["targets"]:
        assert target["errors"] == {} and target["metrics"]["batches_lost"] == 0
    chatserver = report["targets"][0]
    assert chatserver["latency_ms"]["cobrowse_start"]["count"] == 3  # real sessions: requested, accepted, joined
    # Every target's batches were checked (each once, whole, in order) and held to it.
    checked = {r["objective"]: r["passed"] for r in report["thresholds"]["results"]}
    for target in ("chatserver", "node"):
        for name in ("batches_lost", "batches_duplicated", "batches_out_of_order", "batches_incomplete"):
            assert checked[f"{target}: {name} <= 0"] is True
    # --references-first: the Node relay ran first; the report still lists chatserver first.
    assert done.stdout.index("node socket.io 4.8: 6 connections up") < done.stdout.index("chatserver: 6 connections up")
    page = html_page(tmp_path, "compare")
    assert "batches_per_s_per_core_ratio_to_node" in page and "<td>batches_per_s_per_core</td>" in page
    assert "chatserver: batches_lost &lt;= 0" in page
    assert set(chart_points(chart(page, "batches delivered per second"))) == {"chatserver", "node socket.io 4.8"}
    assert set(chart_points(chart(page, "co-browse relay: latency by percentile"))) == {"chatserver",
                                                                                        "node socket.io 4.8"}


def test_compare_cobrowse_reports_a_batch_that_never_reached_the_agent_and_fails(tmp_path: Path) -> None:
    # A session allowed 20 batches and then 1 a second is paused when it goes over (the batch that
    # went over is refused): in a closed loop with one batch in flight, each session's agent never
    # receives that one batch. Measured from the first batch (no warm-up), so that the server's
    # CPU share is read while it relays them.
    done, report = run_load(tmp_path, "compare", "--cobrowse", "--pairs", "3", "--duration", "1.5",
                            "--warmup", "0", "--snapshot-kb", "40", "--max-error-percent", "100",
                            "--server-setting", "cobrowse_batch_burst=20",
                            "--server-setting", "cobrowse_batches_per_second=1")
    assert done.returncode == 3, done.stdout + done.stderr
    chatserver, node = report["targets"]
    assert chatserver["metrics"]["batches_lost"] == 3 and chatserver["errors"]["lost"] == 3
    assert chatserver["errors"]["refused:cobrowse:events:rate_limited"] == 3
    assert node["metrics"]["batches_lost"] == 0 and node["errors"] == {}
    checked = {r["objective"]: r for r in report["thresholds"]["results"]}
    assert checked["chatserver: batches_lost <= 0"]["passed"] is False
    assert checked["node: batches_lost <= 0"]["passed"] is True
    assert "threshold chatserver: batches_lost <= 0: 3 FAIL" in done.stdout
    assert "lost 3, duplicated 0, out of order 0, incomplete 0" in done.stdout


def test_cobrowse_streams_sessions_and_reports_relay_latency(tmp_path: Path) -> None:
    done, report = run_load(tmp_path, "cobrowse", "--sessions", "4", "--agents", "2", "--capacity", "2",
                            "--duration", "1", "--warmup", "0.3", "--snapshot-kb", "150", "--slo", "errors<=0")
    assert done.returncode == 0, done.stdout + done.stderr
    [target] = report["targets"]
    metrics = target["metrics"]
    assert target["complete"] and metrics["errors"] == 0, target["errors"]
    assert metrics["pairs"] == 4 and metrics["batches_per_s"] > 0 and metrics["events_per_s"] > 0
    assert "messages_per_s" not in metrics
    relay = target["latency_ms"]["relay"]
    assert relay["count"] > 0 and relay["min"] <= relay["p50"] <= relay["p99"] <= relay["max"]
    assert target["latency_ms"]["cobrowse_start"]["count"] == 4
    assert "co-browse relay" in done.stdout and "events/s per server core" in done.stdout


def test_reconnect_storm_resumes_every_client_without_duplicates_or_losses(tmp_path: Path) -> None:
    done, report = run_load(tmp_path, "reconnect", "--pairs", "4", "--rate", "40", "--duration", "1",
                            "--warmup", "0.5", "--missed", "2", "--slo", "lost<=0", "--slo", "duplicates<=0")
    assert done.returncode == 0, done.stdout + done.stderr
    [target] = report["targets"]
    reconnect = target["reconnect"]
    assert reconnect == {"parties": 8, "resumed": 8, "failed": 0, "duplicates": 0, "lost": 0,
                         "missed_per_visitor": 2}
    assert target["latency_ms"]["resume"]["count"] == 8


def test_mix_holds_idle_visitors_and_assigns_a_storm_of_chats(tmp_path: Path) -> None:
    done, report = run_load(tmp_path, "mix", "--idle", "30", "--visitors", "12", "--agents", "3", "--capacity", "3",
                            "--pairs", "3", "--rate", "30", "--duration", "1", "--warmup", "0.5",
                            "--slo", "not_assigned>=99")
    # 9 of 12 chats fit the agents, so the SLO (made to fail) reports a miss with status 3.
    assert done.returncode == 3, done.stdout + done.stderr
    [target] = report["targets"]
    metrics = target["metrics"]
    assert metrics["not_assigned"] == 3
    assert target["latency_ms"]["assignment"]["count"] == 9
    assert target["latency_ms"]["start_ack"]["count"] == 12
    assert metrics["connections"] == 30 + 12 + 3
    assert metrics["rss_per_connection_kb"] is not None
    assert report["slo"]["results"] == [{"objective": "not_assigned >= 99", "value": 3, "passed": False}]
    assert "SLO not_assigned >= 99: 3 FAIL" in done.stdout
    # 3 chats of 12 not assigned is far over the default threshold on errors too.
    [errors] = report["thresholds"]["results"][:1]
    assert errors["objective"] == "error_percent <= 0.1" and errors["value"] > 0.1 and not errors["passed"]


def test_unanswered_round_trips_over_the_default_threshold_fail_a_run_without_slo(tmp_path: Path) -> None:
    # A server that lets each connection send 2 messages a second refuses most pings, which then
    # go unanswered. Errors are allowed here (--max-error-percent 100); unanswered rounds are not.
    done, report = run_load(tmp_path, "steady", "--pairs", "2", "--rate", "40", "--duration", "1", "--warmup", "0.5",
                            "--server-setting", "message_rate=2", "--server-setting", "message_burst=4",
                            "--max-error-percent", "100")
    assert done.returncode == 3, done.stdout + done.stderr
    assert report["complete"] is True and report["slo"]["results"] == []
    metrics = report["metrics"]
    by_name = {check["objective"]: check for check in report["thresholds"]["results"]}
    assert by_name["error_percent <= 100"]["passed"] is True
    no_reply = by_name["no_reply_percent <= 0.01"]
    assert no_reply["passed"] is False and no_reply["value"] == metrics["no_reply_percent"] > 0.01
    assert report["targets"][0]["errors"]["no_reply"] > 0
    assert "threshold no_reply_percent <= 0.01:" in done.stdout and "FAIL" in done.stdout


def test_slo_parsing_and_checks(tmp_path: Path) -> None:
    slo_file = tmp_path / "slo.txt"
    slo_file.write_text("# release gate\nrtt_p99_ms <= 50\nmessages_per_s>=1000  # at 1,000 msg/s\n")
    objectives = load_objectives(["errors<1"], [slo_file])
    assert [str(o) for o in objectives] == ["errors < 1", "rtt_p99_ms <= 50", "messages_per_s >= 1000"]
    results = check_objectives(objectives, {"errors": 0, "rtt_p99_ms": 51.0})
    assert [r["passed"] for r in results] == [True, False, False]  # a missing metric fails
    with pytest.raises(LoadTestError):
        parse_objective("rtt_p99_ms == 50")


def test_log_histogram_percentiles_are_within_one_percent() -> None:
    hist = LogHistogram()
    for value in range(1, 1001):
        hist.record_ms(value / 10)
    assert hist.count == 1000
    for q, exact in ((50, 50.0), (99, 99.0), (100, 100.0)):
        value = hist.percentile(q)
        assert value is not None and abs(value - exact) <= exact * 0.01
    assert hist.percentile(1) is not None and hist.percentile(1) >= 0.1
    assert LogHistogram().percentile(50) is None


def test_html_report_renders_without_targets_data() -> None:
    page = render({"scenario": "steady", "targets": [], "metrics": {}})
    assert page.startswith("<!doctype html>")


def _refused(*runs: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """The load tester with each of ``runs``' arguments, all at the same time (each is refused before
    it starts anything; most of each is Python starting)."""
    return run_together([([sys.executable, "-m", "loadtests", *args, "--no-report"], None) for args in runs], cwd=ROOT)


def test_an_objective_on_an_unknown_metric_is_refused_before_the_run_with_the_known_ones() -> None:
    done, elsewhere, wrong = _refused(["steady", "--pairs", "2", "--slo", "rtt_p99_ms<=50", "--slo", "rtt_p99ms<=50"],
                                      ["steady", "--pairs", "2", "--slo", "duplicates<=0"],
                                      ["reconnect", "--pairs", "2", "--slo", "duplicates==0"])
    assert done.returncode == 2, done.stderr
    assert "unknown metric in --slo: rtt_p99ms;" in done.stderr
    listed = done.stderr.split("this scenario's metrics are: ", 1)[1].strip().split(", ")
    assert "rtt_p99_ms" in listed and "messages_per_s" in listed and "resume_p99_ms" not in listed
    assert done.stdout == ""  # refused before anything started
    # A metric only another scenario reports is unknown here, and one written wrong is bad usage too.
    assert elsewhere.returncode == 2
    assert wrong.returncode == 2 and "an SLO must read" in wrong.stderr, wrong.stderr


def test_runs_over_the_bounds_are_refused_before_they_start() -> None:
    cases = [(["idle", "--idle", "20", "--max-clients", "10"], "over --max-clients 10"),
             (["steady", "--pairs", "2", "--rate", "200000"], "over --max-rate"),
             (["cobrowse", "--sessions", "10", "--agents", "5", "--capacity", "2", "--batch-rate", "10",
               "--max-rate", "50"], "sends 100 messages/s, over --max-rate 50"),
             (["compare", "--cobrowse", "--pairs", "2", "--rate", "100"], "compare --cobrowse is a closed loop"),
             (["compare", "--cobrowse", "--pairs", "2", "--postgresql", "postgresql://u@127.0.0.1:1/db"],
              "--postgresql, --redis-url and --redis-first do not apply"),
             (["compare", "--cobrowse", "--pairs", "2", "--in-flight", "0"], "--in-flight must be between 1 and 100"),
             (["steady", "--url", "http://example.com:8080", "--admin-file", "/nonexistent"], "loopback"),
             (["steady", "--server-pid", "1"], "--server-pid goes with --url")]
    for (_, says), done in zip(cases, _refused(*(args for args, _ in cases)), strict=True):
        assert done.returncode == 1 and says in done.stderr, done.stderr
        # Nothing was started: no server, no generator left behind.
        assert "started chatserver" not in done.stdout


def test_a_run_that_overruns_max_duration_stops_and_reports_it_incomplete(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "loadtests", "steady", "--pairs", "2", "--rate", "20", "--duration",
                           "60", "--warmup", "0", "--ramp-up", "0", "--max-duration", "4", "--report-dir",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    print(done.stdout)
    assert done.returncode == 3, done.stdout + done.stderr
    [report] = [json.loads(p.read_text()) for p in tmp_path.glob("steady-*.json")]
    assert report["complete"] is False and report["targets"][0]["complete"] is False
    assert "INCOMPLETE" in done.stdout and "--max-duration reached" in done.stdout


def test_a_running_server_is_loaded_through_url_and_sampled_through_server_pid(tmp_path: Path) -> None:
    import time
    import urllib.request

    port = free_port()
    data = tmp_path / "data"
    server = subprocess.Popen([sys.executable, "-m", "chatserver", "serve", "--port", str(port), "--data-dir",
                               str(data)], cwd=ROOT, env={**__import__("os").environ,
                                                          "CHATSERVER_VISITOR_SESSIONS_PER_MINUTE": "100000",
                                                          "CHATSERVER_MESSAGE_RATE": "1000",
                                                          "CHATSERVER_MESSAGE_BURST": "1000",
                                                          "CHATSERVER_DRAIN_PERIOD": "0"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.2)
        done = subprocess.run([sys.executable, "-m", "loadtests", "steady", "--pairs", "2", "--rate", "20",
                               "--duration", "1.5", "--warmup", "0.5", "--ramp-up", "0", "--url",
                               f"http://127.0.0.1:{port}", "--admin-file", str(data / "first-admin.txt"),
                               "--server-pid", str(server.pid), "--report-dir", str(tmp_path)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
        print(done.stdout)
        assert done.returncode == 0, done.stdout + done.stderr
        [report] = [json.loads(p.read_text()) for p in tmp_path.glob("steady-*.json")]
        [target] = report["targets"]
        assert target["server_process"]["rows"], "the running server was sampled"
        assert target["metrics"]["server_cpu_percent_mean"] is not None
        assert report["server"]["managed"] is False
    finally:
        server.terminate()
        server.wait(timeout=30)
