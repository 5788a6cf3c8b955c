"""The command line, run as a real process: agents, settings, and `serve` answering health checks."""

from __future__ import annotations

import asyncio
import datetime
import fcntl
import importlib.metadata
import json
import os
import pty
import re
import select
import socket
import subprocess
import sys
import termios
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from chatserver.config import Settings, load_settings

from .processes import run_together
from .redis_server import RedisServer, free_port
from .support import PASSWORD_HASH_ENV, LiveServer, agent, make_settings

CLI = [sys.executable, "-m", "chatserver"]


def _run(*args: str, data_dir: Path | None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a process, with ``--data-dir`` unless None, and no CHATSERVER_* variables but ``env``
    (and the tests' password hash cost)."""
    [ran] = _run_at_once((list(args), env), data_dir=data_dir)
    return ran


def _run_at_once(*runs: tuple[list[str], dict[str, str] | None],
                 data_dir: Path | None) -> list[subprocess.CompletedProcess[str]]:
    """Each of ``runs`` (its arguments and variables) as ``_run`` runs it, all at the same time: for
    commands none of which changes what the others read (tests/processes.py)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHATSERVER_")}
    where = ["--data-dir", str(data_dir)] if data_dir is not None else []
    return run_together([([*CLI, *args, *where], {**clean, **PASSWORD_HASH_ENV, **(env or {})}) for args, env in runs])


def test_agent_add_and_list(tmp_path: Path) -> None:
    added = _run("agent", "add", "--name", "Cleo", "--email", "cleo@example.com", "--password", "s3cret-pass",
                 data_dir=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "cleo@example.com" in added.stdout and "s3cret-pass" not in added.stdout
    generated = _run("agent", "add", "--name", "Dan", "--email", "dan@example.com", "--capacity", "5",
                     "--departments", "billing,sales", data_dir=tmp_path)
    assert generated.returncode == 0 and "password: " in generated.stdout
    duplicate, bad = _run_at_once(
        (["agent", "add", "--name", "Cleo", "--email", "CLEO@example.com", "--password", "another-pass"], None),
        (["agent", "add", "--name", "Eve", "--email", "eve", "--password", "short"], None), data_dir=tmp_path)
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr
    assert bad.returncode == 2
    listing = _run("agent", "list", data_dir=tmp_path)
    assert listing.returncode == 0
    rows = listing.stdout.splitlines()[1:]
    assert [r.split()[0] for r in rows] == ["cleo@example.com", "dan@example.com"]
    assert rows[1].split()[-3:] == ["5", "no", "billing,sales"]


def test_agent_commands_work_on_postgresql_and_leave_no_sqlite_file(tmp_path: Path, postgres_url: str) -> None:
    """With ``CHATSERVER_DATABASE_URL`` the commands act on PostgreSQL, as the server does."""
    env = {"CHATSERVER_DATABASE_URL": postgres_url}
    added = _run("agent", "add", "--name", "Cleo", "--email", "cleo@example.com", "--password", "s3cret-pass",
                 data_dir=tmp_path, env=env)
    assert added.returncode == 0, added.stderr
    duplicate = _run("agent", "add", "--name", "Cleo", "--email", "CLEO@example.com", "--password", "another-pass",
                     data_dir=tmp_path, env=env)
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr
    assert _run("agent", "disable", "--email", "cleo@example.com", data_dir=tmp_path, env=env).returncode == 0
    listing = _run("agent", "list", data_dir=tmp_path, env=env)
    assert listing.returncode == 0
    assert [r.split()[0] for r in listing.stdout.splitlines()[1:]] == ["cleo@example.com"]
    assert listing.stdout.splitlines()[1].split()[-2] == "yes"
    assert not (tmp_path / "chatserver.db").exists()
    # The SQLite file, where the variable is not set, knows nothing of her.
    assert _run("agent", "list", data_dir=tmp_path).stdout.splitlines()[1:] == []


def test_the_agent_and_customer_commands_do_not_load_the_web_stack() -> None:
    # They need storage only; aiohttp, python-socketio and redis are most of a command's start-up.
    probe = ("import sys, chatserver.cli; "
             "print(sorted(m for m in ('aiohttp', 'socketio', 'engineio', 'redis') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_agent_disable_enable_and_update(tmp_path: Path) -> None:
    assert _run("agent", "add", "--name", "Cleo", "--email", "cleo@example.com", "--password", "s3cret-pass",
                data_dir=tmp_path).returncode == 0
    updated = _run("agent", "update", "--email", "CLEO@example.com", "--capacity", "5", "--departments",
                   "billing, sales", data_dir=tmp_path)
    assert updated.returncode == 0, updated.stderr
    assert "capacity 5, departments billing,sales" in updated.stdout
    disabled = _run("agent", "disable", "--email", "cleo@example.com", data_dir=tmp_path)
    assert disabled.returncode == 0 and disabled.stdout.startswith("disabled agent cleo@example.com")
    assert _run("agent", "list", data_dir=tmp_path).stdout.splitlines()[1].split()[-3:] == ["5", "yes", "billing,sales"]
    assert _run("agent", "enable", "--email", "cleo@example.com", data_dir=tmp_path).stdout.startswith("enabled")
    # Bad input: refused with the reason, nothing changed.
    for refused in _run_at_once((["agent", "update", "--email", "nobody@example.com", "--capacity", "2"], None),
                                (["agent", "update", "--email", "cleo@example.com"], None),
                                (["agent", "update", "--email", "cleo@example.com", "--capacity", "0"], None),
                                data_dir=tmp_path):
        assert refused.returncode == 2 and refused.stderr.startswith("chatserver: "), refused.args
    assert _run("agent", "list", data_dir=tmp_path).stdout.splitlines()[1].split()[-3:] == ["5", "no", "billing,sales"]


async def test_every_agent_option_comes_from_its_variable_and_a_flag_wins(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()  # agent add makes the database, in the data directory that is there
    env = {"CHATSERVER_DATA_DIR": str(data), "CHATSERVER_AGENT_ADD_NAME": "Cleo",
           "CHATSERVER_AGENT_ADD_EMAIL": "cleo@example.com", "CHATSERVER_AGENT_ADD_PASSWORD": "env-secret-pass",
           "CHATSERVER_AGENT_ADD_ROLE": "admin", "CHATSERVER_AGENT_ADD_CAPACITY": "4",
           "CHATSERVER_AGENT_ADD_DEPARTMENTS": "billing"}
    added = await asyncio.to_thread(_run, "agent", "add", data_dir=None, env=env)
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("added admin cleo@example.com") and "capacity 4" in added.stdout
    assert "env-secret-pass" not in added.stdout + added.stderr and "password: " not in added.stdout
    # Flags win over the variables; a yes/no option from its variable.
    flags = await asyncio.to_thread(
        _run, "agent", "add", "--name", "Dan", "--email", "dan@example.com", "--role", "agent", data_dir=None,
        env={**env, "CHATSERVER_AGENT_ADD_PASSWORD": "", "CHATSERVER_AGENT_ADD_GENERATE_PASSWORD": "yes"})
    assert flags.returncode == 0 and flags.stdout.startswith("added agent dan@example.com"), flags.stderr
    assert "password: " in flags.stdout

    # Refused, naming the variable and never its value; nothing is added.
    broken = [({"CHATSERVER_AGENT_ADD_NAME": ""}, "CHATSERVER_AGENT_ADD_NAME"),
              ({"CHATSERVER_AGENT_ADD_CAPACITY": "lots"}, "CHATSERVER_AGENT_ADD_CAPACITY"),
              ({"CHATSERVER_AGENT_ADD_ROLE": "root"}, "CHATSERVER_AGENT_ADD_ROLE"),
              ({"CHATSERVER_AGENT_ADD_GENERATE_PASSWORD": "maybe"}, "CHATSERVER_AGENT_ADD_GENERATE_PASSWORD")]
    refusals = await asyncio.to_thread(_run_at_once, *((["agent", "add", "--email", "eve@example.com"],
                                                        {**env, **variables}) for variables, _ in broken),
                                       data_dir=None)
    for (variables, variable), refused in zip(broken, refusals, strict=True):
        assert refused.returncode == 2 and variable in refused.stderr, (variables, refused.stderr)
        assert "env-secret-pass" not in refused.stdout + refused.stderr
    # disable, enable and update take theirs; agent add's variables change nothing there.
    assert (await asyncio.to_thread(_run, "agent", "disable", data_dir=None, env={
        **env, "CHATSERVER_AGENT_DISABLE_EMAIL": "dan@example.com"})).returncode == 0
    updated = await asyncio.to_thread(_run, "agent", "update", data_dir=None, env={
        **env, "CHATSERVER_AGENT_UPDATE_EMAIL": "cleo@example.com", "CHATSERVER_AGENT_UPDATE_CAPACITY": "6"})
    assert updated.returncode == 0 and "capacity 6, departments billing" in updated.stdout, updated.stderr
    refused = await asyncio.to_thread(_run, "agent", "enable", data_dir=None, env=env)
    assert refused.returncode == 2 and "CHATSERVER_AGENT_ENABLE_EMAIL" in refused.stderr
    rows = (await asyncio.to_thread(_run, "agent", "list", data_dir=data)).stdout.splitlines()[1:]
    assert [r.split()[0] for r in rows] == ["cleo@example.com", "dan@example.com"]
    assert rows[0].split()[-4:] == ["admin", "6", "no", "billing"]
    assert rows[1].split()[-4:] == ["agent", "4", "yes", "billing"]  # capacity and departments from the variables

    # The password from the variable is the one the agent signs in with.
    server = LiveServer(make_settings(tmp_path, data_dir=data))
    await server.start()
    try:
        login = await server.login("cleo@example.com", "env-secret-pass")
        assert login["agent"]["role"] == "admin"
    finally:
        await server.close()


async def test_an_agent_disabled_on_the_command_line_is_signed_out_of_a_running_server(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path, sweep_interval=0.2))
    await server.start()
    try:
        login = await server.add_agent("Alice")
        console = await agent(server, login)
        done = await asyncio.to_thread(_run, "agent", "disable", "--email", login["email"],
                                       data_dir=server.settings.data_dir)
        assert done.returncode == 0, done.stderr
        # The server re-reads agents that changed behind its back within sweep_interval.
        assert (await console.wait_for("session:ended"))["reason"] == "disabled"
        await asyncio.wait_for(console.closed.wait(), 5)
        assert await server.parts.backend.presence.available_agents() == []
    finally:
        await server.close()


def _on_terminal(args: list[str], answers: list[str], env: dict[str, str]) -> tuple[int, str]:
    """The CLI run with a pseudo-terminal as its controlling terminal (as a person at a shell runs
    it), typing each of ``answers`` after the next prompt; its exit status and everything the
    terminal showed (what it echoed included)."""
    main, secondary = pty.openpty()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHATSERVER_")}
    proc = subprocess.Popen([*CLI, *args], stdin=secondary, stdout=secondary, stderr=secondary,
                            env={**clean, **PASSWORD_HASH_ENV, **env}, start_new_session=True,
                            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(secondary)
    shown, deadline = b"", time.monotonic() + 60
    pending = list(answers)
    try:
        while True:
            ready, _, _ = select.select([main], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"the command hangs: {shown.decode(errors='replace')}"
            try:
                chunk = os.read(main, 4096)
            except OSError:  # EIO: the command ended and closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if pending and shown.endswith(b": "):  # a prompt waits (getpass writes no newline)
                os.write(main, pending.pop(0).encode() + b"\n")
    finally:
        os.close(main)
    return proc.wait(timeout=30), shown.decode(errors="replace")


async def test_set_password_from_a_variable_or_a_prompt_signs_the_agent_out(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path, sweep_interval=0.2))
    await server.start()
    try:
        login = await server.add_agent("Alice")
        console = await agent(server, login)
        data = str(server.settings.data_dir)
        env = {"CHATSERVER_DATA_DIR": data, "CHATSERVER_AGENT_SET_PASSWORD_EMAIL": login["email"].upper(),
               "CHATSERVER_AGENT_SET_PASSWORD_PASSWORD": "from the variable"}
        done = await asyncio.to_thread(_run, "agent", "set-password", data_dir=None, env=env)
        assert done.returncode == 0 and "signed out everywhere" in done.stdout, done.stderr
        assert "from the variable" not in done.stdout + done.stderr
        # Running servers re-read the agent within sweep_interval: the old token is over.
        assert (await console.wait_for("session:ended"))["reason"] == "signed_out"
        assert (await server.request("GET", "/api/me", token=login["token"]))[0] == 401
        assert (await server.login(login["email"], "from the variable"))["agent"]["name"] == "Alice"

        # At a terminal: asked twice, never shown; two different answers change nothing.
        typed = ["typed at the prompt", "typed at the prompt"]
        args = ["agent", "set-password", "--email", login["email"], "--data-dir", data]
        status, shown = await asyncio.to_thread(_on_terminal, args, ["one thing", "another"], {})
        assert status == 2 and "differ" in shown and "one thing" not in shown
        status, shown = await asyncio.to_thread(_on_terminal, args, typed, {})
        assert status == 0, shown
        assert shown.count("password") >= 2 and typed[0] not in shown
        assert (await server.login(login["email"], typed[0]))["agent"]["name"] == "Alice"
        # Without a terminal and without the variable nothing is asked and nothing changes.
        cases = ((["--email", login["email"]], "CHATSERVER_AGENT_SET_PASSWORD_PASSWORD"),
                 (["--email", "nobody@example.com", "--password", "long enough"], "no agent"),
                 (["--email", login["email"], "--password", "short"], "8 to 256"))
        refusals = await asyncio.to_thread(_run_at_once, *((["agent", "set-password", *bad],
                                                            {"CHATSERVER_DATA_DIR": data}) for bad, _ in cases),
                                           data_dir=None)
        for (_, problem), refused in zip(cases, refusals, strict=True):
            assert refused.returncode == 2 and problem in refused.stderr, refused.stderr
        assert (await server.login(login["email"], typed[0]))["agent"]["name"] == "Alice"
    finally:
        await server.close()


def test_set_password_of_the_first_admin_removes_its_credentials_file(tmp_path: Path) -> None:
    assert _run("agent", "add", "--name", "Cleo", "--email", "cleo@example.com", "--password", "s3cret-pass",
                data_dir=tmp_path).returncode == 0
    credentials = tmp_path / "first-admin.txt"
    credentials.write_text("email: admin@example.com\npassword: generated\n")  # as the server writes it
    assert _run("agent", "add", "--name", "Admin", "--email", "admin@example.com", "--role", "admin",
                "--password", "generated", data_dir=tmp_path).returncode == 0
    env = {"CHATSERVER_AGENT_SET_PASSWORD_PASSWORD": "another-pass"}
    assert _run("agent", "set-password", "--email", "cleo@example.com", data_dir=tmp_path, env=env).returncode == 0
    assert credentials.exists()
    done = _run("agent", "set-password", "--email", "admin@example.com", data_dir=tmp_path, env=env)
    assert done.returncode == 0 and "first-admin.txt" in done.stdout and not credentials.exists()


def test_settings_come_from_environment_and_flags_override_them() -> None:
    env = {"CHATSERVER_PORT": "9000", "CHATSERVER_GRACE_PERIOD": "5", "CHATSERVER_ALLOWED_ORIGINS": "https://a,https://b"}
    settings = load_settings({"port": 9100}, environ=env)
    assert settings.port == 9100 and settings.grace_period == 5.0
    assert settings.allowed_origins == ("https://a", "https://b")
    with pytest.raises(ValueError, match="CHATSERVER_PORT"):
        load_settings(environ={"CHATSERVER_PORT": "eighty"})
    with pytest.raises(ValueError):
        load_settings({"redis_url": "http://nope"}, environ={})


def test_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).with_secret()
    second = Settings(data_dir=tmp_path).with_secret()
    assert first.secret_key and first.secret_key == second.secret_key
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


def _read_until(proc: subprocess.Popen[str], marker: str, deadline: float) -> str:
    """What the process printed on stdout up to the end of the line holding ``marker`` (read from
    the pipe itself, so the rest is still there for ``communicate``)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = b""
    while marker.encode() not in seen or not seen.split(marker.encode(), 1)[1].count(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"{marker!r} was not printed: {seen.decode(errors='replace')}"
        chunk = os.read(fd, 4096)
        assert chunk, f"stdout closed before {marker!r}: {seen.decode(errors='replace')}"
        seen += chunk
    return seen.decode()


def _start_serve(data_dir: Path, **env: str) -> tuple[subprocess.Popen[str], int]:
    """``chatserver serve`` on a free port, once it answers /readyz (``env``: more variables)."""
    port = free_port()
    proc = subprocess.Popen([*CLI, "serve", "--port", str(port), "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CHATSERVER_LOG_LEVEL": "INFO", "CHATSERVER_DRAIN_PERIOD": "0",
                                 **PASSWORD_HASH_ENV, **env})
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                assert resp.status == 200
                return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"server did not become ready: {proc.communicate()}") from None
            time.sleep(0.2)


def test_serve_starts_a_complete_server_that_logs_one_json_object_a_line(tmp_path: Path) -> None:
    proc, port = _start_serve(tmp_path, CHATSERVER_LOG_FORMAT="json", CHATSERVER_INSTANCE_ID="web-7",
                              CHATSERVER_LOG_LEVLE="never-shown")
    printed = ""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz?token=SECRET-IN-QUERY", timeout=2) as resp:
            assert resp.read() == b'{"status": "ok"}'
        credentials = (tmp_path / "first-admin.txt").read_text()
        password = credentials.split("password: ")[1].strip()
        # The demo shop's address, as printed, serves the demo checkout with the widget on it.
        printed = _read_until(proc, "Demo shop", time.monotonic() + 10)
        [demo] = re.findall(r"^Demo shop with the chat widget: (\S+)$", printed, re.M)
        assert demo == f"http://127.0.0.1:{port}/demo/"
        with urllib.request.urlopen(demo, timeout=2) as resp:
            page = resp.read().decode()
            assert resp.status == 200 and resp.headers.get_content_type() == "text/html"
        assert "<title>Your cart · Canvas &amp; Co. (demo shop)</title>" in page
        [widget] = re.findall(r'<script[^>]* src="([^"]*widget\.js)"', page)
        with urllib.request.urlopen(urllib.parse.urljoin(demo, widget), timeout=2) as resp:
            assert resp.status == 200 and "javascript" in resp.headers.get_content_type()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    out = printed + out
    assert f"http://127.0.0.1:{port}/" in out and "first-admin.txt" in out and f"{port}/console/" in out
    assert password not in out and password not in err, "the admin password must never be printed or logged"
    assert (tmp_path / "chatserver.db").exists()

    records = [json.loads(line) for line in err.splitlines()]  # every line is one JSON object
    assert all(r["instance"] == "web-7" and r["pid"] == proc.pid for r in records)
    assert all(datetime.datetime.fromisoformat(r["time"]).utcoffset() is not None for r in records)
    started = next(r for r in records if r["message"].startswith("started "))
    assert (started["version"], started["address"], started["backend"]) == (
        importlib.metadata.version("chatserver"), f"http://127.0.0.1:{port}", "memory")
    assert started["database"] == f"sqlite:{tmp_path / 'chatserver.db'}"
    [access] = [r for r in records if r["logger"] == "chatserver.access" and r["route"] == "/healthz"]
    assert (access["method"], access["route"], access["status"], access["client"]) == (
        "GET", "/healthz", 200, "127.0.0.1")
    assert "SECRET-IN-QUERY" not in err
    # serve logs an unknown variable's warning (a record like any other), naming it, never its value.
    assert any(r["level"] == "WARNING" and r["message"].startswith("CHATSERVER_LOG_LEVLE is not a variable")
               and r["message"].endswith("(did you mean CHATSERVER_LOG_LEVEL?)") for r in records)
    assert "never-shown" not in err
    stopped = records[-1]
    assert stopped["message"].startswith("stopped ") and stopped["seconds"] >= 0


def _polling_session(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", timeout=5) as resp:
        return str(json.loads(resp.read()[1:])["sid"])


def _stopped_in_time(proc: subprocess.Popen[str], deadline: float) -> bool:
    """SIGTERM, then whether the process exits (with status 0) within ``deadline`` seconds."""
    proc.terminate()
    try:
        return proc.wait(timeout=deadline) == 0
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False


def test_a_stop_is_prompt_with_polling_posts_open(tmp_path: Path) -> None:
    """A POST over the size limit is answered 413 at once; one whose body is still arriving (a
    client sending slowly) gets shutdown_timeout (5 s) when the server stops. With both open,
    SIGTERM ends the process well before aiohttp's default 60 s."""
    proc, port = _start_serve(tmp_path)
    clients: list[socket.socket] = []
    try:
        for declared in (5_000_000, 100):
            client = socket.create_connection(("127.0.0.1", port))
            clients.append(client)
            sid = _polling_session(port)
            client.sendall(f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {declared}\r\n\r\n".encode()
                           + b"4" * min(declared - 1, 200_000))
            if declared > 1_000_000:
                client.settimeout(10)
                assert client.recv(4096).startswith(b"HTTP/1.1 413 ")
        assert _stopped_in_time(proc, 30), "the server did not stop within 30 s of SIGTERM"
    finally:
        for client in clients:
            client.close()
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_the_start_line_names_redis_without_its_password(tmp_path: Path) -> None:
    redis_server = RedisServer(tmp_path / "redis", password="s3cret-redis-pw")
    redis_server.start()
    try:
        proc, port = _start_serve(tmp_path / "data", CHATSERVER_REDIS_URL=redis_server.url)
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    finally:
        redis_server.stop()
    [started] = [line for line in err.splitlines() if " INFO chatserver started " in line]
    assert f" address=http://127.0.0.1:{port} backend=redis:redis://127.0.0.1:{redis_server.port}/0 " in started
    assert "s3cret-redis-pw" not in err


def _start_errors(*runs: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """``chatserver serve`` with each of ``runs``' arguments, expected to stop at once (all run at
    the same time: most of each is Python starting)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHATSERVER_")}
    procs = [(args, subprocess.Popen([*CLI, "serve", "--port", "0", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env={**clean, **PASSWORD_HASH_ENV},
                                     stdin=subprocess.DEVNULL)) for args in runs]
    done = []
    for args, proc in procs:
        out, err = proc.communicate(timeout=60)
        done.append(subprocess.CompletedProcess(args, proc.returncode, out, err))
    return done


def _one_line_error(ran: subprocess.CompletedProcess[str]) -> str:
    """The error line of a command that failed to start: the last line on stderr, and no traceback
    (nor a logged exception) before it."""
    assert "Traceback" not in ran.stderr and "exception=" not in ran.stderr, ran.stderr
    last = ran.stderr.splitlines()[-1]
    assert last.startswith("chatserver: error: "), ran.stderr
    return last


def test_bad_start_up_input_is_one_line_and_exit_status_2(tmp_path: Path) -> None:
    cases = ((["--log-level", "LOUD"], "log_level must be one of DEBUG, INFO"),
             (["--redis-url", "redis://:pw@127.0.0.1:99999/0"], "redis_url: the port must be"),
             (["--redis-url", "redis://127.0.0.1:6379/db1"], "redis_url: the database index must be"),
             (["--log-format", "xml"], "log_format must be one of text, json"))
    for (_, says), ran in zip(cases, _start_errors(*(["--data-dir", str(tmp_path / "data"), *a] for a, _ in cases)),
                              strict=True):
        assert ran.returncode == 2 and says in _one_line_error(ran) and ran.stderr.count("\n") == 1, ran.stderr
        assert ":pw@" not in ran.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was made


def test_what_the_machine_refuses_at_start_is_one_line_and_exit_status_1(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory, not a database")
    # /sys/kernel: a directory no one may write in, root included.
    cases = (([str(a_file)], f"the data directory {a_file} is a file"),
             ([str(a_file / "data")], "is a file (or under one)"),
             (["/sys/kernel/data"], "cannot create the data directory /sys/kernel/data"),
             (["/sys/kernel"], "the data directory /sys/kernel is not writable"),
             ([str(tmp_path / "d1"), "--db", str(a_file)], f"cannot open the database {a_file}: file is"),
             ([str(tmp_path / "d2"), "--db", str(tmp_path)], f"cannot open the database {tmp_path}: "))
    for (args, says), ran in zip(cases, _start_errors(*(["--data-dir", *a] for a, _ in cases)), strict=True):
        assert ran.returncode == 1 and says in _one_line_error(ran), (args, ran.stderr)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        [ran] = _start_errors(["--data-dir", str(tmp_path / "d3"), "--port", str(port)])
    assert ran.returncode == 1
    assert _one_line_error(ran) == f"chatserver: error: cannot listen on 127.0.0.1:{port}: address already in use " \
                                   f"(another process holds the port)"
    assert not (tmp_path / "d3" / "chatserver.db").exists()  # the port is checked before the database


def test_a_redis_database_index_the_server_lacks_is_one_line(tmp_path: Path, redis_url: str) -> None:
    [ran] = _start_errors(["--data-dir", str(tmp_path), "--redis-url", redis_url.rsplit("/", 1)[0] + "/99"])
    assert ran.returncode == 1
    assert _one_line_error(ran) == "chatserver: error: Redis refused the connection: DB index is out of range"


def test_commands_other_than_serve_never_make_a_database_where_there_is_none(tmp_path: Path) -> None:
    typo = tmp_path / "typo"
    missing = tmp_path / "missing.db"
    *refusals, ran = _run_at_once(*(([*args, "--data-dir", str(typo)], None) for args in (
        ["agent", "list"], ["agent", "disable", "--email", "a@example.com"], ["customer", "export", "--id", "c1"],
        ["agent", "add", "--name", "A", "--email", "a@example.com"])),
        (["agent", "list", "--db", str(missing), "--data-dir", str(tmp_path)], None), data_dir=None)
    for refused in refusals:
        assert refused.returncode == 2, (refused.args, refused.stderr)
        assert refused.stderr == f"chatserver: error: the data directory {typo} does not exist (give the one the " \
                                 f"server uses with --data-dir or CHATSERVER_DATA_DIR)\n"
    assert not typo.exists()
    assert ran.returncode == 2 and f"there is no database at {missing}" in ran.stderr and not missing.exists()


def test_an_unknown_variable_is_named_with_the_closest_known_one(tmp_path: Path) -> None:
    assert _run("agent", "add", "--name", "A", "--email", "a@example.com", data_dir=tmp_path).returncode == 0
    ran = _run("agent", "list", data_dir=tmp_path, env={"CHATSERVER_LOG_LEVLE": "value-never-shown",
                                                        "CHATSERVER_AGENT_ADD_PASWORD": "value-never-shown"})
    assert ran.returncode == 0 and "a@example.com" in ran.stdout
    assert ran.stderr.splitlines() == [
        "chatserver: warning: CHATSERVER_AGENT_ADD_PASWORD is not a variable chatserver reads; it is ignored "
        "(did you mean CHATSERVER_AGENT_ADD_PASSWORD?)",
        "chatserver: warning: CHATSERVER_LOG_LEVLE is not a variable chatserver reads; it is ignored "
        "(did you mean CHATSERVER_LOG_LEVEL?)"]


def test_version_is_the_installed_packages() -> None:
    ran = subprocess.run([*CLI, "--version"], capture_output=True, text=True, timeout=60, check=True)
    assert ran.stdout == f"chatserver {importlib.metadata.version('chatserver')}\n"


class _Cycle:
    """Garbage only the collector frees (it refers to itself)."""

    def __init__(self) -> None:
        self.me = self


def test_the_objects_made_while_starting_are_kept_out_of_full_collections() -> None:
    import gc

    from chatserver.cli import freeze_startup_objects

    _Cycle()
    try:
        frozen = freeze_startup_objects()
        assert frozen > 1000 and frozen == gc.get_freeze_count()
        assert not gc.get_objects(2)  # a full collection has nothing of the start left to walk
    finally:
        gc.unfreeze()
    # What was garbage already was collected, not frozen for the life of the process.
    assert not [o for o in gc.get_objects() if isinstance(o, _Cycle)]
