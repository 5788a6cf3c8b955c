"""The server under test: a ``chatserver serve`` subprocess the load tester starts on a free
loopback port with a throw-away data directory, or an already running server given by URL.

Load tests only ever target this machine: a URL whose host is not a loopback address is refused
unless the caller explicitly allows remote targets.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import aiohttp

from chatserver.constants import listening_line

from .cleanup import Created
from .errors import LoadTestError

FIRST_ADMIN_FILE = "first-admin.txt"
# The server's defaults are for the open internet; a load test makes every visitor and agent
# from one address, so the per-address limits on new sessions and logins are lifted.
LOAD_TEST_SETTINGS: Mapping[str, str] = {
    "visitor_sessions_per_minute": "1000000",
    "login_attempts_per_minute": "100000",
    "max_connections_per_address": "0",  # every simulated client connects from 127.0.0.1
    "drain_period": "0",  # no load balancer to drain for: a run's server stops at once
}
STOP_TIMEOUT = 15.0
# A port is chosen free, then the server binds it: meanwhile another process on the machine may
# take it (a test suite starts many servers). The server is then started again on another port.
START_ATTEMPTS = 3
PORT_TAKEN = "address already in use"  # how the server's failed bind ends its log

# Every process group a load test started, so that an interrupted run can still end them.
_started_groups: set[int] = set()


def kill_started_processes() -> None:
    """Last resort on exit: kill the process groups started by this module that still run."""
    for pgid in list(_started_groups):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        _started_groups.discard(pgid)


def _end_with_parent(fd_limit: int | None = None) -> None:
    """In the child before exec (Linux): get SIGTERM when the load tester dies, even by SIGKILL,
    so no server or swarm outlives it; with ``fd_limit``, open at most that many files."""
    if fd_limit is not None:
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


async def start_process_group(*args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None,
                              stdin: int | None = None, stdout: int | None = None,
                              stderr: int | None = None, fd_limit: int | None = None) -> asyncio.subprocess.Process:
    """Start a child in its own session, so a Ctrl-C at the terminal reaches only the load tester,
    which then stops its children in order."""
    process = await asyncio.create_subprocess_exec(
        *args, env=dict(env) if env is not None else None, cwd=cwd, stdin=stdin, stdout=stdout, stderr=stderr,
        start_new_session=True, preexec_fn=lambda: _end_with_parent(fd_limit),
    )
    _started_groups.add(process.pid)
    return process


async def stop_process_group(process: asyncio.subprocess.Process, kill_after: float = STOP_TIMEOUT,
                             grace: float = 0.0) -> None:
    """Give the child ``grace`` seconds to exit by itself, then SIGTERM (a graceful stop for
    ``chatserver serve``), then SIGKILL after ``kill_after`` seconds."""
    try:
        if grace > 0 and process.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), grace)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), kill_after)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
    finally:
        _started_groups.discard(process.pid)


def check_target_url(url: str, *, allow_remote: bool) -> str:
    """Return ``url`` without a trailing slash if it is an ``http(s)`` URL on a loopback host."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise LoadTestError(f"--url must be http(s)://host:port, not {url!r}")
    if not allow_remote and not is_loopback(parts.hostname):
        raise LoadTestError(
            f"refusing to load-test {parts.hostname}: only loopback targets (127.0.0.0/8, ::1, localhost) "
            "are allowed without --allow-remote"
        )
    return url.rstrip("/")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_admin_credentials(path: Path) -> tuple[str, str]:
    """The email and password in a ``first-admin.txt`` file (``email: ...`` / ``password: ...``)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise LoadTestError(f"cannot read admin credentials from {path}: {exc.strerror}") from None
    fields = dict(line.split(": ", 1) for line in text.strip().splitlines() if ": " in line)
    if "email" not in fields or "password" not in fields:
        raise LoadTestError(f"{path} does not hold 'email: ...' and 'password: ...' lines")
    return fields["email"], fields["password"]


class _PortTaken(Exception):
    """The managed server could not listen: its port was taken after it was chosen."""


@dataclass(frozen=True)
class Target:
    """Where the load goes, and how to administer it."""

    url: str
    admin_email: str
    admin_password: str
    managed: bool
    pid: int | None = None
    log_path: Path | None = None
    settings: Mapping[str, str] = field(default_factory=dict)
    redis_url: str | None = None
    # What the run creates there, recorded as it goes (a --url target's is undone afterwards).
    created: Created = field(default_factory=Created)

    def describe(self) -> dict[str, object]:
        return {"url": self.url, "managed": self.managed, "redis_url": self.redis_url,
                "server_settings": dict(self.settings)}


class ManagedServer:
    """``chatserver serve`` as a subprocess, for the length of an ``async with`` block.

    The data directory is temporary (removed on exit unless ``keep_data``); the server log goes to
    ``server.log`` in it. ``profile_to`` runs the server under cProfile and writes the profile
    there when it stops (this slows the server down: use it to see where time goes, not to
    measure). ``fd_limit`` caps the files the server may open (as ``ulimit -n``).
    """

    def __init__(self, *, redis_url: str | None = None, settings: Mapping[str, str] | None = None,
                 log_level: str = "INFO", startup_timeout: float = 30.0, profile_to: Path | None = None,
                 keep_data: bool = False, fd_limit: int | None = None) -> None:
        self.redis_url = redis_url
        self.fd_limit = fd_limit
        self.settings = {**LOAD_TEST_SETTINGS, **(settings or {})}
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self.profile_to = profile_to
        self.keep_data = keep_data
        self.data_dir: Path | None = None
        self.process: asyncio.subprocess.Process | None = None

    def _command(self, port: int, data_dir: Path) -> list[str]:
        command = [sys.executable]
        if self.profile_to is not None:
            command += ["-m", "cProfile", "-o", str(self.profile_to.resolve())]
        command += ["-m", "chatserver", "serve", "--host", "127.0.0.1", "--port", str(port),
                    "--data-dir", str(data_dir), "--log-level", self.log_level]
        if self.redis_url is not None:
            command += ["--redis-url", self.redis_url]
        return command

    def _environment(self) -> dict[str, str]:
        # A CHATSERVER_* variable left in the caller's shell must not change what is measured.
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATSERVER_")}
        env.update({f"CHATSERVER_{name.upper()}": value for name, value in self.settings.items()})
        return env

    async def __aenter__(self) -> Target:
        self.data_dir = Path(tempfile.mkdtemp(prefix="chatserver-load-"))
        log_path = self.data_dir / "server.log"
        attempt = 1
        while True:
            port = free_loopback_port()
            with log_path.open("ab") as log_file:
                self.process = await start_process_group(
                    *self._command(port, self.data_dir / "data"), env=self._environment(), cwd=self.data_dir,
                    stdin=asyncio.subprocess.DEVNULL, stdout=log_file.fileno(), stderr=log_file.fileno(),
                    fd_limit=self.fd_limit,
                )
            url = f"http://127.0.0.1:{port}"
            try:
                await self._wait_ready(url, log_path)
                email, password = read_admin_credentials(self.data_dir / "data" / FIRST_ADMIN_FILE)
            except _PortTaken:
                if attempt < START_ATTEMPTS:
                    await stop_process_group(self.process)  # exited already: only forgotten
                    attempt += 1
                    continue
                await self._stop()
                raise LoadTestError(f"chatserver found its port taken {START_ATTEMPTS} times:\n"
                                    + _tail(log_path)) from None
            except BaseException:
                await self._stop()
                raise
            return Target(url=url, admin_email=email, admin_password=password, managed=True, pid=self.process.pid,
                          log_path=log_path, settings=dict(self.settings), redis_url=self.redis_url)

    async def _wait_ready(self, url: str, log_path: Path) -> None:
        """Wait until the server started here listens on ``url`` and is ready. Whatever answers
        there before it says it listens is another process that was given the same "free" port
        (a server whose admin is not ours); if that makes it fail to listen, ``_PortTaken``."""
        assert self.process is not None
        listening = listening_line(url)
        deadline = time.monotonic() + self.startup_timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    if PORT_TAKEN in _tail(log_path, lines=1):
                        raise _PortTaken
                    raise LoadTestError(f"chatserver exited with status {self.process.returncode} while starting:\n"
                                        + _tail(log_path))
                if listening in await asyncio.to_thread(log_path.read_text, errors="replace"):
                    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                        async with http.get(url + "/readyz") as response:
                            if response.status == 200:
                                return
                await asyncio.sleep(0.1)
        raise LoadTestError(f"chatserver was not ready within {self.startup_timeout:.0f} s:\n" + _tail(log_path))

    async def _stop(self) -> None:
        if self.process is not None:
            await stop_process_group(self.process)
        if self.data_dir is not None and not self.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._stop()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


class ManagedRedis:
    """A ``redis-server`` of its own on a free loopback port, for the length of an ``async with``
    block: no persistence, a temporary directory; ``url`` and ``pid`` once started. What answers
    on the port is checked to be this process (its ``process_id``), as for the server above."""

    def __init__(self, startup_timeout: float = 10.0) -> None:
        self.startup_timeout = startup_timeout
        self.port = 0
        self.process: asyncio.subprocess.Process | None = None
        self._directory: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def __aenter__(self) -> ManagedRedis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise LoadTestError("redis-server is not installed: install it (Debian: apt-get install redis-server), "
                                "or give --redis-url URL of a Redis to use")
        self._directory = tempfile.TemporaryDirectory(prefix="chatserver-load-redis-")
        try:
            for _ in range(START_ATTEMPTS):
                self.port = free_loopback_port()
                self.process = await start_process_group(
                    binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--protected-mode", "yes", "--dir", self._directory.name,
                    stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL)
                if await self._answering():
                    return self
                await stop_process_group(self.process)  # it exited: the port was taken meanwhile
            raise LoadTestError(f"redis-server found its port taken {START_ATTEMPTS} times")
        except BaseException:
            await self._stop()
            raise

    async def _answering(self) -> bool:
        import redis.asyncio as aioredis  # only the runs that start a Redis need the client

        assert self.process is not None
        client = aioredis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + self.startup_timeout
        try:
            while self.process.returncode is None:
                with contextlib.suppress(aioredis.RedisError, OSError):
                    if int((await client.info("server"))["process_id"]) == self.process.pid:
                        return True
                if time.monotonic() > deadline:
                    raise LoadTestError(f"redis-server did not answer within {self.startup_timeout:.0f} s")
                await asyncio.sleep(0.05)
            return False
        finally:
            await client.aclose()

    async def _stop(self) -> None:
        if self.process is not None:
            await stop_process_group(self.process)
        if self._directory is not None:
            self._directory.cleanup()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._stop()


__all__ = [
    "ManagedRedis",
    "ManagedServer",
    "Target",
    "check_target_url",
    "free_loopback_port",
    "is_loopback",
    "kill_started_processes",
    "read_admin_credentials",
    "start_process_group",
    "stop_process_group",
]


@contextlib.asynccontextmanager
async def new_postgresql_database(server_url: str) -> AsyncIterator[str]:
    """A new database on the PostgreSQL server at ``server_url`` (its URL), dropped on exit."""
    import asyncpg  # only the runs that ask for PostgreSQL need the driver

    name = f"chatload_{os.getpid()}_{int(time.time())}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        base, _, _ = server_url.partition("?")
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await admin.close()
