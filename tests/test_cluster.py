"""Several real server processes sharing one Redis and one database: they behave as one server.
Processes are killed with SIGKILL, Redis is restarted, and 200 visitors race 20 agents."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from chatserver.storage.sqlite import open_sqlite

from .processes import ServerProcess
from .redis_server import RedisServer
from .support import PASSWORD, Client, wait_until

FAST = {"CHATSERVER_PRESENCE_TTL": "1.5", "CHATSERVER_SWEEP_INTERVAL": "0.3", "CHATSERVER_GRACE_PERIOD": "1",
        "CHATSERVER_QUEUE_UPDATE_INTERVAL": "0.05"}


class Remote:
    """What the test helpers need of a server: its URL and an HTTP session. Clients reach the
    process directly, or through a proxy at ``url`` (tests/hosts.py) whose ``http`` session
    carries them from their own address."""

    def __init__(self, process: ServerProcess, http: aiohttp.ClientSession, url: str | None = None) -> None:
        self.process = process
        self.http = http
        self.via = url
        self.clients: list[Client] = []

    @property
    def url(self) -> str:
        return self.via or self.process.url

    async def request(self, method: str, path: str, *, token: str | None = None, json: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.url + path, json=json, headers=headers) as resp:
            return resp.status, await resp.json()

    async def visitor(self, token: str | None = None) -> Client:
        if token is None:
            _, body = await self.request("POST", "/api/visitor/sessions")
            token = body["token"]
        return await Client(self, "/visitor", token, http=self._client_http).connect()  # type: ignore[arg-type]

    async def agent(self, token: str, **auth: Any) -> Client:
        return await Client(self, "/agent", token, http=self._client_http, **auth).connect()  # type: ignore[arg-type]

    @property
    def _client_http(self) -> aiohttp.ClientSession | None:
        # Direct clients each get a session of their own: hundreds on one would queue on its
        # connection limit. Through a proxy they share the one that gives them their address.
        return self.http if self.via else None


@pytest.fixture
def cluster_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def processes(tmp_path: Path, cluster_redis: RedisServer) -> Iterator[list[ServerProcess]]:
    data = tmp_path / "data"
    data.mkdir()
    started = [ServerProcess(data, cluster_redis.url, **FAST).start() for _ in range(2)]
    try:
        yield started
    finally:
        for p in started:
            p.stop()


async def _admin(remote: Remote) -> str:
    text = (remote.process.data_dir / "first-admin.txt").read_text()
    creds = dict(line.split(": ", 1) for line in text.strip().splitlines())
    status, body = await remote.request("POST", "/api/auth/login", json={"email": creds["email"],
                                                                        "password": creds["password"]})
    assert status == 200, body
    return str(body["token"])


async def _agent_login(remote: Remote, admin: str, n: int, capacity: int = 3) -> dict[str, Any]:
    email = f"agent{n}@example.com"
    status, body = await remote.request("POST", "/api/agents", token=admin, json={
        "name": f"Agent {n}", "email": email, "password": PASSWORD, "capacity": capacity})
    assert status == 201, body
    status, login = await remote.request("POST", "/api/auth/login", json={"email": email, "password": PASSWORD})
    assert status == 200
    return dict(login)


async def _disconnect_all(*remotes: Remote) -> None:
    for remote in remotes:
        for client in remote.clients:
            if client.sio.connected:
                await client.disconnect()


async def test_a_chat_across_two_processes_survives_sigkill_of_the_visitors_process(
    processes: list[ServerProcess], http: aiohttp.ClientSession,
) -> None:
    a, b = (Remote(p, http) for p in processes)
    admin = await _admin(a)
    login = await _agent_login(b, admin, 1, capacity=1)
    try:
        console = await b.agent(login["token"])
        shopper = await a.visitor()
        cid = (await shopper.call("chat:start", {"name": "Ann", "question": "Card declined?"}))["conversation"]["id"]
        assigned = await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
        assert assigned["conversation"]["id"] == cid
        await shopper.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
        await console.call("conversation:join", {"conversation_id": cid})
        ack = await console.call("message:send", {"conversation_id": cid, "client_msg_id": "a1", "body": "Hi from B"})
        assert (await shopper.wait_for_seq(cid, ack["seq"]))["body"] == "Hi from B"
        ack = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "v1", "body": "Hi from A"})
        assert (await console.wait_for_seq(cid, ack["seq"]))["body"] == "Hi from A"

        # Three more visitors wait in the queue through A (the agent is full).
        waiting = [await a.visitor() for _ in range(3)]
        waiting_cids = [(await w.call("chat:start", {"name": f"Bo{i}", "question": "Shipping?"}))["conversation"]["id"]
                        for i, w in enumerate(waiting)]
        assert (await waiting[2].wait_for("queue:position"))["position"] == 3

        last_seen = ack["seq"]
        a.process.kill()
        # The agent keeps talking while the visitor's process is gone.
        sent = [await console.call("message:send", {"conversation_id": cid, "client_msg_id": f"b{i}",
                                                    "body": f"while away {i}"}) for i in range(3)]

        back = await b.visitor(shopper.token)
        state = await back.call("session:resume")
        assert state["conversation"]["id"] == cid and state["conversation"]["status"] == "assigned"
        await back.call("conversation:join", {"conversation_id": cid, "after_seq": last_seen})
        await back.wait_for_seq(cid, sent[-1]["seq"])
        assert [m["body"] for m in back.messages(cid)] == [f"while away {i}" for i in range(3)]

        # They keep their places, whatever order they come back in.
        for n in (2, 0, 1):
            queued_again = await b.visitor(waiting[n].token)
            state = await queued_again.call("session:resume")
            assert state["conversation"]["id"] == waiting_cids[n] and state["queue"]["position"] == n + 1
        # And are served in that order.
        await console.call("conversation:close", {"conversation_id": cid})
        nxt = await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned"
                                     and d["conversation"]["id"] != cid)
        assert nxt["conversation"]["id"] == waiting_cids[0]
    finally:
        await _disconnect_all(a, b)


async def test_a_reader_joining_on_another_process_gets_the_next_message_of_a_chat_held_on_one(
    processes: list[ServerProcess], http: aiohttp.ClientSession,
) -> None:
    """Both parties on A: A sends their messages to the processes it last found reading the chat
    without asking presence each time. The visitor's second tab, on B, joins; the very next
    message stored on A reaches it, with nothing sent after it."""
    a, b = (Remote(p, http) for p in processes)
    admin = await _admin(a)
    login = await _agent_login(a, admin, 1, capacity=1)
    try:
        console = await a.agent(login["token"])
        shopper = await a.visitor()
        cid = (await shopper.call("chat:start", {"name": "Ann", "question": "Size?"}))["conversation"]["id"]
        await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
        await console.call("conversation:join", {"conversation_id": cid})
        for n in range(3):
            ack = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": f"v{n}", "body": "hi"})
            await console.wait_for_seq(cid, ack["seq"])
            ack = await console.call("message:send", {"conversation_id": cid, "client_msg_id": f"a{n}", "body": "ho"})
            await shopper.wait_for_seq(cid, ack["seq"])

        tab = await b.visitor(shopper.token)
        joined = await tab.call("conversation:join", {"conversation_id": cid, "after_seq": ack["seq"]})
        assert joined["ok"] and joined["last_seq"] == ack["seq"]
        ack = await console.call("message:send", {"conversation_id": cid, "client_msg_id": "after", "body": "both?"})
        assert (await tab.wait_for_seq(cid, ack["seq"]))["body"] == "both?"
        assert (await shopper.wait_for_seq(cid, ack["seq"]))["body"] == "both?"
        # And the tab's own message, stored on B, reaches the agent on A and the first tab.
        sent = await tab.call("message:send", {"conversation_id": cid, "client_msg_id": "tab", "body": "from B"})
        assert (await console.wait_for_seq(cid, sent["seq"]))["body"] == "from B"
        assert (await shopper.wait_for_seq(cid, sent["seq"]))["body"] == "from B"
        assert [m["seq"] for m in tab.messages(cid)] == [ack["seq"]]  # its own came back as the ack
    finally:
        await _disconnect_all(a, b)


async def _chat_held_on(a: Remote, b: Remote, admin: str, name: str) -> tuple[Client, Client, str]:
    """An agent connected to ``a`` (capacity 1) holds the chat of a shopper connected to ``b``."""
    login = await _agent_login(a, admin, 1, capacity=1)
    console = await a.agent(login["token"])
    shopper = await b.visitor()
    cid = (await shopper.call("chat:start", {"name": name, "question": "Refund?"}))["conversation"]["id"]
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    return console, shopper, cid


async def _requeued_and_taken_on(b: Remote, admin: str, shopper: Client, cid: str) -> None:
    """The shopper's chat goes back to the queue, and an agent connecting to ``b`` gets it."""
    await shopper.wait_for("message:new", lambda m: m["body"] == "requeued", timeout=15)
    helper = await _agent_login(b, admin, 2, capacity=1)
    console = await b.agent(helper["token"])
    got = await console.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == cid
                                 and d["conversation"]["status"] == "assigned", timeout=10)
    assert got["conversation"]["agent_id"] == helper["agent"]["id"]


