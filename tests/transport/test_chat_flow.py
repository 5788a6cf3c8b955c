"""A full chat over real Socket.IO connections, from pre-chat form to stored transcript."""

from __future__ import annotations

import pytest

from ..support import LiveServer, agent, prechat, visitor

pytestmark = pytest.mark.both_backends  # routing, presence or delivery: tests/conftest.py


async def test_full_chat_from_start_to_transcript(server: LiveServer) -> None:
    alice = await server.add_agent("Alice")
    console = await agent(server, alice)
    resumed = await console.call("session:resume")
    assert resumed["ok"] and resumed["agent"]["name"] == "Alice" and resumed["status"] == "online"

    shopper = await visitor(server)
    assert (await shopper.call("session:resume"))["agents_available"] is True
    started = await shopper.call("chat:start", prechat(1, email="s1@example.com", order_number="A-1001",
                                                      page_url="https://shop.example/checkout",
                                                      page_title="Payment", checkout=True, cart_value=59.9))
    assert started["ok"] and started["created"]
    cid = started["conversation"]["id"]
    assert "visitor_id" not in started["conversation"], "visitors never see internal ids"

    # Routed to the only online agent; both sides hear about it.
    assigned = await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    assert assigned["conversation"]["id"] == cid and assigned["conversation"]["agent_id"] == alice["agent"]["id"]
    seen_by_visitor = await shopper.wait_for("conversation:updated",
                                             lambda d: d["conversation"]["status"] == "assigned")
    assert seen_by_visitor["conversation"]["agent"] == {"name": "Alice", "avatar_url": None}

    # The visitor's stream: chat started, the question, the agent joining.
    joined = await shopper.wait_for_seq(cid, 3)
    assert joined["kind"] == "system" and joined["body"] == "agent_joined" and joined["meta"]["agent_name"] == "Alice"
    assert [m["seq"] for m in shopper.messages(cid)] == [1, 2, 3]
    assert shopper.messages(cid)[1]["body"] == "Where is my order 1?"

    # The agent joins and gets the whole history.
    join = await console.call("conversation:join", {"conversation_id": cid, "after_seq": 0})
    assert join["ok"] and join["last_seq"] == 3
    assert [m["seq"] for m in console.messages(cid)] == [1, 2, 3]

    # Messages both ways, acknowledged with their sequence numbers.
    ack = await console.call("message:send", {"conversation_id": cid, "client_msg_id": "a-1", "body": "Hello!"})
    assert ack == {"ok": True, "seq": 4, "created_at": ack["created_at"], "duplicate": False}
    got = await shopper.wait_for_seq(cid, 4)
    assert got["body"] == "Hello!" and got["sender"] == {"kind": "agent", "name": "Alice"}
    ack = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "v-1", "body": "Hi"})
    assert ack["seq"] == 5
    assert (await console.wait_for_seq(cid, 5))["sender"]["kind"] == "visitor"
    # The sender is not sent its own message again: its ack carried the sequence number.
    assert [m["seq"] for m in console.messages(cid)] == [1, 2, 3, 5]

    # Typing indicators reach the other side only and are not stored.
    assert (await shopper.call("typing:update", {"conversation_id": cid, "typing": True}))["ok"]
    typing = await console.wait_for("typing:updated")
    assert typing == {"conversation_id": cid, "party": "visitor", "typing": True}
    assert "typing:updated" not in shopper.events

    # Read receipts: seen up to N.
    read = await console.call("message:read", {"conversation_id": cid, "seq": 5})
    assert read == {"ok": True, "seq": 5}
    receipt = await shopper.wait_for("message:read", lambda d: d["party"] == "agent")
    assert receipt["seq"] == 5

    # The visitor ends the chat; both are told; the agent's capacity is freed.
    closed = await shopper.call("conversation:close", {"conversation_id": cid})
    assert closed["ok"] and closed["conversation"]["status"] == "closed"
    update = await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "closed")
    assert update["conversation"]["closed_by"] == "visitor"
    end = await console.wait_for_seq(cid, 6)
    assert end["body"] == "closed" and end["meta"] == {"by": "visitor"}
    assert await server.routing.load(alice["agent"]["id"]) == 0
    refused = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "v-2", "body": "late"})
    assert refused["error"]["code"] == "conversation_closed"

    # The transcript: all messages with sender, time and sequence, pre-chat fields, assignment history.
    status, transcript = await server.request("GET", f"/api/conversations/{cid}", token=alice["token"])
    assert status == 200
    assert transcript["conversation"]["prechat"] == {
        "name": "Shopper 1", "email": "s1@example.com", "question": "Where is my order 1?",
        "order_number": "A-1001", "page_url": "https://shop.example/checkout", "page_title": "Payment",
        "checkout": True, "cart_value": 59.9, "department": None}
    assert [(m["seq"], m["sender"]["kind"], m["body"]) for m in transcript["messages"]] == [
        (1, "system", "chat_started"), (2, "visitor", "Where is my order 1?"), (3, "system", "agent_joined"),
        (4, "agent", "Hello!"), (5, "visitor", "Hi"), (6, "system", "closed")]
    assert all(isinstance(m["created_at"], float) for m in transcript["messages"])
    assert [(a["event"], a["agent_id"]) for a in transcript["assignments"]] == [
        ("assigned", alice["agent"]["id"]), ("closed", alice["agent"]["id"])]

    assert transcript["rating"] is None

    # After the chat the visitor rates it; the rating is stored on the conversation.
    rated = await shopper.call("conversation:rate", {"conversation_id": cid, "rating": 5, "comment": "Quick!"})
    assert rated["ok"] and rated["rating"]["rating"] == 5
    _, transcript = await server.request("GET", f"/api/conversations/{cid}", token=alice["token"])
    assert transcript["rating"]["rating"] == 5 and transcript["rating"]["comment"] == "Quick!"


