"""Two hosts (network namespaces on a bridge) behind nginx, sharing Redis and the database: a host
dies and its network is cut, then both are restarted one after the other, and the clients,
reconnecting through nginx as the widget and console do, lose no acknowledged message.

nginx spreads new sessions over the hosts (least_conn): visitors connect until they land on
host A, agents until they land on host B; each connection's host is read from the hosts' logs."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from .hosts import Host, Hosts
from .support import Client, wait_until
from .test_cluster import Remote, _admin, _agent_login

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="hosts are network namespaces: `ip netns` needs root")

# The database the hosts share: PostgreSQL, as on separate machines (the harness can also give
# them one SQLite file, which only hosts on one machine could share).
SHARED_DATABASES = ("postgresql",)
_message_ids = itertools.count(1)


@pytest.fixture(params=SHARED_DATABASES)
def hosts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hosts]:
    built = Hosts(tmp_path, request.param).start()
    try:
        yield built
    finally:
        built.close()


class Party:
    """A visitor or an agent as the widget or console behaves: after a dropped connection it
    connects again through nginx, resumes and joins its conversations after the last seq it has
    without a gap; a message whose ack did not come is resent with the same ``client_msg_id``."""

    def __init__(self, site: Remote, hosts: list[Host], namespace: str, kind: str, actor_id: str,
                 token: str) -> None:
        self.site = site
        self.hosts = hosts
        self.namespace = namespace
        self.kind = kind
        self.actor_id = actor_id
        self.token = token
        self.conversations: list[str] = []
        self.connections: list[Client] = []
        self.landed: list[Host] = []  # the host of each connection
        self.acked: dict[str, dict[str, Any]] = {}  # client_msg_id -> own message with its seq

    @property
    def client(self) -> Client:
        return self.connections[-1]

    @property
    def connected(self) -> bool:
        return bool(self.connections) and self.client.sio.connected and not self.client.closed.is_set()

    def seen(self, conversation_id: str) -> dict[int, dict[str, Any]]:
        """Every message of the conversation this party has, by seq: received on any of its
        connections, or its own acknowledged."""
        have = {m["seq"]: m for m in self.acked.values() if m["conversation_id"] == conversation_id}
        for connection in self.connections:
            have |= {m["seq"]: m for m in connection.messages(conversation_id)}
        return have

    def contiguous(self, conversation_id: str) -> int:
        """The last seq up to which this party has every message."""
        have = self.seen(conversation_id)
        seq = 0
        while seq + 1 in have:
            seq += 1
        return seq

    async def _open(self) -> tuple[Client, Host]:
        """A new connection through nginx, and the host it landed on."""
        before = [h.connections(self.namespace, self.kind, self.actor_id) for h in self.hosts]
        connect = self.site.visitor if self.kind == "visitor" else self.site.agent
        client = await connect(self.token)

        def landed() -> bool:
            return any(h.connections(self.namespace, self.kind, self.actor_id) > n
                       for h, n in zip(self.hosts, before, strict=True))

        await wait_until(landed, timeout=5, what=f"{self.kind} {self.actor_id}'s connection in a host's log")
        return client, next(h for h, n in zip(self.hosts, before, strict=True)
                            if h.connections(self.namespace, self.kind, self.actor_id) > n)

    async def connect(self, on: Host | None = None) -> Party:
        """Connect through nginx, resume and join; ``on``: connect again until nginx picks that
        host (least_conn: the connections that landed elsewhere stay open meanwhile, so that
        nginx turns to the other host, and are closed then)."""
        elsewhere: list[Client] = []
        try:
            client, host = await self._open()
            while on is not None and host is not on:
                assert len(elsewhere) < 8, f"nginx never sent {self.kind} {self.actor_id} to {on.address}"
                elsewhere.append(client)
                client, host = await self._open()
        finally:
            for stray in elsewhere:
                await stray.disconnect()
        self.connections.append(client)
        self.landed.append(host)
        await self.client.call("session:resume")
        for cid in self.conversations:
            await self.client.call("conversation:join", {"conversation_id": cid, "after_seq": self.contiguous(cid)})
        return self

    async def reconnect(self, timeout: float = 20.0) -> None:
        """Connect again until it works (while both hosts are briefly away, nginx answers 502)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self.connections and self.client.sio.connected:
                await self.client.disconnect()
            try:
                await self.connect()
                return
            except (ConnectionError, aiohttp.ClientError, socketio.exceptions.SocketIOError, TimeoutError):
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def send(self, conversation_id: str, body: str, timeout: float = 30.0) -> None:
        """Send until acknowledged, reconnecting and resending with the same ``client_msg_id``."""
        message_id = f"{self.kind[0]}{next(_message_ids)}"
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                if not self.connected:
                    await self.reconnect()
                ack = await self._call_while_connected("message:send", {
                    "conversation_id": conversation_id, "client_msg_id": message_id, "body": body})
                if ack.get("ok"):
                    self.acked[message_id] = {"conversation_id": conversation_id, "seq": ack["seq"],
                                              "client_msg_id": message_id, "body": body}
                    return
                assert ack["error"]["code"] == "unavailable", ack
            except (TimeoutError, ConnectionError, aiohttp.ClientError, socketio.exceptions.SocketIOError) as exc:
                # No ack: the connection may be gone without the client knowing yet (it would
                # learn from Engine.IO's pings, much later); connect again and resend.
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"{message_id} never acknowledged") from exc
                if self.connections and self.client.sio.connected:
                    await self.client.disconnect()
            await asyncio.sleep(0.1)

    async def _call_while_connected(self, event: str, data: Any) -> Any:
        """The ack, or ConnectionError as soon as the connection closes (python-socketio would
        wait out the call's timeout)."""
        client = self.client
        call = asyncio.ensure_future(client.call(event, data))
        closed = asyncio.ensure_future(client.closed.wait())
        await asyncio.wait({call, closed}, return_when=asyncio.FIRST_COMPLETED)
        closed.cancel()
        if not call.done():
            call.cancel()
            raise ConnectionError("the connection closed before the ack")
        return call.result()

    async def chatter(self, stop: asyncio.Event) -> None:
        """Send to each of its conversations, in turn, until ``stop``."""
        for n in itertools.count():
            if stop.is_set():
                return
            for cid in self.conversations:
                await self.send(cid, f"{self.kind} {self.actor_id} says {n}")
            await asyncio.sleep(0.1)

    async def disconnect(self) -> None:
        for connection in self.connections:
            if connection.sio.connected:
                await connection.disconnect()


