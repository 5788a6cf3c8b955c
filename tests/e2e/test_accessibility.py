"""axe-core on every screen of the widget and of the agent console, in real Chromium: light and
dark, desktop and phone, 0 violations of any impact (tests/e2e/axe.py). Each test walks its
screens in one page against one server, as a shopper or an agent would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, Route, expect

from ..kb_corpus import seed
from ..support import LiveServer, agent, prechat, visitor
from .axe import Walk
from .console import composer, login_form, signed_in, tab, timeline
from .test_cobrowse import consent, sharing_bar
from .test_widget_chat import _assigned, _start_chat
from .test_widget_proactive import PAYMENT_HELP, _add_rule, _on_payment_page, bubble
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


async def _dialog(walk: Walk, opener: str, name: str, close: str = "Close", rows: bool = False) -> None:
    """Open an admin page (a dialog) from the top bar, check it, close it. ``rows``: its table is
    filled after it opens, and it is checked once the first row is there (before, the table holds
    only its header, which at a phone's width scrolls with nothing in it to focus)."""
    page = walk.page
    await page.get_by_role("button", name=opener, exact=True).click()
    dialog = page.get_by_role("dialog", name=name)
    await expect(dialog).to_be_visible()
    if rows:
        await expect(dialog.locator("tbody tr").first).to_be_visible()
    await walk.check(f"{name} dialog")
    await dialog.get_by_role("button", name=close, exact=True).last.click()
    await expect(dialog).to_be_hidden()


async def test_every_console_screen_passes_axe(shop: LiveServer, context: BrowserContext) -> None:
    await seed(shop)  # the knowledge base answers the shopper's question beside the chat
    admin_login = await shop.add_agent("Alice", role="admin")
    status, body = await shop.request("POST", "/api/canned-responses", token=admin_login["token"],
                                      json={"shortcut": "refund", "body": "Refunds take 5 business days."})
    assert status == 201, body
    console = await _open(context, "/console/")
    walk = Walk(console)
    await expect(login_form(console)).to_be_visible()
    await walk.check("sign-in")

    await signed_in(console, admin_login)
    await expect(console.get_by_text("No chat open. Take one from the queue.")).to_be_visible()
    await walk.check("empty")

    await _dialog(walk, "Agents", "Agents", rows=True)
    for opener, name, close in [("Canned responses", "Canned responses", "Close"),
                                ("Settings", "Settings", "Close"), ("Articles", "Knowledge-base articles", "Close"),
                                ("Change password", "Change your password", "Cancel"),
                                ("Your picture", "Your picture", "Close")]:
        await _dialog(walk, opener, name, close)

    # Away: a chat waits in the queue (it gives up before Alice is back).
    await console.get_by_label("Status").select_option("away")
    await expect(console.get_by_role("status")).to_have_text("Connected · away: no new chats")
    waiting = await visitor(shop)
    waiting_id = (await waiting.call("chat:start", prechat(1)))["conversation"]["id"]
    await expect(console.get_by_role("button", name="Take chat with Shopper 1")).to_be_visible()
    await walk.check("queue")
    await waiting.call("conversation:close", {"conversation_id": waiting_id})
    await expect(console.get_by_text("Nobody is waiting.")).to_be_visible()
    await console.get_by_label("Status").select_option("online")
    await expect(console.get_by_role("status")).to_have_text("Connected · taking chats")

    shopper = await _open(context, "/demo/shipping.html")
    await launcher(shopper).click()
    await panel(shopper).get_by_role("button", name="I still need help: chat with us").click()
    await _start_chat(shopper, "Ann", "How do I get a refund?")
    await expect(tab(console, "Ann")).to_be_visible()
    await panel(shopper).get_by_placeholder("Type your message…").fill("It's order A-1001.")
    await panel(shopper).get_by_placeholder("Type your message…").press("Enter")
    await expect(timeline(console).get_by_text("It's order A-1001.")).to_be_visible()
    await composer(console).fill("/ref")  # the canned responses' list, open under the reply box
    await expect(console.get_by_role("listbox", name="Canned responses").get_by_role("option")).to_have_count(1)
    await walk.check("canned responses' list")
    await composer(console).fill("Let me look.")
    await composer(console).press("Enter")
    await expect(timeline(console).get_by_text("Let me look.")).to_be_visible()
    await expect(console.get_by_role("button", name="Insert link How do I get a refund?")).to_be_visible()
    await walk.check("chat")

    await agent(shop, await shop.add_agent("Bob"))  # someone to transfer to, online once Ann is Alice's
    await console.get_by_role("button", name="Transfer", exact=True).click()
    transfer = console.get_by_role("dialog", name="Transfer the chat")
    await expect(transfer.get_by_label("Transfer to").locator("option", has_text="Bob")).to_have_count(1)
    await walk.check("transfer")
    await transfer.get_by_role("button", name="Cancel").click()
    await expect(transfer).to_be_hidden()

    await console.get_by_role("button", name="Co-browse").click()
    await consent(shopper).get_by_role("button", name="Share my screen").click()
    await expect(console.locator("#cobrowse-status")).to_have_text("Live")
    await walk.check("co-browse view")
    walk.done()


async def _shop_page(context: BrowserContext, attributes: str) -> Page:
    """The demo's cart page as a shop would set the widget up: ``attributes`` on its script tag."""
    page = await context.new_page()

    async def tagged(route: Route) -> None:
        response = await route.fetch()
        tag = '<script src="/widget.js" async'
        html = (await response.text()).replace(tag, f"{tag} {attributes}")
        await route.fulfill(response=response, body=html)

    await page.route("**/demo/", tagged)
    await page.goto("/demo/")
    return page


async def _styles(page: Page) -> dict[str, Any]:
    styles: dict[str, Any] = await page.evaluate("""() => {  // the launcher's colours and the panel's place
      const root = document.querySelector("chatserver-widget").shadowRoot;
      const launcher = getComputedStyle(root.querySelector(".launcher"));
      const panel = root.querySelector(".panel")?.getBoundingClientRect();
      const bubble = root.querySelector("li.visitor .body");
      return { background: launcher.backgroundColor, color: launcher.color,
               launcherLeft: root.querySelector(".launcher").getBoundingClientRect().left,
               panelLeft: panel?.left ?? null, bubble: bubble ? getComputedStyle(bubble).color : null };
    }""")
    return styles


async def test_the_shops_colour_and_corner_read_well_in_both_schemes(shop: LiveServer, context: BrowserContext) -> None:
    alice = await agent(shop, await shop.add_agent("Alice"))
    # A light yellow: white text on it would not read, so the text on it is near-black.
    page = await _shop_page(context, 'data-color="#FFD400" data-position="left"')
    walk = Walk(page)
    await launcher(page).click()
    await _start_chat(page, "Ann", "Is this in stock?")
    await _assigned(alice)
    await expect(panel(page).get_by_text("You are chatting with Alice")).to_be_visible()
    await expect(panel(page).locator("li.visitor").last.get_by_text("Sent")).to_be_visible()
    await walk.check("chat in the shop's colour")
    styles = await _styles(page)
    assert styles["background"] == "rgb(255, 212, 0)" and styles["color"] == "rgb(17, 17, 17)", styles
    assert styles["bubble"] == "rgb(17, 17, 17)", styles
    assert styles["launcherLeft"] < 100 and styles["panelLeft"] is not None and styles["panelLeft"] < 100, styles
    walk.done()

    # What is not a #rgb/#rrggbb colour or left/right is ignored: the default colour, on the right.
    other = await _shop_page(context, 'data-color="red;background:url(https://evil.example/)" data-position="top"')
    await expect(launcher(other)).to_be_visible()
    styles = await _styles(other)
    assert styles["background"] == "rgb(31, 95, 191)" and styles["color"] == "rgb(255, 255, 255)", styles
    assert styles["launcherLeft"] > 1000, styles


async def test_the_widget_in_arabic_passes_axe(shop: LiveServer, context: BrowserContext) -> None:
    """Right to left, the panel mirrored: the pre-chat form in both schemes and sizes."""
    page = await _shop_page(context, 'data-locale="ar"')
    walk = Walk(page)
    await page.locator("chatserver-widget").get_by_role("button").first.click()
    await expect(page.locator("chatserver-widget form").first).to_be_visible()
    await expect(page.locator("chatserver-widget [dir=rtl]").first).to_be_attached()
    await walk.check("pre-chat form in Arabic")
    walk.done()


async def test_the_proactive_message_passes_axe(shop: LiveServer, context: BrowserContext) -> None:
    """The shop's proactive bubble beside the chat button, on the demo's payment page."""
    await _add_rule(shop, PAYMENT_HELP)
    await agent(shop, await shop.add_agent("Alice"))
    page = await context.new_page()
    await _on_payment_page(page)
    await page.clock.fast_forward(20_000)
    await expect(bubble(page).get_by_role("status")).to_have_text("Need a hand with the payment?")
    walk = Walk(page)
    await walk.check("proactive message")
    walk.done()
