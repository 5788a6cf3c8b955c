"""axe-core on every screen of the widget and of the agent console, in real Chromium: light and
dark, desktop and phone, 0 violations of any impact (tests/e2e/axe.py). Each test walks its
screens in one page against one server, as a shopper or an agent would."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from ..kb_corpus import seed
from ..support import LiveServer, agent
from .axe import Walk
from .test_cobrowse import consent, sharing_bar
from .test_widget_chat import _assigned, _start_chat
from .widget import launcher, panel

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser, shop: LiveServer) -> AsyncIterator[BrowserContext]:
    """A browser profile that lets axe's inline script past the pages' CSP; page errors fail."""
    context = await browser.new_context(base_url=shop.url, reduced_motion="reduce", bypass_csp=True,
                                        viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))
    try:
        yield context
    finally:
        await context.close()
    assert not errors, errors


async def _open(context: BrowserContext, path: str) -> Page:
    page = await context.new_page()
    await page.goto(path)
    return page


async def test_every_widget_screen_passes_axe(shop: LiveServer, context: BrowserContext) -> None:
    await seed(shop)  # the help step comes first
    page = await _open(context, "/demo/shipping.html")
    walk = Walk(page)
    await expect(launcher(page)).to_be_visible()
    await walk.check("closed")

    await launcher(page).click()
    chat = panel(page)
    await expect(chat.get_by_label("Search our help articles")).to_be_focused()
    await walk.check("help")

    await chat.get_by_role("button", name="I still need help: chat with us").click()
    await expect(chat.get_by_role("button", name="Start chat")).to_be_visible()
    await expect(chat.get_by_text("No agent is available right now")).to_be_visible()
    await walk.check("pre-chat form")

    await chat.get_by_role("button", name="Leave a message instead (we answer by email)").click()
    await expect(chat.get_by_role("button", name="Send question")).to_be_visible()
    await walk.check("offline form")
    await chat.get_by_role("button", name="Wait for an agent instead").click()

    await _start_chat(page, "Ann", "Can you check my address?")
    await expect(chat.get_by_text("You are next in the queue", exact=False)).to_be_visible()
    await walk.check("queue")

    alice = await agent(shop, await shop.add_agent("Alice"))
    cid = await _assigned(alice)
    await alice.call("message:send", {"conversation_id": cid, "client_msg_id": "a-1", "body": "Hello Ann!"})
    await alice.call("typing:update", {"conversation_id": cid, "typing": True})
    await expect(chat.get_by_text("Alice is typing…")).to_be_visible()
    await chat.get_by_placeholder("Type your message…").fill("Hi!")
    await chat.get_by_placeholder("Type your message…").press("Enter")
    await expect(chat.locator("li.visitor").last.get_by_text("Sent")).to_be_visible()
    await walk.check("chat")

    assert (await alice.call("cobrowse:request", {"conversation_id": cid}))["ok"]
    await expect(consent(page).get_by_role("button", name="Share my screen")).to_be_focused()
    await walk.check("co-browse consent")
    await consent(page).get_by_role("button", name="Share my screen").click()
    await expect(sharing_bar(page)).to_contain_text("Alice can see this page")
    await walk.check("co-browse banner")
    await sharing_bar(page).get_by_role("button", name="Stop sharing").click()

    assert (await alice.call("conversation:close", {"conversation_id": cid}))["ok"]
    await expect(chat.get_by_text("How was your chat?")).to_be_visible()
    await walk.check("rating")
    walk.done()
