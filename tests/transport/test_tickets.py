"""Offline tickets end to end: the visitor's form over Socket.IO, agents' queue and answers over
REST, the answer emailed through a real SMTP server (aiosmtpd) and shown when the visitor
returns; the transcript by email. Every test runs on the memory and Redis backends."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chatserver.domain.clock import ManualClock
from chatserver.domain.identity import sign_identity

from ..offline_support import SmtpServer, outbox_when
from ..storage import support as storage
from ..support import LiveServer, agent, make_settings, prechat, visitor, wait_until

FORM = {"name": "Ann Example", "email": "ann@example.com", "description": "Where is my parcel?",
        "order_number": "A-1001"}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _server(tmp_path: Path, backend_settings: dict[str, str], smtp: SmtpServer,
                  **extra: Any) -> LiveServer:
    live = LiveServer(make_settings(tmp_path, **backend_settings, **smtp.settings(), outbox_retry_base=0.05,
                                    outbox_poll_interval=0.5, **extra))
    await live.start()
    return live


@pytest.fixture
async def offline(tmp_path: Path, backend_settings: dict[str, str], smtp: SmtpServer) -> AsyncIterator[LiveServer]:
    live = await _server(tmp_path, backend_settings, smtp)
    try:
        yield live
    finally:
        await live.close()


def _error(ack: Any) -> str:
    assert set(ack) == {"error"}, ack
    return str(ack["error"]["code"])


async def test_visitor_leaves_a_ticket_and_gets_the_answer_by_email_and_on_return(
        offline: LiveServer, smtp: SmtpServer) -> None:
    token = await offline.visitor_token()
    shopper = await visitor(offline, token)
    assert await shopper.call("availability:get", {}) == {
        "ok": True, "chat_open": False, "reason": "no_agents", "order_number_required": False,
        "transcript_email": True, "opens_at": None}

    # A form without an email, or with a malformed one, is refused and stores nothing.
    ack = await shopper.call("ticket:create", {k: v for k, v in FORM.items() if k != "email"})
    assert _error(ack) == "invalid_payload"
    ack = await shopper.call("ticket:create", {**FORM, "email": "not an address"})
    assert _error(ack) == "invalid_payload"
    ack = await shopper.call("ticket:create", {**FORM, "description": "   "})
    assert _error(ack) == "invalid_payload" and ack["error"]["details"] == {"fields": ["description"]}

    alice_login = await offline.add_agent("Alice")
    alice = await agent(offline, alice_login)
    assert (await shopper.call("availability:get", {}))["chat_open"] is True

    created = await shopper.call("ticket:create", FORM)
    assert created["ok"] and created["ticket"]["status"] == "open"
    ticket = created["ticket"]
    assert ticket["reference"].startswith("T-") and "visitor_id" not in ticket
    announced = await alice.wait_for("ticket:created")
    assert announced["ticket"]["id"] == ticket["id"] and announced["ticket"]["order_number"] == "A-1001"

    status, listing = await offline.request("GET", "/api/tickets?status=open", token=alice_login["token"])
    assert status == 200 and [t["id"] for t in listing["tickets"]] == [ticket["id"]]
    assert listing["tickets"][0]["description"] == "Where is my parcel?"

    answer = "Your parcel ships Monday. <script>alert('x')</script><b>bold</b>"
    status, body = await offline.request("POST", f"/api/tickets/{ticket['id']}/answers", token=alice_login["token"],
                                          json={"body": answer})
    assert status == 201 and body["ticket"]["status"] == "answered"
    assert body["ticket"]["answers"][0]["agent"] == {"name": "Alice"}

    # The open widget hears of the answer at once.
    updated = await shopper.wait_for("ticket:updated")
    assert updated["ticket"]["answers"][0]["body"] == answer

    await wait_until(lambda: len(smtp.mails) == 1, what="the answer email")
    mail = smtp.mails[0]
    assert mail.recipients == ["ann@example.com"] and mail.sender == "shop@example.com"
    assert mail.message["To"] == "ann@example.com"
    assert ticket["reference"] in mail.message["Subject"]
    # Plain text only: what the agent wrote is text in the mail, never markup.
    assert mail.message.get_content_type() == "text/plain" and not mail.message.is_multipart()
    text = mail.message.get_content()
    assert answer in text and "Where is my parcel?" in text and "Alice" in text

    # The shopper comes back later (a new connection with the same visitor token).
    await shopper.disconnect()
    back = await visitor(offline, token)
    mine = await back.call("ticket:list", {})
    assert [(t["id"], t["status"]) for t in mine["tickets"]] == [(ticket["id"], "answered")]
    assert mine["tickets"][0]["answers"][0]["body"] == answer

    # Another visitor sees none of it.
    stranger = await visitor(offline)
    assert (await stranger.call("ticket:list", {}))["tickets"] == []


async def test_outside_business_hours_the_form_is_offered_and_may_require_an_order_number(
        tmp_path: Path, backend_settings: dict[str, str], smtp: SmtpServer) -> None:
    # Open only on a day that is not today, in the shop's timezone.
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%a").lower()
    live = await _server(tmp_path, backend_settings, smtp, business_hours=f"{tomorrow} 00:00-24:00",
                         business_timezone="UTC", ticket_order_number_required=True)
    try:
        await agent(live, await live.add_agent())
        shopper = await visitor(live)
        opens = dt.datetime.combine(dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1), dt.time(), dt.UTC)
        assert await shopper.call("availability:get", {}) == {
            "ok": True, "chat_open": False, "reason": "closed", "order_number_required": True,
            "transcript_email": True, "opens_at": opens.timestamp()}
        ack = await shopper.call("ticket:create", {k: v for k, v in FORM.items() if k != "order_number"})
        assert _error(ack) == "invalid_payload" and ack["error"]["details"] == {"fields": ["order_number"]}
        assert (await shopper.call("ticket:create", FORM))["ok"]
    finally:
        await live.close()


async def test_a_closed_shop_says_when_it_opens_again(tmp_path: Path, backend_settings: dict[str, str],
                                                      smtp: SmtpServer) -> None:
    """The server's clock is the test's: Saturday afternoon in Berlin, then Monday at opening time."""
    berlin = ZoneInfo("Europe/Berlin")
    saturday = dt.datetime(2026, 11, 28, 16, 0, tzinfo=berlin).timestamp()
    monday = dt.datetime(2026, 11, 30, 9, 0, tzinfo=berlin).timestamp()
    clock = ManualClock(saturday)
    live = LiveServer(make_settings(tmp_path, **backend_settings, **smtp.settings(),
                                    business_hours="mon-fri 09:00-17:30; sat 10:00-13:00",
                                    business_timezone="Europe/Berlin"), clock=clock)
    await live.start()
    try:
        console = await agent(live, await live.add_agent())  # closed whether or not an agent is online
        shopper = await visitor(live)
        closed = await shopper.call("availability:get", {})
        assert (closed["chat_open"], closed["reason"], closed["opens_at"]) == (False, "closed", monday)
        # Agents ask too (the console says the shop is closed, and when it opens): the same answer.
        assert await console.call("availability:get", {}) == closed
        # Monday at opening time: no longer closed (the agent's presence has long expired on this
        # clock, so nobody is online: the other reason).
        clock.advance(monday - saturday)
        opened = await shopper.call("availability:get", {})
        assert (opened["chat_open"], opened["reason"], opened["opens_at"]) == (False, "no_agents", None)
    finally:
        await live.close()


async def test_tickets_are_rate_limited_per_visitor(tmp_path: Path, backend_settings: dict[str, str],
                                                    smtp: SmtpServer) -> None:
    live = await _server(tmp_path, backend_settings, smtp, offline_requests_per_hour=2)
    try:
        shopper = await visitor(live)
        acks = [await shopper.call("ticket:create", {**FORM, "description": f"question {n}"}) for n in range(3)]
        assert [a.get("ok") for a in acks[:2]] == [True, True] and _error(acks[2]) == "rate_limited"
        login = await live.add_agent()
        _, listing = await live.request("GET", "/api/tickets", token=login["token"])
        assert sorted(t["description"] for t in listing["tickets"]) == ["question 0", "question 1"]
    finally:
        await live.close()


async def test_visitor_gets_the_transcript_by_email_after_the_chat(offline: LiveServer, smtp: SmtpServer) -> None:
    alice = await agent(offline, await offline.add_agent("Alice"))
    shopper = await visitor(offline)
    started = await shopper.call("chat:start", prechat(1, email="ann@example.com"))
    cid = started["conversation"]["id"]
    await alice.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    await alice.call("conversation:join", {"conversation_id": cid})
    await alice.call("message:send", {"conversation_id": cid, "client_msg_id": "a1",
                                      "body": "Hello <img src=x onerror=alert(1)>"})
    ack = await shopper.call("transcript:email", {"conversation_id": cid})
    assert _error(ack) == "conversation_not_closed"
    await shopper.call("conversation:close", {"conversation_id": cid})

    # Someone else's conversation is not found, and nothing is sent for it.
    other = await visitor(offline)
    assert _error(await other.call("transcript:email", {"conversation_id": cid, "email": "eve@example.com"})) \
        == "not_found"
    assert _error(await shopper.call("transcript:email", {"conversation_id": cid, "email": "no"})) \
        == "invalid_payload"

    ack = await shopper.call("transcript:email", {"conversation_id": cid})
    assert ack == {"ok": True, "email": "ann@example.com"}
    await wait_until(lambda: len(smtp.mails) == 1, what="the transcript email")
    mail = smtp.mails[0]
    assert mail.recipients == ["ann@example.com"] and "transcript" in mail.message["Subject"].lower()
    text = mail.message.get_content()
    assert mail.message.get_content_type() == "text/plain"
    assert "Where is my order 1?" in text and "Hello <img src=x onerror=alert(1)>" in text and "Alice" in text

    # To the same address, named in another case; never to another one.
    ack = await shopper.call("transcript:email", {"conversation_id": cid, "email": "ANN@example.com"})
    assert ack == {"ok": True, "email": "ann@example.com"}
    await wait_until(lambda: len(smtp.mails) == 2, what="the second transcript email")
    assert smtp.mails[1].recipients == ["ann@example.com"]
    ack = await shopper.call("transcript:email", {"conversation_id": cid, "email": "ann.other@example.com"})
    assert _error(ack) == "forbidden"


async def test_without_smtp_the_transcript_is_not_offered_and_asking_is_refused(
        tmp_path: Path, backend_settings: dict[str, str]) -> None:
    """No smtp_host: a transcript would only wait in the outbox, so the widget is told not to offer
    it, and transcript:email is refused with its own code and queues nothing."""
    live = LiveServer(make_settings(tmp_path, **backend_settings))
    await live.start()
    try:
        await agent(live, await live.add_agent("Alice"))
        shopper, cid = await _closed_chat(live, email="ann@example.com")
        assert await shopper.call("availability:get", {}) == {
            "ok": True, "chat_open": True, "reason": None, "order_number_required": False,
            "transcript_email": False, "opens_at": None}
        ack = await shopper.call("transcript:email", {"conversation_id": cid})
        assert _error(ack) == "email_not_configured" and "email" in ack["error"]["message"]
        assert _error(await shopper.call("transcript:email", {"conversation_id": cid,
                                                              "email": "ann@example.com"})) == "email_not_configured"
        # Another visitor's chat is still not found: the refusal tells nothing about it.
        assert _error(await (await visitor(live)).call("transcript:email", {"conversation_id": cid})) == "not_found"
        assert await _mail_targets(live) == []
        # The refusals used none of the visitor's hourly budget (offline_requests_per_hour).
        for n in range(live.settings.offline_requests_per_hour):
            assert (await shopper.call("ticket:create", {**FORM, "description": f"question {n}"}))["ok"]
        # Admins read it in the settings.
        status, body = await live.request("GET", "/api/settings", token=await live.admin_token())
        assert status == 200 and body["email_configured"] is False
    finally:
        await live.close()


async def _mail_targets(server: LiveServer) -> list[str]:
    """The recipient of every mail in the outbox, sent or not, as stored."""
    rows = await storage.query(storage.server_database(server), "SELECT target FROM outbox WHERE kind = 'mail'")
    return sorted(row[0] for row in rows)


async def _closed_chat(server: LiveServer, token: str | None = None, **fields: Any) -> tuple[Any, str]:
    shopper = await visitor(server, token)
    cid = (await shopper.call("chat:start", prechat(1, **fields)))["conversation"]["id"]
    assert (await shopper.call("conversation:close", {"conversation_id": cid}))["ok"]
    return shopper, cid


async def test_a_visitor_cannot_mail_a_transcript_to_addresses_of_their_choosing(
        offline: LiveServer) -> None:
    """The finding: 3 visitor tokens x 11 requests queued 30 mails to 10 addresses, with no agent
    involved. Now each goes only to the address its shopper gave before the chat, twice at most."""
    acks = []
    for n in range(3):
        shopper, cid = await _closed_chat(offline, email=f"shopper{n}@example.com")
        for m in range(11):
            acks.append(await shopper.call("transcript:email", {"conversation_id": cid,
                                                                "email": f"target{m % 10}@example.org"}))
        for _ in range(3):
            acks.append(await shopper.call("transcript:email", {"conversation_id": cid}))
    codes = [a["error"]["code"] if "error" in a else "ok" for a in acks]
    assert codes == (["forbidden"] * 11 + ["ok", "ok", "rate_limited"]) * 3
    assert await _mail_targets(offline) == sorted(f"shopper{n}@example.com" for n in range(3) for _ in range(2))
    # A chat without an email before it has nowhere to go.
    shopper, cid = await _closed_chat(offline)
    assert _error(await shopper.call("transcript:email", {"conversation_id": cid})) == "invalid_payload"
    assert _error(await shopper.call("transcript:email", {"conversation_id": cid,
                                                          "email": "target0@example.org"})) == "forbidden"
    assert len(await _mail_targets(offline)) == 6


async def test_an_identified_shopper_may_have_it_sent_to_the_address_the_shop_vouched_for(
        tmp_path: Path, backend_settings: dict[str, str], smtp: SmtpServer) -> None:
    live = await _server(tmp_path, backend_settings, smtp, identity_secret="shop-secret")
    try:
        token = await live.visitor_token()
        shopper = await visitor(live, token)
        identity = sign_identity("shop-secret", {"external_id": "cust-9", "email": "Vouched@Shop.example",
                                                 "iat": time.time()})
        assert (await shopper.call("visitor:identify", {"identity": identity}))["ok"]
        _, cid = await _closed_chat(live, token)
        assert (await shopper.call("transcript:email", {"conversation_id": cid}))["email"] == "vouched@shop.example"
        assert _error(await shopper.call("transcript:email", {"conversation_id": cid,
                                                              "email": "elsewhere@example.org"})) == "forbidden"
        # With a pre-chat email too, either may be asked for; the pre-chat one is the default.
        _, other = await _closed_chat(live, token, email="ann@example.com")
        assert (await shopper.call("transcript:email", {"conversation_id": other}))["email"] == "ann@example.com"
        ack = await shopper.call("transcript:email", {"conversation_id": other, "email": "VOUCHED@shop.example"})
        assert ack["email"] == "vouched@shop.example"
        assert await _mail_targets(live) == ["ann@example.com", "vouched@shop.example", "vouched@shop.example"]
    finally:
        await live.close()


async def test_one_address_gets_so_many_transcripts_a_day_whoever_asks(
        tmp_path: Path, backend_settings: dict[str, str], smtp: SmtpServer) -> None:
    clock = ManualClock(time.time())
    live = LiveServer(make_settings(tmp_path, **backend_settings, **smtp.settings(), outbox_poll_interval=0.5,
                                    transcript_emails_per_address_per_day=3), clock=clock)
    await live.start()
    try:
        chats = [await _closed_chat(live, email="victim@example.org") for _ in range(3)]
        acks = [await shopper.call("transcript:email", {"conversation_id": cid})
                for shopper, cid in chats for _ in range(2)]
        assert [a.get("ok") or a["error"]["code"] for a in acks] == [True, True, True, "rate_limited",
                                                                      "rate_limited", "rate_limited"]
        assert acks[-1]["error"]["details"] == {"limit": "per_address"}
        clock.advance(86400)
        shopper, cid = chats[2]
        assert (await shopper.call("transcript:email", {"conversation_id": cid}))["ok"]
        assert await _mail_targets(live) == ["victim@example.org"] * 4
    finally:
        await live.close()


async def test_mail_waits_in_the_outbox_while_smtp_is_down_and_survives_a_restart(
        tmp_path: Path, backend_settings: dict[str, str]) -> None:
    smtp = SmtpServer()  # not started yet: connections are refused
    live = await _server(tmp_path, backend_settings, smtp)
    try:
        login = await live.add_agent("Alice")
        shopper = await visitor(live)
        ticket = (await shopper.call("ticket:create", FORM))["ticket"]
        status, _ = await live.request("POST", f"/api/tickets/{ticket['id']}/answers", token=login["token"],
                                       json={"body": "It ships Monday."})
        assert status == 201
        admin = await live.admin_token()

        async def mail_attempts() -> int:
            _, outbox = await live.request("GET", "/api/outbox?kind=mail", token=admin)
            return int(outbox["items"][0]["attempts"]) if outbox["items"] else 0

        for _ in range(400):  # wait (up to 20 s) until a retry has failed too
            if await mail_attempts() >= 2:
                break
            await asyncio.sleep(0.05)
        _, outbox = await live.request("GET", "/api/outbox?kind=mail", token=admin)
        item = outbox["items"][0]
        assert item["status"] == "pending" and item["attempts"] >= 2 and item["last_error"]
        assert "payload" not in item and item["target"] == "ann@example.com"

        await live.stop()
        smtp.start()
        await live.start()
        await wait_until(lambda: len(smtp.mails) == 1, what="the answer email after the restart")
        assert "It ships Monday." in smtp.mails[0].message.get_content()
        items = await outbox_when(live, "mail", lambda items: items[0]["status"] != "pending", what="the mail sent")
        assert items[0]["status"] == "sent"
    finally:
        await live.close()
        smtp.stop()


async def test_ticket_routes_refuse_bad_input(offline: LiveServer) -> None:
    login = await offline.add_agent()
    token = login["token"]
    shopper = await visitor(offline)
    ticket = (await shopper.call("ticket:create", FORM))["ticket"]
    for method, path, body in [("GET", "/api/tickets", None), ("GET", f"/api/tickets/{ticket['id']}", None),
                               ("POST", f"/api/tickets/{ticket['id']}/answers", {"body": "x"})]:
        status, reply = await offline.request(method, path, json=body)
        assert status == 401 and reply["error"]["code"] == "auth_required"
    for query in ["status=closed", "status=", "limit=0", "offset=-1", "limit=x"]:
        status, reply = await offline.request("GET", f"/api/tickets?{query}", token=token)
        assert status == 400 and reply["error"]["code"] == "invalid_payload", query
    status, reply = await offline.request("GET", "/api/tickets/nope", token=token)
    assert status == 404 and reply["error"]["code"] == "not_found"
    status, reply = await offline.request("POST", "/api/tickets/nope/answers", token=token, json={"body": "hi"})
    assert status == 404 and reply["error"]["code"] == "not_found"
    for bad in [{}, {"body": ""}, {"body": "  "}, {"body": "x", "extra": 1}, {"body": "x" * 20_001}]:
        status, reply = await offline.request("POST", f"/api/tickets/{ticket['id']}/answers", token=token, json=bad)
        assert status == 400 and reply["error"]["code"] == "invalid_payload", bad
    _, listing = await offline.request("GET", f"/api/tickets/{ticket['id']}", token=token)
    assert listing["ticket"]["status"] == "open" and listing["ticket"]["answers"] == []
    for bad_payload in [None, "text", {**FORM, "unknown": 1}, {**FORM, "name": ""}, {**FORM, "description": "x" * 4001},
                        {**FORM, "page_url": "javascript:alert(1)"}, {**FORM, "name": "  "},
                        {**FORM, "description": "broken \ud83d"}, {**FORM, "email": "not-an-address"}]:
        assert _error(await shopper.call("ticket:create", bad_payload)) == "invalid_payload", bad_payload
    # Nothing was stored: the one good ticket is all there is, and no customer was made for the rest.
    _, listing = await offline.request("GET", "/api/tickets", token=token)
    assert [t["id"] for t in listing["tickets"]] == [ticket["id"]]
    _, customers = await offline.request("GET", "/api/customers", token=await offline.admin_token())
    assert customers["total"] == 1
    mine = await shopper.call("ticket:list", {})
    assert [t["id"] for t in mine["tickets"]] == [ticket["id"]]


# Neither event takes any field but ticket:list's limit (1-50): wrong types, out-of-range and
# oversized values, unknown fields and payloads that are not objects are all refused.
OVERSIZED = "x" * 200_000
BAD_AVAILABILITY = ["text", [], [{}], 5, True, {"extra": 1}, {"limit": 5}, {"x": OVERSIZED}]
BAD_TICKET_LISTS = ["text", [], 5, {"limit": "5"}, {"limit": 0}, {"limit": 51}, {"limit": -1}, {"limit": 1.5},
                    {"limit": True}, {"limit": None}, {"limit": 10**30}, {"limit": [5]}, {"limit": OVERSIZED},
                    {"limit": 5, "visitor_id": "someone-else"}, {"status": "open"}, {"x": OVERSIZED}]


async def test_availability_and_ticket_lists_refuse_bad_payloads_and_change_nothing(offline: LiveServer) -> None:
    login = await offline.add_agent()
    await agent(offline, login)
    shopper = await visitor(offline)
    ticket = (await shopper.call("ticket:create", FORM))["ticket"]

    async def state() -> list[Any]:
        _, tickets = await offline.request("GET", "/api/tickets", token=login["token"])
        _, customers = await offline.request("GET", "/api/customers", token=await offline.admin_token())
        return [await shopper.call("availability:get", {}), await shopper.call("ticket:list", {}),
                tickets, customers]

    before = await state()
    assert before[0]["chat_open"] is True and [t["id"] for t in before[1]["tickets"]] == [ticket["id"]]
    for event, payloads in [("availability:get", BAD_AVAILABILITY), ("ticket:list", BAD_TICKET_LISTS)]:
        for payload in payloads:
            ack = await shopper.call(event, payload)
            assert _error(ack) == "invalid_payload", (event, str(payload)[:80], ack)
    assert await state() == before
    # The ticket list is a visitor's event: an agent's console does not have it. Availability it
    # asks too (to say when the shop is closed), refusing bad payloads the same way.
    console = await agent(offline, login)
    assert _error(await console.call("ticket:list", {})) == "unknown_event"
    assert await console.call("availability:get", {}) == before[0]
    for payload in BAD_AVAILABILITY:
        assert _error(await console.call("availability:get", payload)) == "invalid_payload", str(payload)[:80]
    # The bounds themselves are fine; the connection still works.
    for limit in (1, 50):
        assert [t["id"] for t in (await shopper.call("ticket:list", {"limit": limit}))["tickets"]] == [ticket["id"]]
    assert (await shopper.call("availability:get"))["ok"]


async def test_deleting_a_customer_deletes_their_tickets_and_unsent_mail(
        tmp_path: Path, backend_settings: dict[str, str]) -> None:
    smtp = SmtpServer()  # never started: the answer's mail stays unsent
    live = await _server(tmp_path, backend_settings, smtp, identity_secret="shop-secret")
    try:
        login = await live.add_agent("Alice")
        shopper = await visitor(live)
        identity = sign_identity("shop-secret", {"external_id": "cust-1", "iat": time.time()})
        assert (await shopper.call("visitor:identify", {"identity": identity}))["ok"]
        ticket = (await shopper.call("ticket:create", FORM))["ticket"]
        assert (await live.request("POST", f"/api/tickets/{ticket['id']}/answers", token=login["token"],
                                   json={"body": "It ships Monday."}))[0] == 201
        admin = await live.admin_token()
        _, customers = await live.request("GET", "/api/customers?q=cust-1", token=admin)
        [customer] = customers["customers"]
        _, export = await live.request("GET", f"/api/customers/{customer['id']}/export", token=admin)
        assert [m["target"] for m in export["related"]["outbox"]] == ["ann@example.com"]
        assert [t["id"] for t in export["related"]["tickets"]] == [ticket["id"]]

        assert (await live.request("DELETE", f"/api/customers/{customer['id']}", token=admin))[0] == 204
        assert (await live.request("GET", f"/api/tickets/{ticket['id']}", token=admin))[0] == 404
        _, outbox = await live.request("GET", "/api/outbox?kind=mail", token=admin)
        assert outbox["items"] == []
    finally:
        await live.close()