@pytest.fixture
async def site(hosts: Hosts) -> AsyncIterator[Remote]:
    """Where clients reach nginx from (trusting its certificate)."""
    assert hosts.nginx is not None
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=hosts.nginx.tls(), limit=0))
    try:
        # The first admin's credentials are in the data directory of A, which started first.
        yield Remote(hosts.hosts[0].server, session, url=hosts.url)
    finally:
        await session.close()


async def _check_nothing_lost(admin_site: Remote, admin: str, parties: list[Party], cids: list[str]) -> None:
    """Each conversation's transcript holds every acknowledged message once, at its seq, in
    order; and every party in it ends up with exactly that transcript."""
    for cid in cids:
        status, transcript = await admin_site.request("GET", f"/api/conversations/{cid}", token=admin)
        assert status == 200, transcript
        stored = transcript["messages"]
        seqs = [m["seq"] for m in stored]
        assert seqs == list(range(1, len(seqs) + 1)), seqs
        ids = [m["client_msg_id"] for m in stored if m.get("client_msg_id")]
        assert len(ids) == len(set(ids)), "a message stored twice"
        by_seq = {m["seq"]: m for m in stored}
        in_it = [p for p in parties if cid in p.conversations]
        assert len(in_it) == 2
        for party in in_it:
            for message in party.acked.values():
                if message["conversation_id"] == cid:
                    assert by_seq[message["seq"]]["client_msg_id"] == message["client_msg_id"]
                    assert by_seq[message["seq"]]["body"] == message["body"]

            def caught_up(party: Party = party, cid: str = cid, last: int = seqs[-1]) -> bool:
                return party.contiguous(cid) == last

            await wait_until(caught_up, timeout=10, what=f"{party.kind} {party.actor_id} to have all of {cid}")
            assert {s: m["client_msg_id"] for s, m in party.seen(cid).items()} == \
                {s: m["client_msg_id"] for s, m in by_seq.items()}
            # Exactly once and in order on every connection.
            for connection in party.connections:
                received = [m["seq"] for m in connection.messages(cid)]
                assert received == sorted(set(received)), received