async def test_agents_of_a_killed_process_go_offline_and_their_chats_move_on(
    processes: list[ServerProcess], http: aiohttp.ClientSession,
) -> None:
    a, b = (Remote(p, http) for p in processes)
    admin = await _admin(a)
    try:
        _, shopper, cid = await _chat_held_on(a, b, admin, "Cy")
        a.process.kill()
        # After the presence TTL the agent is offline; after the grace period the chat is requeued.
        offline = await shopper.wait_for("peer:presence", lambda d: d["online"] is False, timeout=15)
        assert offline["party"] == "agent"
        await _requeued_and_taken_on(b, admin, shopper, cid)
    finally:
        await _disconnect_all(a, b)


async def test_a_grace_period_is_carried_out_when_the_process_that_started_it_dies(
    processes: list[ServerProcess], http: aiohttp.ClientSession,
) -> None:
    a, b = (Remote(p, http) for p in processes)
    admin = await _admin(a)
    try:
        console, shopper, cid = await _chat_held_on(a, b, admin, "Eve")
        # The agent closes the console (A starts the grace period), then A dies before it ends.
        await console.disconnect()
        await shopper.wait_for("peer:presence", lambda d: d["online"] is False)
        a.process.kill()
        # B finds the grace period due and requeues the chat; an agent on B gets it.
        await _requeued_and_taken_on(b, admin, shopper, cid)
    finally:
        await _disconnect_all(a, b)