async def test_resending_a_message_never_duplicates_it(server: LiveServer) -> None:
    login = await server.add_agent()
    console = await agent(server, login)
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat()))["conversation"]["id"]
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    await console.call("conversation:join", {"conversation_id": cid})
    payload = {"conversation_id": cid, "client_msg_id": "same-id", "body": "only once"}
    first = await shopper.call("message:send", payload)
    second = await shopper.call("message:send", payload)
    assert first["duplicate"] is False and second["duplicate"] is True and first["seq"] == second["seq"]
    await console.wait_for_seq(cid, first["seq"])
    third = await shopper.call("message:send", {**payload, "client_msg_id": "other-id"})
    await console.wait_for_seq(cid, third["seq"])
    bodies = [m["body"] for m in console.messages(cid) if m["kind"] == "text"]
    assert bodies.count("only once") == 2  # the first send and the one with another client id
    status, transcript = await server.request("GET", f"/api/conversations/{cid}", token=login["token"])
    assert status == 200
    assert [m["client_msg_id"] for m in transcript["messages"]].count("same-id") == 1


async def test_starting_twice_returns_the_same_conversation(server: LiveServer) -> None:
    shopper = await visitor(server)
    first = await shopper.call("chat:start", prechat())
    second = await shopper.call("chat:start", prechat(question="another question"))
    assert first["created"] and not second["created"]
    assert first["conversation"]["id"] == second["conversation"]["id"]


async def test_rating_is_refused_before_the_end_and_with_bad_values(server: LiveServer) -> None:
    shopper = await visitor(server)
    assert (await shopper.call("session:resume"))["agents_available"] is False
    cid = (await shopper.call("chat:start", prechat()))["conversation"]["id"]
    early = await shopper.call("conversation:rate", {"conversation_id": cid, "rating": 4})
    assert early["error"]["code"] == "conversation_not_closed"
    await shopper.call("conversation:close", {"conversation_id": cid})
    for bad in [{"rating": 0}, {"rating": 6}, {"rating": "5"}, {"rating": 3, "comment": "x" * 1001}]:
        reply = await shopper.call("conversation:rate", {"conversation_id": cid, **bad})
        assert reply["error"]["code"] == "invalid_payload", bad
    stranger = await visitor(server)
    reply = await stranger.call("conversation:rate", {"conversation_id": cid, "rating": 1})
    assert reply["error"]["code"] == "not_found"
    _, transcript = await server.request("GET", f"/api/conversations/{cid}", token=await server.admin_token())
    assert transcript["rating"] is None


async def test_a_console_serving_chat_after_chat_keeps_no_subscription_to_the_ended_ones(server: LiveServer) -> None:
    """An agent's console stays connected all day: each chat it served used to stay subscribed
    (memory growing with every chat). A chat's subscriptions go once its closing message is out,
    and both parties still get that message."""
    login = await server.add_agent(capacity=1)
    console = await agent(server, login)
    delivery = server.parts.transport.hub.delivery
    console_sid = console.sio.get_sid(namespace="/agent")
    for n, closer in enumerate(["visitor", "agent", "visitor"], start=1):
        shopper = await visitor(server)
        cid = (await shopper.call("chat:start", prechat(n)))["conversation"]["id"]
        await console.wait_for("conversation:updated", lambda d, c=cid: d["conversation"]["id"] == c
                               and d["conversation"]["status"] == "assigned")
        assert (await console.call("conversation:join", {"conversation_id": cid}))["ok"]
        assert cid in delivery.subscribed(console_sid)
        assert (await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "m", "body": "hi"}))["ok"]
        ender = shopper if closer == "visitor" else console
        assert (await ender.call("conversation:close", {"conversation_id": cid}))["ok"]
        for party in (console, shopper):
            end = await party.wait_for("message:new", lambda d, c=cid: d["conversation_id"] == c
                                       and d["kind"] == "system" and d["body"] == "closed")
            assert end["meta"] == {"by": closer}
        assert delivery.subscribed(console_sid) == set()
        await shopper.disconnect()
    # Opening an ended chat again replays it and subscribes to nothing.
    before = len([m for m in console.events["message:new"] if m["conversation_id"] == cid])
    joined = await console.call("conversation:join", {"conversation_id": cid})
    assert joined["ok"] and joined["conversation"]["status"] == "closed" and joined["last_seq"] == 5
    replayed = [m for m in console.events["message:new"] if m["conversation_id"] == cid][before:]
    assert [m["seq"] for m in replayed] == [1, 2, 3, 4, 5]
    assert delivery.subscribed(console_sid) == set()
