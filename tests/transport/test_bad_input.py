"""Every kind of bad input gets a structured error and changes nothing stored."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
import socketio

from chatserver.transport.dispatch import Events

from ..support import Client, LiveServer, agent, make_settings, prechat, visitor


async def _chat(server: LiveServer) -> tuple[Client, Client, str, dict[str, Any]]:
    login = await server.add_agent()
    console = await agent(server, login)
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat()))["conversation"]["id"]
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    await console.call("conversation:join", {"conversation_id": cid})
    return console, shopper, cid, login


async def _stored(server: LiveServer, cid: str) -> list[tuple[int, str]]:
    transcript = await server.parts.stores.conversations.transcript(cid)
    assert transcript is not None
    return [(m.seq, m.body) for m in transcript.messages]


def _code(reply: Any) -> str:
    assert isinstance(reply, dict) and set(reply) == {"error"}, reply
    assert reply["error"]["message"]
    return str(reply["error"]["code"])


# Schema errors are tested case by case without a server (test_schemas.py); here one of them, and
# the cases the handler or the domain refuse, each from both sides of the chat.
BAD_SENDS: list[tuple[dict[str, Any], str]] = [
    ({"conversation_id": "{cid}", "client_msg_id": "x", "body": "hi", "extra": 1}, "invalid_payload"),
    # Python's "$" also matches before a final newline: the id patterns must not let one through.
    ({"conversation_id": "{cid}", "client_msg_id": "x\n", "body": "hi"}, "invalid_payload"),
    ({"conversation_id": "{cid}", "client_msg_id": "x", "body": "a" * 4001}, "message_too_long"),
    ({"conversation_id": "no-such-conversation", "client_msg_id": "x", "body": "hi"}, "not_found"),
]


async def test_bad_message_payloads_are_refused_and_change_nothing(server: LiveServer) -> None:
    console, shopper, cid, _ = await _chat(server)
    before = await _stored(server, cid)
    for payload, code in BAD_SENDS:
        sent = {k: (cid if v == "{cid}" else v) for k, v in payload.items()}
        assert _code(await shopper.call("message:send", sent)) == code, sent
        assert _code(await console.call("message:send", sent)) == code, sent
    assert await _stored(server, cid) == before
    # A message of exactly the limit is fine.
    ok = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "max", "body": "b" * 4000})
    assert ok["ok"]


async def test_unknown_events_and_bad_payloads_on_every_event(server: LiveServer) -> None:
    console, shopper, cid, _ = await _chat(server)
    before = await _stored(server, cid)
    assert _code(await shopper.call("no:such:event", {})) == "unknown_event"
    assert _code(await shopper.call("queue:take", {"conversation_id": cid})) == "unknown_event"  # agents only
    assert _code(await console.call("chat:start", prechat())) == "unknown_event"  # visitors only
    assert _code(await shopper.call("chat:start", {"name": "x"})) == "invalid_payload"
    assert _code(await shopper.call("chat:start", {"name": "x", "question": "q", "email": "nope"})) == "invalid_payload"
    assert _code(await shopper.call("chat:start", {"name": "x", "question": "q", "page_url": "javascript:x"})) == (
        "invalid_payload")
    assert _code(await shopper.call("chat:start", {"name": "x", "question": "q" * 4001})) == "message_too_long"
    assert _code(await shopper.call("message:read", {"conversation_id": cid, "seq": -1})) == "invalid_payload"
    assert _code(await shopper.call("message:read", {"conversation_id": cid, "seq": "3"})) == "invalid_payload"
    assert _code(await shopper.call("typing:update", {"conversation_id": cid, "typing": "yes"})) == "invalid_payload"
    assert _code(await shopper.call("conversation:join", {"conversation_id": cid, "after_seq": 1.5})) == (
        "invalid_payload")
    assert _code(await console.call("presence:set", {"status": "offline"})) == "invalid_payload"
    assert _code(await console.call("queue:list", {"limit": 0})) == "invalid_payload"
    assert _code(await console.call("queue:take", {})) == "invalid_payload"
    assert await _stored(server, cid) == before


async def test_errors_without_an_ack_come_back_as_error_events(server: LiveServer) -> None:
    _, shopper, _cid, _ = await _chat(server)
    await shopper.emit("no:such:event", {})
    error = await shopper.wait_for("error")
    assert error["error"]["code"] == "unknown_event" and error["event"] == "no:such:event"


async def test_conversations_that_are_not_yours_are_refused(server: LiveServer) -> None:
    _console, _shopper, cid, _ = await _chat(server)
    before = await _stored(server, cid)
    stranger = await visitor(server)
    for event, payload in [
        ("message:send", {"conversation_id": cid, "client_msg_id": "s", "body": "let me in"}),
        ("conversation:join", {"conversation_id": cid}),
        ("message:read", {"conversation_id": cid, "seq": 1}),
        ("typing:update", {"conversation_id": cid, "typing": True}),
        ("conversation:close", {"conversation_id": cid}),
    ]:
        assert _code(await stranger.call(event, payload)) == "not_found"
    assert stranger.messages(cid) == []

    other_agent = await agent(server, await server.add_agent())
    for event, payload in [
        ("message:send", {"conversation_id": cid, "client_msg_id": "s", "body": "let me in"}),
        ("conversation:join", {"conversation_id": cid}),
        ("conversation:close", {"conversation_id": cid}),
        ("queue:take", {"conversation_id": cid}),
    ]:
        assert _code(await other_agent.call(event, payload)) in {"forbidden", "already_taken"}
    assert other_agent.messages(cid) == []
    assert await _stored(server, cid) == before
    conversation = await server.parts.stores.conversations.get_conversation(cid)
    assert conversation is not None and conversation.status == "assigned"


async def test_a_flood_of_messages_is_rate_limited_without_losing_accepted_ones(server: LiveServer) -> None:
    _console, shopper, cid, _ = await _chat(server)
    replies = await asyncio.gather(*(
        shopper.call("message:send", {"conversation_id": cid, "client_msg_id": f"f{i}", "body": f"flood {i}"})
        for i in range(60)))
    accepted = [r for r in replies if r.get("ok")]
    limited = [r for r in replies if not r.get("ok")]
    assert limited and all(_code(r) == "rate_limited" for r in limited)
    assert len(accepted) <= server.settings.message_burst + 2
    stored_bodies = [body for _, body in await _stored(server, cid) if body.startswith("flood")]
    assert len(stored_bodies) == len(accepted)
    assert sorted(r["seq"] for r in accepted) == [seq for seq, b in await _stored(server, cid) if b.startswith("flood")]


@pytest.mark.parametrize("namespace", ["/visitor", "/agent"])
async def test_connect_without_a_genuine_token_is_refused(server: LiveServer, namespace: str) -> None:
    login = await server.add_agent()
    visitor_token = await server.visitor_token()
    signer = server.parts.http.signer
    now = server.parts.clock.now()
    good = login["token"] if namespace == "/agent" else visitor_token
    body, signature = good.split(".")
    kind = "agent" if namespace == "/agent" else "visitor"
    subject = login["agent"]["id"] if namespace == "/agent" else "v"
    cases = {
        "missing": None,
        "not a string": 12345,
        "forged signature": f"{body}.{signature[:-2]}xx",
        "other kind": visitor_token if namespace == "/agent" else login["token"],
        "expired": signer.issue(kind, subject, now - 1),
        "garbage": "a.b.c",
        "signature not ASCII": f"{body}.\u00e9",
        "body not ASCII": f"{body}\u00e9.{signature}",
        "lone surrogate": f"{body}.\ud800",
    }
    for label, token in cases.items():
        client = socketio.AsyncClient(reconnection=False)
        errors: list[Any] = []
        client.on("connect_error", errors.append, namespace=namespace)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(server.url, namespaces=[namespace], auth={"token": token} if token else None,
                                 transports=["websocket"], wait_timeout=5)
        assert errors and isinstance(errors[0], dict), (label, errors)
        if label == "lone surrogate":  # JSON the server does not take (as in any event)
            assert errors[0]["code"] == "invalid_payload", errors
        else:
            assert errors[0].get("code") in {"auth_required", "invalid_token", "token_expired"}, (label, errors)
        if label == "expired":
            assert errors[0]["code"] == "token_expired"
        await client.disconnect()


async def test_an_agent_connecting_with_a_bad_status_is_refused(server: LiveServer) -> None:
    login = await server.add_agent()
    for status in ["busy", "offline", 1, None, ["away"]]:
        client = socketio.AsyncClient(reconnection=False)
        errors: list[Any] = []
        client.on("connect_error", errors.append, namespace="/agent")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(server.url, namespaces=["/agent"], auth={"token": login["token"], "status": status},
                                 transports=["websocket"], wait_timeout=5)
        assert errors and errors[0]["code"] == "invalid_payload", (status, errors)
        await client.disconnect()
    # Nothing was recorded: the agent is not connected.
    assert await server.parts.backend.presence.status(login["agent"]["id"]) == "offline"


async def test_revoked_agent_tokens_are_refused(server: LiveServer) -> None:
    login = await server.add_agent()
    status, _ = await server.request("POST", "/api/auth/logout", token=login["token"])
    assert status == 204
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server.url, namespaces=["/agent"], auth={"token": login["token"]},
                             transports=["websocket"], wait_timeout=5)
    status, body = await server.request("GET", "/api/me", token=login["token"])
    assert status == 401 and body["error"]["code"] == "invalid_token"


# As BAD_SENDS: one schema error (test_schemas.py has them all), and what the domain refuses.
BAD_STARTS: list[tuple[Any, str]] = [
    ({"name": "x", "question": "q", "email": "nope"}, "invalid_payload"),
    ({"name": "x", "question": "q", "department": "no-such-department"}, "invalid_payload"),
    ({"name": "x", "question": "q" * 4001}, "message_too_long"),
]


async def test_a_new_visitors_bad_chat_start_creates_nothing(server: LiveServer) -> None:
    store = server.parts.stores.conversations
    for payload, code in BAD_STARTS:
        fresh = await visitor(server)
        assert _code(await fresh.call("chat:start", payload)) == code, payload
        visitor_id = server.parts.http.signer.verify(fresh.token, "visitor", server.parts.clock.now()).sub
        assert await store.active_conversation_for_visitor(visitor_id) is None
        assert await server.chats.queue.view(10) == ([], 0)
    # The same visitor can still start a proper chat afterwards.
    started = await fresh.call("chat:start", prechat())
    assert started["ok"] and started["created"]


async def test_other_events_refuse_wrong_types_unknown_fields_and_strangers(server: LiveServer) -> None:
    console, shopper, cid, _ = await _chat(server)
    before = await _stored(server, cid)
    for client, event, payload in [
        (shopper, "conversation:close", {"conversation_id": 7}),
        (shopper, "conversation:close", {}),
        (shopper, "conversation:close", "close it"),
        (console, "conversation:close", {"conversation_id": cid, "force": True}),
        (shopper, "session:resume", {"since": 1}),
        (console, "session:resume", {"since": 1}),
        (shopper, "conversation:rate", {"conversation_id": cid, "rating": 6}),
        (shopper, "conversation:rate", {"conversation_id": cid, "rating": "5"}),
        (shopper, "conversation:rate", {"conversation_id": cid, "rating": 5, "comment": "c" * 1001}),
        (console, "conversation:transfer", {"conversation_id": cid, "to_agent_id": 3}),
        (shopper, "message:send", [cid, "x", "hi"]),
    ]:
        assert _code(await client.call(event, payload)) == "invalid_payload", (event, payload)
    # Rating a chat that has not ended, or someone else's.
    assert _code(await shopper.call("conversation:rate", {"conversation_id": cid, "rating": 5})) == (
        "conversation_not_closed")
    assert (await shopper.call("conversation:close", {"conversation_id": cid}))["ok"]
    stranger = await visitor(server)
    assert _code(await stranger.call("conversation:rate", {"conversation_id": cid, "rating": 1})) == "not_found"
    assert _code(await console.call("conversation:rate", {"conversation_id": cid, "rating": 1})) == "unknown_event"
    assert await server.parts.stores.conversations.rating(cid) is None
    stored = await _stored(server, cid)
    assert stored[:len(before)] == before and [body for _, body in stored[len(before):]] == ["closed"]


async def test_a_flood_of_other_events_is_rate_limited_per_connection(server: LiveServer) -> None:
    console, shopper, cid, _ = await _chat(server)
    replies = await asyncio.gather(*(
        shopper.call("typing:update", {"conversation_id": cid, "typing": i % 2 == 0}) for i in range(120)))
    limited = [r for r in replies if not r.get("ok")]
    assert limited and all(_code(r) == "rate_limited" for r in limited)
    assert len(replies) - len(limited) <= server.settings.event_burst + 5
    # Typing is never stored; the agent heard only what was accepted; the connection still works.
    await asyncio.sleep(0.1)
    assert len(console.events["typing:updated"]) <= len(replies) - len(limited)
    await asyncio.sleep(1.0 / server.settings.event_rate * 2)
    assert (await shopper.call("message:read", {"conversation_id": cid, "seq": 1}))["ok"]


LONE = "broken \ud83d text"
# One lone surrogate per event that starts something (test_schemas.py has them in every field).
SURROGATE_EVENTS = [
    ("chat:start", {**prechat(), "name": LONE}),
    ("ticket:create", {"name": "Ann", "email": "ann@example.com", "description": LONE}),
    ("visitor:identify", {"identity": LONE}),
]


async def test_lone_surrogates_in_any_string_are_invalid_payload_and_store_nothing(server: LiveServer) -> None:
    store = server.parts.stores.conversations
    admin = await server.admin_token()
    for event, payload in SURROGATE_EVENTS:
        shopper = await visitor(server)
        assert _code(await shopper.call(event, payload)) == "invalid_payload", event
        visitor_id = server.parts.http.signer.verify(shopper.token, "visitor", server.parts.clock.now()).sub
        assert await store.active_conversation_for_visitor(visitor_id) is None
    assert (await server.request("GET", "/api/tickets", token=admin))[1]["tickets"] == []
    assert (await server.request("GET", "/api/customers", token=admin))[1]["total"] == 0


async def test_lone_surrogates_in_a_chat_are_refused_and_the_chat_goes_on(server: LiveServer) -> None:
    console, shopper, cid, _ = await _chat(server)
    before = await _stored(server, cid)
    for client, event, payload in [
        (shopper, "message:send", {"conversation_id": cid, "client_msg_id": "m1", "body": LONE}),
        (console, "message:send", {"conversation_id": cid, "client_msg_id": "m1", "body": LONE}),
        (console, "note:add", {"conversation_id": cid, "body": LONE}),
        (console, "conversation:end", {"conversation_id": cid, "resolution_note": LONE}),
    ]:
        assert _code(await client.call(event, payload)) == "invalid_payload", (event, payload)
    assert await _stored(server, cid) == before
    conversation = await server.parts.stores.conversations.get_conversation(cid)
    assert conversation is not None and conversation.status == "assigned"
    # Whole emoji (a valid surrogate pair on the wire) are fine.
    ok = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "m2", "body": "ok 😀"})
    assert ok["ok"]


async def test_an_unexpected_failure_in_a_handler_answers_internal_error_without_logging_the_payload(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def broken(connection: Any, data: Any) -> dict[str, Any]:
        raise RuntimeError(f"secret {data['body']}")

    # An event whose handler has a bug (added for this test: every shipped handler validates).
    live = LiveServer(make_settings(tmp_path), events=[Events("/visitor", {"test:broken": broken})])
    await live.start()
    try:
        shopper = await visitor(live)
        with caplog.at_level("INFO"):
            reply = await shopper.call("test:broken", {"body": "card 4242"})
            assert _code(reply) == "internal_error"
            await shopper.emit("test:broken", {"body": "card 4242"})
            error = await shopper.wait_for("error")
        assert error["error"]["code"] == "internal_error" and error["event"] == "test:broken"
        failures = [r for r in caplog.records if r.name == "chatserver.transport" and "event failed" in r.getMessage()]
        assert failures and all("RuntimeError" in r.getMessage() for r in failures)
        assert not any("4242" in r.getMessage() or r.exc_info for r in caplog.records)
        # The connection still works.
        assert (await shopper.call("session:resume", {}))["ok"]
    finally:
        await live.close()


FORGING_NAMES = ["x\nINFO chatserver.transport forged line", "nul\x00byte", "x code=ok sid=forged", "\x1b[31mred",
                 "line\u2028separator", "back\\slash\"quote"]


async def test_event_names_are_escaped_in_the_log(server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    _, shopper, _cid, _ = await _chat(server)
    with caplog.at_level("INFO"):
        for name in FORGING_NAMES:
            assert _code(await shopper.call(name, {})) == "unknown_event"
    refused = [r.getMessage() for r in caplog.records if "event refused" in r.getMessage()]
    assert len(refused) == len(FORGING_NAMES)
    for name, line in zip(FORGING_NAMES, refused, strict=True):
        assert line.isascii() and line.isprintable(), line  # no newline, NUL, escape or separator
        # Three fields, the first the name whole, quoted: nothing in it reads as another field.
        fields = re.fullmatch(r'event refused event=("(?:[^"\\]|\\.)*") sid=[\w-]+ code=unknown_event', line)
        assert fields is not None and json.loads(fields.group(1)) == name, line
