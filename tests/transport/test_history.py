"""A returning shopper's earlier conversations over Socket.IO (``history:list``, ``history:read``,
docs/protocol.md): their own ended chats, read-only with their messages, and the last chat's
name and email for the pre-chat form; an identified customer's from every browser; never
another visitor's; bad input refused."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chatserver.domain.identity import sign_identity

from ..support import Client, LiveServer, agent, make_settings, visitor

SECRET = "shop-shared-secret"
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def _identity(external_id: str) -> str:
    return sign_identity(SECRET, {"external_id": external_id, "iat": time.time()})


def _error(ack: Any) -> str:
    assert set(ack) == {"error"} and ack["error"]["message"], ack
    return str(ack["error"]["code"])


@pytest.fixture
async def shop(tmp_path: Path, backend_settings: dict[str, str]) -> AsyncIterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path, identity_secret=SECRET, **backend_settings))
    await live.start()
    try:
        yield live
    finally:
        await live.close()


async def _chat(shopper: Client, name: str, question: str, *, email: str | None = None,
                close: bool = True) -> str:
    start: dict[str, Any] = {"name": name, "question": question, **({"email": email} if email else {})}
    cid = str((await shopper.call("chat:start", start))["conversation"]["id"])
    reply = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "v-1", "body": "Thanks!"})
    assert reply["ok"], reply
    if close:
        assert (await shopper.call("conversation:close", {"conversation_id": cid}))["ok"]
    return cid


@pytest.mark.both_backends
async def test_a_returning_visitor_lists_and_reads_only_their_own_ended_chats(shop: LiveServer) -> None:
    ann = await visitor(shop)
    empty = await ann.call("history:list", {})
    assert empty == {"ok": True, "conversations": [], "prefill": None}

    first = await _chat(ann, "Ann", "Where is my parcel?", email="ann@example.com")
    second = await _chat(ann, "Ann B.", "Can I pay by invoice?", email="ann.b@example.com")
    listed = await ann.call("history:list", {"limit": 5})
    assert [c["id"] for c in listed["conversations"]] == [second, first]  # newest first
    assert all(c["status"] == "closed" and "visitor_id" not in c for c in listed["conversations"])
    assert listed["prefill"] == {"name": "Ann B.", "email": "ann.b@example.com"}
    assert [c["id"] for c in (await ann.call("history:list", {"limit": 1}))["conversations"]] == [second]

    delivered = len(ann.messages(first))
    read = await ann.call("history:read", {"conversation_id": first})
    assert read["ok"] and read["more"] is False
    assert read["conversation"]["id"] == first and read["conversation"]["prechat"]["question"] == "Where is my parcel?"
    bodies = [(m["kind"], m["body"]) for m in read["messages"]]
    assert ("text", "Where is my parcel?") in bodies and ("text", "Thanks!") in bodies
    assert [m["seq"] for m in read["messages"]] == sorted(m["seq"] for m in read["messages"])
    # Read in the ack: nothing is replayed or subscribed.
    await ann.call("history:list", {})  # an ack after any event the read could have caused
    assert len(ann.messages(first)) == delivered

    # A chat still going on is not history; the prefill follows the latest chat.
    third = await _chat(ann, "Ann C.", "One more thing", close=False)
    listed = await ann.call("history:list", {})
    assert [c["id"] for c in listed["conversations"]] == [second, first]
    assert listed["prefill"] == {"name": "Ann C.", "email": None}

    # Another visitor (another browser, no identity) sees none of it and cannot read it.
    eve = await visitor(shop)
    assert await eve.call("history:list", {}) == {"ok": True, "conversations": [], "prefill": None}
    for cid in (first, second, third):
        assert _error(await eve.call("history:read", {"conversation_id": cid})) == "not_found"
    await _chat(eve, "Eve", "Hello")
    assert [c["prechat"]["name"] for c in (await eve.call("history:list", {}))["conversations"]] == ["Eve"]
    assert _error(await eve.call("history:read", {"conversation_id": first})) == "not_found"


async def test_an_identified_customer_reads_their_chats_from_another_browser(shop: LiveServer) -> None:
    laptop = await visitor(shop)
    assert (await laptop.call("visitor:identify", {"identity": _identity("cust-7")}))["ok"]
    on_laptop = await _chat(laptop, "Pat", "Return label please", email="pat@example.com")

    phone = await visitor(shop)
    assert (await phone.call("history:list", {}))["conversations"] == []  # not signed in yet
    assert _error(await phone.call("history:read", {"conversation_id": on_laptop})) == "not_found"
    assert (await phone.call("visitor:identify", {"identity": _identity("cust-7")}))["ok"]
    listed = await phone.call("history:list", {})
    assert [c["id"] for c in listed["conversations"]] == [on_laptop]
    assert listed["prefill"] == {"name": "Pat", "email": "pat@example.com"}
    read = await phone.call("history:read", {"conversation_id": on_laptop})
    assert "Return label please" in [m["body"] for m in read["messages"]]

    # Another signed-in customer does not.
    other = await visitor(shop)
    assert (await other.call("visitor:identify", {"identity": _identity("cust-8")}))["ok"]
    assert (await other.call("history:list", {}))["conversations"] == []
    assert _error(await other.call("history:read", {"conversation_id": on_laptop})) == "not_found"


@pytest.mark.both_backends
async def test_the_files_of_an_earlier_chat_are_linked_for_its_shopper_only(shop: LiveServer) -> None:
    laptop = await visitor(shop)
    assert (await laptop.call("visitor:identify", {"identity": _identity("cust-9")}))["ok"]
    cid = await _chat(laptop, "Pat", "Here is the receipt", close=False)
    status, posted = await shop.request("POST", f"/api/conversations/{cid}/attachments?name=receipt.pdf"
                                        "&client_msg_id=f-1", token=laptop.token, data=PDF,
                                        headers={"Content-Type": "application/octet-stream"})
    assert status == 201, posted
    assert (await laptop.call("conversation:close", {"conversation_id": cid}))["ok"]
    request = {"conversation_id": cid, "attachment_id": posted["message"]["meta"]["attachment_id"]}

    # As history:read shows it: the file message, linked for the shopper after the chat ended.
    read = await laptop.call("history:read", {"conversation_id": cid})
    assert [m["meta"] for m in read["messages"] if m["kind"] == "file"] == [posted["message"]["meta"]]
    assert (await laptop.call("attachment:link", request))["ok"]
    phone = await visitor(shop)
    assert _error(await phone.call("attachment:link", request)) == "not_found"  # not signed in yet
    assert (await phone.call("visitor:identify", {"identity": _identity("cust-9")}))["ok"]
    link = await phone.call("attachment:link", request)
    assert link["ok"], link
    status, body = await shop.request("GET", link["url"])
    assert status == 200 and body == PDF.decode()
    other = await visitor(shop)
    assert (await other.call("visitor:identify", {"identity": _identity("cust-10")}))["ok"]
    assert _error(await other.call("attachment:link", request)) == "not_found"
    stranger = await visitor(shop)
    assert _error(await stranger.call("attachment:link", request)) == "not_found"


async def test_agents_have_no_history_events_and_bad_input_is_refused(shop: LiveServer) -> None:
    ann = await visitor(shop)
    cid = await _chat(ann, "Ann", "Hello")
    bad: Any
    for bad in ({"limit": 0}, {"limit": 21}, {"limit": "5"}, {"limit": 2.5}, {"limit": 5, "extra": 1}, [], "x"):
        assert _error(await ann.call("history:list", bad)) == "invalid_payload", bad
    for bad in ({}, {"conversation_id": ""}, {"conversation_id": "a" * 65}, {"conversation_id": "../x"},
                {"conversation_id": 7}, {"conversation_id": cid, "after_seq": 0}):
        assert _error(await ann.call("history:read", bad)) == "invalid_payload", bad
    assert _error(await ann.call("history:read", {"conversation_id": "no-such-conversation"})) == "not_found"
    # Refusals changed nothing: the chat is still listed and readable.
    assert [c["id"] for c in (await ann.call("history:list", {}))["conversations"]] == [cid]
    assert (await ann.call("history:read", {"conversation_id": cid}))["ok"]

    alice = await agent(shop, await shop.add_agent("Alice"))
    assert _error(await alice.call("history:list", {})) == "unknown_event"
    assert _error(await alice.call("history:read", {"conversation_id": cid})) == "unknown_event"