async def test_a_cleanly_stopped_process_takes_its_agents_out_of_routing(
    processes: list[ServerProcess], http: aiohttp.ClientSession,
) -> None:
    a, b = (Remote(p, http) for p in processes)
    admin = await _admin(a)
    leaver = await _agent_login(a, admin, 1, capacity=3)
    try:
        await a.agent(leaver["token"])
        shopper = await b.visitor()
        held = (await shopper.call("chat:start", {"name": "Flo", "question": "Size?"}))["conversation"]["id"]
        await shopper.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
        a.process.stop()  # SIGTERM: a rolling restart; the agent's browser is cut off with it
        # The agent is gone at once: a new chat is not routed to them but waits.
        late = await b.visitor()
        started = await late.call("chat:start", {"name": "Gil", "question": "Returns?"})
        assert started["conversation"]["status"] == "queued"
        await asyncio.sleep(0.5)
        state = await late.call("session:resume")
        assert state["conversation"]["status"] == "queued" and state["queue"]["position"] >= 1
        # Their held chat goes back to the queue when the grace period ends, ahead of the new one.
        await shopper.wait_for("message:new", lambda m: m["body"] == "requeued", timeout=15)
        helper = await _agent_login(b, admin, 2, capacity=1)
        other = await b.agent(helper["token"])
        got = await other.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned",
                                   timeout=10)
        assert got["conversation"]["id"] == held
    finally:
        await _disconnect_all(a, b)


