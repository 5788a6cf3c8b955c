"""Co-browsing over real Socket.IO connections, on both backends: consent, relaying only to the
assigned agent, the late joiner's current page, remote control consent, limits, and records."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from chatserver.domain.clock import ManualClock

from ..support import LiveServer, agent, make_settings, visitor, wait_until
from .cobrowse_support import (
    INCREMENTAL,
    active_session,
    assigned_chat,
    encode_batch,
    received_batches,
    send_batch,
    snapshot_events,
    undocumented,
)


def incremental(n: int) -> list[dict[str, Any]]:
    return [{"type": INCREMENTAL, "data": {"source": 5, "id": 7, "text": f"typed {n}"}, "timestamp": 10 + n}]


@pytest.mark.both_backends
async def test_a_session_from_request_to_stop(server: LiveServer) -> None:
    shopper, console, login, cid = await assigned_chat(server)
    requested = await console.call("cobrowse:request", {"conversation_id": cid})
    assert requested["ok"] and requested["session"]["status"] == "requested"
    session_id = requested["session"]["id"]
    # Asking twice gives the same session.
    again = await console.call("cobrowse:request", {"conversation_id": cid})
    assert again["session"]["id"] == session_id

    asked = await shopper.wait_for("cobrowse:updated", lambda d: d["session"]["id"] == session_id)
    assert asked["session"]["status"] == "requested" and asked["session"]["agent"] == {"name": "Alice"}
    assert "agent_id" not in asked["session"], "visitors never see internal ids"
    # Nothing is accepted before consent.
    early = await shopper.call("cobrowse:events", {"session_id": session_id, "seq": 1, "data": b"x"})
    assert early["error"]["code"] == "cobrowse_state" and early["error"]["details"]["status"] == "requested"

    accepted = await shopper.call("cobrowse:respond", {"session_id": session_id, "accept": True})
    assert accepted["session"]["status"] == "active"
    await console.wait_for("cobrowse:updated", lambda d: d["session"]["status"] == "active")
    joined = await console.call("cobrowse:join", {"session_id": session_id})
    assert joined["ok"] and joined["session"]["agent_id"] == login["agent"]["id"]

    # A snapshot in three parts, then incremental batches: the agent gets each once, in order.
    acks = await send_batch(shopper, session_id, 1, snapshot_events("checkout page", size=150_000), snapshot=True)
    assert [a["ok"] for a in acks] == [True, True, True]
    for n in range(2, 6):
        assert (await send_batch(shopper, session_id, n, incremental(n)))[0] == {"ok": True, "seq": n}
    await wait_until(lambda: len(received_batches(console, session_id)) == 5, timeout=5.0)
    batches = received_batches(console, session_id)
    assert [seq for seq, _ in batches] == [1, 2, 3, 4, 5]
    assert batches[0][1][1]["data"]["node"]["text"] == "checkout page"
    assert batches[4][1][0]["data"]["text"] == "typed 5"
    header = console.events["cobrowse:events"][0]
    assert header["snapshot"] is True and header["parts"] == 3 and isinstance(header["data"], bytes)
    # The shopper is never sent their own page back.
    assert "cobrowse:events" not in shopper.events

    stopped = await shopper.call("cobrowse:stop", {"session_id": session_id})
    assert stopped["session"]["status"] == "ended" and stopped["session"]["reason"] == "stopped_by_visitor"
    ended = await console.wait_for("cobrowse:updated", lambda d: d["session"]["status"] == "ended")
    assert ended["session"]["reason"] == "stopped_by_visitor"
    after = await shopper.call("cobrowse:events", {"session_id": session_id, "seq": 6, "data": b"x"})
    assert after["error"]["code"] == "not_found" or after["error"]["code"] == "cobrowse_state"

    # Recorded on the conversation: when, how it ended, who watched and for how long; no content.
    status, record = await server.request("GET", f"/api/conversations/{cid}", token=login["token"])
    assert status == 200, record
    [history] = record["cobrowse"]
    assert history["status"] == "ended" and history["reason"] == "stopped_by_visitor"
    assert history["started_at"] is not None and history["ended_at"] >= history["started_at"]
    assert history["pages"] == 0 and history["bytes_relayed"] > 150_000
    [watched] = history["watched"]
    assert watched["agent_name"] == "Alice" and watched["left_at"] is not None and watched["seconds"] >= 0
    assert "checkout page" not in str(record)
    # The record is as the OpenAPI document says, co-browse sessions included.
    assert undocumented(record, "Transcript") == []


@pytest.mark.both_backends
async def test_declining_and_a_second_request(server: LiveServer) -> None:
    shopper, console, _, cid = await assigned_chat(server)
    first = (await console.call("cobrowse:request", {"conversation_id": cid}))["session"]["id"]
    declined = await shopper.call("cobrowse:respond", {"session_id": first, "accept": False})
    assert declined["session"]["status"] == "declined" and declined["session"]["reason"] == "declined_by_visitor"
    told = await console.wait_for("cobrowse:updated", lambda d: d["session"]["status"] == "declined")
    assert told["session"]["id"] == first
    refused = await console.call("cobrowse:join", {"session_id": first})
    assert refused["error"]["code"] == "cobrowse_state"
    # Answering twice changes nothing.
    twice = await shopper.call("cobrowse:respond", {"session_id": first, "accept": True})
    assert twice["error"]["code"] == "cobrowse_state"
    second = await console.call("cobrowse:request", {"conversation_id": cid})
    assert second["session"]["id"] != first and second["session"]["status"] == "requested"


@pytest.mark.both_backends
async def test_a_late_joiner_gets_the_current_page_then_live(server: LiveServer) -> None:
    shopper, console, login, cid = await assigned_chat(server)
    session_id = await active_session(shopper, console, cid)
    await send_batch(shopper, session_id, 1, snapshot_events("cart page"), snapshot=True)
    await send_batch(shopper, session_id, 2, incremental(2))
    # The shopper's page sends a new snapshot (a new page): what came before it is dropped.
    await send_batch(shopper, session_id, 3, snapshot_events("payment page", size=100_000), snapshot=True)
    await send_batch(shopper, session_id, 4, incremental(4))

    # The agent reloads the console: a new connection joins and sees the current page at once.
    late = await agent(server, login)
    joined = await late.call("cobrowse:join", {"session_id": session_id})
    assert joined["ok"]
    await wait_until(lambda: len(received_batches(late, session_id)) == 2, timeout=5.0)
    await send_batch(shopper, session_id, 5, incremental(5))
    await wait_until(lambda: len(received_batches(late, session_id)) == 3, timeout=5.0)
    batches = received_batches(late, session_id)
    assert [seq for seq, _ in batches] == [3, 4, 5]
    assert batches[0][1][1]["data"]["node"]["text"] == "payment page"
    # The first connection kept getting everything live.
    await wait_until(lambda: len(received_batches(console, session_id)) == 5, timeout=5.0)
    assert [seq for seq, _ in received_batches(console, session_id)] == [1, 2, 3, 4, 5]


@pytest.mark.both_backends
async def test_batches_sent_while_an_agent_joins_arrive_once_in_order(server: LiveServer) -> None:
    shopper, console, login, cid = await assigned_chat(server)
    session_id = await active_session(shopper, console, cid)
    await send_batch(shopper, session_id, 1, snapshot_events("page", size=200_000), snapshot=True)
    late = await agent(server, login)

    async def stream() -> None:
        for n in range(2, 40):
            await shopper.emit("cobrowse:events", {"session_id": session_id, "seq": n, "part": 0, "parts": 1,
                                                   "data": encode_batch(incremental(n))})
            await asyncio.sleep(0.002)

    streaming = asyncio.ensure_future(stream())
    await asyncio.sleep(0.01)
    assert (await late.call("cobrowse:join", {"session_id": session_id}))["ok"]
    await streaming
    await wait_until(lambda: any(seq == 39 for seq, _ in received_batches(late, session_id)), timeout=5.0)
    seqs = [seq for seq, _ in received_batches(late, session_id)]
    assert seqs == list(range(1, 40)), seqs


@pytest.mark.both_backends
async def test_only_the_assigned_agent_watches_and_only_the_shopper_shares(server: LiveServer) -> None:
    shopper, console, _, cid = await assigned_chat(server)
    session_id = await active_session(shopper, console, cid)
    intruder = await agent(server, await server.add_agent("Mallory"))
    for event, payload in (("cobrowse:join", {"session_id": session_id}),
                           ("cobrowse:stop", {"session_id": session_id}),
                           ("cobrowse:control_request", {"session_id": session_id}),
                           ("cobrowse:pointer", {"session_id": session_id, "x": 1, "y": 2}),
                           ("cobrowse:scroll_to", {"session_id": session_id, "node_id": 3}),
                           ("cobrowse:action", {"session_id": session_id, "action_id": "a1", "kind": "click",
                                                "node_id": 3}),
                           ("cobrowse:request", {"conversation_id": cid})):
        refused = await intruder.call(event, payload)
        assert refused["error"]["code"] == "forbidden", (event, refused)
    stranger = await visitor(server)
    for event, payload in (("cobrowse:events", {"session_id": session_id, "seq": 1, "data": b"evil"}),
                           ("cobrowse:respond", {"session_id": session_id, "accept": True}),
                           ("cobrowse:control", {"session_id": session_id, "grant": True}),
                           ("cobrowse:stop", {"session_id": session_id}),
                           ("cobrowse:status", {"conversation_id": cid})):
        refused = await stranger.call(event, payload)
        assert refused["error"]["code"] == "not_found", (event, refused)
    # Visitors cannot use the agent's events, nor agents the shopper's.
    assert (await shopper.call("cobrowse:join", {"session_id": session_id}))["error"]["code"] == "unknown_event"
    assert (await console.call("cobrowse:events", {"session_id": session_id, "seq": 1, "data": b"x"}))[
        "error"]["code"] == "unknown_event"
    await send_batch(shopper, session_id, 1, snapshot_events("the page"), snapshot=True)
    await wait_until(lambda: len(received_batches(console, session_id)) == 1, timeout=5.0)
    assert "cobrowse:events" not in intruder.events
    status, body = await server.request("GET", f"/api/conversations/{cid}", token=await server.admin_token())
    assert status == 200 and body["cobrowse"][0]["status"] == "active"


@pytest.mark.both_backends
async def test_a_transfer_or_the_end_of_the_chat_ends_the_session(server: LiveServer) -> None:
    shopper, console, _, cid = await assigned_chat(server)
    session_id = await active_session(shopper, console, cid)
    bob = await server.add_agent("Bob")
    bob_console = await agent(server, bob)
    moved = await console.call("conversation:transfer", {"conversation_id": cid, "to_agent_id": bob["agent"]["id"]})
    assert moved["ok"], moved
    ended = await shopper.wait_for("cobrowse:updated", lambda d: d["session"]["status"] == "ended")
    assert ended["session"]["reason"] == "agent_changed"
    assert (await console.call("cobrowse:join", {"session_id": session_id}))["error"]["code"] == "cobrowse_state"
    # Bob asks anew; the chat ends and so does his session.
    second = (await bob_console.call("cobrowse:request", {"conversation_id": cid}))["session"]["id"]
    await shopper.wait_for("cobrowse:updated", lambda d: d["session"]["id"] == second)
    await shopper.call("cobrowse:respond", {"session_id": second, "accept": True})
    assert (await shopper.call("conversation:close", {"conversation_id": cid}))["ok"]
    ended = await bob_console.wait_for("cobrowse:updated", lambda d: d["session"]["id"] == second
                                       and d["session"]["status"] == "ended")
    assert ended["session"]["reason"] == "chat_ended"


@pytest.mark.both_backends
async def test_remote_control_needs_and_honours_consent(server: LiveServer) -> None:
    shopper, console, _, cid = await assigned_chat(server)
    session_id = await active_session(shopper, console, cid)
    click = {"session_id": session_id, "action_id": "a1", "kind": "click", "node_id": 12}
    assert (await console.call("cobrowse:action", click))["error"]["code"] == "control_not_granted"
    # The shopper cannot grant what was not asked for.
    assert (await shopper.call("cobrowse:control", {"session_id": session_id, "grant": True}))["error"][
        "code"] == "cobrowse_state"
    asked = await console.call("cobrowse:control_request", {"session_id": session_id})
    assert asked["session"]["control"] == "requested"
    await shopper.wait_for("cobrowse:updated", lambda d: d["session"]["control"] == "requested")
    assert (await console.call("cobrowse:action", click))["error"]["code"] == "control_not_granted"
    granted = await shopper.call("cobrowse:control", {"session_id": session_id, "grant": True})
    assert granted["session"]["control"] == "granted"
    assert (await console.call("cobrowse:action", click))["ok"]
    relayed = await shopper.wait_for("cobrowse:action")
    assert relayed == {"session_id": session_id, "action_id": "a1", "kind": "click", "node_id": 12, "value": None}
    # The page's answer goes back to the agent.
    assert (await shopper.call("cobrowse:action_result", {"session_id": session_id, "action_id": "a1",
                                                           "ok": False, "reason": "sensitive_field"}))["ok"]
    result = await console.wait_for("cobrowse:action_result")
    assert result == {"session_id": session_id, "action_id": "a1", "ok": False, "reason": "sensitive_field"}
    # Revoked at any moment: further actions are refused.
    revoked = await shopper.call("cobrowse:control", {"session_id": session_id, "grant": False})
    assert revoked["session"]["control"] == "revoked"
    assert (await console.call("cobrowse:action", {**click, "action_id": "a2"}))["error"][
        "code"] == "control_not_granted"
    assert len(shopper.events["cobrowse:action"]) == 1
    # A new page drops a grant: control must be asked for again.
    await console.call("cobrowse:control_request", {"session_id": session_id})
    await shopper.call("cobrowse:control", {"session_id": session_id, "grant": True})
    status = await shopper.call("cobrowse:status", {"conversation_id": cid, "new_page": True})
    assert status["session"]["control"] == "none" and status["session"]["status"] == "active"
    assert (await console.call("cobrowse:action", {**click, "action_id": "a3"}))["error"][
        "code"] == "control_not_granted"


@pytest.mark.both_backends
async def test_pointer_scroll_and_ping_reach_the_shopper(server: LiveServer) -> None:
    shopper, console, _, cid = await assigned_chat(server)
    session_id = await active_session(shopper, console, cid)
    assert (await console.call("cobrowse:pointer", {"session_id": session_id, "x": 120.5, "y": 40,
                                                    "click": True}))["ok"]
    assert await shopper.wait_for("cobrowse:pointer") == {"session_id": session_id, "x": 120.5, "y": 40,
                                                           "click": True}
    assert (await console.call("cobrowse:scroll_to", {"session_id": session_id, "node_id": 33}))["ok"]
    assert await shopper.wait_for("cobrowse:scroll_to") == {"session_id": session_id, "node_id": 33}
    assert (await console.call("cobrowse:ping", {"session_id": session_id, "t": 1234.5}))["ok"]
    ping = await shopper.wait_for("cobrowse:ping")
    assert (await shopper.call("cobrowse:pong", ping))["ok"]
    assert await console.wait_for("cobrowse:pong") == {"session_id": session_id, "t": 1234.5}


@pytest.mark.both_backends
async def test_a_new_page_continues_the_session_without_asking_again(server: LiveServer) -> None:
    shopper, console, _, cid = await assigned_chat(server)
    session_id = await active_session(shopper, console, cid)
    await send_batch(shopper, session_id, 1, snapshot_events("shipping page"), snapshot=True)
    await wait_until(lambda: len(received_batches(console, session_id)) == 1, timeout=5.0)
    token = shopper.token
    await shopper.disconnect()
    # The next checkout page: a new connection with the same visitor token.
    next_page = await visitor(server, token)
    assert (await next_page.call("session:resume"))["conversation"]["id"] == cid
    status = await next_page.call("cobrowse:status", {"conversation_id": cid, "new_page": True})
    assert status["session"]["id"] == session_id and status["session"]["status"] == "active"
    assert status["resume_without_prompt"] is True
    await send_batch(next_page, session_id, 1, snapshot_events("payment page"), snapshot=True)
    await wait_until(lambda: len(received_batches(console, session_id)) == 2, timeout=5.0)
    assert received_batches(console, session_id)[1][1][1]["data"]["node"]["text"] == "payment page"
    status, record = await server.request("GET", f"/api/conversations/{cid}", token=await server.admin_token())
    assert record["cobrowse"][0]["pages"] == 1


async def test_bad_input_is_refused_and_changes_nothing(server: LiveServer) -> None:
    shopper, console, login, cid = await assigned_chat(server)
    session_id = await active_session(shopper, console, cid)
    await send_batch(shopper, session_id, 1, snapshot_events("good page"), snapshot=True)
    await wait_until(lambda: len(received_batches(console, session_id)) == 1, timeout=5.0)
    bad_events: list[tuple[Any, str]] = [
        ({"session_id": session_id, "seq": 2, "data": "not binary"}, "invalid_payload"),
        ({"session_id": session_id, "seq": 2}, "invalid_payload"),
        ({"session_id": session_id, "seq": -1, "data": b"x"}, "invalid_payload"),
        ({"session_id": session_id, "seq": 2, "data": b"x", "part": 2, "parts": 2}, "invalid_payload"),
        ({"session_id": session_id, "seq": 2, "data": b"x", "extra": 1}, "invalid_payload"),
        ({"session_id": "../../etc", "seq": 2, "data": b"x"}, "invalid_payload"),
        ({"session_id": "nope", "seq": 2, "data": b"x"}, "not_found"),
        ({"session_id": session_id, "seq": 2, "data": b"x" * (300 * 1024)}, "payload_too_large"),
        # a snapshot part that does not follow part 0
        ({"session_id": session_id, "seq": 2, "data": b"x", "snapshot": True, "part": 1, "parts": 3},
         "invalid_payload"),
        ([1, 2], "invalid_payload"),
    ]
    for payload, code in bad_events:
        refused = await shopper.call("cobrowse:events", payload)
        assert refused["error"]["code"] == code, (payload, refused)
    for event, payload in (("cobrowse:pointer", {"session_id": session_id, "x": "left", "y": 1}),
                           ("cobrowse:pointer", {"session_id": session_id, "x": 1e9, "y": 1}),
                           ("cobrowse:scroll_to", {"session_id": session_id, "node_id": -5}),
                           ("cobrowse:action", {"session_id": session_id, "action_id": "a", "kind": "submit",
                                                "node_id": 1}),
                           ("cobrowse:action", {"session_id": session_id, "action_id": "a", "kind": "input",
                                                "node_id": 1, "value": "x" * 1001}),
                           ("cobrowse:request", {"conversation_id": 5}),
                           ("cobrowse:join", {})):
        refused = await console.call(event, payload)
        assert refused["error"]["code"] == "invalid_payload", (event, payload, refused)
    # Nothing reached the agent, the session is as it was, and the late joiner sees the good page.
    await asyncio.sleep(0.1)
    assert len(received_batches(console, session_id)) == 1
    late = await agent(server, login)
    await late.call("cobrowse:join", {"session_id": session_id})
    await wait_until(lambda: len(received_batches(late, session_id)) == 1, timeout=5.0)
    assert received_batches(late, session_id)[0][1][1]["data"]["node"]["text"] == "good page"
    status, record = await server.request("GET", f"/api/conversations/{cid}", token=login["token"])
    assert status == 200 and record["cobrowse"][0]["status"] == "active"


def _bad_refs(session_id: str, **good: Any) -> list[Any]:
    """Payloads of an event that takes ``session_id`` (and ``good``'s fields) with something wrong."""
    ref = {"session_id": session_id, **good}
    return [None, [1, 2], "text", {**good}, {**ref, "session_id": 5}, {**ref, "session_id": ""},
            {**ref, "session_id": "../../etc"}, {**ref, "session_id": "x" * 65}, {**ref, "extra": 1}]


async def _record(server: LiveServer, cid: str) -> dict[str, Any]:
    """The conversation's co-browse session as stored (the REST record)."""
    status, record = await server.request("GET", f"/api/conversations/{cid}", token=await server.admin_token())
    assert status == 200, record
    assert undocumented(record, "Transcript") == []
    [session] = record["cobrowse"]
    return session  # type: ignore[no-any-return]


@pytest.fixture
async def roomy(tmp_path: Path, backend_settings: dict[str, str]) -> Any:
    """A server whose per-connection event limit lets a long run of bad payloads through."""
    live = LiveServer(make_settings(tmp_path, event_burst=1000, **backend_settings))
    await live.start()
    try:
        yield live
    finally:
        await live.close()


async def test_bad_input_to_the_session_events_is_refused_and_changes_nothing(roomy: LiveServer) -> None:
    server = roomy
    shopper, console, _, cid = await assigned_chat(server)
    requested = await console.call("cobrowse:request", {"conversation_id": cid})
    session_id = requested["session"]["id"]
    await shopper.wait_for("cobrowse:updated", lambda d: d["session"]["id"] == session_id)

    async def refused(client: Any, event: str, payloads: list[Any]) -> None:
        for payload in payloads:
            answer = await client.call(event, payload)
            assert "ok" not in answer and answer["error"]["code"] == "invalid_payload", (event, payload, answer)
            assert answer["error"]["message"], (event, payload)

    # While the request waits for an answer: a bad answer neither accepts nor declines it.
    await refused(shopper, "cobrowse:respond", [*_bad_refs(session_id, accept=True),
                                                {"session_id": session_id},
                                                {"session_id": session_id, "accept": "yes"},
                                                {"session_id": session_id, "accept": 1}])
    assert (await _record(server, cid))["status"] == "requested"
    await shopper.call("cobrowse:respond", {"session_id": session_id, "accept": True})
    assert (await console.call("cobrowse:join", {"session_id": session_id}))["ok"]

    # A bad request for control asks nothing; a bad answer to one grants nothing.
    await refused(console, "cobrowse:control_request", _bad_refs(session_id))
    assert (await _record(server, cid))["control"] == "none"
    assert (await console.call("cobrowse:control_request", {"session_id": session_id}))["ok"]
    await refused(shopper, "cobrowse:control", [*_bad_refs(session_id, grant=True), {"session_id": session_id},
                                                {"session_id": session_id, "grant": "true"},
                                                {"session_id": session_id, "grant": None}])
    # A bad status query counts no page and drops no control request.
    await refused(shopper, "cobrowse:status", [None, [cid], {"new_page": True}, {"conversation_id": 5},
                                               {"conversation_id": "../x", "new_page": True},
                                               {"conversation_id": cid, "new_page": "yes"},
                                               {"conversation_id": cid, "new_page": True, "extra": 1}])
    # Bad stops end nothing, on either side; a bad leave ends no view.
    await refused(shopper, "cobrowse:stop", _bad_refs(session_id))
    await refused(console, "cobrowse:stop", _bad_refs(session_id))
    await refused(console, "cobrowse:leave", _bad_refs(session_id))
    # Bad pings, pongs and action results reach nobody.
    bad_times: list[Any] = [{"session_id": session_id}, {"session_id": session_id, "t": "now"},
                            {"session_id": session_id, "t": -1}, {"session_id": session_id, "t": 1e16},
                            {"session_id": session_id, "t": 1, "extra": 1}, *_bad_refs(session_id, t=1)]
    await refused(console, "cobrowse:ping", bad_times)
    await refused(shopper, "cobrowse:pong", bad_times)
    result = {"session_id": session_id, "action_id": "a1", "ok": False}
    await refused(shopper, "cobrowse:action_result", [
        *_bad_refs(session_id, action_id="a1", ok=False), {"session_id": session_id, "action_id": "a1"},
        {**result, "ok": "no"}, {**result, "action_id": "a 1"}, {**result, "action_id": ""},
        {**result, "reason": "Not A Code!"}, {**result, "reason": "x" * 65}, {**result, "reason": 5}])

    record = await _record(server, cid)
    assert (record["status"], record["control"], record["pages"], record["reason"]) == ("active", "requested", 0,
                                                                                        None)
    [watched] = record["watched"]
    assert watched["left_at"] is None
    # A good ping, pong and result each arrive once: the bad ones before them went nowhere.
    assert (await console.call("cobrowse:ping", {"session_id": session_id, "t": 7}))["ok"]
    assert await shopper.wait_for("cobrowse:ping") == {"session_id": session_id, "t": 7}
    assert (await shopper.call("cobrowse:pong", {"session_id": session_id, "t": 7}))["ok"]
    assert (await shopper.call("cobrowse:action_result", {**result, "reason": "masked_field"}))["ok"]
    await console.wait_for("cobrowse:action_result")
    await console.wait_for("cobrowse:pong")
    assert shopper.events["cobrowse:ping"] == [{"session_id": session_id, "t": 7}]
    assert console.events["cobrowse:pong"] == [{"session_id": session_id, "t": 7}]
    assert console.events["cobrowse:action_result"] == [{**result, "reason": "masked_field"}]

    # Paused: a bad resume does not restart it.
    assert await server.parts.transport.relay.service.pause(session_id, "rate_limited") is not None
    await console.wait_for("cobrowse:updated", lambda d: d["session"]["status"] == "paused")
    await refused(console, "cobrowse:resume", _bad_refs(session_id))
    assert (await _record(server, cid))["status"] == "paused"
    assert (await console.call("cobrowse:resume", {"session_id": session_id}))["session"]["status"] == "active"


async def test_strangers_cannot_resume_ping_leave_or_answer_for_a_session(server: LiveServer) -> None:
    shopper, console, _, cid = await assigned_chat(server)
    session_id = await active_session(shopper, console, cid)
    assert await server.parts.transport.relay.service.pause(session_id, "rate_limited") is not None
    intruder = await agent(server, await server.add_agent("Mallory"))
    await intruder.call("cobrowse:join", {"session_id": session_id})  # refused: it watches nothing
    for event, payload in (("cobrowse:resume", {"session_id": session_id}),
                           ("cobrowse:ping", {"session_id": session_id, "t": 1}),
                           ("cobrowse:leave", {"session_id": session_id})):
        refused = await intruder.call(event, payload)
        assert "ok" not in refused and refused["error"]["code"] == "forbidden", (event, refused)
    stranger = await visitor(server)
    for event, payload in (("cobrowse:action_result", {"session_id": session_id, "action_id": "a1", "ok": True}),
                           ("cobrowse:pong", {"session_id": session_id, "t": 1})):
        refused = await stranger.call(event, payload)
        assert "ok" not in refused and refused["error"]["code"] == "not_found", (event, refused)
    # Unknown sessions are refused too.
    assert (await console.call("cobrowse:leave", {"session_id": "nope"}))["error"]["code"] == "not_found"
    assert (await shopper.call("cobrowse:pong", {"session_id": "nope", "t": 1}))["error"]["code"] == "not_found"

    # Nothing changed: still paused, the agent's view still open, nothing passed on.
    record = await _record(server, cid)
    assert record["status"] == "paused" and [w["left_at"] for w in record["watched"]] == [None]
    resumed = await console.call("cobrowse:resume", {"session_id": session_id})
    assert resumed["session"]["status"] == "active"
    assert (await console.call("cobrowse:ping", {"session_id": session_id, "t": 2}))["ok"]
    assert await shopper.wait_for("cobrowse:ping") == {"session_id": session_id, "t": 2}
    assert shopper.events["cobrowse:ping"] == [{"session_id": session_id, "t": 2}]
    assert (await shopper.call("cobrowse:pong", {"session_id": session_id, "t": 2}))["ok"]
    assert await console.wait_for("cobrowse:pong") == {"session_id": session_id, "t": 2}
    assert console.events["cobrowse:pong"] == [{"session_id": session_id, "t": 2}]
    assert "cobrowse:action_result" not in console.events
    # The owner's leave works, and ends their view.
    assert (await console.call("cobrowse:leave", {"session_id": session_id})) == {"ok": True}
    assert (await _record(server, cid))["watched"][0]["left_at"] is not None


@pytest.mark.both_backends
async def test_the_page_is_told_the_part_limit_and_a_larger_part_is_refused_with_it(tmp_path: Path,
                                                                                   backend_settings: dict[str, str],
                                                                                   ) -> None:
    live = LiveServer(make_settings(tmp_path, cobrowse_max_part_bytes=8192, **backend_settings))
    await live.start()
    try:
        shopper, console, _, cid = await assigned_chat(live)
        session_id = (await console.call("cobrowse:request", {"conversation_id": cid}))["session"]["id"]
        await shopper.wait_for("cobrowse:updated", lambda d: d["session"]["id"] == session_id)
        status = await shopper.call("cobrowse:status", {"conversation_id": cid})
        assert status["max_part_bytes"] == 8192
        accepted = await shopper.call("cobrowse:respond", {"session_id": session_id, "accept": True})
        assert accepted["max_part_bytes"] == 8192
        assert (await console.call("cobrowse:join", {"session_id": session_id}))["ok"]
        data = encode_batch(snapshot_events("split page", size=30_000))
        too_big = await shopper.call("cobrowse:events", {"session_id": session_id, "seq": 1, "snapshot": True,
                                                         "part": 0, "parts": 1, "data": data})
        assert too_big["error"]["code"] == "payload_too_large"
        assert too_big["error"]["details"] == {"max_part_bytes": 8192}
        # Nothing of it was relayed, and the session goes on: the same page in parts gets through.
        acks = await send_batch(shopper, session_id, 2, snapshot_events("split page", size=30_000), snapshot=True,
                                part_size=8192)
        assert len(acks) == 4 and all(a["ok"] for a in acks)
        await wait_until(lambda: len(received_batches(console, session_id)) == 1, timeout=5.0)
        [(seq, events)] = received_batches(console, session_id)
        assert seq == 2 and events[1]["data"]["node"]["text"] == "split page"
        assert (await _record(live, cid))["status"] == "active"
    finally:
        await live.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def limited(tmp_path: Path, backend_settings: dict[str, str], clock: ManualClock) -> Any:
    settings = make_settings(tmp_path, cobrowse_bytes_per_second=10_000, cobrowse_burst_bytes=200_000,
                             cobrowse_max_snapshot_bytes=150_000, sweep_interval=0.05, cobrowse_request_timeout=30,
                             cobrowse_visitor_away_timeout=20, **backend_settings)
    live = LiveServer(settings, clock=clock)
    await live.start()
    try:
        yield live
    finally:
        await live.close()


@pytest.mark.both_backends
async def test_over_the_limits_the_session_pauses_and_the_chat_goes_on(limited: LiveServer) -> None:
    shopper, console, _, cid = await assigned_chat(limited)
    session_id = await active_session(shopper, console, cid)
    # A snapshot larger than the session allows pauses it.
    acks = await send_batch(shopper, session_id, 1, snapshot_events("huge", size=180_000), snapshot=True)
    assert acks[-1]["error"]["code"] == "payload_too_large"
    paused = await console.wait_for("cobrowse:updated", lambda d: d["session"]["status"] == "paused")
    assert paused["session"]["reason"] == "page_too_large"
    told = await shopper.wait_for("cobrowse:updated", lambda d: d["session"]["status"] == "paused")
    assert told["session"]["reason"] == "page_too_large"
    # The chat goes on.
    sent = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "m1", "body": "still here"})
    assert sent["ok"]
    # The agent resumes; the page must stay within the byte rate or it pauses again.
    resumed = await console.call("cobrowse:resume", {"session_id": session_id})
    assert resumed["session"]["status"] == "active"
    await shopper.wait_for("cobrowse:updated", lambda d: d["session"]["status"] == "active")
    assert all(a["ok"] for a in await send_batch(shopper, session_id, 2, snapshot_events("ok", size=50_000),
                                                 snapshot=True))
    codes = []
    for n in range(3, 12):
        acks = await send_batch(shopper, session_id, n, snapshot_events("again", size=40_000), snapshot=True)
        codes += [a.get("error", {}).get("code") for a in acks]
    assert "rate_limited" in codes
    paused = await console.wait_for("cobrowse:updated", lambda d: d["session"]["reason"] == "rate_limited")
    assert paused["session"]["status"] == "paused"


