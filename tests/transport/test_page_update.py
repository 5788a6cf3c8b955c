"""page:update: where the shopper is now reaches the agent, validated and rate-limited."""

from __future__ import annotations

from typing import Any

import pytest

from ..support import LiveServer, agent, prechat, visitor


def _code(reply: Any) -> str:
    assert isinstance(reply, dict) and set(reply) == {"error"}, reply
    return str(reply["error"]["code"])


@pytest.mark.both_backends
async def test_the_agent_sees_the_page_the_shopper_moved_to(server: LiveServer) -> None:
    desk = await agent(server, await server.add_agent("Alice"))
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat(1, page_url="https://shop.example/cart", page_title="Cart",
                                                  cart_value=10)))["conversation"]["id"]
    await desk.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    page = {"conversation_id": cid, "page_url": "https://shop.example/payment", "page_title": "Payment",
            "checkout": True, "cart_value": 59.9}
    reply = await shopper.call("page:update", page)
    assert reply["ok"] and reply["changed"] is True
    update = await desk.wait_for("conversation:updated", lambda d: d["conversation"]["prechat"]["page_title"]
                                 == "Payment")
    prechat_now = update["conversation"]["prechat"]
    assert (prechat_now["page_url"], prechat_now["checkout"], prechat_now["cart_value"]) == (
        "https://shop.example/payment", True, 59.9)
    assert prechat_now["question"] == "Where is my order 1?"  # the rest of the form is kept
    stored = await server.parts.stores.conversations.get_conversation(cid)
    assert stored is not None and stored.prechat.page_title == "Payment"
    seen = len(desk.events["conversation:updated"])
    again = await shopper.call("page:update", page)  # a reload of the same page changes nothing
    assert again["ok"] and again["changed"] is False
    assert len(desk.events["conversation:updated"]) == seen


async def test_bad_page_updates_are_refused_and_change_nothing(server: LiveServer) -> None:
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat(1, page_title="Cart")))["conversation"]["id"]
    for bad in [{}, {"conversation_id": cid, "page_url": "javascript:alert(1)"},
                {"conversation_id": cid, "page_title": "x" * 301}, {"conversation_id": cid, "cart_value": -1},
                {"conversation_id": cid, "checkout": "yes"}, {"conversation_id": cid, "extra": 1},
                {"conversation_id": cid, "page_title": "broken \ud83d"}, "text"]:
        assert _code(await shopper.call("page:update", bad)) == "invalid_payload", bad
    stranger = await visitor(server)
    assert _code(await stranger.call("page:update", {"conversation_id": cid, "page_title": "Mine"})) == "not_found"
    desk = await agent(server, await server.add_agent())
    assert _code(await desk.call("page:update", {"conversation_id": cid})) == "unknown_event"
    stored = await server.parts.stores.conversations.get_conversation(cid)
    assert stored is not None and stored.prechat.page_title == "Cart"
    # A page that keeps sending is cut off; the chat goes on.
    codes = [("ok" if (await shopper.call("page:update", {"conversation_id": cid, "page_title": f"P{n}"})).get("ok")
              else "limited") for n in range(5)]
    assert codes[:3] == ["ok"] * 3 and "limited" in codes[3:]
    assert _code(await shopper.call("page:update", {"conversation_id": cid})) == "rate_limited"
    await shopper.call("conversation:close", {"conversation_id": cid})
    fresh = await visitor(server, shopper.token)  # a new page load: a new connection, a fresh allowance
    assert _code(await fresh.call("page:update", {"conversation_id": cid})) == "conversation_closed"
