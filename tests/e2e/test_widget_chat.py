"""A shopper on the demo checkout chats with an agent through the widget, in real Chromium.

The agent is a python-socketio client; every step waits for what the shopper would see.
Screenshots of each state go to test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Page, expect

from ..support import Client, LiveServer, agent, prechat, visitor
from .conftest import OpenPage
from .widget import launcher, message_bodies, panel, screenshot, widget_state

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _transcript(shop: LiveServer, token: str, conversation_id: str) -> dict[str, Any]:
    status, body = await shop.request("GET", f"/api/conversations/{conversation_id}", token=token)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def _queue(place: str) -> re.Pattern[str]:
    """The queue line, with the server's wait estimate when it has one (it depends on history)."""
    return re.compile(rf"^{place}(, about \d+ minutes?)?\.$")


async def _start_chat(page: Page, name: str, question: str, *, email: str = "", order: str = "") -> None:
    chat = panel(page)
    await chat.get_by_label("Your name").fill(name)
    if email:
        await chat.get_by_label("Email").fill(email)
    await chat.get_by_label("How can we help?").fill(question)
    if order:
        await chat.get_by_label("Order number").fill(order)
    await chat.get_by_role("button", name="Start chat").click()


async def _assigned(alice: Client, conversation_id: str | None = None) -> str:
    """Wait until a chat is assigned to the agent; join it; return its id."""
    update = await alice.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned" and (
        conversation_id is None or d["conversation"]["id"] == conversation_id), timeout=10)
    cid = str(update["conversation"]["id"])
    joined = await alice.call("conversation:join", {"conversation_id": cid, "after_seq": 0})
    assert joined["ok"], joined
    return cid


