"""Priority, departments with a fallback, transfers and wait estimates, on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatserver.domain.clock import ManualClock

from ..support import Client, LiveServer, agent, make_settings, prechat, visitor

pytestmark = pytest.mark.both_backends  # routing, presence or delivery: tests/conftest.py


@pytest.fixture
async def shop(tmp_path: Path, backend_settings: dict[str, str]) -> AsyncIterator[tuple[LiveServer, ManualClock]]:
    clock = ManualClock()
    live = LiveServer(make_settings(tmp_path, departments=("sales", "billing"), department_fallback_after=120.0,
                                    **backend_settings), clock=clock)
    await live.start()
    try:
        yield live, clock
    finally:
        await live.close()


async def _start(server: LiveServer, n: int, **fields: object) -> tuple[Client, str]:
    shopper = await visitor(server)
    reply = await shopper.call("chat:start", prechat(n, **fields))
    assert reply["ok"], reply
    return shopper, reply["conversation"]["id"]


async def test_checkout_chats_are_served_before_general_questions(shop: tuple[LiveServer, ManualClock]) -> None:
    server, _ = shop
    _, general = await _start(server, 1)
    _, by_flag = await _start(server, 2, checkout=True)
    _, by_url = await _start(server, 3, page_url="https://shop.example/checkout/payment")
    queue = (await server.request("GET", "/api/queue", token=await server.admin_token()))[1]
    assert [e["id"] for e in queue["entries"]] == [by_flag, by_url, general]
    assert [e["priority"] for e in queue["entries"]] == [1, 1, 0]


async def test_departments_route_to_their_agents_and_fall_back_after_the_wait(
    shop: tuple[LiveServer, ManualClock],
) -> None:
    server, clock = shop
    admin = await server.admin_token()
    status, body = await server.request("POST", "/api/agents", token=admin, json={
        "name": "Sam", "email": "sam@example.com", "password": "correct horse battery", "departments": ["sales"]})
    assert status == 201 and body["agent"]["departments"] == ["sales"]
    status, body = await server.request("POST", "/api/agents", token=admin, json={
        "name": "X", "email": "x@example.com", "password": "correct horse battery", "departments": ["nope"]})
    assert status == 400 and body["error"]["code"] == "invalid_payload"
    sales = await agent(server, await server.login("sam@example.com"))

    _, billing_cid = await _start(server, 1, department="billing")
    _, sales_cid = await _start(server, 2, department="sales")
    got = await sales.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    assert got["conversation"]["id"] == sales_cid, "the sales agent skips billing's chat"
    await server.chats.tasks.idle()
    assert await server.routing.position(billing_cid) == 1

    clock.advance(121)  # billing's chat has waited past the fallback: any agent may take it
    await server.chats.dispatcher.dispatch()
    got = await sales.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == billing_cid)
    assert got["conversation"]["status"] == "assigned"

    shopper = await visitor(server)
    reply = await shopper.call("chat:start", prechat(3, department="legal"))
    assert reply["error"]["code"] == "invalid_payload"


async def test_transfer_to_another_agent_keeps_the_conversation_and_its_history(
    shop: tuple[LiveServer, ManualClock],
) -> None:
    server, _ = shop
    first_login = await server.add_agent("First", capacity=1)
    first = await agent(server, first_login)
    shopper, cid = await _start(server, 1)
    await first.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    await first.call("conversation:join", {"conversation_id": cid})
    await first.call("message:send", {"conversation_id": cid, "client_msg_id": "f1", "body": "Let me get billing"})
    second_login = await server.add_agent("Second", capacity=1)
    second = await agent(server, second_login)
    await second.call("presence:set", {"status": "away"})  # reachable, but takes nothing from the queue

    # Bad transfers change nothing.
    for payload, code in [({"conversation_id": cid}, "invalid_payload"),
                          ({"conversation_id": cid, "to_agent_id": "nobody"}, "not_found"),
                          ({"conversation_id": cid, "to_department": "legal"}, "invalid_payload"),
                          ({"conversation_id": cid, "to_agent_id": second_login["agent"]["id"],
                            "to_department": "sales"}, "invalid_payload")]:
        assert (await first.call("conversation:transfer", payload))["error"]["code"] == code
    assert (await second.call("conversation:transfer", {"conversation_id": cid, "to_agent_id": "x"}))["error"][
        "code"] == "forbidden"

    moved = await first.call("conversation:transfer", {"conversation_id": cid,
                                                       "to_agent_id": second_login["agent"]["id"]})
    assert moved["ok"] and moved["conversation"]["agent_id"] == second_login["agent"]["id"]
    got = await second.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == cid)
    assert got["conversation"]["agent"] == {"name": "Second"}
    await second.call("conversation:join", {"conversation_id": cid})
    bodies = [m["body"] for m in second.messages(cid)]
    assert bodies[-2:] == ["Let me get billing", "transferred"] and bodies[0] == "chat_started"
    note = await shopper.wait_for("message:new", lambda m: m["body"] == "transferred")
    assert note["meta"] == {"from_agent_name": "First", "agent_name": "Second"}
    left = await first.wait_for("conversation:updated", lambda d: d["conversation"]["agent_id"] != first_login[
        "agent"]["id"])
    assert left["conversation"]["id"] == cid
    assert (await first.call("message:send", {"conversation_id": cid, "client_msg_id": "f2", "body": "x"}))[
        "error"]["code"] == "forbidden"
    assert [await server.routing.load(x["agent"]["id"]) for x in (first_login, second_login)] == [0, 1]
    # The receiver is full now: a transfer back from elsewhere is refused.
    third_login = await server.add_agent("Third", capacity=1)
    third = await agent(server, third_login)
    await first.call("presence:set", {"status": "away"})
    _, other = await _start(server, 2)
    await third.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == other)
    full = await third.call("conversation:transfer", {"conversation_id": other,
                                                      "to_agent_id": second_login["agent"]["id"]})
    assert full["error"]["code"] == "at_capacity"


async def test_transfer_to_a_department_puts_the_chat_at_the_head_of_the_queue(
    shop: tuple[LiveServer, ManualClock],
) -> None:
    server, _ = shop
    login = await server.add_agent("Gen", capacity=1)
    console = await agent(server, login)
    shopper, cid = await _start(server, 1)
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    _, waiting = await _start(server, 2)
    await console.call("presence:set", {"status": "away"})
    moved = await console.call("conversation:transfer", {"conversation_id": cid, "to_department": "billing"})
    assert moved["ok"] and moved["conversation"]["status"] == "queued"
    assert moved["conversation"]["prechat"]["department"] == "billing"
    assert await server.routing.position(cid) == 1 and await server.routing.position(waiting) == 2
    await shopper.wait_for("queue:position", lambda d: d["conversation_id"] == cid and d["position"] == 1)
    assert await server.routing.load(login["agent"]["id"]) == 0


async def test_waiting_visitors_get_an_estimate_once_agents_have_been_serving(
    shop: tuple[LiveServer, ManualClock],
) -> None:
    server, clock = shop
    login = await server.add_agent(capacity=1)
    console = await agent(server, login)
    shoppers = [await _start(server, n) for n in range(4)]
    for shopper, cid in shoppers[:2]:
        await console.wait_for("conversation:updated", lambda d, c=cid: d["conversation"]["id"] == c
                               and d["conversation"]["status"] == "assigned")
        clock.advance(30)  # the agent spends 30 s per chat
        await shopper.call("conversation:close", {"conversation_id": cid})
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == shoppers[2][1]
                           and d["conversation"]["status"] == "assigned")
    waiting_shopper, waiting_cid = shoppers[3]
    state = await waiting_shopper.call("session:resume")
    assert state["queue"]["position"] == 1
    # Three assignments 30 s apart: about 30 s for the first in line.
    assert state["queue"]["estimated_wait_s"] == pytest.approx(30.0, abs=0.5)
    update = await waiting_shopper.wait_for("queue:position", lambda d: d["estimated_wait_s"] is not None)
    assert update["conversation_id"] == waiting_cid and update["estimated_wait_s"] > 0


async def test_the_estimate_comes_from_how_fast_waiting_chats_were_served_not_from_quiet_spells(
    shop: tuple[LiveServer, ManualClock],
) -> None:
    server, clock = shop
    login = await server.add_agent(capacity=1)
    console = await agent(server, login)
    # A quiet shop: a shopper every ten minutes, each served at once and done before the next.
    for n in range(3):
        shopper, cid = await _start(server, n)
        await console.wait_for("conversation:updated", lambda d, c=cid: d["conversation"]["id"] == c
                               and d["conversation"]["status"] == "assigned")
        await shopper.call("conversation:close", {"conversation_id": cid})
        clock.advance(600)
    # Now a queue forms behind a busy agent. Ten minutes between assignments says nothing of
    # how long a place in the queue takes: no estimate rather than a wrong one.
    busy, busy_cid = await _start(server, 10)
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == busy_cid
                           and d["conversation"]["status"] == "assigned")
    queued = [await _start(server, 11 + n) for n in range(2)]
    state = await queued[0][0].call("session:resume")
    assert state["queue"]["position"] == 1 and state["queue"]["estimated_wait_s"] is None
    # The agent frees up after 20 s; the first in line, who waited those 20 s, is served.
    clock.advance(20)
    await busy.call("conversation:close", {"conversation_id": busy_cid})
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == queued[0][1]
                           and d["conversation"]["status"] == "assigned")
    state = await queued[1][0].call("session:resume")
    assert state["queue"]["position"] == 1
    assert state["queue"]["estimated_wait_s"] == pytest.approx(20.0, abs=0.5)


async def test_the_estimate_after_a_restart_is_the_estimate_before(
    tmp_path: Path, backend_settings: dict[str, str], request: pytest.FixtureRequest,
) -> None:
    clock = ManualClock()
    settings = make_settings(tmp_path, **backend_settings)
    server = LiveServer(settings, clock=clock)
    await server.start()
    try:
        login = await server.add_agent(capacity=1)
        console = await agent(server, login)
        shoppers = [await _start(server, n) for n in range(5)]
        # The agent takes 30 s, then 20 s, then 40 s per chat: a pace the estimate goes by.
        for (shopper, cid), spent in zip(shoppers[:3], (30, 20, 40), strict=True):
            await console.wait_for("conversation:updated", lambda d, c=cid: d["conversation"]["id"] == c
                                   and d["conversation"]["status"] == "assigned")
            clock.advance(spent)
            await shopper.call("conversation:close", {"conversation_id": cid})
        await console.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == shoppers[3][1]
                               and d["conversation"]["status"] == "assigned")
        waiting_shopper, _ = shoppers[4]
        before = (await waiting_shopper.call("session:resume"))["queue"]
        assert before["position"] == 1 and before["estimated_wait_s"] is not None

        await server.stop()
        if settings.redis_url is not None:
            request.getfixturevalue("redis_server").flush()  # Redis lost its data as well
        await server.start()  # same port, same data directory

        await agent(server, login)  # the agent back online: estimates need someone to serve
        again = await visitor(server, waiting_shopper.token)
        after = (await again.call("session:resume"))["queue"]
        assert after == before
        if settings.redis_url is not None:
            # Another process on the same Redis and database restores the same history: each
            # assignment still counts once, here and there.
            other = LiveServer(settings, clock=clock)
            await other.start()
            try:
                elsewhere = await visitor(other, waiting_shopper.token)
                assert (await elsewhere.call("session:resume"))["queue"] == before
                assert (await again.call("session:resume"))["queue"] == before
            finally:
                await other.close()
    finally:
        await server.close()
