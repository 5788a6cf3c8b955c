"""The offline form in real Chromium: outside business hours a shopper on a phone leaves a
question with the keyboard, sees it confirmed, and finds the agent's answer when they come back
(and in their mailbox: a real SMTP server)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import expect

from ..offline_support import SmtpServer
from ..support import LiveServer, agent, make_settings, wait_until
from .conftest import OpenPage, running
from .widget import launcher, panel, screenshot

pytestmark = pytest.mark.asyncio(loop_scope="session")

SHADOW = "document.querySelector('chatserver-widget').shadowRoot"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path, smtp: SmtpServer) -> AsyncIterator[LiveServer]:
    """The demo shop, closed today (open only tomorrow), requiring an order number."""
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%a").lower()
    async with running(make_settings(tmp_path, **smtp.settings(), business_hours=f"{tomorrow} 00:00-24:00",
                                    ticket_order_number_required=True, outbox_poll_interval=0.5)) as live:
        yield live


async def test_closed_shop_offers_the_form_and_shows_the_answer_on_return(
        shop: LiveServer, open_page: OpenPage, smtp: SmtpServer) -> None:
    await agent(shop, await shop.add_agent("Alice"))  # connected, but the shop is closed
    page = await open_page("/demo/shipping.html", viewport={"width": 375, "height": 667})
    button = launcher(page)
    await button.focus()
    await page.keyboard.press("Enter")
    chat = panel(page)
    # When exactly is the browser's time zone's and locale's (test_widget_opening_hours.py).
    await expect(chat.get_by_text(re.compile(r"^We're closed\. We open again .+ at .+ \(your time\)\. Leave your "
                                             r"question"))).to_be_visible()
    await expect(chat.get_by_role("button", name="Start chat")).to_have_count(0)
    await expect(chat.get_by_role("button", name="Wait for an agent instead")).to_be_hidden()
    name = chat.get_by_label("Your name")
    await expect(name).to_be_focused()
    box = await chat.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375.5, box
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    unlabelled = await page.evaluate(f"""() => [...{SHADOW}.querySelectorAll("input, textarea")]
        .filter(el => el.labels.length === 0 && !el.getAttribute("aria-label")).map(el => el.outerHTML)""")
    assert unlabelled == []
    await screenshot(page, "20-offline-form")

    # Sending it empty, with the keyboard, says what is missing at each field.
    send = chat.get_by_role("button", name="Send question")
    await send.focus()
    await page.keyboard.press("Enter")
    await expect(chat.get_by_text("Please tell us your name.")).to_be_visible()
    await expect(chat.get_by_text("Please give your email address: we answer there.")).to_be_visible()
    await expect(chat.get_by_text("Please give your order number.")).to_be_visible()
    await expect(chat.get_by_text("Please tell us what you need help with.")).to_be_visible()
    await expect(name).to_be_focused()
    await expect(name).to_have_attribute("aria-invalid", "true")
    await screenshot(page, "21-offline-form-problems")

    question = "Parcel not here <img src=x onerror=\"document.title='pwned'\">"
    await page.keyboard.type("Ann")
    for label, text in (("Email", "ann@"), ("Order number", "A-1001"), ("Your question", question)):
        await page.keyboard.press("Tab")
        await expect(chat.get_by_label(label)).to_be_focused()
        await page.keyboard.type(text)
    await page.keyboard.press("Tab")
    await expect(chat.get_by_role("link", name="Privacy notice")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(send).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(chat.get_by_text("This does not look like an email address.")).to_be_visible()
    await expect(chat.get_by_label("Email")).to_be_focused()
    await page.keyboard.type("example.com")
    await send.click()

    thanks = chat.get_by_text("Thank you! We received your question")
    await expect(thanks).to_be_visible()
    await expect(thanks).to_contain_text("by email to ann@example.com")
    await expect(chat.get_by_role("heading", name="Questions you sent")).to_be_visible()
    await expect(chat.locator("li.ticket .question")).to_have_text(question)  # text, not markup
    assert await page.evaluate(f"{SHADOW}.querySelectorAll('img').length") == 0
    assert await page.title() != "pwned"
    await screenshot(page, "22-offline-confirmation")

    login = await shop.add_agent("Bea")
    _, listing = await shop.request("GET", "/api/tickets?status=open", token=login["token"])
    [ticket] = listing["tickets"]
    assert (ticket["name"], ticket["email"], ticket["order_number"], ticket["description"]) == (
        "Ann", "ann@example.com", "A-1001", question)
    assert ticket["page_url"] == f"{shop.url}/demo/shipping.html"

    # The shopper leaves; Bea answers; the shopper comes back another day.
    await chat.get_by_role("button", name="Minimize chat").click()
    status, _ = await shop.request("POST", f"/api/tickets/{ticket['id']}/answers", token=login["token"],
                                   json={"body": "It left our warehouse today <b>really</b>."})
    assert status == 201
    await expect(page.locator("chatserver-widget").get_by_role("button", name="Chat with us (1 new message)")) \
        .to_be_visible()
    await page.goto("/demo/")
    await expect(page.locator("chatserver-widget").get_by_role("button", name="Chat with us (1 new message)")) \
        .to_be_visible()
    await launcher(page).click()
    await expect(panel(page).get_by_text("Answered", exact=False)).to_be_visible()
    await expect(panel(page).get_by_text("It left our warehouse today <b>really</b>.")).to_be_visible()
    await expect(launcher(page)).to_have_attribute("aria-label", "Chat with us")
    await screenshot(page, "23-offline-answer-on-return")

    await wait_until(lambda: len(smtp.mails) == 1, what="the answer email")
    assert smtp.mails[0].recipients == ["ann@example.com"]
    assert "It left our warehouse today <b>really</b>." in smtp.mails[0].message.get_content()
