"""Load against a server the load tester did not start (``--url``): a real ``chatserver serve``
process, the real load tester and Node.js generator as subprocesses. The run leaves the server as
it found it, however it ends, and rides out the server's restart."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from loadtests.server import read_admin_credentials

from ..processes import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
# A load test sends far more than a person types (what the load tester sets on a server it starts).
MESSAGE_RATE = "1000"


def load_command(server: ServerProcess, tmp_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "loadtests", *args, "--url", server.url, "--admin-file",
            str(server.data_dir / "first-admin.txt"), "--report-dir", str(tmp_path / "reports")]


def wait_until_measuring(run: subprocess.Popen[str]) -> str:
    """Read the run's output until its first progress line of the measured phase; what it said."""
    assert run.stdout is not None
    seen = []
    for line in run.stdout:
        seen.append(line)
        if " measure " in line:
            return "".join(seen)
    raise AssertionError("the run ended before measuring: " + "".join(seen))


def admin_get(server: ServerProcess, path: str) -> Any:
    email, password = read_admin_credentials(server.data_dir / "first-admin.txt")
    login = urllib.request.Request(server.url + "/api/auth/login", method="POST",
                                   data=json.dumps({"email": email, "password": password}).encode(),
                                   headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(login, timeout=10) as response:
        token = json.load(response)["token"]
    request = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def left_behind(server: ServerProcess) -> tuple[list[str], int]:
    """The agents that are not the admin and can still sign in, and the chats still open."""
    agents = admin_get(server, "/api/agents")["agents"]
    enabled = [a["email"] for a in agents if a["role"] != "admin" and not a["disabled"]]
    still_open = sum(admin_get(server, f"/api/conversations?status={status}&limit=1")["total"]
                     for status in ("queued", "assigned"))
    return enabled, still_open


def test_a_url_run_closes_its_chats_and_disables_its_agents_when_done_interrupted_or_failed(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "server", None, CHATSERVER_MESSAGE_RATE=MESSAGE_RATE,
                           CHATSERVER_MESSAGE_BURST=MESSAGE_RATE)
    server.data_dir.mkdir()
    server.start()
    try:
        done = subprocess.run(load_command(server, tmp_path, "steady", "--pairs", "2", "--rate", "20", "--duration",
                                           "1", "--warmup", "0.5", "--ramp-up", "0"),
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
        print(done.stdout)
        assert done.returncode == 0, done.stdout + done.stderr
        [report] = [json.loads(p.read_text()) for p in (tmp_path / "reports").glob("steady-*.json")]
        assert report["cleanup"] == {"chats_closed": 2, "agents_disabled": 2, "kb_articles_deleted": 0,
                                     "kb_categories_deleted": 0, "failures": []}
        assert "cleaned up the target: 2 chats closed, 2 agents disabled" in done.stdout
        assert left_behind(server) == ([], 0)
        assert admin_get(server, "/api/conversations?status=closed&limit=1")["total"] == 2  # they were there

        # Interrupted (Ctrl-C) while messages flow: what it made so far is undone all the same.
        run = subprocess.Popen(load_command(server, tmp_path, "steady", "--pairs", "3", "--rate", "30",
                                            "--duration", "60", "--warmup", "0", "--ramp-up", "0", "--no-report"),
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_until_measuring(run)
            assert left_behind(server)[1] == 3  # three chats going on
            run.send_signal(signal.SIGINT)
            out, err = run.communicate(timeout=60)
        finally:
            if run.poll() is None:
                run.kill()
        print(out, err)
        assert run.returncode == 130, out + err
        assert "cleaned up the target: 3 chats closed, 3 agents disabled" in out
        assert left_behind(server) == ([], 0)

        # A run that fails (more chats than the agent takes: two are never assigned, past the
        # default threshold on errors): the chats still waiting in the queue are closed too.
        done = subprocess.run(load_command(server, tmp_path, "storm", "--visitors", "6", "--agents", "1",
                                           "--capacity", "4", "--ramp-up", "0", "--no-report"),
                              cwd=ROOT, capture_output=True, text=True, timeout=90)
        print(done.stdout)
        assert done.returncode == 3, done.stdout + done.stderr
        assert "not_assigned 2" in done.stdout
        assert "cleaned up the target: 6 chats closed, 1 agents disabled" in done.stdout
        assert left_behind(server) == ([], 0)
    finally:
        server.stop()


def test_a_url_run_of_kb_search_deletes_the_articles_and_categories_it_wrote(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "server", None)
    server.data_dir.mkdir()
    server.start()
    try:
        before = admin_get(server, "/api/kb/articles?limit=1")
        done = subprocess.run(load_command(server, tmp_path, "kb-search", "--articles", "30", "--categories", "3",
                                           "--queries", "10", "--warmup", "2", "--no-report"),
                              cwd=ROOT, capture_output=True, text=True, timeout=90)
        print(done.stdout)
        assert done.returncode in (0, 3), done.stdout + done.stderr  # speed is not what is tested
        assert "30 articles and 3 categories deleted" in done.stdout
        assert admin_get(server, "/api/kb/articles?limit=1") == before
        assert admin_get(server, "/api/kb/categories")["categories"] == []
    finally:
        server.stop()


@pytest.mark.parametrize(("stop", "reason"), [("stop", "transport close"), ("kill", "transport close")])
def test_the_generator_comes_back_after_the_server_restarts_under_a_run(tmp_path: Path, stop: str,
                                                                        reason: str) -> None:
    """A server stopping drains, then closes every client's transport (docs/protocol.md, "When
    the server stops"); one killed just goes away. Either way each connection comes back once it
    restarts, rejoins its chat after the last message it had, and the round trips go on with none
    left unanswered."""
    server = ServerProcess(tmp_path / "server", None, CHATSERVER_SHUTDOWN_TIMEOUT="1",
                           CHATSERVER_MESSAGE_RATE=MESSAGE_RATE, CHATSERVER_MESSAGE_BURST=MESSAGE_RATE)
    server.data_dir.mkdir()
    server.start()
    run = subprocess.Popen(load_command(server, tmp_path, "steady", "--pairs", "2", "--rate", "20", "--duration",
                                        "10", "--warmup", "0", "--ramp-up", "0"),
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        said = wait_until_measuring(run)
        if stop == "stop":
            server.stop()
        else:
            server.kill()  # SIGKILL: the connections just break
        server.start()
        out, err = run.communicate(timeout=90)
    finally:
        if run.poll() is None:
            run.kill()
        server.stop()
    print(said + out, err)
    assert run.returncode == 0, out + err
    [report] = [json.loads(p.read_text()) for p in (tmp_path / "reports").glob("steady-*.json")]
    [target] = report["targets"]
    reconnections = target["reconnections"]
    assert reconnections["dropped"] == {reason: 4}, reconnections  # two visitors, two agents
    assert (reconnections["back"], reconnections["not_back"], reconnections["refused"]) == (4, 0, 0)
    assert target["errors"] == {} and target["metrics"]["connections"] == 4
    # Round trips were answered after the restart too: the last measured seconds delivered messages.
    measured = [row for row in target["timeline"]["rows"] if row[1] == "measure"]
    assert measured[-1][3] > 0 and measured[-1][2] == 4
    assert "connections dropped by the server or the network" in out and "4 came back" in out
