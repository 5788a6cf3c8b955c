"""Links in messages, in real Chromium on both sides: an agent sends web and email addresses (and a
help article through "Insert link"); the shopper's widget shows them as links that open in a new
tab, safely, and the shopper's own addresses reach the console as links the same way. A
``javascript:`` text stays text everywhere; a long address wraps inside the message."""

from __future__ import annotations

import pytest
from playwright.async_api import Locator, Page, expect

from ..kb_corpus import seed
from ..support import LiveServer
from .conftest import OpenPage
from .console import OpenConsole, composer, open_console, screenshot, signed_in, tab, timeline
from .test_widget_chat import _start_chat
from .widget import launcher, panel
from .widget import screenshot as widget_screenshot

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")

LONG = "https://shop.example/" + "very-long-path-segment/" * 12 + "end"


async def _links(area: Locator) -> list[dict[str, str | None]]:
    return await area.locator("a").evaluate_all(  # type: ignore[no-any-return]
        "links => links.map(a => ({text: a.textContent, href: a.getAttribute('href'),"
        " target: a.getAttribute('target'), rel: a.getAttribute('rel')}))")


def _safe(text: str, href: str) -> dict[str, str | None]:
    return {"text": text, "href": href, "target": "_blank", "rel": "noopener noreferrer"}


async def _no_dialogs(page: Page) -> list[str]:
    """Any alert() a link could run is recorded (and dismissed), so the test can say none ran."""
    dialogs: list[str] = []

    async def dismiss(dialog: object) -> None:
        dialogs.append(dialog.message)  # type: ignore[attr-defined]
        await dialog.dismiss()  # type: ignore[attr-defined]

    page.on("dialog", dismiss)
    return dialogs


async def test_addresses_are_safe_links_both_ways(shop: LiveServer, open_page: OpenPage,
                                                  open_console: OpenConsole) -> None:
    await seed(shop)
    alice = await open_console()
    await signed_in(alice, await shop.add_agent("Alice"))
    shopper = await open_page("/demo/")
    shopper_dialogs = await _no_dialogs(shopper)
    alice_dialogs = await _no_dialogs(alice)
    await launcher(shopper).click()
    await panel(shopper).get_by_role("button", name="I still need help: chat with us").click()
    await _start_chat(shopper, "Ann", "How do I pay?")
    await expect(tab(alice, "Ann")).to_have_attribute("aria-selected", "true")
    chat = panel(shopper)
    await expect(chat.get_by_text("You are chatting with Alice")).to_be_visible()

    # The agent writes addresses, a javascript: text, a long address, then inserts a help article.
    kb = alice.get_by_role("region", name="Knowledge base")
    await kb.get_by_label("Search articles").fill("paypal")
    found = kb.get_by_role("list", name="Articles found").get_by_role("listitem")
    await expect(found.first).to_contain_text("Paying with PayPal")
    await composer(alice).fill(f"See www.shop.example/pay. (or mail help@shop.example) javascript:alert(1) {LONG}")
    await found.first.get_by_role("button", name="Insert link Paying with PayPal").click()
    await composer(alice).press("Enter")
    article = f"{shop.url}/help/articles/paying-with-paypal"

    received = chat.locator("ol.messages > li.agent").last
    await expect(received).to_contain_text("javascript:alert(1)")
    assert await _links(received) == [
        _safe("www.shop.example/pay", "https://www.shop.example/pay"),
        _safe("help@shop.example", "mailto:help@shop.example"),
        _safe(LONG, LONG),
        _safe(article, article),
    ]
    # The long address wraps inside the panel: nothing scrolls sideways.
    body = received.locator(".body")
    assert await body.evaluate("b => b.scrollWidth <= b.clientWidth")
    assert await chat.locator(".scroll").last.evaluate("s => s.scrollWidth <= s.clientWidth")
    await widget_screenshot(shopper, "links")

    # The help article's link opens in a new tab for the shopper.
    async with shopper.context.expect_page() as opened:
        await received.get_by_role("link", name=article).click()
    help_page = await opened.value
    await expect(help_page.get_by_role("heading", name="Paying with PayPal")).to_be_visible()
    assert help_page.url == article
    await help_page.close()

    # The other way round: the shopper's addresses are links in the console, javascript: is text.
    box = chat.get_by_placeholder("Type your message…")
    await box.fill("My order: https://shop.example/orders/7?x=1&y=2), mail ann@example.com! javascript:alert(2)")
    await box.press("Enter")
    shown = timeline(alice).locator("li.visitor").last
    await expect(shown).to_contain_text("javascript:alert(2)")
    assert await _links(shown) == [
        _safe("https://shop.example/orders/7?x=1&y=2", "https://shop.example/orders/7?x=1&y=2"),
        _safe("ann@example.com", "mailto:ann@example.com"),
    ]
    await expect(shown.locator(".body")).to_have_text(
        "My order: https://shop.example/orders/7?x=1&y=2), mail ann@example.com! javascript:alert(2)")
    await screenshot(alice, "links")

    # The shopper's own message shows its link too; no javascript: link exists anywhere.
    await expect(chat.locator("ol.messages > li.visitor").last.locator("a")).to_have_count(2)
    for page in (shopper, alice):
        hrefs = await page.locator("a[href]").evaluate_all("as => as.map(a => a.href)")
        assert not [href for href in hrefs if not href.startswith(("http://", "https://", "mailto:"))], hrefs
    assert shopper_dialogs == [] and alice_dialogs == []