async def test_shopper_chats_through_the_checkout(shop: LiveServer, open_page: OpenPage) -> None:
    # Two shoppers are already waiting when Ann opens the chat on the cart page.
    others = [await visitor(shop) for _ in range(2)]
    other_chats = [(await v.call("chat:start", prechat(n + 1)))["conversation"]["id"] for n, v in enumerate(others)]
    page = await open_page("/demo/")
    await expect(launcher(page)).to_have_attribute("aria-expanded", "false")
    await screenshot(page, "00-launcher")
    await launcher(page).click()
    chat = panel(page)
    await expect(chat).to_be_visible()
    await expect(chat.get_by_text("No agent is available right now")).to_be_visible()
    await expect(chat.get_by_role("link", name="Privacy notice")).to_have_attribute(
        "href", f"{shop.url}/demo/privacy.html")
    await screenshot(page, "01-prechat-no-agent")

    await _start_chat(page, "Ann", "My card is declined", email="ann@example.com", order="A-1001")
    await expect(chat.get_by_text(_queue("You are number 3 in the queue"))).to_be_visible()
    await expect(chat.get_by_placeholder("Type your message…")).to_be_focused()
    await screenshot(page, "02-queued")

    # Alice serves one chat at a time: the queue moves as the others are served or give up.
    alice_login = await shop.add_agent("Alice", capacity=1)
    alice = await agent(shop, alice_login)
    first = await _assigned(alice)
    assert first == other_chats[0]
    await expect(chat.get_by_text(_queue("You are number 2 in the queue"))).to_be_visible()
    await others[1].call("conversation:close", {"conversation_id": other_chats[1]})
    await expect(chat.get_by_text(_queue("You are next in the queue"))).to_be_visible()
    await alice.call("conversation:close", {"conversation_id": first})
    cid = await _assigned(alice, (await widget_state(page, shop.url))["conversationId"])
    await expect(chat.get_by_text("Alice joined the chat.")).to_be_visible()
    await expect(chat.get_by_text("You are chatting with Alice")).to_be_visible()

    # The agent sees where the shopper is.
    context = (await _transcript(shop, alice_login["token"], cid))["conversation"]["prechat"]
    expected = {"name": "Ann", "email": "ann@example.com", "question": "My card is declined",
                "order_number": "A-1001", "page_url": f"{shop.url}/demo/",
                "page_title": "Your cart · Canvas & Co. (demo shop)", "checkout": False, "cart_value": 59.9}
    assert {key: context.get(key) for key in expected} == expected

    # Typing, a message, and the shopper's read mark.
    await alice.call("typing:update", {"conversation_id": cid, "typing": True})
    await expect(chat.get_by_text("Alice is typing…")).to_be_visible()
    await screenshot(page, "03-agent-typing")
    hello = await alice.call("message:send", {"conversation_id": cid, "client_msg_id": "a-1",
                                              "body": "Hi Ann, let me check that card for you."})
    await expect(chat.get_by_text("Hi Ann, let me check that card for you.")).to_be_visible()
    await expect(chat.get_by_text("Alice is typing…")).to_be_hidden()
    await alice.wait_for("message:read", lambda d: d["party"] == "visitor" and d["seq"] >= hello["seq"])

    # The shopper types: the agent hears typing:updated from the visitor, and its end on sending.
    def shopper_typing(typing: bool) -> Callable[[dict[str, Any]], bool]:
        return lambda d: d == {"conversation_id": cid, "party": "visitor", "typing": typing}

    assert not [d for d in alice.events["typing:updated"] if d["party"] == "visitor"]
    composer = chat.get_by_placeholder("Type your message…")
    await composer.fill("Thanks! It says 'declined by issuer'.")
    await alice.wait_for("typing:updated", shopper_typing(True))
    await composer.press("Enter")
    said = await alice.wait_for("message:new", lambda m: m["sender"]["kind"] == "visitor" and m["kind"] == "text"
                                and m["body"] == "Thanks! It says 'declined by issuer'.")
    await alice.wait_for("typing:updated", shopper_typing(False))
    await expect(chat.locator("li.visitor").last.get_by_text("Sent")).to_be_visible()
    await alice.call("message:read", {"conversation_id": cid, "seq": said["seq"]})
    await expect(chat.locator("li.visitor").last.get_by_text("Read")).to_be_visible()
    await expect(chat.get_by_text("How was your chat?")).to_be_hidden()  # only once the chat has ended
    await screenshot(page, "04-chatting")

    # Next checkout page: the same chat, its history once, the panel still open.
    history = ["Chat started.", "My card is declined", "Alice joined the chat.",
               "Hi Ann, let me check that card for you.", "Thanks! It says 'declined by issuer'."]
    await page.get_by_role("link", name="Continue to shipping").click()
    await expect(page).to_have_url(f"{shop.url}/demo/shipping.html")
    await expect(panel(page)).to_be_visible()
    await expect(message_bodies(page)).to_have_text(history)
    await alice.call("message:send", {"conversation_id": cid, "client_msg_id": "a-2",
                                      "body": "Please try the payment page again."})
    history.append("Please try the payment page again.")
    await expect(message_bodies(page)).to_have_text(history)

    # The agent drops: the shopper is told, and told again when the agent is back.
    await alice.disconnect()
    await expect(panel(page).get_by_text("Alice is offline for the moment. Your chat is kept.")).to_be_visible()
    await screenshot(page, "05-agent-offline")
    alice = await agent(shop, alice_login)
    await expect(panel(page).get_by_text("Alice is offline for the moment.")).to_be_hidden()

    await page.get_by_role("button", name="Continue to payment").click()
    await expect(page).to_have_url(re.compile(r"/demo/payment\.html\??$"))
    chat = panel(page)
    await expect(message_bodies(page)).to_have_text(history)

    # The shopper ends the chat and rates it.
    await chat.get_by_role("button", name="End chat").click()
    await chat.get_by_role("button", name="Yes, end chat").click()  # "End this chat?"
    await expect(chat.get_by_text("You ended the chat.")).to_be_visible()
    await alice.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "closed")
    await expect(chat.get_by_text("How was your chat?")).to_be_visible()
    await screenshot(page, "06-rating")
    await chat.get_by_text("5 stars").click()
    await chat.get_by_label("Anything to add?").fill("Quick and friendly")
    await chat.get_by_role("button", name="Send rating").click()
    await expect(chat.get_by_text("Thank you for your feedback!")).to_be_visible()
    await screenshot(page, "07-rated")
    rating = (await _transcript(shop, alice_login["token"], cid))["rating"]
    assert rating is not None and (rating["rating"], rating["comment"]) == (5, "Quick and friendly")

    # Back on the shop, the chat is over: the next page load fetches only the small loader, not
    # the chat UI, the Socket.IO client or a connection; opening the chat then offers a new one.
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url.removeprefix(shop.url)))
    page.on("websocket", lambda ws: fetched.append(ws.url.removeprefix(shop.url.replace("http", "ws", 1))))
    await page.get_by_role("link", name="Canvas & Co.").click()
    await expect(page).to_have_url(f"{shop.url}/demo/index.html")
    await expect(launcher(page)).to_be_visible()
    await page.wait_for_load_state("networkidle")
    assert "/widget.js" in fetched, fetched
    assert not [u for u in fetched if u.startswith(("/widget/", "/socket.io/", "/api/"))], fetched
    await screenshot(page, "08-after-the-chat")
    await launcher(page).click()
    await expect(panel(page).get_by_label("Your name")).to_be_visible()
    assert [u for u in fetched if u.startswith("/widget/")], fetched  # fetched now, on opening
    await expect(panel(page).get_by_text("How was your chat?")).to_be_hidden()


