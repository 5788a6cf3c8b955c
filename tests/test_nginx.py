"""Two ``chatserver serve`` processes on one Redis behind nginx running the configuration
docs/operations.md shows ("Several hosts with PostgreSQL", rendered by tests/hosts.py), all on
loopback: stock clients spread over both processes, long-polling ones included; a process
restarted under them (SIGTERM, then started again) has every client back by itself; and the
per-address limits count each client behind nginx by its own address, whatever it claims."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chatserver.config import env_name

from .hosts import ROUTE_NAMES, Nginx
from .processes import ServerProcess
from .redis_server import RedisServer
from .stock_clients import NodeVisitor, StockVisitor
from .support import PASSWORD, wait_until
from .test_cluster import Remote, _admin, _agent_login

LOCKOUT_FAILURES = 3
SETTINGS = {"presence_ttl": "1.5", "sweep_interval": "0.3", "drain_period": "1", "trusted_proxies": "127.0.0.1",
            "login_lockout_failures": str(LOCKOUT_FAILURES)}
# Client addresses nginx tells apart (all of 127.0.0.0/8 is this machine).
SHOPPER, OTHER_SHOPPER = "127.0.0.2", "127.0.0.3"


@dataclass
class Cluster:
    processes: dict[str, ServerProcess]  # by route name
    nginx: Nginx

    @property
    def url(self) -> str:
        return self.nginx.url

    def session(self, source: str = "127.0.0.1") -> aiohttp.ClientSession:
        """An HTTP session to nginx from the client address ``source``, trusting its certificate."""
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.nginx.tls(), local_addr=(source, 0)))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    data = tmp_path / "data"
    data.mkdir()
    env = {env_name(name): value for name, value in SETTINGS.items()}
    processes: dict[str, ServerProcess] = {}
    nginx: Nginx | None = None
    try:
        for name in ROUTE_NAMES:  # one at a time: the first creates the first admin
            processes[name] = ServerProcess(data, redis.url, **env, **{env_name("route_name"): name}).start()
        nginx = Nginx("127.0.0.1", [f"127.0.0.1:{p.port}" for p in processes.values()])
        nginx.start()
        yield Cluster(processes, nginx)
    finally:
        if nginx is not None:
            nginx.remove()
        for process in processes.values():
            process.kill()
        redis.stop()


@pytest.fixture
async def stock_http(cluster: Cluster) -> AsyncIterator[list[aiohttp.ClientSession]]:
    """HTTP sessions for stock clients: one each (closed at the end)."""
    sessions: list[aiohttp.ClientSession] = []
    try:
        yield sessions
    finally:
        for session in sessions:
            await session.close()


async def _token(http: aiohttp.ClientSession, url: str) -> str:
    async with http.post(f"{url}/api/visitor/sessions") as resp:
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["token"])


def _route(sid: str) -> str:
    return sid.split("-", 1)[0]


async def test_a_restart_behind_nginx_brings_every_stock_client_back(
    cluster: Cluster, stock_http: list[aiohttp.ClientSession],
) -> None:
    shoppers: list[StockVisitor] = []
    nodes: list[NodeVisitor] = []
    try:
        async def add(transports: list[str]) -> StockVisitor:
            http = cluster.session()
            stock_http.append(http)
            shopper = await StockVisitor(cluster.url, await _token(http, cluster.url), transports, http).connect()
            await shopper.start_chat(len(shoppers))
            assert (await shopper.send("v1"))["ok"]
            shoppers.append(shopper)
            return shopper

        for transports in [["polling"]] * 9 + [["websocket"]] * 9:
            await add(transports)
        # nginx draws the host of a long-polling session (docs/operations.md): should every one
        # so far have drawn the same host (1 in 256), more come until one draws the other.
        while len({_route(s.sids[0]) for s in shoppers if s.transports == ["polling"]}) < 2:
            assert len(shoppers) < 40, "nginx sent every long-polling session to one process"
            await add(["polling"])
        # socket.io-client too, on each transport, until one is on process a.
        node_routes: list[str] = []
        conversations = []
        async with cluster.session() as http:
            while len(nodes) < 2 or "a" not in node_routes:
                assert len(nodes) < 10, "nginx sent no socket.io-client to process a"
                node = await NodeVisitor.start(cluster.url, await _token(http, cluster.url),
                                               [["polling"], ["websocket"]][len(nodes) % 2],
                                               ca_file=cluster.nginx.certificate)
                nodes.append(node)
                node_routes.append(_route((await node.next("connected"))["sid"]))
                conversations.append((await node.next("started"))["conversation_id"])
                assert (await node.send("v1"))["ok"]
        # Spread over both processes, long-polling clients too; every request of a long-polling
        # session reached its process (the message went through).
        on_a = [s for s in shoppers if _route(s.sids[0]) == "a"]
        assert on_a and len(on_a) < len(shoppers)

        # Process a restarts: SIGTERM (it drains, then ends its transports), then it starts again.
        await asyncio.to_thread(cluster.processes["a"].stop)
        await asyncio.to_thread(cluster.processes["a"].start)
        # Every client is back by itself and answers a round trip, its chat going on.
        await wait_until(lambda: all(s.back for s in on_a), timeout=15, what="every client of a back")
        for shopper in shoppers:
            ack = await shopper.send("v2")
            assert ack["ok"], ack
            assert shopper.sio.connected
        for shopper in on_a:  # on b while a was away
            assert [_route(sid) for sid in shopper.sids] in (["a", "b"], ["a", "a"]), shopper.sids
        for node, route in zip(nodes, node_routes, strict=True):
            if route == "a":  # back by itself, its chat joined again
                assert (await node.next("connected"))["connects"] == 2
                assert (await node.next("rejoined"))["ok"]
            assert (await node.send("v2"))["ok"]
        # Nothing acknowledged was lost: each chat holds v1 then v2.
        async with cluster.session() as http:
            remote = Remote(cluster.processes["a"], http, url=cluster.url)
            admin = await _admin(remote)
            for cid in [s.conversation_id for s in shoppers] + conversations:
                status, transcript = await remote.request("GET", f"/api/conversations/{cid}", token=admin)
                assert status == 200
                assert [m["client_msg_id"] for m in transcript["messages"] if m.get("client_msg_id")] == ["v1", "v2"]
    finally:
        for shopper in shoppers:
            await shopper.sio.disconnect()
        for node in nodes:
            await node.close()


async def test_a_draining_process_s_refused_handshakes_are_passed_to_the_other(cluster: Cluster) -> None:
    """While process a drains, nginx passes the handshakes it answers 503 to b: no new client is
    refused, and none lands on a."""
    a, b = cluster.processes["a"], cluster.processes["b"]
    stopping = asyncio.ensure_future(asyncio.to_thread(a.stop))
    sids = []
    async with cluster.session() as http:
        async def draining() -> bool:
            try:
                async with http.get(f"{a.url}/readyz") as resp:
                    return resp.status == 503 and (await resp.json())["checks"].get("process") == "draining"
            except aiohttp.ClientError:
                return False

        await wait_until(draining, what="process a draining")
        # Handshakes while a drains (new sessions go by random two least_conn: about every other
        # one draws a first).
        while len(sids) < 40 and not stopping.done():
            async with http.get(f"{cluster.url}/socket.io/?EIO=4&transport=polling&n={len(sids)}") as resp:
                assert resp.status == 200, await resp.text()
                sids.append(json.loads((await resp.text())[1:])["sid"])
    await stopping
    assert sids and {_route(sid) for sid in sids} == {"b"}, sids
    handshakes = [r for r in cluster.nginx.requests() if r[0].startswith("/socket.io/?EIO=4&transport=polling&n=")]
    passed_on = [(upstreams, answers) for _, upstreams, answers, _ in handshakes if answers[0] == "503"]
    assert passed_on, handshakes
    for upstreams, answers in passed_on:
        assert upstreams == [f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"] and answers == ["503", "200"]


async def _login(http: aiohttp.ClientSession, url: str, email: str, password: str,
                 forwarded_for: str | None = None) -> tuple[int, Any]:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with http.post(f"{url}/api/auth/login", json={"email": email, "password": password},
                         headers=headers) as resp:
        return resp.status, await resp.json()


async def test_clients_behind_nginx_are_counted_by_their_own_address_which_they_cannot_forge(
    cluster: Cluster,
) -> None:
    async with cluster.session() as http:
        remote = Remote(cluster.processes["a"], http, url=cluster.url)
        await _agent_login(remote, await _admin(remote), 1)
    email = "agent1@example.com"  # _agent_login's
    async with cluster.session(SHOPPER) as shopper, cluster.session(OTHER_SHOPPER) as other:
        # Wrong passwords, each claiming another address: the last one locks the shopper's own.
        for n in range(1, LOCKOUT_FAILURES + 1):
            status, body = await _login(shopper, cluster.url, email, "wrong password", forwarded_for=f"10.9.9.{n}")
            assert (status, body["error"]["code"]) == ((401, "invalid_credentials") if n < LOCKOUT_FAILURES
                                                       else (429, "account_locked")), body
        # The shopper's address is locked out for this email, whichever address it claims (nginx
        # appends the one it saw, and the server reads from the right) ...
        for claimed in (None, "10.9.9.8", OTHER_SHOPPER):
            status, body = await _login(shopper, cluster.url, email, PASSWORD, forwarded_for=claimed)
            assert status == 429 and body["error"]["code"] == "account_locked", (claimed, body)
        # ... and the other client behind the same nginx is not, even claiming the shopper's.
        for claimed in (None, SHOPPER):
            status, body = await _login(other, cluster.url, email, PASSWORD, forwarded_for=claimed)
            assert status == 200, (claimed, body)