async def test_redis_losing_its_data_without_dropping_connections_is_restored(
    processes: list[ServerProcess], http: aiohttp.ClientSession, cluster_redis: RedisServer,
) -> None:
    a, b = (Remote(p, http) for p in processes)
    admin = await _admin(a)
    login = await _agent_login(a, admin, 1, capacity=1)
    try:
        console = await a.agent(login["token"])
        first = await b.visitor()
        cid = (await first.call("chat:start", {"name": "H", "question": "q"}))["conversation"]["id"]
        await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
        waiting = [await b.visitor() for _ in range(3)]
        waiting_ids = [(await w.call("chat:start", {"name": f"W{i}", "question": "q"}))["conversation"]["id"]
                       for i, w in enumerate(waiting)]
        # Everything Redis held is gone in an instant (a restart without persistence, a flush):
        # no command fails, so only the epoch key tells the processes.
        cluster_redis.flush()
        for position, (w, wcid) in enumerate(zip(waiting, waiting_ids, strict=True), start=1):
            for _ in range(50):
                state = await w.call("session:resume")
                if state["queue"] is not None:
                    break
                await asyncio.sleep(0.1)
            assert state["conversation"]["id"] == wcid and state["queue"]["position"] == position
        # The agent's presence and load are back too: closing frees their one place for the head.
        await first.call("conversation:close", {"conversation_id": cid})
        nxt = await console.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == waiting_ids[0]
                                     and d["conversation"]["status"] == "assigned", timeout=10)
        assert nxt["conversation"]["agent_id"] == login["agent"]["id"]
        # And they still hold just that one: the second waiting chat stays queued.
        assert (await waiting[1].call("session:resume"))["queue"]["position"] == 1
    finally:
        await _disconnect_all(a, b)


async def test_changes_stored_while_redis_is_down_are_routed_when_it_is_back(
    tmp_path: Path, http: aiohttp.ClientSession,
) -> None:
    """Redis with persistence goes away and comes back with its data: a chat closed meanwhile no
    longer counts against its agent, and a chat started meanwhile is queued and served."""
    redis_server = RedisServer(tmp_path / "aof", appendonly=True)
    redis_server.start()
    data = tmp_path / "data"
    data.mkdir()
    process = ServerProcess(data, redis_server.url, **FAST).start()
    a = Remote(process, http)
    try:
        admin = await _admin(a)
        login = await _agent_login(a, admin, 1, capacity=1)
        console = await a.agent(login["token"])
        first = await a.visitor()
        cid = (await first.call("chat:start", {"name": "I", "question": "q"}))["conversation"]["id"]
        await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
        second = await a.visitor()

        redis_server.stop()
        closed = await first.call("conversation:close", {"conversation_id": cid})
        assert closed["ok"] and closed["conversation"]["status"] == "closed"
        started = await second.call("chat:start", {"name": "J", "question": "still there?"})
        assert started["ok"] and started["created"], started
        new_cid = started["conversation"]["id"]
        redis_server.start()  # same port, with what it held

        got = await console.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == new_cid
                                     and d["conversation"]["status"] == "assigned", timeout=15)
        assert got["conversation"]["agent_id"] == login["agent"]["id"]
        status, transcript = await a.request("GET", f"/api/conversations/{cid}", token=admin)
        assert status == 200 and transcript["conversation"]["status"] == "closed"
    finally:
        await _disconnect_all(a)
        process.stop()
        redis_server.stop()


