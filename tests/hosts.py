"""Several hosts on one machine: each host a Linux network namespace with its own address on a
bridge, running ``chatserver serve``; Redis, the database and nginx in the root namespace (the
"outside"), listening on the bridge's address. nginx runs the configuration docs/operations.md
shows ("Several hosts with PostgreSQL"), with only addresses, port and certificate filled in.

Needs root (``ip netns``). Every name and address is made from the test process's pid, so
parallel workers never share a bridge, a namespace or a network.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from chatserver.config import env_name
from loadtests.server import START_ATTEMPTS

from .postgres_server import PostgresServer
from .processes import ServerProcess
from .redis_server import RedisServer, free_port

OPERATIONS = Path(__file__).resolve().parent.parent / "docs" / "operations.md"
HOSTS_SECTION = "## Several hosts with PostgreSQL"
# What the documented nginx block names that a test run replaces with its own: each host's
# address (in the upstream and in the map) and the route name the map gives it.
EXAMPLE_UPSTREAMS = ("10.0.0.11:8080", "10.0.0.12:8080")
ROUTE_NAMES = ("a", "b")
EXAMPLE_LISTEN = "listen 443 ssl;"
EXAMPLE_CERTIFICATE = "/etc/ssl/chat/fullchain.pem"
EXAMPLE_KEY = "/etc/ssl/chat/privkey.pem"
HOST_PORT = 8080
DATABASES = ("sqlite", "postgresql")
# A dead host is swept within a second or two; agents get long enough to move to another host;
# the test's parties may chat faster than people.
SETTINGS = {"presence_ttl": "1.5", "sweep_interval": "0.3", "grace_period": "10", "queue_update_interval": "0.05",
            "message_rate": "100", "message_burst": "100", "event_rate": "100", "event_burst": "100",
            "drain_period": "1"}


def ip(*args: str, check: bool = True) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise AssertionError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def documented_site() -> str:
    """The nginx block of docs/operations.md's section on several hosts, as written there."""
    section = OPERATIONS.read_text().split(HOSTS_SECTION, 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```nginx\n(.*?)```", section, re.S)
    assert found, f"no nginx block under {HOSTS_SECTION!r} in {OPERATIONS}"
    return found.group(1)


def render_site(upstreams: list[str], listen: str, certificate: Path, key: Path) -> str:
    """The documented nginx block with this run's addresses; each example it replaces must be
    there (the docs changed otherwise, and the test would no longer run what they show): the
    listening address and the certificate once, each host's address in the upstream and in the
    map, which sends the sids of route name ``ROUTE_NAMES[i]`` to ``upstreams[i]``."""
    site = documented_site()
    for name, example in zip(ROUTE_NAMES, EXAMPLE_UPSTREAMS, strict=True):
        assert f"~^{name}- {example};" in site, f"the documented map does not send {name}-... to {example}"
    for example in EXAMPLE_UPSTREAMS:
        assert site.count(example) == 2, f"{example!r} is not in the documented upstream and map"
    replacements = {**dict(zip(EXAMPLE_UPSTREAMS, upstreams, strict=True)),
                    EXAMPLE_LISTEN: f"listen {listen} ssl;", EXAMPLE_CERTIFICATE: str(certificate),
                    EXAMPLE_KEY: str(key)}
    for example, value in replacements.items():
        assert example in site, f"{example!r} is not in the documented nginx block"
        site = site.replace(example, value)
    return site


@dataclass
class Host:
    """A network namespace with one end of a veth pair (the other, ``veth``, is in the bridge)."""

    namespace: str
    address: str
    veth: str
    process: ServerProcess | None = None

    @property
    def server(self) -> ServerProcess:
        assert self.process is not None
        return self.process

    def connections(self, namespace: str, kind: str, actor_id: str) -> int:
        """How many times this host's server logged a Socket.IO connection of this actor."""
        line = f"connected namespace=/{namespace} {kind}={actor_id}".encode()
        log = self.server.log
        return log.read_bytes().count(line) if log.exists() else 0


class Network:
    """A bridge with the outside's address, and a namespace per host with its own address."""

    def __init__(self, count: int) -> None:
        tag = os.getpid()
        k = tag % 2048
        self.prefix = f"10.{200 + k // 256}.{k % 256}"  # the hosts' /24
        self.bridge = f"csb{tag}"
        self.outside = f"{self.prefix}.1"
        self.hosts = [Host(f"cs{tag}h{i}", f"{self.prefix}.{i + 2}", f"cs{tag}v{i}") for i in range(count)]

    @property
    def cidr(self) -> str:
        return f"{self.prefix}.0/24"

    def create(self) -> None:
        self.remove()  # what a killed run with this pid left
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.outside}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for host in self.hosts:
            peer = f"{host.veth}p"
            ip("netns", "add", host.namespace)
            ip("link", "add", host.veth, "type", "veth", "peer", "name", peer)
            ip("link", "set", peer, "netns", host.namespace)
            ip("link", "set", host.veth, "master", self.bridge)
            ip("link", "set", host.veth, "up")
            ip("-n", host.namespace, "link", "set", peer, "name", "eth0")
            ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
            ip("-n", host.namespace, "link", "set", "eth0", "up")
            ip("-n", host.namespace, "link", "set", "lo", "up")

    def cut(self, host: Host) -> None:
        """The host's cable pulled: its end in the bridge goes down."""
        ip("link", "set", host.veth, "down")

    def mend(self, host: Host, reach: int) -> None:
        """The cable back in; returns once the host can open a TCP connection to the outside's
        port ``reach`` again. Until then a connection fails with "no route to host" (the bridge
        port is not forwarding yet, the host's neighbour entry for the outside is still the failed
        one from the cut), and a server started then fails at once."""
        ip("link", "set", host.veth, "up")
        ip("netns", "exec", host.namespace, "ip", "neigh", "flush", "all")
        probe = f"import socket; socket.create_connection(({self.outside!r}, {reach:d}), timeout=1).close()"
        deadline = time.monotonic() + 20
        while subprocess.run([*self.run_in(host), sys.executable, "-c", probe], capture_output=True,
                             timeout=30).returncode != 0:
            assert time.monotonic() < deadline, f"{host.namespace} cannot reach {self.outside}:{reach} again"
            time.sleep(0.2)

    def run_in(self, host: Host) -> list[str]:
        """The command prefix that runs a command inside ``host``."""
        return ["ip", "netns", "exec", host.namespace]

    def remove(self) -> None:
        for host in self.hosts:
            ip("netns", "del", host.namespace, check=False)  # its veth end goes with it, and so the pair
            ip("link", "del", host.veth, check=False)
        ip("link", "del", self.bridge, check=False)


