"""The console's events over real Socket.IO connections: internal notes the visitor never receives,
and ending a chat with tags and a resolution note (what reaches other connections on both backends)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ..storage.support import query, server_database
from ..support import Client, LiveServer, agent, prechat, visitor


async def _assigned_chat(server: LiveServer, name: str = "Alice") -> tuple[dict[str, Any], Client, Client, str]:
    login = await server.add_agent(name)
    console = await agent(server, login)
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat()))["conversation"]["id"]
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    assert (await console.call("conversation:join", {"conversation_id": cid}))["ok"]
    return login, console, shopper, cid


async def _stored_wrap_up(server: LiveServer, conversation_id: str) -> tuple[str, str | None]:
    rows = await query(server_database(server),
                       f"SELECT tags, resolution_note FROM conversations WHERE id = '{conversation_id}'")
    return rows[0][0], rows[0][1]


def _mentions(events: dict[str, list[Any]], text: str) -> list[str]:
    return [name for name, items in events.items() if any(text in json.dumps(item) for item in items)]


@pytest.mark.both_backends
async def test_notes_reach_agents_and_never_the_visitor(server: LiveServer) -> None:
    login, console, shopper, cid = await _assigned_chat(server)
    second_tab = await agent(server, login)
    secret = "Internal: customer was rude last time"
    added = await console.call("note:add", {"conversation_id": cid, "client_note_id": "n-1", "body": secret})
    assert added["ok"] and not added["duplicate"]
    note = added["note"]
    assert note["body"] == secret and note["agent"] == {"id": login["agent"]["id"], "name": "Alice"}
    # Every console of the agent hears of it.
    assert (await second_tab.wait_for("note:new"))["note"] == note
    # A resend with the same client id stores nothing new.
    again = await console.call("note:add", {"conversation_id": cid, "client_note_id": "n-1", "body": secret})
    assert again["duplicate"] and again["note"]["id"] == note["id"]

    # A message sent after the note reaches the visitor; the note never did, live or replayed.
    sent = await console.call("message:send", {"conversation_id": cid, "client_msg_id": "a-1", "body": "Hello"})
    await shopper.wait_for_seq(cid, sent["seq"])
    assert [m["seq"] for m in shopper.messages(cid)] == list(range(1, sent["seq"] + 1))
    rejoined = await visitor(server, shopper.token)
    joined = await rejoined.call("conversation:join", {"conversation_id": cid, "after_seq": 0})
    assert joined["last_seq"] == sent["seq"]
    await rejoined.wait_for_seq(cid, sent["seq"])
    for client in (shopper, rejoined):
        assert _mentions(client.events, secret) == []
    assert (await shopper.call("note:list", {"conversation_id": cid}))["error"]["code"] == "unknown_event"
    assert (await shopper.call("note:add", {"conversation_id": cid, "body": "x"}))["error"]["code"] == "unknown_event"

    # Agents read them back, and the REST transcript carries them next to the messages.
    listed = await console.call("note:list", {"conversation_id": cid})
    assert listed == {"ok": True, "notes": [note]}
    status, transcript = await server.request("GET", f"/api/conversations/{cid}", token=login["token"])
    assert status == 200 and transcript["notes"] == [note]
    assert secret not in json.dumps(transcript["messages"])


@pytest.mark.both_backends
async def test_notes_follow_a_transfer_and_stay_with_the_agents_of_the_chat(server: LiveServer) -> None:
    alice, console, _shopper, cid = await _assigned_chat(server)
    assert (await console.call("note:add", {"conversation_id": cid, "body": "Wants a refund"}))["ok"]
    bob = await server.add_agent("Bob")
    bob_console = await agent(server, bob)
    outsider = await agent(server, await server.add_agent("Carol"))
    for event, payload in [("note:add", {"conversation_id": cid, "body": "sneaky"}),
                           ("note:list", {"conversation_id": cid})]:
        assert (await outsider.call(event, payload))["error"]["code"] == "forbidden"
    moved = await console.call("conversation:transfer", {"conversation_id": cid, "to_agent_id": bob["agent"]["id"]})
    assert moved["ok"], moved
    notes = (await bob_console.call("note:list", {"conversation_id": cid}))["notes"]
    assert [(n["agent"]["name"], n["body"]) for n in notes] == [("Alice", "Wants a refund")]
    # Alice no longer holds the chat.
    assert (await console.call("note:add", {"conversation_id": cid, "body": "late"}))["error"]["code"] == "forbidden"
    _, transcript = await server.request("GET", f"/api/conversations/{cid}", token=alice["token"])
    assert [n["body"] for n in transcript["notes"]] == ["Wants a refund"]


async def test_bad_notes_are_refused_and_change_nothing(server: LiveServer) -> None:
    _login, console, _shopper, cid = await _assigned_chat(server)
    for payload, code in [
        ({"conversation_id": cid, "body": ""}, "invalid_payload"),
        ({"conversation_id": cid}, "invalid_payload"),
        ({"conversation_id": cid, "body": "x", "visible": True}, "invalid_payload"),
        ({"conversation_id": cid, "body": "x" * 4001}, "message_too_long"),
        ({"conversation_id": "no-such-chat", "body": "x"}, "not_found"),
    ]:
        reply = await console.call("note:add", payload)
        assert reply["error"]["code"] == code, (payload, reply)
    assert (await console.call("note:list", {"conversation_id": cid}))["notes"] == []


async def test_bad_note_lists_are_refused_and_change_nothing(server: LiveServer) -> None:
    login, console, _shopper, cid = await _assigned_chat(server)
    note = (await console.call("note:add", {"conversation_id": cid, "body": "Wants a refund"}))["note"]
    for payload, code in [
        (None, "invalid_payload"),  # no payload: conversation_id is missing
        ({}, "invalid_payload"),
        ({"body": "x"}, "invalid_payload"),
        ("text", "invalid_payload"),
        ([cid], "invalid_payload"),
        ({"conversation_id": 5}, "invalid_payload"),
        ({"conversation_id": None}, "invalid_payload"),
        ({"conversation_id": [cid]}, "invalid_payload"),
        ({"conversation_id": {"id": cid}}, "invalid_payload"),
        ({"conversation_id": ""}, "invalid_payload"),
        ({"conversation_id": "x" * 65}, "invalid_payload"),
        ({"conversation_id": "x" * 200_000}, "invalid_payload"),
        ({"conversation_id": "not an id!"}, "invalid_payload"),
        ({"conversation_id": "\ud83d"}, "invalid_payload"),
        ({"conversation_id": cid, "after": 0}, "invalid_payload"),
        ({"conversation_id": cid, "agent_id": "someone-else"}, "invalid_payload"),
        ({"conversation_id": "no-such-chat"}, "not_found"),
    ]:
        reply = await console.call("note:list", payload)
        assert set(reply) == {"error"} and reply["error"]["code"] == code, (str(payload)[:80], reply)
    assert await console.call("note:list", {"conversation_id": cid}) == {"ok": True, "notes": [note]}
    _, transcript = await server.request("GET", f"/api/conversations/{cid}", token=login["token"])
    assert transcript["notes"] == [note]


@pytest.mark.both_backends
async def test_ending_a_chat_stores_tags_and_resolution_note(server: LiveServer) -> None:
    login, console, shopper, cid = await _assigned_chat(server)
    ended = await console.call("conversation:end", {"conversation_id": cid, "tags": ["Refund", " shipping ", "refund"],
                                                    "resolution_note": "  Refunded order A-1001  "})
    assert ended["ok"], ended
    assert ended["conversation"]["status"] == "closed" and ended["conversation"]["closed_by"] == "agent"
    assert (ended["tags"], ended["resolution_note"]) == (["refund", "shipping"], "Refunded order A-1001")
    closed = await shopper.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "closed")
    assert "tags" not in closed["conversation"] and "resolution_note" not in json.dumps(shopper.events)
    _, transcript = await server.request("GET", f"/api/conversations/{cid}", token=login["token"])
    assert (transcript["tags"], transcript["resolution_note"]) == (["refund", "shipping"], "Refunded order A-1001")
    # Stored as a JSON array in the conversations table's tags column (other features filter on it).
    assert await _stored_wrap_up(server, cid) == ('["refund", "shipping"]', "Refunded order A-1001")
    # The wrap-up of an ended chat can be completed afterwards.
    again = await console.call("conversation:end", {"conversation_id": cid, "tags": ["refund"]})
    assert again["ok"] and again["tags"] == ["refund"] and again["resolution_note"] is None


@pytest.mark.both_backends
async def test_the_visitor_leaving_first_still_lets_the_agent_wrap_up(server: LiveServer) -> None:
    _login, console, shopper, cid = await _assigned_chat(server)
    assert (await shopper.call("conversation:close", {"conversation_id": cid}))["ok"]
    ended = await console.call("conversation:end", {"conversation_id": cid, "tags": ["no-answer-needed"]})
    assert ended["ok"] and ended["conversation"]["closed_by"] == "visitor" and ended["tags"] == ["no-answer-needed"]


async def test_bad_wrap_ups_are_refused_and_change_nothing(server: LiveServer) -> None:
    login, console, _shopper, cid = await _assigned_chat(server)
    outsider = await agent(server, await server.add_agent("Dan"))
    for client, payload, code in [
        (console, {"conversation_id": cid, "tags": ["<script>"]}, "invalid_payload"),
        (console, {"conversation_id": cid, "tags": [f"t{n}" for n in range(11)]}, "invalid_payload"),
        (console, {"conversation_id": cid, "tags": "refund"}, "invalid_payload"),
        (console, {"conversation_id": cid, "resolution_note": "x" * 2001}, "invalid_payload"),
        (outsider, {"conversation_id": cid, "tags": ["refund"]}, "forbidden"),
    ]:
        reply = await client.call("conversation:end", payload)
        assert reply["error"]["code"] == code, (payload, reply)
    _, transcript = await server.request("GET", f"/api/conversations/{cid}", token=login["token"])
    assert transcript["conversation"]["status"] == "assigned"
    assert (transcript["tags"], transcript["resolution_note"]) == ([], None)