async def test_two_hundred_visitors_and_twenty_agents_across_processes_never_double_assign(
    processes: list[ServerProcess], http: aiohttp.ClientSession, tmp_path: Path,
) -> None:
    remotes = [Remote(p, http) for p in processes]
    admin = await _admin(remotes[0])
    logins = [await _agent_login(remotes[i % 2], admin, i, capacity=3) for i in range(20)]
    try:
        agents = await asyncio.gather(*(remotes[i % 2].agent(login["token"]) for i, login in enumerate(logins)))
        visitors = await asyncio.gather(*(remotes[i % 2].visitor() for i in range(200)))
        started = await asyncio.gather(*(
            v.call("chat:start", {"name": f"V{i}", "question": "help", "checkout": i % 7 == 0}, timeout=20)
            for i, v in enumerate(visitors)))
        conversation_ids = [s["conversation"]["id"] for s in started]
        assert len(set(conversation_ids)) == 200

        # Agents also grab chats by hand while the routers of both processes assign.
        async def grab(console: Client) -> None:
            for cid in random.sample(conversation_ids, 15):
                await console.call("queue:take", {"conversation_id": cid})

        await asyncio.gather(*(grab(c) for c in agents))
        # Then some chats end and the freed places are filled, again from both processes.
        for console in agents[:10]:
            resumed = await console.call("session:resume")
            for conversation in resumed["conversations"][:2]:
                await console.call("conversation:close", {"conversation_id": conversation["id"]})
        # Checked while the agents are still connected: once they leave, their grace period
        # (a second here) starts giving their chats back.
        await _check_sixty_assigned_never_twice(processes[0].data_dir / "chatserver.db")
    finally:
        await _disconnect_all(*remotes)


async def _check_sixty_assigned_never_twice(db: Path) -> None:
    """Every agent's places filled (20 agents x capacity 3), by the routers of both processes, and
    no chat ever assigned twice or an agent over capacity, by the log of assignments."""
    stores = await open_sqlite(db)
    try:
        async def all_places_filled() -> bool:
            # At least: more is the bug the assertions below name.
            return len(await stores.conversations.conversations_with_status(["assigned"])) >= 60  # type: ignore[list-item]

        await wait_until(all_places_filled, timeout=20, what="60 chats assigned")
        assigned_to: dict[str, str] = {}
        load: dict[str, int] = {}
        peak: dict[str, int] = {}
        async with stores.database.reader.execute(
            "SELECT conversation_id, agent_id, event FROM assignment_events ORDER BY id") as cur:
            events = await cur.fetchall()
        for conversation_id, agent_id, event in events:
            if event in ("assigned", "taken"):
                assert conversation_id not in assigned_to, f"{conversation_id} assigned twice"
                assigned_to[conversation_id] = agent_id
                load[agent_id] = load.get(agent_id, 0) + 1
                peak[agent_id] = max(peak.get(agent_id, 0), load[agent_id])
            elif event in ("closed", "released") and conversation_id in assigned_to:
                load[assigned_to.pop(conversation_id)] -= 1
        assert len(assigned_to) == 60, "20 agents x capacity 3 are all busy"
        assert max(peak.values()) <= 3
        held = await stores.conversations.conversations_with_status(["assigned"])  # type: ignore[list-item]
        assert len(held) == 60 and len({c.id for c in held}) == 60
        counts: dict[str, int] = {}
        for c in held:
            counts[c.agent_id or ""] = counts.get(c.agent_id or "", 0) + 1
        assert max(counts.values()) <= 3
    finally:
        await stores.database.close()


