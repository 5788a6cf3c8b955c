"""Proactive messages end to end over a real server: admins keep the rules (REST, refused input
changes nothing, agents refused), the widget's visitor events (which rules apply to a page, in
the shopper's language; shown only when hours and agents allow; answered; the chat it started
recorded) and the report's counts (docs/protocol.md, docs/console.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chatserver.domain.clock import ManualClock

from ..support import LiveServer, agent, make_settings, prechat, visitor, wait_until

PAYMENT = "http://shop.example/demo/payment.html"
RULE = {"name": "Payment help", "url_pattern": "*/payment*", "seconds": 20, "checkout_step": "payment",
        "min_cart_value": 40, "text": "Need a hand with the payment?", "texts": {"de": "Hilfe beim Bezahlen?"},
        "agent_available_only": True}


def _error(body: Any) -> str:
    assert set(body) == {"error"} and body["error"]["message"], body
    return str(body["error"]["code"])


async def _rules(server: LiveServer, admin: str) -> list[dict[str, Any]]:
    status, listing = await server.request("GET", "/api/proactive-rules", token=admin)
    assert status == 200, listing
    return list(listing["rules"])


async def test_admins_keep_the_rules_in_order(server: LiveServer) -> None:
    admin = await server.admin_token()
    status, created = await server.request("POST", "/api/proactive-rules", token=admin, json=RULE)
    assert status == 201, created
    rule = created["rule"]
    assert {k: rule[k] for k in RULE} == {**RULE, "min_cart_value": 40.0}
    assert rule["enabled"] is True and rule["business_hours_only"] is False and rule["position"] == 0
    status, other = await server.request("POST", "/api/proactive-rules", token=admin,
                                         json={"name": "Anywhere", "text": "Hello!", "position": 0})
    assert status == 201 and other["rule"]["url_pattern"] == "*"
    assert [r["name"] for r in await _rules(server, admin)] == ["Anywhere", "Payment help"]

    status, updated = await server.request("PUT", f"/api/proactive-rules/{rule['id']}", token=admin,
                                           json={**RULE, "enabled": False, "texts": {"FR": " Besoin d'aide ? "}})
    assert status == 200, updated
    assert updated["rule"]["enabled"] is False and updated["rule"]["texts"] == {"fr": "Besoin d'aide ?"}
    assert updated["rule"]["created_at"] == rule["created_at"]
    assert (await server.request("DELETE", f"/api/proactive-rules/{other['rule']['id']}", token=admin))[0] == 204
    assert [r["id"] for r in await _rules(server, admin)] == [rule["id"]]
    status, body = await server.request("DELETE", f"/api/proactive-rules/{other['rule']['id']}", token=admin)
    assert status == 404 and _error(body) == "not_found"


@pytest.mark.parametrize(("change", "field"), [
    ({"name": " "}, "name"),
    ({"url_pattern": "*/pay ment"}, "url_pattern"),
    ({"checkout_step": "Pay!"}, "checkout_step"),
    ({"text": "   "}, "text"),
    ({"texts": {"de": " "}}, "texts"),
])
async def test_a_rule_the_domain_refuses_names_its_field_and_changes_nothing(server: LiveServer,
                                                                             change: dict[str, Any],
                                                                             field: str) -> None:
    admin = await server.admin_token()
    _, created = await server.request("POST", "/api/proactive-rules", token=admin, json=RULE)
    before = await _rules(server, admin)
    status, body = await server.request("POST", "/api/proactive-rules", token=admin, json={**RULE, "name": "Two",
                                                                                          **change})
    assert status == 400 and _error(body) == "invalid_payload" and body["error"]["details"] == {"field": field}
    status, body = await server.request("PUT", f"/api/proactive-rules/{created['rule']['id']}", token=admin,
                                        json={**RULE, **change})
    assert status == 400 and _error(body) == "invalid_payload"
    assert await _rules(server, admin) == before


@pytest.mark.parametrize("body", [
    {**RULE, "seconds": -1}, {**RULE, "seconds": 3601}, {**RULE, "min_cart_value": -5}, {**RULE, "extra": 1},
    {**RULE, "texts": {"german": "Hallo"}}, {**RULE, "enabled": "yes"}, {**RULE, "position": 10_001},
    {k: v for k, v in RULE.items() if k != "text"}, {**RULE, "text": "x" * 1101}, [RULE], "rule",
])
async def test_a_body_of_the_wrong_shape_is_refused_and_changes_nothing(server: LiveServer, body: Any) -> None:
    admin = await server.admin_token()
    status, answer = await server.request("POST", "/api/proactive-rules", token=admin, json=body)
    assert status == 400 and _error(answer) == "invalid_payload", answer
    assert await _rules(server, admin) == []


async def test_names_are_unique_and_agents_may_not_touch_rules(server: LiveServer) -> None:
    admin = await server.admin_token()
    login = await server.add_agent()
    _, created = await server.request("POST", "/api/proactive-rules", token=admin, json=RULE)
    status, body = await server.request("POST", "/api/proactive-rules", token=admin, json=RULE)
    assert status == 409 and _error(body) == "conflict"
    for method, path, payload in [("GET", "/api/proactive-rules", None), ("POST", "/api/proactive-rules", RULE),
                                  ("PUT", f"/api/proactive-rules/{created['rule']['id']}", RULE),
                                  ("DELETE", f"/api/proactive-rules/{created['rule']['id']}", None),
                                  ("GET", "/api/reports/proactive", None)]:
        status, body = await server.request(method, path, token=login["token"], json=payload)
        assert status == 403 and _error(body) == "forbidden", (method, path)
        status, body = await server.request(method, path, json=payload)
        assert status == 401, (method, path)
    assert [r["id"] for r in await _rules(server, admin)] == [created["rule"]["id"]]


@pytest.mark.both_backends
async def test_a_shopper_is_offered_shown_and_answers_and_the_report_counts_it(server: LiveServer) -> None:
    admin = await server.admin_token()
    _, created = await server.request("POST", "/api/proactive-rules", token=admin, json=RULE)
    rule_id = created["rule"]["id"]
    await server.request("POST", "/api/proactive-rules", token=admin,
                         json={"name": "Shipping", "url_pattern": "*/shipping*", "text": "Questions on delivery?"})
    ann = await visitor(server)
    # No agent online: the rule that needs one is not offered.
    assert await ann.call("proactive:rules", {"page_url": PAYMENT, "locale": "de-DE"}) == {"ok": True, "rules": []}
    alice = await agent(server, await server.add_agent("Alice"))
    offered = await ann.call("proactive:rules", {"page_url": PAYMENT, "locale": "de-DE"})
    assert offered == {"ok": True, "rules": [{"id": rule_id, "seconds": 20, "text": "Hilfe beim Bezahlen?",
                                              "min_cart_value": 40.0, "checkout_step": "payment"}]}
    english = await ann.call("proactive:rules", {"page_url": PAYMENT})
    assert english["rules"][0]["text"] == "Need a hand with the payment?"

    assert (await ann.call("proactive:answered", {"rule_id": rule_id}))["error"]["code"] == "conflict"
    assert await ann.call("proactive:shown", {"rule_id": rule_id}) == {"ok": True, "show": True}
    assert await ann.call("proactive:answered", {"rule_id": rule_id}) == {"ok": True}
    started = await ann.call("chat:start", prechat(1, question="Is my card safe?"))
    conversation_id = started["conversation"]["id"]
    assert await ann.call("proactive:chat", {"rule_id": rule_id, "conversation_id": conversation_id}) == {"ok": True}
    # In a chat now: no rule is offered any more.
    assert (await ann.call("proactive:rules", {"page_url": PAYMENT}))["rules"] == []

    bob = await visitor(server)
    assert await bob.call("proactive:shown", {"rule_id": rule_id}) == {"ok": True, "show": True}
    # Bob cannot claim Ann's conversation for the rule.
    await bob.call("proactive:answered", {"rule_id": rule_id})
    refused = await bob.call("proactive:chat", {"rule_id": rule_id, "conversation_id": conversation_id})
    assert refused["error"]["code"] == "not_found"
    await alice.disconnect()
    carl = await visitor(server)
    # The last agent left: the rule may no longer show, and Carl is not counted.

    async def hidden() -> bool:
        return (await carl.call("proactive:shown", {"rule_id": rule_id})) == {"ok": True, "show": False}
    await wait_until(hidden)

    status, report = await server.request("GET", "/api/reports/proactive", token=admin)
    assert status == 200, report
    assert [(r["name"], r["shown"], r["answered"], r["chats"]) for r in report["rules"]] == [
        ("Payment help", 2, 2, 1), ("Shipping", 0, 0, 0)]
    status, transcript = await server.request("GET", f"/api/conversations/{conversation_id}", token=admin)
    assert status == 200 and transcript["proactive"] == {"rule_id": rule_id, "name": "Payment help"}


@pytest.fixture
async def closed_shop(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, ManualClock]]:
    clock = ManualClock(1_800_000_000.0)  # a Friday, 08:00 UTC
    live = LiveServer(make_settings(tmp_path, business_hours="mon-fri 09:00-17:00"), clock=clock)
    await live.start()
    try:
        yield live, clock
    finally:
        await live.close()


async def test_a_business_hours_rule_waits_for_the_shop_to_open(closed_shop: tuple[LiveServer, ManualClock]) -> None:
    server, clock = closed_shop
    admin = await server.admin_token()
    _, created = await server.request("POST", "/api/proactive-rules", token=admin,
                                      json={"name": "Hours", "text": "We are here!", "business_hours_only": True})
    rule_id = created["rule"]["id"]
    ann = await visitor(server)
    assert (await ann.call("proactive:rules", {"page_url": PAYMENT}))["rules"] == []
    assert await ann.call("proactive:shown", {"rule_id": rule_id}) == {"ok": True, "show": False}
    clock.advance(3600)
    assert [r["id"] for r in (await ann.call("proactive:rules", {}))["rules"]] == [rule_id]
    assert await ann.call("proactive:shown", {"rule_id": rule_id}) == {"ok": True, "show": True}


@pytest.mark.parametrize(("event", "payload"), [
    ("proactive:rules", {"page_url": "javascript:alert(1)"}),
    ("proactive:rules", {"locale": "<script>"}),
    ("proactive:rules", {"extra": True}),
    ("proactive:rules", ["x"]),
    ("proactive:shown", {}),
    ("proactive:shown", {"rule_id": "x" * 65}),
    ("proactive:answered", {"rule_id": 5}),
    ("proactive:chat", {"rule_id": "r"}),
])
async def test_bad_visitor_events_are_refused_and_count_nothing(server: LiveServer, event: str,
                                                                payload: Any) -> None:
    admin = await server.admin_token()
    await server.request("POST", "/api/proactive-rules", token=admin, json={"name": "Any", "text": "Hi"})
    ann = await visitor(server)
    ack = await ann.call(event, payload)
    assert ack["error"]["code"] == "invalid_payload", ack
    _, report = await server.request("GET", "/api/reports/proactive", token=admin)
    assert [(r["shown"], r["answered"], r["chats"]) for r in report["rules"]] == [(0, 0, 0)]
    assert (await ann.call("proactive:shown", {"rule_id": "no-such-rule"}))["error"]["code"] == "not_found"
