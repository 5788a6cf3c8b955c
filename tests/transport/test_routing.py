"""Routing over real connections: FIFO queue with honest positions, capacity, fewest-chats-first,
manual take and two agents racing for the same chat."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from chatserver.storage import redis_backend
from chatserver.storage.redis_keys import Keys
from chatserver.storage.sqlite import SQLiteDatabase

from ..storage.support import refusing, server_database
from ..support import Client, LiveServer, agent, make_settings, prechat, visitor

pytestmark = pytest.mark.both_backends  # routing, presence or delivery: tests/conftest.py


async def _queued(server: LiveServer, n: int) -> tuple[Client, str]:
    shopper = await visitor(server)
    started = await shopper.call("chat:start", prechat(n))
    assert started["ok"], started
    return shopper, started["conversation"]["id"]


async def test_waiting_visitors_are_told_their_position_and_served_in_order(server: LiveServer) -> None:
    shoppers = [await _queued(server, n) for n in range(1, 4)]
    for expected, (shopper, cid) in enumerate(shoppers, start=1):
        update = await shopper.wait_for("queue:position", lambda d, e=expected: d["position"] == e)
        # No agent has served anyone yet: no honest estimate of the wait exists.
        assert update == {"conversation_id": cid, "position": expected, "estimated_wait_s": None}
        resumed = await shopper.call("session:resume")
        assert resumed["queue"] == {"position": expected, "total": 3, "estimated_wait_s": None}

    # One agent with room for one chat: the first in line is served, the others move up.
    login = await server.add_agent(capacity=1)
    console = await agent(server, login)
    first_shopper, first_cid = shoppers[0]
    assigned = await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    assert assigned["conversation"]["id"] == first_cid
    for expected, (shopper, cid) in enumerate(shoppers[1:], start=1):
        update = await shopper.wait_for("queue:position", lambda d, e=expected: d["position"] == e)
        assert update["conversation_id"] == cid
    queue = await console.call("queue:list")
    assert [e["id"] for e in queue["entries"]] == [cid for _, cid in shoppers[1:]]
    assert queue["total"] == 2 and [e["position"] for e in queue["entries"]] == [1, 2]

    # Ending the first chat frees the agent, who then gets the next in line.
    await first_shopper.call("conversation:close", {"conversation_id": first_cid})
    nxt = await console.wait_for("conversation:updated",
                                 lambda d: d["conversation"]["id"] == shoppers[1][1]
                                 and d["conversation"]["status"] == "assigned")
    assert nxt["conversation"]["agent_id"] == login["agent"]["id"]


async def test_assignment_goes_to_the_agent_with_fewest_chats_below_capacity(server: LiveServer) -> None:
    busy_login = await server.add_agent("Busy", capacity=3)
    idle_login = await server.add_agent("Idle", capacity=3)
    busy = await agent(server, busy_login)
    for n in range(2):
        await _queued(server, n)
    await busy.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    await server.chats.tasks.idle()
    assert await server.routing.load(busy_login["agent"]["id"]) == 2

    idle = await agent(server, idle_login)
    _, cid = await _queued(server, 3)
    got = await idle.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == cid)
    assert got["conversation"]["agent_id"] == idle_login["agent"]["id"]

    # Capacity is a hard limit: with both agents full, the next visitor waits.
    for n in range(4, 8):
        await _queued(server, n)
    await server.chats.tasks.idle()
    loads = [await server.routing.load(x["agent"]["id"]) for x in (busy_login, idle_login)]
    assert loads == [3, 3]
    assert await server.routing.waiting_count() == 1


async def test_two_agents_taking_the_same_chat_exactly_one_wins(server: LiveServer) -> None:
    logins = [await server.add_agent(capacity=30) for _ in range(2)]
    consoles = [await agent(server, login) for login in logins]
    for console in consoles:
        assert (await console.call("presence:set", {"status": "away"}))["status"] == "away"
    conversations = [(await _queued(server, n))[1] for n in range(20)]

    for cid in conversations:
        results = await asyncio.gather(*(c.call("queue:take", {"conversation_id": cid}) for c in consoles))
        winners = [r for r in results if r.get("ok")]
        losers = [r for r in results if not r.get("ok")]
        assert len(winners) == 1, results
        assert losers[0]["error"]["code"] == "already_taken"
        assert losers[0]["error"]["message"]

    held = [await server.routing.load(login["agent"]["id"]) for login in logins]
    assert sum(held) == 20
    for cid in conversations:
        status, transcript = await server.request("GET", f"/api/conversations/{cid}", token=await server.admin_token())
        assert status == 200
        takes = [a for a in transcript["assignments"] if a["event"] == "taken"]
        assert len(takes) == 1
        assert [m["body"] for m in transcript["messages"]].count("agent_joined") == 1


async def test_taking_over_capacity_is_refused(server: LiveServer) -> None:
    login = await server.add_agent(capacity=1)
    console = await agent(server, login)
    await console.call("presence:set", {"status": "away"})
    first = (await _queued(server, 1))[1]
    second = (await _queued(server, 2))[1]
    assert (await console.call("queue:take", {"conversation_id": first}))["ok"]
    refused = await console.call("queue:take", {"conversation_id": second})
    assert refused["error"]["code"] == "at_capacity"
    assert await server.routing.position(second) == 1


async def test_away_agents_get_no_new_chats_until_back_online(server: LiveServer) -> None:
    login = await server.add_agent()
    console = await agent(server, login)
    await console.call("presence:set", {"status": "away"})
    _, cid = await _queued(server, 1)
    await server.chats.tasks.idle()
    assert await server.routing.position(cid) == 1
    await console.call("presence:set", {"status": "online"})
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == cid)


async def test_a_status_change_reaches_every_connection_of_the_agent_and_only_theirs(server: LiveServer) -> None:
    login = await server.add_agent("Alice")
    first_tab, second_tab = await agent(server, login), await agent(server, login)
    bob = await agent(server, await server.add_agent("Bob"))
    assert (await first_tab.call("presence:set", {"status": "away"}))["status"] == "away"
    for tab in (first_tab, second_tab):
        assert await tab.wait_for("presence:updated", lambda d: d == {"status": "away"})
    # The other tab chose the same: a chat now waits instead of going to Alice; Bob gets it.
    await bob.call("presence:set", {"status": "away"})
    _, cid = await _queued(server, 1)
    _, listing = await server.request("GET", "/api/agents", token=await server.admin_token())
    assert {a["name"]: a["status"] for a in listing["agents"] if a["name"] in ("Alice", "Bob")} == {
        "Alice": "away", "Bob": "away"}
    assert await server.routing.waiting_count() == 1
    # Back online from the second tab: the first hears it, and the waiting chat is hers.
    assert (await second_tab.call("presence:set", {"status": "online"}))["status"] == "online"
    assert await first_tab.wait_for("presence:updated", lambda d: d == {"status": "online"})
    assigned = await first_tab.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == cid
                                        and d["conversation"]["status"] == "assigned")
    assert assigned["conversation"]["agent_id"] == login["agent"]["id"]
    # Bob heard only his own change.
    assert bob.events["presence:updated"] == [{"status": "away"}]


async def test_a_repair_leaves_a_claim_being_stored_alone_and_releases_it_once_given_up(server: LiveServer) -> None:
    """After a Redis outage the loads are repaired from the database. A claim granted in the
    routing state whose database write has not finished yet is not stale: releasing it would let
    the agent be given one chat more than their capacity once the write lands."""
    login = await server.add_agent(capacity=1)
    agent_id = login["agent"]["id"]
    _, cid = await _queued(server, 1)
    chats, routing = server.chats, server.routing
    # The agent's claim is granted; the database still says the chat waits (its write is under way).
    assert (await routing.claim(cid, agent_id, 1)).value == "claimed"
    await chats.restorer.restore(repair=True)
    assert await routing.load(agent_id) == 1  # still held
    assert await routing.position(cid) is None  # and not queued a second time
    assert chats.repair.needed  # looked at again by the next repair

    # The write was given up and nothing released the hold: the next repair does.
    await routing.settle(cid)
    await chats.restorer.restore(repair=True)
    assert await routing.load(agent_id) == 0
    assert await routing.position(cid) == 1
    assert not chats.repair.needed


async def test_a_chat_claimed_by_a_process_that_died_before_storing_it_goes_back_to_the_queue(
    tmp_path: Path, redis_url: str,
) -> None:
    """A process SIGKILLed between its claim (Redis) and storing the assignment (database): once
    the survivors have swept it and the claim's mark has expired, the chat waits in the queue
    again and no longer counts against the agent."""
    live = LiveServer(make_settings(tmp_path, redis_url=redis_url, presence_ttl=1.5, sweep_interval=0.2))
    await live.start()
    client = redis_backend.connect(redis_url)
    try:
        dead = redis_backend.RedisPresence(client, Keys(), "dead", ttl=0.2)
        await dead.heartbeat()
        login = await live.add_agent(capacity=1)
        agent_id = login["agent"]["id"]
        shopper, cid = await _queued(live, 1)
        # The dead process's claim: granted in Redis, never stored. It beats once more just
        # before, so that it is found dead after the claim, not while the chat was being queued.
        await dead.heartbeat()
        assert (await live.routing.claim(cid, agent_id, 1)).value == "claimed"
        await asyncio.sleep(0.3)  # its heartbeat runs out
        await client.delete(Keys().claiming(cid))  # as the mark would expire after its minute

        for _ in range(200):  # the sweep and the heartbeat's repair, within 10 s
            if await live.routing.position(cid) == 1 and not await live.routing.load(agent_id):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the chat was not queued again")
        assert (await shopper.call("session:resume"))["queue"]["position"] == 1
    finally:
        await client.aclose()
        await live.close()


@asynccontextmanager
async def _write_lock_held(path: Path) -> AsyncIterator[None]:
    """Another process's connection to the SQLite file holds its write lock."""
    other_process = sqlite3.connect(path, isolation_level=None)
    try:
        other_process.execute("BEGIN IMMEDIATE")
        yield
    finally:
        other_process.execute("ROLLBACK")
        other_process.close()