async def test_redis_restarted_mid_chat_loses_no_queued_visitor_or_message(
    processes: list[ServerProcess], http: aiohttp.ClientSession, cluster_redis: RedisServer,
) -> None:
    a, b = (Remote(p, http) for p in processes)
    admin = await _admin(a)
    login = await _agent_login(a, admin, 1, capacity=1)
    away_login = await _agent_login(a, admin, 2, capacity=3)
    try:
        console = await a.agent(login["token"])
        # An agent who is away: the restored presence must keep them away (no chat for them).
        away = await b.agent(away_login["token"], status="away")
        first = await b.visitor()
        cid = (await first.call("chat:start", {"name": "D", "question": "q1"}))["conversation"]["id"]
        await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
        waiting = [await b.visitor() for _ in range(3)]
        waiting_ids = [(await w.call("chat:start", {"name": f"W{i}", "question": "q"}))["conversation"]["id"]
                       for i, w in enumerate(waiting)]

        cluster_redis.stop()  # Redis gone, with everything it held (no persistence here)

        def neither_ready() -> bool:
            return not a.process.ready() and not b.process.ready()

        await wait_until(lambda: asyncio.to_thread(neither_ready), timeout=10,
                         what="readyz to say not ready without Redis")
        # Existing connections keep working: a message still reaches the database.
        await console.call("conversation:join", {"conversation_id": cid})
        ack = await console.call("message:send", {"conversation_id": cid, "client_msg_id": "m", "body": "still here"})
        assert ack["ok"]

        cluster_redis.start()  # same port, empty
        a.process.wait_ready(timeout=20)
        b.process.wait_ready(timeout=20)
        # Ready is not restored: a process finds Redis emptied at its next heartbeat and only
        # then rebuilds the queue from the database, later still on a loaded machine.
        for position, (w, wcid) in enumerate(zip(waiting, waiting_ids, strict=True), start=1):
            again = await b.visitor(w.token)

            async def in_queue(again: Client = again) -> bool:
                return bool((await again.call("session:resume"))["queue"] is not None)

            await wait_until(in_queue, timeout=20, what="the queue rebuilt from the database")
            state = await again.call("session:resume")
            assert state["conversation"]["id"] == wcid and state["queue"]["position"] == position
        await first.call("conversation:close", {"conversation_id": cid})
        nxt = await console.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == waiting_ids[0]
                                     and d["conversation"]["status"] == "assigned", timeout=10)
        assert nxt["conversation"]["agent_id"] == login["agent"]["id"]

        # Each process restores its own connections' presence when it finds Redis emptied, B maybe
        # after A restored the queue: until then B's agents are offline, and then away is away.
        async def still_away() -> bool:
            return bool((await away.call("session:resume"))["status"] == "away")

        await wait_until(still_away, timeout=10, what="the away agent restored as away")
        assert not [u for u in away.events["conversation:updated"] if u["conversation"]["status"] == "assigned"]
        status, transcript = await a.request("GET", f"/api/conversations/{cid}", token=admin)
        assert status == 200 and "still here" in [m["body"] for m in transcript["messages"]]
    finally:
        await _disconnect_all(a, b)


@pytest.mark.parametrize("namespace", ["/visitor", "/agent"])
async def test_a_connect_while_redis_is_down_is_refused_unavailable_at_once(
    tmp_path: Path, http: aiohttp.ClientSession, cluster_redis: RedisServer, namespace: str,
) -> None:
    """docs/protocol.md, Connecting: the connect is answered with the structured ``unavailable``
    (no traceback in the log, no wait for the client's timeout); once Redis is back it connects."""
    data = tmp_path / "data"
    data.mkdir()
    process = ServerProcess(data, cluster_redis.url, **FAST).start()
    remote = Remote(process, http)
    try:
        if namespace == "/visitor":
            _, body = await remote.request("POST", "/api/visitor/sessions")
            token = body["token"]
        else:
            token = (await _agent_login(remote, await _admin(remote), 1))["token"]
        cluster_redis.stop()
        refused = socketio.AsyncClient(reconnection=False)
        errors: list[Any] = []
        refused.on("connect_error", errors.append, namespace=namespace)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await refused.connect(process.url, namespaces=[namespace], auth={"token": token},
                                  transports=["websocket"], wait_timeout=5)
        unreachable = "the routing store (Redis) is unreachable; try again"
        assert errors == [{"message": unreachable, "code": "unavailable",
                           "data": {"code": "unavailable", "message": unreachable}}]
        await refused.disconnect()
        cluster_redis.start()
        await wait_until(process.ready, timeout=15)
        client = await Client(remote, namespace, token).connect()  # type: ignore[arg-type]
        await client.disconnect()
    finally:
        process.stop()
    log = process.log.read_text()
    assert f"connection refused namespace={namespace} code=unavailable" in log
    assert "Traceback" not in log