class Nginx:
    """nginx in the root namespace with the documented site, on a free port of ``address``, with
    TLS by a certificate made for that address."""

    def __init__(self, address: str, upstreams: list[str]) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        assert os.path.exists(binary), "nginx is not installed (make test installs it)"
        self.binary = binary
        self.address = address
        self.upstreams = upstreams
        # Its own folder, not pytest's (0700): the workers run as nobody and use the temp folders.
        self.prefix = Path(tempfile.mkdtemp(prefix="chatserver-nginx-"))
        self.prefix.chmod(0o755)
        self.certificate = self.prefix / "cert.pem"
        self.key = self.prefix / "key.pem"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "1", "-subj", "/CN=chat.test", "-addext", f"subjectAltName=IP:{address}",
                        "-keyout", str(self.key), "-out", str(self.certificate)], check=True, capture_output=True)

    @property
    def url(self) -> str:
        return f"https://{self.address}:{self.port}"

    def tls(self) -> ssl.SSLContext:
        """What clients trust: this nginx's certificate."""
        return ssl.create_default_context(cafile=str(self.certificate))

    def _write_config(self) -> Path:
        (self.prefix / "chat.conf").write_text(
            render_site(self.upstreams, f"{self.address}:{self.port}", self.certificate, self.key))
        nobody = pwd.getpwnam("nobody")
        p = self.prefix
        # The frame a distribution's nginx.conf gives conf.d files, plus a log of which upstreams
        # each request was sent to and what each answered (``requests``).
        config = f"""user nobody {grp.getgrgid(nobody.pw_gid).gr_name};
worker_processes 1;
daemon off;
pid {p}/nginx.pid;
error_log {p}/error.log info;
events {{ worker_connections 4096; }}
http {{
    log_format upstream '$request_uri|$upstream_addr|$upstream_status|$status';
    access_log {p}/access.log upstream;
    client_body_temp_path {p}/body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    include {p}/chat.conf;
}}
"""
        path = p / "nginx.conf"
        path.write_text(config)
        return path

    def start(self) -> None:
        for attempt in range(START_ATTEMPTS):
            config = self._write_config()
            log = self.prefix / "error.log"
            with open(self.prefix / "stderr.log", "ab") as out:
                self.process = subprocess.Popen(
                    [self.binary, "-p", str(self.prefix), "-c", str(config), "-e", str(log)], stdout=out, stderr=out)
            if self._wait_listening():
                return
            said = log.read_text(errors="replace") + (self.prefix / "stderr.log").read_text(errors="replace")
            if "Address already in use" not in said or attempt + 1 == START_ATTEMPTS:
                raise AssertionError(f"nginx did not start: {said[-3000:]}")
            self.port = free_port()

    def _wait_listening(self) -> bool:
        deadline = time.monotonic() + 10
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                self.process = None
                return False
            try:
                with socket.create_connection((self.address, self.port), timeout=1):
                    return True
            except OSError:
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.05)

    def requests(self) -> list[tuple[str, list[str], list[str], str]]:
        """Each request nginx logged: its URI, the upstreams it was sent to, in turn, what each
        answered, and nginx's own answer (a request is logged once it is answered)."""
        logged = []
        for line in (self.prefix / "access.log").read_text().splitlines():
            uri, upstreams, answers, status = line.rsplit("|", 3)
            logged.append((uri, upstreams.split(", "), answers.split(", "), status))
        return logged

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # fast shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)


