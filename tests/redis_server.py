"""A real redis-server on a free loopback port, started by the tests (never the machine's own)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from loadtests.server import START_ATTEMPTS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    def __init__(self, directory: Path, *, appendonly: bool = False, host: str = "127.0.0.1",
                 password: str | None = None) -> None:
        """``host``: the address it listens on; on any but loopback give it a ``password``, as in
        production (docs/operations.md)."""
        self.directory = directory
        self.port = free_port()
        self.appendonly = appendonly
        self.host = host
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None
        self.started = False

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/0"

    def _client(self) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, password=self.password)

    def start(self) -> None:
        """Start redis-server and wait until it answers, checking that what answers is this
        process (by its pid): the port was free when chosen, but another process may take it
        first. On a first start the server then moves to a new port (twice at most); a restart
        must get its port back (clients hold its URL)."""
        attempts = 1 if self.started else START_ATTEMPTS
        for attempt in range(attempts):
            if self._spawn_and_wait():
                self.started = True
                return
            if attempt + 1 < attempts:
                self.port = free_port()
        raise AssertionError(f"redis-server could not listen on port {self.port}: taken")

    def _spawn_and_wait(self) -> bool:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (make test installs it)"
        self.directory.mkdir(parents=True, exist_ok=True)
        process = self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", self.host, "--save", "",
             *(["--requirepass", self.password] if self.password else []),
             "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always",
             "--dir", str(self.directory), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = self._client()
        deadline = time.monotonic() + 10
        try:
            while process.poll() is None:
                try:
                    if int(client.info("server")["process_id"]) == process.pid:
                        return True
                except redis.RedisError:
                    pass  # not up yet (or not a Redis at all)
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
            self.process = None  # it exited: the port was taken
            return False
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def flush(self) -> None:
        client = self._client()
        client.flushall()
        client.close()
