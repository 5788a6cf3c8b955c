"""Real `chatserver serve` processes for multi-process tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .redis_server import free_port
from .support import PASSWORD_HASH_ENV


class ServerProcess:
    def __init__(self, data_dir: Path, redis_url: str | None, **env: str) -> None:
        """``redis_url`` ``None``: the embedded backend (one process)."""
        self.data_dir = data_dir
        self.redis_url = redis_url
        self.port = free_port()
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        # Hundreds of clients from one loopback address: no per-address limits.
        env = {**os.environ, "CHATSERVER_LOG_LEVEL": "INFO", "CHATSERVER_VISITOR_SESSIONS_PER_MINUTE": "100000",
               "CHATSERVER_LOGIN_ATTEMPTS_PER_MINUTE": "100000", "CHATSERVER_MAX_CONNECTIONS_PER_ADDRESS": "0",
               **PASSWORD_HASH_ENV, **self.env}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "chatserver", "serve", "--port", str(self.port), "--data-dir",
                 str(self.data_dir), *(["--redis-url", self.redis_url] if self.redis_url else [])],
                stdout=log, stderr=log, env=env,
            )
        self.wait_ready()
        return self

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            assert self.process is not None and self.process.poll() is None, self.log.read_text()[-3000:]
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
