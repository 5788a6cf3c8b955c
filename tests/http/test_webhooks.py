"""Webhooks end to end: endpoints registered over REST, events POSTed to a real aiohttp
receiver on a loopback port that fails the first deliveries, signatures checked the way
docs/webhooks.md tells shops to, and a server restart with deliveries still owed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chatserver.domain.identity import sign_identity

from ..offline_support import WebhookReceiver, outbox_when
from ..support import LiveServer, agent, make_settings, prechat, visitor, wait_until

FAST_RETRIES = {"outbox_retry_base": 0.05, "outbox_retry_max": 0.4, "outbox_poll_interval": 0.5}


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    hook = WebhookReceiver(fail_first=3)
    await hook.start()
    try:
        yield hook
    finally:
        await hook.stop()


async def _register(server: LiveServer, receiver: WebhookReceiver, events: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": receiver.url, "secret": receiver.secret}
    if events is not None:
        body["events"] = events
    status, reply = await server.request("POST", "/api/webhooks", token=await server.admin_token(), json=body)
    assert status == 201, reply
    return reply["webhook"]  # type: ignore[no-any-return]


async def test_events_reach_a_flaky_receiver_signed_and_once_each(tmp_path: Path, backend_settings: dict[str, str],
                                                                  receiver: WebhookReceiver) -> None:
    server = LiveServer(make_settings(tmp_path, **backend_settings, **FAST_RETRIES))
    await server.start()
    try:
        hook = await _register(server, receiver)
        assert hook["secret"] == receiver.secret and hook["events"] == []
        _, listing = await server.request("GET", "/api/webhooks", token=await server.admin_token())
        assert [h["id"] for h in listing["webhooks"]] == [hook["id"]] and "secret" not in listing["webhooks"][0]

        alice = await agent(server, await server.add_agent("Alice"))
        shopper = await visitor(server)
        cid = (await shopper.call("chat:start", prechat(1)))["conversation"]["id"]
        await alice.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
        await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "v1", "body": "Hi <b>there</b>"})
        await shopper.call("conversation:close", {"conversation_id": cid})
        ticket = (await shopper.call("ticket:create", {"name": "Ann", "email": "ann@example.com",
                                                       "description": "Call me back"}))["ticket"]
        status, created = await server.request("POST", "/api/customers", token=await server.admin_token(),
                                               json={"name": "Ann Direct"})
        assert status == 201, created
        direct = created["customer"]["id"]

        # The chat also made a customer record (customer.updated too); the one created over REST is direct.
        once = ["conversation.created", "conversation.assigned", "message.created", "conversation.closed",
                "ticket.created"]

        def direct_call_delivered() -> bool:
            return any(d.event["data"].get("customer", {}).get("id") == direct for d in receiver.delivered)

        await wait_until(lambda: set(once) <= set(receiver.delivered_types()) and direct_call_delivered(),
                         timeout=20, what="every event delivered")
        assert len(receiver.requests) >= len(once) + 1 + 3  # the first three attempts were refused
        assert all(d.signature_ok for d in receiver.requests)
        delivered = receiver.delivered
        assert [t for t in receiver.delivered_types() if t != "customer.updated"].count("message.created") == 1
        assert sorted(t for t in receiver.delivered_types() if t != "customer.updated") == sorted(once)
        assert len({d.delivery_id for d in delivered}) == len(delivered)  # each delivery once
        assert len({d.event["id"] for d in delivered}) == len(delivered)
        by_type = {d.event["type"]: d.event["data"] for d in delivered if d.event["type"] != "customer.updated"}
        by_type["customer.updated"] = next(d.event["data"] for d in delivered
                                           if d.event["data"].get("customer", {}).get("id") == direct)
        assert by_type["conversation.created"]["conversation"]["id"] == cid
        assert by_type["conversation.assigned"]["conversation"]["agent"] == {"name": "Alice"}
        assert by_type["message.created"]["message"]["body"] == "Hi <b>there</b>"
        assert by_type["conversation.closed"]["conversation"]["closed_by"] == "visitor"
        # Conversation events name the customer the chat belongs to (linked before it was stored).
        _, record = await server.request("GET", f"/api/conversations/{cid}", token=await server.admin_token())
        customer_id = record["conversation"]["customer_id"]
        assert customer_id is not None
        for event in ("conversation.created", "conversation.assigned", "conversation.closed"):
            assert by_type[event]["conversation"]["customer_id"] == customer_id, event
        assert by_type["ticket.created"]["ticket"]["id"] == ticket["id"]
        assert by_type["customer.updated"]["customer"]["name"] == "Ann Direct"

        # Every event was delivered, customer.updated ones too, some after retries.
        items = await outbox_when(server, "webhook", lambda items: all(i["status"] != "pending" for i in items),
                                  timeout=20, what="every webhook sent")
        assert {i["status"] for i in items} == {"sent"}
        assert max(i["attempts"] for i in items) >= 2
    finally:
        await server.close()


async def test_undelivered_events_survive_a_restart(tmp_path: Path, backend_settings: dict[str, str],
                                                    receiver: WebhookReceiver) -> None:
    settings = make_settings(tmp_path, **backend_settings, **FAST_RETRIES)
    server = LiveServer(settings)
    await server.start()
    try:
        await _register(server, receiver, ["ticket.created"])
        receiver.failing = True
        shopper = await visitor(server)
        for n in range(3):
            assert (await shopper.call("ticket:create", {"name": "Ann", "email": "ann@example.com",
                                                         "description": f"question {n}"}))["ok"]
        await wait_until(lambda: len(receiver.requests) >= 6, what="failed attempts before the restart")
        assert receiver.delivered == []
        await server.stop()

        receiver.failing = False
        await server.start()  # the same database file
        await wait_until(lambda: len(receiver.delivered) == 3, timeout=20, what="deliveries after the restart")
        descriptions = sorted(d.event["data"]["ticket"]["description"] for d in receiver.delivered)
        assert descriptions == ["question 0", "question 1", "question 2"]
        assert all(d.signature_ok for d in receiver.requests)
    finally:
        await server.close()


async def test_only_subscribed_events_go_out_and_removed_endpoints_get_nothing(
        server: LiveServer, receiver: WebhookReceiver) -> None:
    receiver.fail_first = 0
    hook = await _register(server, receiver, ["ticket.created"])
    shopper = await visitor(server)
    await shopper.call("chat:start", prechat(1))
    await shopper.call("ticket:create", {"name": "Ann", "email": "ann@example.com", "description": "one"})
    await wait_until(lambda: len(receiver.delivered) == 1, what="the ticket event")
    assert receiver.delivered_types() == ["ticket.created"]

    admin = await server.admin_token()
    assert (await server.request("DELETE", f"/api/webhooks/{hook['id']}", token=admin))[0] == 204
    assert (await server.request("DELETE", f"/api/webhooks/{hook['id']}", token=admin))[0] == 404
    await shopper.call("ticket:create", {"name": "Ann", "email": "ann@example.com", "description": "two"})
    _, outbox = await server.request("GET", "/api/outbox?kind=webhook", token=admin)
    assert len(outbox["items"]) == 1 and receiver.delivered_types() == ["ticket.created"]


async def test_webhook_routes_are_for_admins_and_validate(server: LiveServer) -> None:
    login = await server.add_agent()
    admin = await server.admin_token()
    for method, path in [("GET", "/api/webhooks"), ("POST", "/api/webhooks"), ("DELETE", "/api/webhooks/x"),
                         ("GET", "/api/outbox")]:
        status, reply = await server.request(method, path, token=login["token"], json={})
        assert status == 403 and reply["error"]["code"] == "forbidden"
        status, reply = await server.request(method, path)
        assert status == 401
    for bad in [{}, {"url": "ftp://example.com/x"}, {"url": "javascript:alert(1)"},
                {"url": "https://example.com/x", "events": ["nope"]},
                {"url": "https://example.com/x", "secret": "short"}, {"url": "https://example.com/x", "x": 1}]:
        status, reply = await server.request("POST", "/api/webhooks", token=admin, json=bad)
        assert status == 400 and reply["error"]["code"] == "invalid_payload", bad
    status, reply = await server.request("GET", "/api/outbox?kind=fax", token=admin)
    assert status == 400
    _, listing = await server.request("GET", "/api/webhooks", token=admin)
    assert listing["webhooks"] == [] and "customer.updated" in listing["event_types"]


async def test_customer_records_send_customer_updated(tmp_path: Path, backend_settings: dict[str, str],
                                                      receiver: WebhookReceiver) -> None:
    receiver.fail_first = 0
    server = LiveServer(make_settings(tmp_path, **backend_settings, **FAST_RETRIES, identity_secret="shop-secret"))
    await server.start()
    try:
        await _register(server, receiver, ["customer.updated"])
        shopper = await visitor(server)
        identity = sign_identity("shop-secret", {"external_id": "cust-7", "name": "Nia", "iat": time.time()})
        assert (await shopper.call("visitor:identify", {"identity": identity}))["ok"]
        await wait_until(lambda: len(receiver.delivered) >= 1, what="customer.updated after identification")
        customer = receiver.delivered[-1].event["data"]["customer"]
        assert customer["external_id"] == "cust-7" and customer["identified"] is True

        seen = len(receiver.delivered)
        status, _ = await server.request("PATCH", f"/api/customers/{customer['id']}", token=await server.admin_token(),
                                         json={"tags": ["vip"]})
        assert status == 200
        await wait_until(lambda: len(receiver.delivered) > seen, what="customer.updated after an edit")
        assert receiver.delivered[-1].event["data"]["customer"]["tags"] == ["vip"]
        assert set(receiver.delivered_types()) == {"customer.updated"}
        assert all(d.signature_ok for d in receiver.requests)
    finally:
        await server.close()


async def test_deleting_a_customer_deletes_their_undelivered_events(tmp_path: Path, backend_settings: dict[str, str],
                                                                    receiver: WebhookReceiver) -> None:
    server = LiveServer(make_settings(tmp_path, **backend_settings, **FAST_RETRIES, identity_secret="shop-secret"))
    await server.start()
    try:
        await _register(server, receiver)
        receiver.failing = True
        admin = await server.admin_token()
        shopper = await visitor(server)
        identity = sign_identity("shop-secret", {"external_id": "del-me", "name": "Delia Secret",
                                                 "email": "delia@example.com", "iat": time.time()})
        assert (await shopper.call("visitor:identify", {"identity": identity}))["ok"]
        _, found = await server.request("GET", "/api/customers?q=delia", token=admin)
        [customer] = found["customers"]
        assert (await server.request("PATCH", f"/api/customers/{customer['id']}", token=admin,
                                     json={"notes": "private note about delia"}))[0] == 200
        assert (await shopper.call("ticket:create", {"name": "Delia Secret", "email": "delia@example.com",
                                                     "description": "delia's question"}))["ok"]
        cid = (await shopper.call("chat:start", prechat(1, name="Delia Secret")))["conversation"]["id"]
        await shopper.call("conversation:close", {"conversation_id": cid})
        await wait_until(lambda: len(receiver.requests) >= 3, what="refused deliveries before the deletion")
        _, outbox = await server.request("GET", "/api/outbox?kind=webhook", token=admin)
        assert len([i for i in outbox["items"] if i["status"] == "pending"]) >= 5

        status, _ = await server.request("DELETE", f"/api/customers/{customer['id']}", token=admin)
        assert status == 204
        _, outbox = await server.request("GET", "/api/outbox?kind=webhook", token=admin)
        assert [i for i in outbox["items"] if i["status"] == "pending"] == []

        # The receiver recovers; a later event of someone else goes out, and nothing of Delia's.
        receiver.failing = False
        refused = len(receiver.requests)
        other = await visitor(server)
        assert (await other.call("ticket:create", {"name": "Ola", "email": "ola@example.com",
                                                   "description": "hello"}))["ok"]
        await wait_until(lambda: "ticket.created" in receiver.delivered_types(), what="the later event")
        after = [str(d.event).lower() for d in receiver.requests[refused:]]
        assert after and not any("delia" in text or customer["id"] in text or cid in text for text in after)
        assert not any("delia" in str(d.event).lower() for d in receiver.delivered)
    finally:
        await server.close()