@pytest.mark.both_backends
async def test_unanswered_requests_expire_and_a_departed_shopper_ends_it(limited: LiveServer,
                                                                        clock: ManualClock) -> None:
    shopper, console, _, cid = await assigned_chat(limited)
    first = (await console.call("cobrowse:request", {"conversation_id": cid}))["session"]["id"]
    clock.advance(31)
    expired = await console.wait_for("cobrowse:updated", lambda d: d["session"]["id"] == first
                                     and d["session"]["status"] == "declined")
    assert expired["session"]["reason"] == "no_answer"
    session_id = await active_session(shopper, console, cid)
    await console.call("cobrowse:control_request", {"session_id": session_id})
    clock.advance(31)
    await console.wait_for("cobrowse:updated", lambda d: d["session"]["control"] == "declined")
    await shopper.disconnect()
    # The away time counts from the first sweep that finds the shopper gone.
    sweeps = limited.parts.transport.relay.service
    await wait_until(lambda: session_id in sweeps._absent_since, what="a sweep to find the shopper gone")
    clock.advance(21)
    ended = await console.wait_for("cobrowse:updated", lambda d: d["session"]["status"] == "ended")
    assert ended["session"]["reason"] == "visitor_left"


async def test_a_customers_export_holds_their_cobrowse_records_and_deletion_removes_them(server: LiveServer) -> None:
    shopper, console, _, cid = await assigned_chat(server)
    session_id = await active_session(shopper, console, cid)
    await send_batch(shopper, session_id, 1, snapshot_events("page"), snapshot=True)
    assert (await shopper.call("cobrowse:stop", {"session_id": session_id}))["ok"]
    assert (await shopper.call("conversation:close", {"conversation_id": cid}))["ok"]
    admin = await server.admin_token()
    status, record = await server.request("GET", f"/api/conversations/{cid}", token=admin)
    assert status == 200
    customer_id = record["conversation"]["customer_id"]
    status, export = await server.request("GET", f"/api/customers/{customer_id}/export", token=admin)
    assert status == 200
    [exported] = export["related"]["cobrowse_sessions"]
    assert exported["id"] == session_id and exported["reason"] == "stopped_by_visitor"
    assert len(export["related"]["cobrowse_views"]) == 1
    status, _ = await server.request("DELETE", f"/api/customers/{customer_id}", token=admin)
    assert status == 204
    assert await server.parts.stores.cobrowse.sessions_for(cid) == []
    assert await server.parts.stores.cobrowse.views_for(cid) == []


