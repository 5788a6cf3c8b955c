"""Customer records end to end, on both backends: anonymous and identified visitors (real
Socket.IO clients), the directory, conversation filters, transcript exports, the ratings report,
export and deletion, and every kind of bad input (structured 4xx, nothing stored changes)."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chatserver.domain.identity import sign_identity
from chatserver.http.common import MAX_OFFSET

from ..support import Client, LiveServer, agent, make_settings, prechat, visitor, wait_until

SECRET = "shop-shared-secret"


def _error(body: Any) -> str:
    assert set(body) == {"error"} and body["error"]["message"], body
    return str(body["error"]["code"])


def _identity(external_id: str, secret: str = SECRET, **claims: Any) -> str:
    return sign_identity(secret, {"external_id": external_id, "iat": time.time(), **claims})


@pytest.fixture
async def shop(tmp_path: Path, backend_settings: dict[str, str]) -> AsyncIterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path, identity_secret=SECRET, departments=("billing", "sales"),
                                    **backend_settings))
    await live.start()
    try:
        yield live
    finally:
        await live.close()


async def _customers(server: LiveServer, query: str = "") -> list[dict[str, Any]]:
    status, body = await server.request("GET", f"/api/customers?q={query}", token=await server.admin_token())
    assert status == 200, body
    assert body["total"] == len(body["customers"])
    return list(body["customers"])


async def _served_chat(server: LiveServer, login: dict[str, Any], shopper: Client, n: int = 1,
                       **extra: Any) -> str:
    """A chat the agent (connected) is assigned, then closed by the agent."""
    started = await shopper.call("chat:start", prechat(n, **extra))
    cid = str(started["conversation"]["id"])
    desk = await agent(server, login)
    await desk.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == cid
                        and d["conversation"]["status"] == "assigned")
    assert (await desk.call("conversation:close", {"conversation_id": cid}))["ok"]
    await desk.disconnect()
    return cid


async def test_an_anonymous_chat_gets_a_customer_record_found_by_name_email_and_order(shop: LiveServer) -> None:
    shopper = await visitor(shop)
    started = await shopper.call("chat:start", prechat(1, email="Ann@Example.com", order_number="ORD-4711"))
    cid = started["conversation"]["id"]
    [customer] = await _customers(shop)
    assert customer["identified"] is False and customer["external_id"] is None
    assert (customer["name"], customer["emails"]) == ("Shopper 1", ["ann@example.com"])
    for query in ["shopper", "EXAMPLE.com", "ord-47"]:
        assert [c["id"] for c in await _customers(shop, query)] == [customer["id"]], query
    assert await _customers(shop, "nobody") == []
    admin = await shop.admin_token()
    status, body = await shop.request("GET", f"/api/customers/{customer['id']}/conversations", token=admin)
    assert status == 200 and [c["id"] for c in body["conversations"]] == [cid] and body["total"] == 1
    assert body["conversations"][0]["customer_id"] == customer["id"]
    # the same browser's next chat joins the same record
    await shopper.call("conversation:close", {"conversation_id": cid})
    await shopper.call("chat:start", prechat(2))
    [again] = await _customers(shop)
    assert again["id"] == customer["id"] and again["name"] == "Shopper 2"


async def test_an_anonymous_visitor_who_identifies_is_merged_into_the_shops_customer(shop: LiveServer) -> None:
    # The shopper chatted once before, logged in on another device.
    laptop = await visitor(shop)
    assert (await laptop.call("visitor:identify", {"identity": _identity("cust-42", email="ann@shop.example",
                                                                         name="Ann Smith")}))["ok"]
    first = (await laptop.call("chat:start", prechat(1)))["conversation"]["id"]
    # Now an anonymous chat from the phone, then the shopper logs in there too.
    phone = await visitor(shop)
    second = (await phone.call("chat:start", prechat(2, email="ann@home.example")))["conversation"]["id"]
    assert len(await _customers(shop)) == 2
    ack = await phone.call("visitor:identify", {"identity": _identity("cust-42")})
    assert ack == {"ok": True, "identified": True}
    [customer] = await _customers(shop)
    assert customer["external_id"] == "cust-42" and customer["identified"] and customer["name"] == "Ann Smith"
    assert set(customer["emails"]) == {"ann@shop.example", "ann@home.example"}
    admin = await shop.admin_token()
    _, body = await shop.request("GET", f"/api/customers/{customer['id']}/conversations", token=admin)
    assert {c["id"] for c in body["conversations"]} == {first, second}
    # identifying again (every connect) changes nothing
    assert (await phone.call("visitor:identify", {"identity": _identity("cust-42")}))["ok"]
    assert [c["id"] for c in await _customers(shop)] == [customer["id"]]


async def test_the_last_seen_time_moves_forward_with_each_chat_and_identification(
        tmp_path: Path, backend_settings: dict[str, str]) -> None:
    from chatserver.domain.clock import ManualClock

    clock = ManualClock(start=time.time())
    server = LiveServer(make_settings(tmp_path, identity_secret=SECRET, **backend_settings), clock=clock)
    await server.start()
    try:
        start = clock.now()
        shopper = await visitor(server)
        first = (await shopper.call("chat:start", prechat(1)))["conversation"]["id"]
        [customer] = await _customers(server)
        assert (customer["created_at"], customer["last_seen_at"]) == (start, start)
        assert (await shopper.call("conversation:close", {"conversation_id": first}))["ok"]

        clock.advance(3600)  # the same browser's next chat, an hour later
        await shopper.call("chat:start", prechat(2))
        [customer] = await _customers(server)
        assert (customer["created_at"], customer["last_seen_at"]) == (start, start + 3600)

        clock.advance(3600)  # the shopper logs in: merged into the shop's customer, seen now
        identity = sign_identity(SECRET, {"external_id": "cust-5", "iat": clock.now()})
        assert (await shopper.call("visitor:identify", {"identity": identity}))["ok"]
        [customer] = await _customers(server)
        assert customer["external_id"] == "cust-5"
        assert (customer["created_at"], customer["last_seen_at"]) == (start, start + 7200)

        clock.advance(3600)  # and again on another device: the same record, seen later still
        laptop = await visitor(server)
        identity = sign_identity(SECRET, {"external_id": "cust-5", "iat": clock.now()})
        assert (await laptop.call("visitor:identify", {"identity": identity}))["ok"]
        [again] = await _customers(server)
        assert again["id"] == customer["id"]
        assert (again["created_at"], again["last_seen_at"]) == (start, start + 10800)
    finally:
        await server.close()


async def test_bad_identities_are_refused_and_attach_nothing(shop: LiveServer) -> None:
    shopper = await visitor(shop)
    await shopper.call("chat:start", prechat(1))
    before = await _customers(shop)
    forged = _identity("cust-1", secret="guessed")
    tampered = _identity("cust-1")[:-3] + "abc"
    old = sign_identity(SECRET, {"external_id": "cust-1", "iat": time.time() - 7200})
    for payload, code in [({"identity": forged}, "invalid_identity"), ({"identity": tampered}, "invalid_identity"),
                          ({"identity": "not-a-token"}, "invalid_identity"), ({"identity": old}, "identity_expired"),
                          ({}, "invalid_payload"), ({"identity": 5}, "invalid_payload"),
                          ({"identity": "x" * 5000}, "invalid_payload"),
                          ({"identity": _identity("c"), "extra": 1}, "invalid_payload"), (None, "invalid_payload")]:
        reply = await shopper.call("visitor:identify", payload)
        assert _error(reply) == code, payload
    assert await _customers(shop) == before


async def test_identities_are_refused_when_the_server_has_no_secret(server: LiveServer) -> None:
    shopper = await visitor(server)
    reply = await shopper.call("visitor:identify", {"identity": _identity("cust-1")})
    assert _error(reply) == "invalid_identity"


async def test_staff_create_update_and_search_customers(shop: LiveServer) -> None:
    login = await shop.add_agent()
    token = login["token"]
    admin = await shop.admin_token()
    fields = {"external_id": "shop-7", "name": " Cleo ", "emails": ["Cleo@Example.com", "cleo@example.com"],
              "phone": "+44 20 7946 0018", "notes": "VIP", "tags": ["Wholesale"]}
    # The shop's external_id decides whose signed identity lands on a record: admins only.
    status, body = await shop.request("POST", "/api/customers", token=token, json=fields)
    assert status == 403 and _error(body) == "forbidden"
    assert await _customers(shop) == []
    status, body = await shop.request("POST", "/api/customers", token=admin, json=fields)
    assert status == 201, body
    cleo = body["customer"]
    for change in [{"external_id": "hijack"}, {"external_id": None}, {"name": "Cleo", "external_id": "shop-7"}]:
        status, body = await shop.request("PATCH", f"/api/customers/{cleo['id']}", token=token, json=change)
        assert status == 403 and _error(body) == "forbidden", change
    assert await _customers(shop) == [cleo]
    assert (cleo["name"], cleo["emails"], cleo["tags"]) == ("Cleo", ["cleo@example.com"], ["wholesale"])
    status, body = await shop.request("PATCH", f"/api/customers/{cleo['id']}", token=token,
                                      json={"notes": None, "phone": "0123 456"})
    assert status == 200 and body["customer"]["notes"] is None and body["customer"]["phone"] == "0123 456"
    assert body["customer"]["name"] == "Cleo"  # untouched
    status, body = await shop.request("GET", f"/api/customers/{cleo['id']}", token=token)
    assert status == 200 and body["customer"]["phone"] == "0123 456"
    for query in ["0123", "shop-7", "cleo"]:
        status, body = await shop.request("GET", f"/api/customers?q={query}", token=token)
        assert [c["id"] for c in body["customers"]] == [cleo["id"]], query
    status, body = await shop.request("POST", "/api/customers", token=admin, json={"external_id": "shop-7"})
    assert status == 409 and _error(body) == "conflict"
    # a shopper the shop identifies later with that id lands on the same record
    shopper = await visitor(shop)
    assert (await shopper.call("visitor:identify", {"identity": _identity("shop-7")}))["ok"]
    cid = (await shopper.call("chat:start", prechat(1)))["conversation"]["id"]
    _, body = await shop.request("GET", f"/api/conversations?customer_id={cleo['id']}", token=await shop.admin_token())
    assert [c["id"] for c in body["conversations"]] == [cid]


async def test_bad_customer_input_gets_structured_errors_and_changes_nothing(shop: LiveServer) -> None:
    login = await shop.add_agent()
    token = login["token"]
    _, body = await shop.request("POST", "/api/customers", token=token, json={"name": "Dee", "emails": ["d@x.io"]})
    dee = body["customer"]
    bad_bodies: list[Any] = [
        {"emails": ["not-an-email"]}, {"emails": "d@x.io"}, {"tags": ["Not OK!"]}, {"phone": "call me"},
        {"name": "x" * 101}, {"notes": "x" * 4001}, {"unknown": 1},
        {"emails": [f"e{i}@x.io" for i in range(11)]}, [], "text", 7,
        # A line break after a valid value is no part of it (re's $ matched before it).
        {"emails": ["d@x.io\n"]}, {"tags": ["vip\n"]},
    ]
    admin = await shop.admin_token()
    for bad in bad_bodies:
        for method, path in [("POST", "/api/customers"), ("PATCH", f"/api/customers/{dee['id']}")]:
            status, reply = await shop.request(method, path, token=token, json=bad)
            assert status == 400 and _error(reply) == "invalid_payload", (method, bad)
    for method, path in [("POST", "/api/customers"), ("PATCH", f"/api/customers/{dee['id']}")]:
        status, reply = await shop.request(method, path, token=admin, json={"external_id": "a\u0007b"})
        assert status == 400 and _error(reply) == "invalid_payload", method
    for force in ["yes", "1", ""]:
        status, reply = await shop.request("DELETE", f"/api/customers/{dee['id']}?force={force}", token=admin)
        assert status == 400 and _error(reply) == "invalid_payload", force
    status, reply = await shop.request("POST", "/api/conversations/nope/close", token=admin)
    assert status == 404 and _error(reply) == "not_found"
    for empty in [None, {}, {"name": " ", "emails": []}]:  # a new record must say who it is
        status, reply = await shop.request("POST", "/api/customers", token=token, json=empty)
        assert status == 400 and _error(reply) == "invalid_payload", empty
    for raw, expected in [(b"{not json", (400, "invalid_payload")), (b"x" * 200_000, (413, "payload_too_large"))]:
        status, reply = await shop.request("POST", "/api/customers", token=token, data=raw,
                                           headers={"Content-Type": "application/json"})
        assert (status, _error(reply)) == expected, raw[:20]
    for method in ("GET", "PATCH"):
        for missing in ["nope", "x" * 300]:
            status, reply = await shop.request(method, f"/api/customers/{missing}", token=token, json={})
            assert status == 404 and _error(reply) == "not_found"
    for query in ["limit=0", "limit=x", "offset=-1", "limit=201"]:
        status, reply = await shop.request("GET", f"/api/customers?{query}", token=token)
        assert status == 400 and _error(reply) == "invalid_payload", query
    for method, path in [("GET", "/api/customers"), ("POST", "/api/customers"),
                         ("GET", f"/api/customers/{dee['id']}"), ("DELETE", f"/api/customers/{dee['id']}")]:
        status, reply = await shop.request(method, path, json={})
        assert status == 401 and _error(reply) == "auth_required"
        status, reply = await shop.request(method, path, token="forged.token", json={})
        assert status == 401 and _error(reply) == "invalid_token"
    [stored] = await _customers(shop)
    assert stored == dee


async def test_conversations_are_listed_with_filters(shop: LiveServer) -> None:
    admin = await shop.admin_token()
    alice = await shop.add_agent("Alice")
    bob_login = await shop.add_agent("Bob")
    shopper_a = await visitor(shop)
    served = await _served_chat(shop, alice, shopper_a, 1, department="billing")
    desk = await agent(shop, alice)
    shopper_b = await visitor(shop)
    other = (await shopper_b.call("chat:start", prechat(2, department="sales")))["conversation"]["id"]
    await desk.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == other)
    ended = await desk.call("conversation:end", {"conversation_id": other, "tags": ["refund", "shipping"]})
    assert ended["ok"], ended
    await desk.disconnect()
    shopper_c = await visitor(shop)  # no agent is online: this chat stays queued
    queued = (await shopper_c.call("chat:start", prechat(3)))["conversation"]["id"]

    async def ids(query: str, token: str = admin) -> list[str]:
        status, body = await shop.request("GET", f"/api/conversations?{query}", token=token)
        assert status == 200, (query, body)
        assert body["total"] >= len(body["conversations"])
        return [c["id"] for c in body["conversations"]]

    assert set(await ids("")) == {served, other, queued}
    assert set(await ids("status=closed")) == {served, other}
    assert await ids(f"status=closed&agent_id={alice['agent']['id']}&department=billing") == [served]
    assert await ids("tag=refund") == [other]
    assert await ids("tag=nothing") == []
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert set(await ids(f"from={today}&to={today}")) == {served, other, queued}
    assert await ids("from=2001-01-01&to=2001-01-31") == []
    assert await ids("to=2001-01-01T00:00:00Z") == []
    assert len(await ids("limit=1")) == 1
    _, body = await shop.request("GET", "/api/conversations?limit=1&offset=1", token=admin)
    assert body["total"] == 3
    # agents see their own conversations only
    assert set(await ids("", alice["token"])) == {served, other}
    assert await ids("", bob_login["token"]) == []
    status, body = await shop.request("GET", f"/api/conversations?agent_id={alice['agent']['id']}",
                                      token=bob_login["token"])
    assert status == 403 and _error(body) == "forbidden"
    for query in ["status=nope", "status=", "from=yesterday", "to=2026-13-01", "from=2026-02-30",
                  "from=2026-11-24&to=2026-11-23", "limit=0", "offset=-1", "tag=" + "t" * 65]:
        status, body = await shop.request("GET", f"/api/conversations?{query}", token=admin)
        assert status == 400 and _error(body) == "invalid_payload", query


async def test_agents_read_the_history_of_customers_they_serve(shop: LiveServer) -> None:
    alice = await shop.add_agent("Alice")
    bob = await shop.add_agent("Bob")
    shopper = await visitor(shop)
    first = await _served_chat(shop, alice, shopper, 1)
    second = await _served_chat(shop, bob, shopper, 2)
    status, body = await shop.request("GET", f"/api/conversations/{first}", token=bob["token"])
    assert status == 200 and body["conversation"]["id"] == first and body["conversation"]["customer_id"]
    customer_id = body["conversation"]["customer_id"]
    _, listing = await shop.request("GET", f"/api/customers/{customer_id}/conversations", token=alice["token"])
    assert [c["id"] for c in listing["conversations"]] == [second, first]
    stranger = await shop.add_agent("Cy")
    for path in [f"/api/conversations/{first}", f"/api/conversations/{first}/transcript",
                 f"/api/customers/{customer_id}/conversations", f"/api/conversations?customer_id={customer_id}"]:
        status, body = await shop.request("GET", path, token=stranger["token"])
        assert status == 403 and _error(body) == "forbidden", path
    for path in ["/api/conversations/nope", "/api/conversations/nope/transcript",
                 "/api/customers/nope/conversations", "/api/conversations/" + "x" * 100]:
        status, body = await shop.request("GET", path, token=alice["token"])
        assert status == 404 and _error(body) == "not_found", path


async def test_a_customers_conversations_refuse_bad_limits_and_offsets_and_change_nothing(shop: LiveServer) -> None:
    alice = await shop.add_agent("Alice")
    shopper = await visitor(shop)
    cid = await _served_chat(shop, alice, shopper)
    _, body = await shop.request("GET", f"/api/conversations/{cid}", token=alice["token"])
    path = f"/api/customers/{body['conversation']['customer_id']}/conversations"
    status, before = await shop.request("GET", path, token=alice["token"])
    assert status == 200 and [c["id"] for c in before["conversations"]] == [cid]
    bad = {
        "limit": ["-1", "0", "501", "1" + "0" * 30, "x", "1.5", "", " 5", "1_0", "\u0663"],
        "offset": ["-1", str(MAX_OFFSET + 1), "1" + "0" * 30, "9" * 5000, "x", "1e3", "", "0x10", "\u0663"],
    }
    for name, values in bad.items():
        for raw in values:
            status, reply = await shop.request("GET", f"{path}?{name}={urllib.parse.quote(raw)}", token=alice["token"])
            assert status == 400 and _error(reply) == "invalid_payload", (name, raw)
            assert name in reply["error"]["message"], reply
    assert (await shop.request("GET", path, token=alice["token"]))[1] == before
    # The bounds themselves are fine: past the end is an empty page, with the total.
    for query, ids in [("limit=1", [cid]), ("limit=500&offset=0", [cid]), (f"offset={MAX_OFFSET}", [])]:
        status, page = await shop.request("GET", f"{path}?{query}", token=alice["token"])
        assert status == 200 and [c["id"] for c in page["conversations"]] == ids and page["total"] == 1, query


async def test_transcripts_export_as_json_text_and_escaped_html(shop: LiveServer) -> None:
    login = await shop.add_agent("Alice")
    shopper = await visitor(shop)
    started = await shopper.call("chat:start", prechat(1, email="ann@example.com", order_number="A-1"))
    cid = started["conversation"]["id"]
    desk = await agent(shop, login)
    await desk.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    script = "<script>alert('x')</script> & <b>bold</b>"
    assert (await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "m1", "body": script}))["ok"]
    await desk.call("conversation:close", {"conversation_id": cid})
    assert (await shopper.call("conversation:rate", {"conversation_id": cid, "rating": 5, "comment": "<i>top</i>"}))
    token = login["token"]

    status, body = await shop.request("GET", f"/api/conversations/{cid}/transcript?format=json", token=token)
    assert status == 200 and body["conversation"]["id"] == cid and body["rating"]["rating"] == 5
    assert script in [m["body"] for m in body["messages"]]
    status, default = await shop.request("GET", f"/api/conversations/{cid}/transcript", token=token)
    assert default == body

    assert shop.http is not None
    headers = {"Authorization": f"Bearer {token}"}
    async with shop.http.get(f"{shop.url}/api/conversations/{cid}/transcript?format=text", headers=headers) as resp:
        text = await resp.text()
        assert resp.status == 200 and resp.content_type == "text/plain"
        assert "attachment" in resp.headers["Content-Disposition"]
    assert f"Conversation: {cid}" in text and "Order number: A-1" in text and "Rating: 5/5" in text
    assert f"Shopper 1: {script}" in text and "agent_joined (agent_name=Alice)" in text

    async with shop.http.get(f"{shop.url}/api/conversations/{cid}/transcript?format=html", headers=headers) as resp:
        page = await resp.text()
        assert resp.status == 200 and resp.content_type == "text/html"
        assert "script-src" not in resp.headers["Content-Security-Policy"]
        assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "<script>" not in page and "<b>bold</b>" not in page and "<i>top</i>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page

    status, body = await shop.request("GET", f"/api/conversations/{cid}/transcript?format=pdf", token=token)
    assert status == 400 and _error(body) == "invalid_payload"


async def test_the_ratings_report_averages_per_agent_and_day_for_admins(shop: LiveServer) -> None:
    alice = await shop.add_agent("Alice")
    bob = await shop.add_agent("Bob")
    for n, (login, rating) in enumerate([(alice, 5), (alice, 2), (bob, 4)], start=1):
        shopper = await visitor(shop)
        cid = await _served_chat(shop, login, shopper, n)
        assert (await shopper.call("conversation:rate", {"conversation_id": cid, "rating": rating}))["ok"]
    admin = await shop.admin_token()
    status, report = await shop.request("GET", "/api/reports/ratings", token=admin)
    assert status == 200 and report["count"] == 3 and report["average"] == pytest.approx(11 / 3, abs=0.01)
    per_agent = {a["agent_name"]: (a["count"], a["average"]) for a in report["per_agent"]}
    assert per_agent == {"Alice": (2, 3.5), "Bob": (1, 4.0)}
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert [(d["day"], d["count"]) for d in report["per_day"]] == [(today, 3)]
    status, empty = await shop.request("GET", "/api/reports/ratings?from=2001-01-01&to=2001-01-02", token=admin)
    assert status == 200 and (empty["count"], empty["average"], empty["per_agent"]) == (0, None, [])
    status, body = await shop.request("GET", "/api/reports/ratings", token=alice["token"])
    assert status == 403 and _error(body) == "forbidden"
    # RFC 3339 only (what the OpenAPI document's formats date and date-time say): no week dates,
    # basic formats, times without seconds or empty values; the ends of the calendar are fine.
    for query in ["from=soon", "to=2026-02-30T25:00", "from=2026-01-02&to=2026-01-01", "from=", "from=2026-W47-1",
                  "from=20261123", "from=2026-11-23T10:00", "from=2026-11-23%2010:00:00",
                  "to=2026-11-23T10:00:00%2B24:00", "from=2026-11-23%0A"]:
        status, body = await shop.request("GET", f"/api/reports/ratings?{query}", token=admin)
        assert status == 400 and _error(body) == "invalid_payload", query
    for query, count in [("to=9999-12-31", 3), ("from=0001-01-01T00:00:00%2B05:00", 3),
                         ("from=2001-01-01t00:00:00.123456789z", 3),
                         ("from=2001-01-01T00:00:00&to=2001-01-01T00:00:01-01:00", 0)]:
        status, body = await shop.request("GET", f"/api/reports/ratings?{query}", token=admin)
        assert status == 200 and body["count"] == count, (query, body)


async def test_admins_export_and_delete_a_customer_with_everything_held(shop: LiveServer) -> None:
    alice = await shop.add_agent("Alice")
    shopper = await visitor(shop)
    assert (await shopper.call("visitor:identify", {"identity": _identity("cust-9", email="nia@example.com")}))["ok"]
    cid = await _served_chat(shop, alice, shopper, 1)
    await shopper.call("conversation:rate", {"conversation_id": cid, "rating": 3})
    desk = await agent(shop, alice)
    note = await desk.call("note:add", {"conversation_id": cid, "body": "asked about a refund"})
    assert note["ok"], note
    ticket = await shopper.call("ticket:create", {"name": "Nia", "email": "nia@example.com",
                                                  "description": "The refund never came"})
    assert ticket["ok"], ticket
    ticket_id = ticket["ticket"]["id"]
    bystander = await visitor(shop)
    kept = (await bystander.call("chat:start", prechat(2)))["conversation"]["id"]
    [customer] = [c for c in await _customers(shop) if c["external_id"] == "cust-9"]
    admin = await shop.admin_token()
    path = f"/api/customers/{customer['id']}"

    for method, suffix in [("GET", "/export"), ("DELETE", "")]:
        status, body = await shop.request(method, path + suffix, token=alice["token"])
        assert status == 403 and _error(body) == "forbidden"
    status, export = await shop.request("GET", path + "/export", token=admin)
    assert status == 200 and export["customer"]["id"] == customer["id"] and len(export["visitor_ids"]) == 1
    [transcript] = export["conversations"]
    assert transcript["conversation"]["id"] == cid and transcript["rating"]["rating"] == 3
    assert [n["body"] for n in export["related"]["conversation_notes"]] == ["asked about a refund"]
    assert [t["description"] for t in export["related"]["tickets"]] == ["The refund never came"]

    status, _ = await shop.request("DELETE", path, token=admin)
    assert status == 204
    for gone in [path, path + "/export", f"/api/conversations/{cid}", f"/api/tickets/{ticket_id}"]:
        status, body = await shop.request("GET", gone, token=admin)
        assert status == 404 and _error(body) == "not_found", gone
    status, body = await shop.request("DELETE", path, token=admin)
    assert status == 404
    status, body = await shop.request("GET", f"/api/conversations/{kept}", token=admin)
    assert status == 200
    # a customer with a chat still open is not deleted
    [other] = [c for c in await _customers(shop) if c["external_id"] is None]
    status, body = await shop.request("DELETE", f"/api/customers/{other['id']}", token=admin)
    assert status == 409 and _error(body) == "conflict"
    assert (await shop.request("GET", f"/api/customers/{other['id']}", token=admin))[0] == 200


async def test_articles_drafted_from_a_customers_chats_are_exported_and_deleted_unless_published(
        shop: LiveServer) -> None:
    alice = await shop.add_agent("Alice")
    admin = await shop.admin_token()

    async def draft(cid: str, **fields: Any) -> dict[str, Any]:
        status, body = await shop.request("POST", "/api/kb/drafts", token=alice["token"],
                                          json={"conversation_id": cid, **fields})
        assert status == 201, body
        return dict(body["article"])

    async def article(article_id: str) -> tuple[int, Any]:
        return await shop.request("GET", f"/api/kb/articles/{article_id}", token=admin)

    # An anonymous shopper's two chats become three articles: a draft, one in review, one published.
    shopper = await visitor(shop)
    first = await _served_chat(shop, alice, shopper, 1, question="Where is parcel ORD-4711 for Nia Jones?")
    second = await _served_chat(shop, alice, shopper, 2, question="Can Nia Jones pay by invoice?")
    drafted = await draft(first)
    assert drafted["title"] == "Where is parcel ORD-4711 for Nia Jones?"
    in_review = await draft(second, body="Ask us for an invoice.")
    status, body = await shop.request("PATCH", f"/api/kb/articles/{in_review['id']}", token=alice["token"],
                                      json={"status": "in_review"})
    assert status == 200, body
    published = await draft(second, title="Paying by invoice", body="Choose **Invoice** at checkout.")
    status, body = await shop.request("PATCH", f"/api/kb/articles/{published['id']}", token=admin,
                                      json={"status": "published"})
    assert status == 200, body
    # Another shopper's draft and an admin's own article are not theirs.
    other = await visitor(shop)
    theirs = await draft(await _served_chat(shop, alice, other, 3))
    status, body = await shop.request("POST", "/api/kb/articles", token=admin, json={
        "title": "Opening hours", "body": "Mon-Fri.", "status": "published"})
    assert status == 201, body
    own = body["article"]
    # The shopper logs in: the merged record takes the articles with the conversations.
    assert (await shopper.call("visitor:identify", {"identity": _identity("cust-11")}))["ok"]
    [customer] = [c for c in await _customers(shop) if c["external_id"] == "cust-11"]
    path = f"/api/customers/{customer['id']}"

    status, export = await shop.request("GET", path + "/export", token=admin)
    assert status == 200, export
    exported = {a["id"]: a for a in export["related"]["kb_articles"]}
    assert set(exported) == {drafted["id"], in_review["id"], published["id"]}
    assert exported[drafted["id"]]["title"] == "Where is parcel ORD-4711 for Nia Jones?"
    assert exported[drafted["id"]]["source_conversation_id"] == first
    assert {a["status"] for a in exported.values()} == {"draft", "in_review", "published"}
    untouched = {a: (await article(a))[1] for a in (theirs["id"], own["id"])}
    _, found = await shop.request("GET", "/api/kb/search?q=invoice")
    assert [r["id"] for r in found["results"]] == [published["id"]]

    status, body = await shop.request("DELETE", path, token=admin)
    assert status == 204, body
    for gone in (drafted, in_review):
        status, body = await article(gone["id"])
        assert status == 404 and _error(body) == "not_found"
    status, body = await article(published["id"])
    assert status == 200 and body["article"]["status"] == "published"
    assert body["article"]["source_conversation_id"] is None
    assert (body["article"]["title"], body["article"]["body"]) == ("Paying by invoice",
                                                                     "Choose **Invoice** at checkout.")
    _, found = await shop.request("GET", "/api/kb/search?q=invoice")
    assert [r["id"] for r in found["results"]] == [published["id"]]
    assert {a: (await article(a))[1] for a in untouched} == untouched
    [bystander] = [c for c in await _customers(shop) if c["name"] == "Shopper 3"]
    _, export = await shop.request("GET", f"/api/customers/{bystander['id']}/export", token=admin)
    assert [a["id"] for a in export["related"]["kb_articles"]] == [theirs["id"]]


async def test_the_retention_job_deletes_old_closed_transcripts(tmp_path: Path) -> None:
    from chatserver.domain.clock import ManualClock

    clock = ManualClock(start=time.time())
    server = LiveServer(make_settings(tmp_path, transcript_retention_days=30, retention_interval=0.05), clock=clock)
    await server.start()
    try:
        login = await server.add_agent()
        shopper = await visitor(server)
        old = await _served_chat(server, login, shopper, 1)
        clock.advance(20 * 86400)
        login = await server.login(login["email"])  # the agent's token has expired meanwhile
        newer = await _served_chat(server, login, shopper, 2)
        clock.advance(11 * 86400)  # the first closed 31 days ago, the second 11
        # a fresh admin token: the one from the start has expired too
        admin = (await server.login(server.settings.first_admin_email, _first_admin_password(server)))["token"]

        async def status_of(cid: str) -> int:
            return (await server.request("GET", f"/api/conversations/{cid}", token=admin))[0]

        for _ in range(200):  # the job runs every 0.05 s (real time); give it up to 10 s
            if await status_of(old) == 404:
                break
            await asyncio.sleep(0.05)
        assert await status_of(old) == 404
        assert await status_of(newer) == 200
    finally:
        await server.close()


def _first_admin_password(server: LiveServer) -> str:
    text = (server.settings.data_dir / "first-admin.txt").read_text()
    return dict(line.split(": ", 1) for line in text.strip().splitlines())["password"]


async def test_a_shopper_who_only_leaves_a_ticket_gets_a_customer_record(shop: LiveServer) -> None:
    shopper = await visitor(shop)
    form = {"name": "Tina Ticket", "email": "Tina@Example.com", "description": "Where is it?",
            "order_number": "ORD-999"}
    ticket = (await shopper.call("ticket:create", form))["ticket"]
    admin = await shop.admin_token()
    for query in ["tina", "tina@example.com", "ORD-999", "ord-9"]:
        found = await _customers(shop, query)
        assert [c["name"] for c in found] == ["Tina Ticket"], query
    [customer] = await _customers(shop, "ORD-999")
    assert customer["emails"] == ["tina@example.com"] and customer["external_id"] is None
    _, stored = await shop.request("GET", f"/api/tickets/{ticket['id']}", token=admin)
    assert stored["ticket"]["customer_id"] == customer["id"]
    # A second ticket and a chat from the same browser belong to the same record.
    second = (await shopper.call("ticket:create", {**form, "order_number": "ORD-1000"}))["ticket"]
    await shopper.call("chat:start", prechat(1, order_number="ORD-1001"))
    assert [c["id"] for c in await _customers(shop)] == [customer["id"]]
    assert [c["id"] for c in await _customers(shop, "ORD-1000")] == [customer["id"]]

    # Identifying later merges the anonymous record, tickets too.
    assert (await shopper.call("visitor:identify", {"identity": _identity("shop-77", name="Tina T.")}))["ok"]
    [merged] = await _customers(shop, "ORD-999")
    assert merged["external_id"] == "shop-77" and merged["id"] != customer["id"]
    _, stored = await shop.request("GET", f"/api/tickets/{second['id']}", token=admin)
    assert stored["ticket"]["customer_id"] == merged["id"]

    # The export lists each ticket once; deleting (after force-closing the chat) removes them.
    _, export = await shop.request("GET", f"/api/customers/{merged['id']}/export", token=admin)
    assert sorted(t["id"] for t in export["related"]["tickets"]) == sorted([ticket["id"], second["id"]])
    status, body = await shop.request("DELETE", f"/api/customers/{merged['id']}?force=true", token=admin)
    assert status == 204, body
    for gone in (ticket, second):
        assert (await shop.request("GET", f"/api/tickets/{gone['id']}", token=admin))[0] == 404
    assert await _customers(shop, "ORD") == []


async def test_admins_force_close_a_chat_and_delete_a_customer_whose_chat_is_open(shop: LiveServer) -> None:
    alice = await shop.add_agent("Alice")
    desk = await agent(shop, alice)
    shopper = await visitor(shop)
    assigned = (await shopper.call("chat:start", prechat(1)))["conversation"]["id"]
    await desk.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    admin = await shop.admin_token()
    # Agents may not; an admin closes a chat someone else holds, and both sides are told.
    status, body = await shop.request("POST", f"/api/conversations/{assigned}/close", token=alice["token"])
    assert status == 403 and _error(body) == "forbidden"
    status, body = await shop.request("POST", f"/api/conversations/{assigned}/close", token=admin)
    assert status == 200 and body["conversation"]["status"] == "closed", body
    assert body["conversation"]["closed_by"] == "system" and body["conversation"]["customer_id"]
    for side in (shopper, desk):
        await side.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "closed")
    await shopper.wait_for("message:new", lambda m: m["body"] == "closed" and m["meta"] == {"by": "system"})
    status, again = await shop.request("POST", f"/api/conversations/{assigned}/close", token=admin)
    assert status == 200 and again["conversation"]["closed_at"] == body["conversation"]["closed_at"]

    # A customer with a queued chat: 409 without force, deleted with it (the chat closed first).
    queued_shopper = await visitor(shop)
    await desk.call("presence:set", {"status": "away"})
    queued = (await queued_shopper.call("chat:start", prechat(2)))["conversation"]["id"]
    [customer] = [c for c in await _customers(shop) if c["name"] == "Shopper 2"]
    path = f"/api/customers/{customer['id']}"
    status, body = await shop.request("DELETE", path, token=admin)
    assert status == 409 and _error(body) == "conflict"
    assert (await shop.request("DELETE", path + "?force=true", token=alice["token"]))[0] == 403
    assert (await shop.request("GET", f"/api/conversations/{queued}", token=admin))[0] == 200
    status, _ = await shop.request("DELETE", path + "?force=true", token=admin)
    assert status == 204
    await queued_shopper.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "closed")
    assert (await shop.request("GET", f"/api/conversations/{queued}", token=admin))[0] == 404
    _, queue = await shop.request("GET", "/api/queue", token=admin)
    assert queue["total"] == 0


async def test_abandoned_chats_are_closed_and_then_deleted_by_retention(tmp_path: Path) -> None:
    from chatserver.domain.clock import ManualClock

    clock = ManualClock(start=time.time())
    server = LiveServer(make_settings(tmp_path, transcript_retention_days=30, retention_interval=0.05,
                                      abandoned_chat_after=2 * 86400), clock=clock)
    await server.start()
    try:
        shopper = await visitor(server)
        left = (await shopper.call("chat:start", prechat(1)))["conversation"]["id"]
        clock.advance(86400)
        other = await visitor(server)
        recent = (await other.call("chat:start", prechat(2)))["conversation"]["id"]
        clock.advance(86400 + 60)  # the first has waited two days without a message, the second one
        update = await shopper.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "closed",
                                        timeout=10)
        assert update["conversation"]["id"] == left and update["conversation"]["closed_by"] == "system"
        admin = (await server.login(server.settings.first_admin_email, _first_admin_password(server)))["token"]
        _, body = await server.request("GET", f"/api/conversations/{recent}", token=admin)
        assert body["conversation"]["status"] == "queued"
        assert body["messages"][-1]["body"] != "closed"
        _, queue = await server.request("GET", "/api/queue", token=admin)
        assert [e["id"] for e in queue["entries"]] == [recent]

        clock.advance(31 * 86400)  # closed over 30 days ago: retention deletes it (and closes the other)
        # Retention and the abandoned-chats job are separate loops that run in either order: wait
        # for each one's result on its own. (The token from before the advance has expired.)
        admin = (await server.login(server.settings.first_admin_email, _first_admin_password(server)))["token"]

        async def deleted() -> bool:
            return (await server.request("GET", f"/api/conversations/{left}", token=admin))[0] == 404

        async def closed() -> bool:
            _, body = await server.request("GET", f"/api/conversations/{recent}", token=admin)
            return bool(body["conversation"]["status"] == "closed")

        await wait_until(deleted, what="the chat closed 31 days ago deleted by retention")
        await wait_until(closed, what="the other chat closed as abandoned")
    finally:
        await server.close()