class Hosts:
    """The whole deployment: the network, Redis, the database (``sqlite``: one file all hosts
    share, which only works because the namespaces share this machine's disk; ``postgresql``:
    a cluster listening on the bridge), nginx, and a ``chatserver serve`` in each host."""

    def __init__(self, directory: Path, database: str, count: int = 2) -> None:
        assert database in DATABASES, database
        self.directory = directory
        self.database = database
        self.network = Network(count)
        self.redis: RedisServer | None = None
        self.postgres: PostgresServer | None = None
        self.nginx: Nginx | None = None

    @property
    def hosts(self) -> list[Host]:
        return self.network.hosts

    @property
    def url(self) -> str:
        """Where clients go: nginx."""
        assert self.nginx is not None
        return self.nginx.url

    def start(self) -> Hosts:
        """Build everything; on any failure, take down what was built and raise."""
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        net = self.network
        net.create()
        self.redis = RedisServer(self.directory / "redis", host=net.outside, password=secrets.token_hex(16))
        self.redis.start()
        self.nginx = Nginx(net.outside, [f"{h.address}:{HOST_PORT}" for h in self.hosts])
        self.nginx.start()
        env = {env_name(name): value for name, value in SETTINGS.items()}
        env |= {env_name("secret_key"): secrets.token_urlsafe(48), env_name("trusted_proxies"): net.outside,
                env_name("public_urls"): self.url, **self._database_env()}
        # One at a time: the first creates the schema and the first admin.
        for host, route_name in zip(self.hosts, ROUTE_NAMES, strict=True):
            data = self.directory / host.namespace
            data.mkdir()
            host.process = ServerProcess(data, self.redis.url, host=host.address, port=HOST_PORT,
                                         prefix=net.run_in(host), **env, **{env_name("route_name"): route_name}
                                         ).start()

    def _database_env(self) -> dict[str, str]:
        if self.database == "sqlite":
            return {env_name("db"): str(self.directory / "chatserver.db")}
        self.postgres = PostgresServer(address=self.network.outside, network=self.network.cidr)
        self.postgres.start()
        return {env_name("database_url"): self.postgres.new_database()}

    def close(self) -> None:
        """Everything down, whatever state it is in; the network last (processes first)."""
        for host in self.hosts:
            if host.process is not None:
                host.process.kill()
        for stop in (self.nginx.remove if self.nginx else None, self.redis.stop if self.redis else None,
                     self.postgres.remove if self.postgres else None, self.network.remove):
            if stop is not None:
                try:
                    stop()
                except Exception as exc:  # one part failing to stop must not leave the others up
                    print(f"Hosts.close: {exc!r}")
