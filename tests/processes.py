"""Processes of the tests' own: real `chatserver serve` processes for multi-process tests, and
short commands run side by side (``run_together``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from chatserver.constants import listening_line
from loadtests.server import PORT_TAKEN, START_ATTEMPTS

from .redis_server import free_port
from .support import PASSWORD_HASH_ENV


class ServerProcess:
    def __init__(self, data_dir: Path, redis_url: str | None, *, host: str = "127.0.0.1", port: int | None = None,
                 prefix: Sequence[str] = (), **env: str) -> None:
        """``redis_url`` ``None``: the embedded backend (one process). By default it listens on a
        free loopback port; a host of its own (a network namespace: tests/hosts.py) gives its
        ``host`` address, a fixed ``port`` and the ``prefix`` that runs a command there."""
        self.data_dir = data_dir
        self.redis_url = redis_url
        self.host = host
        self.fixed_port = port is not None
        self.port = free_port() if port is None else port
        self.prefix = tuple(prefix)
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / f"server-{self.port}.log"
        self.started = False  # once started, a restart keeps its port (clients hold its URL)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerProcess:
        """Start the server and wait until it listens and is ready. The port was free when this
        object chose it, but another process may take it first: on a first start the server then
        moves to a new port (twice at most); on a restart it must get its port back."""
        attempts = 1 if self.started or self.fixed_port else START_ATTEMPTS
        for attempt in range(attempts):
            log_from = self.log.stat().st_size if self.log.exists() else 0
            self._spawn()
            if self.wait_ready(log_from=log_from):
                self.started = True
                return self
            self.process = None
            if attempt + 1 < attempts:
                self.port = free_port()
                self.log = self.data_dir / f"server-{self.port}.log"
        raise AssertionError(f"port {self.port} was taken: {self.log.read_text()[-3000:]}")

    def _spawn(self) -> None:
        # Hundreds of clients from one loopback address: no per-address limits. No drain unless
        # a test asks for one (a stop would wait drain_period).
        env = {**os.environ, "CHATSERVER_LOG_LEVEL": "INFO", "CHATSERVER_VISITOR_SESSIONS_PER_MINUTE": "100000",
               "CHATSERVER_LOGIN_ATTEMPTS_PER_MINUTE": "100000", "CHATSERVER_MAX_CONNECTIONS_PER_ADDRESS": "0",
               "CHATSERVER_DRAIN_PERIOD": "0", **PASSWORD_HASH_ENV, **self.env}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [*self.prefix, sys.executable, "-m", "chatserver", "serve", "--host", self.host,
                 "--port", str(self.port), "--data-dir",
                 str(self.data_dir), *(["--redis-url", self.redis_url] if self.redis_url else [])],
                stdout=log, stderr=log, env=env,
            )

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def wait_ready(self, timeout: float = 30.0, log_from: int = 0) -> bool:
        """Wait until this process says it listens (whatever answered on the port before that is
        another process given the same "free" port) and is ready; ``False`` if it could not
        listen because the port was taken."""
        listening = listening_line(self.url).encode()
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            said = self.log.read_bytes()[log_from:]
            if self.process.poll() is not None:
                if PORT_TAKEN.encode() in said:
                    return False
                raise AssertionError(said.decode(errors="replace")[-3000:])
            if listening in said and self.ready():
                return True
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine dies."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


def run_together(commands: Sequence[tuple[list[str], Mapping[str, str] | None]], cwd: Path | None = None,
                 timeout: float = 60) -> list[subprocess.CompletedProcess[str]]:
    """Each command (its arguments, and its environment or ``None`` for this process's) started at
    once, with no input; their results in the same order. One still running after ``timeout`` is
    killed, and so is every other left."""
    procs = [(args, subprocess.Popen(args, cwd=cwd, env=None if env is None else dict(env),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)) for args, env in commands]
    done = []
    try:
        for args, proc in procs:
            out, err = proc.communicate(timeout=timeout)
            done.append(subprocess.CompletedProcess(args, proc.returncode, out, err))
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return done