async def test_a_take_the_database_cannot_store_leaves_the_chat_waiting_at_its_place(server: LiveServer) -> None:
    """The database cannot store an agent's take (SQLite: another process holds the write lock
    past the busy timeout; PostgreSQL: the transaction is refused at COMMIT): the take fails with
    a clear error, and the chat is neither lost from the queue nor counted against the agent."""
    login = await server.add_agent(capacity=1)
    console = await agent(server, login)
    assert (await console.call("presence:set", {"status": "away"}))["status"] == "away"
    _, first = await _queued(server, 1)
    _, second = await _queued(server, 2)
    database = server_database(server)
    if isinstance(database, SQLiteDatabase):  # another process holds the write lock past the busy timeout
        blocked: AbstractAsyncContextManager[Any] = _write_lock_held(server.settings.db_path)
    else:  # the transaction is refused when it commits
        blocked = refusing(database, "assignment_events", "NEW.event = 'taken'", at_commit=True)
    async with blocked:
        taken = await console.call("queue:take", {"conversation_id": second}, timeout=20)
    assert taken["error"]["code"] == "unavailable", taken
    routing = server.routing
    assert [await routing.position(first), await routing.position(second)] == [1, 2]
    assert await routing.load(login["agent"]["id"]) == 0
    # Once the database answers, the same take works.
    taken = await console.call("queue:take", {"conversation_id": second})
    assert taken["ok"] and taken["conversation"]["status"] == "assigned", taken
    assert await routing.position(first) == 1


async def test_a_transfer_the_database_cannot_store_leaves_the_chat_with_its_agent(server: LiveServer) -> None:
    alice = await server.add_agent("Alice", capacity=1)
    alice_console = await agent(server, alice)
    _, cid = await _queued(server, 1)
    await alice_console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    bob = await server.add_agent("Bob", capacity=1)
    await agent(server, bob)
    # The database refuses the transfer's write (a trigger another connection adds to its schema).
    async with refusing(server_database(server), "assignment_events", "NEW.event = 'transferred'"):
        moved = await alice_console.call("conversation:transfer", {"conversation_id": cid,
                                                                   "to_agent_id": bob["agent"]["id"]})
        assert "error" in moved, moved
        routing = server.routing
        assert [await routing.load(alice["agent"]["id"]), await routing.load(bob["agent"]["id"])] == [1, 0]
        assert await routing.claims_in_flight([cid]) == set()
    moved = await alice_console.call("conversation:transfer", {"conversation_id": cid,
                                                               "to_agent_id": bob["agent"]["id"]})
    assert moved["ok"] and moved["conversation"]["agent_id"] == bob["agent"]["id"], moved
    assert [await routing.load(alice["agent"]["id"]), await routing.load(bob["agent"]["id"])] == [0, 1]