async def test_visitors_of_a_dead_host_resume_on_the_other_and_a_rolling_restart_loses_nothing(
    hosts: Hosts, site: Remote,
) -> None:
    a, b = hosts.hosts
    visitors_site = agents_site = site
    admin = await _admin(agents_site)
    parties: list[Party] = []
    try:
        agents = []
        for n in (1, 2):
            login = await _agent_login(agents_site, admin, n, capacity=2)
            agents.append(await Party(agents_site, hosts.hosts, "agent", "agent", login["agent"]["id"],
                                      login["token"]).connect(on=b))
        visitors = []
        for _ in range(4):
            status, session = await visitors_site.request("POST", "/api/visitor/sessions")
            assert status == 201, session
            visitors.append(await Party(visitors_site, hosts.hosts, "visitor", "visitor", session["visitor_id"],
                                        session["token"]).connect(on=a))
        parties = [*agents, *visitors]
        assert [p.landed for p in agents] == [[b], [b]] and [p.landed for p in visitors] == [[a]] * 4

        cids = []
        for n, visitor in enumerate(visitors):
            started = await visitor.client.call("chat:start", {"name": f"Shopper {n}", "question": "Where is it?"})
            visitor.conversations.append(started["conversation"]["id"])
            cids.append(started["conversation"]["id"])
        for visitor in visitors:
            await visitor.client.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
        for agent in agents:
            held = (await agent.client.call("session:resume"))["conversations"]
            agent.conversations = [c["id"] for c in held]
            for cid in agent.conversations:
                await agent.client.call("conversation:join", {"conversation_id": cid})
        assert sorted(c for agent in agents for c in agent.conversations) == sorted(cids)
        for party in parties:
            for cid in party.conversations:
                await party.send(cid, "hello")

        # Host A dies, then its network goes. The agents keep talking; the visitors' messages in
        # flight are resent once they are back, through nginx, on B.
        a.server.kill()
        hosts.network.cut(a)
        stop = asyncio.Event()
        talking = [asyncio.create_task(p.chatter(stop)) for p in parties]
        await wait_until(lambda: all(v.landed[-1] is b for v in visitors), timeout=20, what="visitors back on B")
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*talking)
        await _check_nothing_lost(agents_site, admin, parties, cids)

        # A comes back; then a rolling restart, B and then A, with chats in flight.
        hosts.network.mend(a, reach=hosts.redis.port)
        a.server.start()
        connections_before = [len(p.landed) for p in parties]
        stop = asyncio.Event()
        talking = [asyncio.create_task(p.chatter(stop)) for p in parties]
        for host in (b, a):
            # SIGTERM: it drains, closes its connections and hands over its agents; started again
            # and ready, it is back in nginx's rotation at once (docs/operations.md). In a thread:
            # the clients keep running meanwhile.
            await asyncio.to_thread(host.server.stop)
            await asyncio.to_thread(host.server.start)
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.gather(*talking)
        await _check_nothing_lost(agents_site, admin, parties, cids)
        # Everyone was cut off by a restart and came back (to the other host, or to its own
        # restarted one: which is nginx's and the timing's choice).
        assert all(len(p.landed) > before for p, before in zip(parties, connections_before, strict=True)), \
            [[h.address for h in p.landed] for p in parties]
        # No chat went back to the queue: the agents were away shorter than the grace period.
        for visitor in visitors:
            assert not [m for m in visitor.seen(visitor.conversations[0]).values() if m["body"] == "requeued"]
    finally:
        for party in parties:
            await party.disconnect()