async def test_agent_closing_the_chat_asks_for_a_rating_even_after_a_reload(
        shop: LiveServer, open_page: OpenPage) -> None:
    alice_login = await shop.add_agent("Alice")
    alice = await agent(shop, alice_login)
    page = await open_page("/demo/shipping.html")
    await launcher(page).click()
    await _start_chat(page, "Ben", "Do you ship to Norway?")
    cid = await _assigned(alice)
    chat = panel(page)
    # With the panel minimized, a new message shows on the chat button.
    await chat.get_by_role("button", name="Minimize chat").click()
    await alice.call("message:send", {"conversation_id": cid, "client_msg_id": "a-1", "body": "Yes, we do."})
    await expect(page.locator("chatserver-widget").get_by_role("button", name="Chat with us (1 new message)")) \
        .to_be_visible()
    await screenshot(page, "12-unread-badge")
    await launcher(page).click()
    await expect(chat.get_by_text("Yes, we do.")).to_be_visible()
    await expect(launcher(page)).to_have_attribute("aria-label", "Chat with us")
    await alice.call("conversation:close", {"conversation_id": cid})
    await expect(chat.get_by_text("The agent ended the chat.")).to_be_visible()
    await expect(chat.get_by_text("How was your chat?")).to_be_visible()
    await page.reload()
    await expect(panel(page).get_by_text("How was your chat?")).to_be_visible()
    await panel(page).get_by_text("2 stars").click()
    await panel(page).get_by_role("button", name="Send rating").click()
    await expect(panel(page).get_by_text("Thank you for your feedback!")).to_be_visible()
    rating = (await _transcript(shop, alice_login["token"], cid))["rating"]
    assert rating is not None and rating["rating"] == 2 and rating["comment"] is None
    await panel(page).get_by_role("button", name="Start a new chat").click()
    await expect(panel(page).get_by_label("Your name")).to_be_visible()


async def test_the_agents_typing_line_ends_by_itself(shop: LiveServer, open_page: OpenPage) -> None:
    """An agent's typing:false can be lost (their console closed mid-word): the widget stops saying
    "is typing" a few seconds after the last typing:true, and a repeated typing:true keeps it."""
    alice = await agent(shop, await shop.add_agent("Alice"))
    page = await open_page("/demo/")
    await page.clock.install()  # time flows as usual; the test jumps ahead where it waits
    await page.reload()
    await launcher(page).click()
    await _start_chat(page, "Ann", "Where is my parcel?")
    cid = await _assigned(alice)
    chat = panel(page)
    await expect(chat.get_by_text("You are chatting with Alice")).to_be_visible()
    typing = chat.get_by_text("Alice is typing…")
    await alice.call("typing:update", {"conversation_id": cid, "typing": True})
    await expect(typing).to_be_visible()
    await page.clock.fast_forward(4000)
    await alice.call("typing:update", {"conversation_id": cid, "typing": True})  # still typing: repeated
    await page.clock.fast_forward(4000)
    await expect(typing).to_be_visible()
    await page.clock.fast_forward(2500)
    await expect(typing).to_be_hidden()
