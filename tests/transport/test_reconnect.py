"""Reconnects: a visitor away mid-conversation, an agent dropping within and past the grace
period, and a server restart. Nothing lost, nothing duplicated, order kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatserver.domain.clock import ManualClock

from ..support import Client, LiveServer, agent, make_settings, prechat, visitor

pytestmark = pytest.mark.both_backends  # routing, presence or delivery: tests/conftest.py


async def _assigned_chat(server: LiveServer, login: dict[str, object], n: int = 1) -> tuple[Client, Client, str]:
    console = await agent(server, login)
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat(n)))["conversation"]["id"]
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == cid
                           and d["conversation"]["status"] == "assigned")
    await console.call("conversation:join", {"conversation_id": cid})
    return console, shopper, cid


async def test_visitor_reconnecting_gets_what_was_sent_while_away_once_and_in_order(server: LiveServer) -> None:
    login = await server.add_agent()
    console, shopper, cid = await _assigned_chat(server, login)
    mine = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "v1", "body": "before"})
    # What the visitor has seen: the stream (1-3) and its own message, known from the ack.
    last_seen = mine["seq"]
    assert [m["seq"] for m in shopper.messages(cid)] == list(range(1, last_seen))
    token = shopper.token
    await shopper.disconnect()

    sent = []
    for i in range(5):
        ack = await console.call("message:send", {"conversation_id": cid, "client_msg_id": f"a{i}", "body": f"m{i}"})
        sent.append(ack["seq"])

    back = await visitor(server, token)
    resumed = await back.call("session:resume")
    assert resumed["conversation"]["id"] == cid and resumed["conversation"]["last_seq"] == sent[-1]
    # Agents race the replay with new messages: they must still arrive once each, in order.
    racing = asyncio.gather(*(
        console.call("message:send", {"conversation_id": cid, "client_msg_id": f"b{i}", "body": f"n{i}"})
        for i in range(5)))
    join = await back.call("conversation:join", {"conversation_id": cid, "after_seq": last_seen})
    acks = await racing
    assert join["ok"]
    final = max(a["seq"] for a in acks)
    await back.wait_for_seq(cid, final)
    seqs = [m["seq"] for m in back.messages(cid)]
    assert seqs == list(range(last_seen + 1, final + 1))
    assert [m["body"] for m in back.messages(cid)][:5] == [f"m{i}" for i in range(5)]

    # The visitor resends a message whose ack it never saw: stored once.
    dup = await back.call("message:send", {"conversation_id": cid, "client_msg_id": "v1", "body": "before"})
    assert dup["duplicate"] and dup["seq"] == mine["seq"]


async def test_a_second_tab_of_the_same_visitor_sees_the_same_conversation(server: LiveServer) -> None:
    login = await server.add_agent()
    _console, shopper, cid = await _assigned_chat(server, login)
    tab = await visitor(server, shopper.token)
    await tab.call("conversation:join", {"conversation_id": cid, "after_seq": 0})
    ack = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "x", "body": "from tab 1"})
    got = await tab.wait_for_seq(cid, ack["seq"])
    assert got["body"] == "from tab 1"
    assert [m["seq"] for m in tab.messages(cid)] == list(range(1, ack["seq"] + 1))


async def test_an_away_agent_who_reconnects_is_not_handed_the_chat_that_waits(server: LiveServer) -> None:
    login = await server.add_agent("Alice")
    console = await agent(server, login)
    assert (await console.call("presence:set", {"status": "away"}))["status"] == "away"
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat(1)))["conversation"]["id"]
    await console.disconnect()  # a network blip: the console connects again, saying it is away
    back = await agent(server, login, status="away")
    await server.chats.tasks.idle()  # the routing the reconnect started has run
    resumed = await back.call("session:resume")
    assert resumed["status"] == "away" and resumed["conversations"] == []
    assert [e["id"] for e in resumed["queue"]["entries"]] == [cid]
    assert not [u for u in back.events["conversation:updated"] if u["conversation"]["id"] == cid]
    # A second tab that asks for online does not change the agent's choice.
    second = await agent(server, login, status="online")
    await server.chats.tasks.idle()
    assert (await second.call("session:resume"))["status"] == "away"
    # Online again, by choice: the chat is theirs.
    assert (await back.call("presence:set", {"status": "online"}))["status"] == "online"
    assigned = await back.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == cid)
    assert assigned["conversation"]["status"] == "assigned"


async def test_an_agent_connecting_without_a_status_is_online(server: LiveServer) -> None:
    login = await server.add_agent()
    console = await agent(server, login)
    assert (await console.call("session:resume"))["status"] == "online"


@pytest.fixture
async def manual_server(tmp_path: Path,
                        backend_settings: dict[str, str]) -> AsyncIterator[tuple[LiveServer, ManualClock]]:
    clock = ManualClock()
    live = LiveServer(make_settings(tmp_path, grace_period=60.0, **backend_settings), clock=clock)
    await live.start()
    try:
        yield live, clock
    finally:
        await live.close()


async def test_agent_back_within_the_grace_period_keeps_their_chats(
    manual_server: tuple[LiveServer, ManualClock],
) -> None:
    server, clock = manual_server
    login = await server.add_agent()
    console, shopper, cid = await _assigned_chat(server, login)
    await console.disconnect()
    offline = await shopper.wait_for("peer:presence", lambda d: d["online"] is False)
    assert offline == {"conversation_id": cid, "party": "agent", "online": False}

    clock.advance(59)
    back = await agent(server, login)
    assert (await shopper.wait_for("peer:presence", lambda d: d["online"] is True))["party"] == "agent"
    clock.advance(120)
    await server.chats.tasks.idle()
    resumed = await back.call("session:resume")
    assert [c["id"] for c in resumed["conversations"]] == [cid]
    join = await back.call("conversation:join", {"conversation_id": cid, "after_seq": 3})
    assert join["conversation"]["status"] == "assigned" and back.messages(cid) == []
    ack = await back.call("message:send", {"conversation_id": cid, "client_msg_id": "k", "body": "still here"})
    assert (await shopper.wait_for_seq(cid, ack["seq"]))["body"] == "still here"


async def test_agent_gone_past_the_grace_period_loses_chats_to_the_head_of_the_queue(
    manual_server: tuple[LiveServer, ManualClock],
) -> None:
    server, clock = manual_server
    leaver_login = await server.add_agent("Leaver", capacity=1)
    console, shopper, cid = await _assigned_chat(server, leaver_login)
    # Another visitor waits behind: the requeued chat must go ahead of them.
    other = await visitor(server)
    other_cid = (await other.call("chat:start", prechat(2)))["conversation"]["id"]
    await console.disconnect()
    await shopper.wait_for("peer:presence", lambda d: d["online"] is False)  # the server saw it
    clock.advance(60.5)

    update = await shopper.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "queued")
    assert update["conversation"]["agent"] is None
    notice = await shopper.wait_for("message:new", lambda m: m["body"] == "requeued")
    assert notice["kind"] == "system" and notice["meta"] == {"reason": "agent_disconnected"}
    assert await server.routing.position(cid) == 1
    assert await server.routing.position(other_cid) == 2
    assert (await shopper.wait_for("queue:position", lambda d: d["conversation_id"] == cid))["position"] == 1

    # The next agent gets the requeued chat first, with its whole history.
    helper_login = await server.add_agent("Helper", capacity=1)
    helper = await agent(server, helper_login)
    got = await helper.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    assert got["conversation"]["id"] == cid
    await helper.call("conversation:join", {"conversation_id": cid})
    bodies = [m["body"] for m in helper.messages(cid)]
    assert bodies == ["chat_started", "Where is my order 1?", "agent_joined", "requeued", "agent_joined"]
    # The agent who left cannot act on the chat any more.
    status, body = await server.request("GET", f"/api/conversations/{cid}", token=leaver_login["token"])
    assert status == 200 and [a["event"] for a in body["assignments"]] == ["assigned", "released", "assigned"]


async def test_server_restart_keeps_agents_conversations_transcripts_and_queue_order(
    tmp_path: Path, backend_settings: dict[str, str],
) -> None:
    server = LiveServer(make_settings(tmp_path, grace_period=60.0, **backend_settings))
    await server.start()
    try:
        login = await server.add_agent(capacity=1)
        console, _shopper, cid = await _assigned_chat(server, login)
        await console.call("message:send", {"conversation_id": cid, "client_msg_id": "a", "body": "before restart"})
        waiting = []
        for n in range(2, 5):
            client = await visitor(server)
            waiting.append((client, (await client.call("chat:start", prechat(n)))["conversation"]["id"]))

        await server.stop()
        await server.start()  # same port, same data directory

        # Tokens still verify (the secret is kept), the agent keeps the chat, history is intact.
        console2 = await agent(server, login)
        resumed = await console2.call("session:resume")
        assert [c["id"] for c in resumed["conversations"]] == [cid]
        assert [e["id"] for e in resumed["queue"]["entries"]] == [c for _, c in waiting]
        await console2.call("conversation:join", {"conversation_id": cid})
        assert [m["body"] for m in console2.messages(cid)][-1] == "before restart"

        # Queued visitors reconnect and find their old places.
        for position, (client, waiting_cid) in enumerate(waiting, start=1):
            again = await visitor(server, client.token)
            state = await again.call("session:resume")
            assert state["conversation"]["id"] == waiting_cid
            assert state["queue"]["position"] == position
    finally:
        await server.close()