async def test_a_fresh_snapshot_is_asked_for_once_batches_pile_up_not_for_a_large_page(tmp_path: Path) -> None:
    """The page is asked for a fresh snapshot (``cobrowse:snapshot``) when what it sent since its
    last one is worth replacing, not merely because its snapshot alone comes near the limit: that
    asked after every batch, each answer leading to the next, until the session paused."""
    live = LiveServer(make_settings(tmp_path, cobrowse_max_buffer_bytes=64 * 1024))
    await live.start()
    try:
        shopper, console, _, cid = await assigned_chat(live)
        session_id = await active_session(shopper, console, cid)
        # A snapshot just under the limit, then a small batch that takes the total over it.
        assert all(a["ok"] for a in await send_batch(shopper, session_id, 1, snapshot_events("page", size=60_000),
                                                     snapshot=True))
        await asyncio.sleep(0.2)
        shopper.events["cobrowse:snapshot"].clear()  # the agent's joining asked for the first one
        small = [{"type": INCREMENTAL, "data": {"pad": "y" * 14_000}, "timestamp": 3}]
        assert all(a["ok"] for a in await send_batch(shopper, session_id, 2, small))
        await asyncio.sleep(0.2)  # an ask would be on its way by now
        assert shopper.events["cobrowse:snapshot"] == []
        # Batches since the snapshot past half the limit: the page is asked, once.
        for seq in range(3, 6):
            assert all(a["ok"] for a in await send_batch(shopper, session_id, seq, small))
        asked = await shopper.wait_for("cobrowse:snapshot", lambda d: d["session_id"] == session_id)
        assert asked == {"session_id": session_id}
        assert all(a["ok"] for a in await send_batch(shopper, session_id, 6, small))
        await asyncio.sleep(0.2)
        assert len(shopper.events["cobrowse:snapshot"]) == 1
    finally:
        await live.close()
