"""A real PostgreSQL cluster on a free loopback port, made by the tests with ``initdb`` and run with
``pg_ctl`` in a temporary folder (never the machine's own server), and a fresh database in it for
each test that asks.

PostgreSQL refuses to run as root: when the tests run as root (CI), the cluster belongs to the
``postgres`` user (Debian's package makes it) or else ``nobody``, in a folder of its own outside
pytest's private temporary folders.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from loadtests.server import START_ATTEMPTS

from .redis_server import free_port

_databases = itertools.count(1)


def pg_binary(name: str) -> str:
    """``initdb``, ``pg_ctl`` or ``postgres``: from PATH, else Debian's versioned folder."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert candidates, f"{name} is not installed (make test installs postgresql)"
    return candidates[-1]


def _cluster_parent() -> str | None:
    """Where clusters are made: the machine's tmpfs (/dev/shm) when it has room, else the usual
    temporary folder. A test process makes a database per test that asks and never drops it, so
    its cluster grows to thousands of files; on a disk, removing them at the end of a run on a
    busy machine took over two minutes (pytest-timeout then failed the last test's teardown)."""
    shm = "/dev/shm"
    try:
        stats = os.statvfs(shm)
    except OSError:
        return None
    if not os.access(shm, os.W_OK) or stats.f_bavail * stats.f_frsize < 4 << 30:
        return None
    return shm


def _owner() -> pwd.struct_passwd | None:
    """The user the cluster runs as, when the tests run as root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise AssertionError("no user to run PostgreSQL as (it refuses root)")


class PostgresServer:
    """One cluster. ``start`` makes and starts it; ``new_database`` a database in it; ``stop``
    stops it (``restart`` keeps its data and port, for outage tests)."""

    def __init__(self, address: str = "127.0.0.1", network: str | None = None) -> None:
        """Listening on loopback, and on ``address`` too (a bridge's, for hosts in network
        namespaces: tests/hosts.py); clients from ``network`` (CIDR) are let in like loopback's."""
        self.address = address
        self.network = network
        self.owner = _owner()
        self.directory = Path(tempfile.mkdtemp(prefix="chatserver-pg-", dir=_cluster_parent()))
        self.data = self.directory / "data"
        self.port = free_port()
        self.user = self.owner.pw_name if self.owner else pwd.getpwuid(os.geteuid()).pw_name
        self.running = False
        self.started = False

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.address}:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self.owner is not None:
            command = ["runuser", "-u", self.owner.pw_name, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        if not self.data.exists():
            if self.owner is not None:
                os.chown(self.directory, self.owner.pw_uid, self.owner.pw_gid)
            self._run(pg_binary("initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust",
                      "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
            if self.network is not None:
                with open(self.data / "pg_hba.conf", "a") as hba:
                    hba.write(f"host all all {self.network} trust\n")
        attempts = 1 if self.started else START_ATTEMPTS
        for attempt in range(attempts):
            if self._start_on_port():
                self.started = self.running = True
                return
            if attempt + 1 < attempts:
                self.port = free_port()
        raise AssertionError(f"PostgreSQL could not listen on port {self.port}: taken")

    def _start_on_port(self) -> bool:
        # fsync off: a test cluster needs no durability across a crash of the machine, and its
        # fsyncs would only slow every test down.
        listen = ",".join(dict.fromkeys(("127.0.0.1", self.address)))
        options = (f"-p {self.port} -c listen_addresses={listen} -c unix_socket_directories={self.directory} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        done = self._run(pg_binary("pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "log"),
                         "-o", options, "-w", "-t", "60", "start", check=False)
        if done.returncode == 0:
            return True
        log = (self.directory / "log").read_text(errors="replace") if (self.directory / "log").exists() else ""
        if "Address already in use" in log or "could not create any TCP/IP sockets" in log:
            return False
        raise AssertionError(f"pg_ctl start failed: {done.stdout}{done.stderr}{log[-2000:]}")

    def stop(self, mode: str = "fast") -> None:
        if self.running:
            self._run(pg_binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)
            self.running = False

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.url(database),
                               "-c", sql], check=True, capture_output=True, text=True, timeout=60)
        return done.stdout.strip()

    def new_database(self) -> str:
        """A new, empty database; its URL."""
        name = f"test_{os.getpid()}_{next(_databases)}_{int(time.monotonic() * 1000) % 100000}"
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)
