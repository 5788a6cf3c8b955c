"""The chat button's unread count, in real Chromium: the agent's messages newer than the shopper's
read mark on the server, the same after a reload as before it (not the whole history replayed)."""

from __future__ import annotations

import pytest
from playwright.async_api import Locator, Page, expect

from ..support import Client, LiveServer, agent
from .conftest import OpenPage
from .widget import launcher, panel, screenshot

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _button(page: Page, unread: int) -> Locator:
    label = "Chat with us" if unread == 0 else \
        f"Chat with us ({unread} new {'message' if unread == 1 else 'messages'})"
    return page.locator("chatserver-widget").get_by_role("button", name=label, exact=True)


async def _chatting(shop: LiveServer, page: Page) -> tuple[Client, str]:
    alice = await agent(shop, await shop.add_agent("Alice"))
    await launcher(page).click()
    chat = panel(page)
    await chat.get_by_label("Your name").fill("Ann")
    await chat.get_by_label("How can we help?").fill("Is the blue canvas in stock?")
    await chat.get_by_role("button", name="Start chat").click()
    update = await alice.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    cid = str(update["conversation"]["id"])
    assert (await alice.call("conversation:join", {"conversation_id": cid, "after_seq": 0}))["ok"]
    await expect(chat.get_by_text("You are chatting with Alice")).to_be_visible()
    return alice, cid


async def test_the_badge_counts_only_what_the_shopper_has_not_read(shop: LiveServer, open_page: OpenPage) -> None:
    page = await open_page("/demo/")
    alice, cid = await _chatting(shop, page)
    chat = panel(page)
    seen = await alice.call("message:send", {"conversation_id": cid, "client_msg_id": "a-1", "body": "Yes, it is."})
    await expect(chat.get_by_text("Yes, it is.")).to_be_visible()
    await alice.wait_for("message:read", lambda d: d["party"] == "visitor" and d["seq"] >= seen["seq"])

    # Read, minimised, reloaded: nothing is new.
    await chat.get_by_role("button", name="Minimize chat").click()
    await page.reload()
    await expect(launcher(page)).to_be_visible()
    await page.wait_for_load_state("networkidle")
    await expect(_button(page, 0)).to_be_visible()
    await expect(launcher(page).locator(".badge")).to_be_hidden()

    # Two new messages while minimised: 2, before and after a reload.
    for n, body in enumerate(["We have 3 left.", "Shall I reserve one?"], start=2):
        last = await alice.call("message:send", {"conversation_id": cid, "client_msg_id": f"a-{n}", "body": body})
    await expect(_button(page, 2)).to_be_visible()
    await page.reload()
    await expect(_button(page, 2)).to_be_visible()
    await expect(launcher(page).locator(".badge")).to_have_text("2")
    await screenshot(page, "unread-after-reload")

    # Opening reads them (the server's mark moves), and the count stays 0 after another reload.
    await launcher(page).click()
    await expect(panel(page).get_by_text("Shall I reserve one?")).to_be_visible()
    await expect(_button(page, 0)).to_be_visible()
    await alice.wait_for("message:read", lambda d: d["party"] == "visitor" and d["seq"] >= last["seq"])
    await panel(page).get_by_role("button", name="Minimize chat").click()
    await page.reload()
    await page.wait_for_load_state("networkidle")
    await expect(_button(page, 0)).to_be_visible()


async def test_a_longer_chat_with_two_new_messages_shows_two(shop: LiveServer, open_page: OpenPage) -> None:
    page = await open_page("/demo/")
    alice, cid = await _chatting(shop, page)
    chat = panel(page)
    composer = chat.get_by_placeholder("Type your message…")
    answer: dict[str, int] = {}
    for n in range(3):
        answer = await alice.call("message:send", {"conversation_id": cid, "client_msg_id": f"a-{n}",
                                                   "body": f"Answer {n}"})
        await expect(chat.get_by_text(f"Answer {n}")).to_be_visible()
        await composer.fill(f"Question {n}")
        await composer.press("Enter")
        await expect(chat.locator("li.visitor").last.get_by_text("Sent")).to_be_visible()
    await alice.wait_for("message:read", lambda d: d["party"] == "visitor" and d["seq"] >= answer["seq"])
    await chat.get_by_role("button", name="Minimize chat").click()
    for n in (3, 4):
        await alice.call("message:send", {"conversation_id": cid, "client_msg_id": f"a-{n}", "body": f"Answer {n}"})
    await page.reload()
    await expect(_button(page, 2)).to_be_visible()
    # Another tab of the same shopper reads them: this page's count follows the server's mark.
    other = await page.context.new_page()
    await other.goto("/demo/shipping.html")
    await launcher(other).click()
    await expect(panel(other).get_by_text("Answer 4")).to_be_visible()
    await expect(_button(page, 0)).to_be_visible()
