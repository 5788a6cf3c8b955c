"""Proactive messages in Chromium on the demo checkout (docs/widget.md "Proactive messages"): a
shopper who stays 20 s on the payment page (Playwright's clock, no real wait) sees the shop's
message beside the chat button, answers it, and the chat that starts carries the rule; a shopper
who already chatted does not see it; neither does one outside business hours or while no agent is
available, when the rule says so. Screenshots in test-artifacts/."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Locator, Page, expect

from ..support import LiveServer, agent, make_settings, wait_until
from .conftest import OpenPage, running
from .test_widget_chat import _start_chat
from .widget import launcher, panel, screenshot, widget_state

pytestmark = pytest.mark.asyncio(loop_scope="session")

PAYMENT_HELP = {"name": "Payment help", "url_pattern": "*/demo/payment*", "seconds": 20, "checkout_step": "payment",
                "min_cart_value": 50, "text": "Need a hand with the payment?",
                "texts": {"de": "Brauchen Sie Hilfe beim Bezahlen?"}, "agent_available_only": True}


def bubble(page: Page) -> Locator:
    return page.locator("chatserver-widget section.proactive")


async def _add_rule(server: LiveServer, rule: dict[str, Any]) -> str:
    status, created = await server.request("POST", "/api/proactive-rules", token=await server.admin_token(),
                                           json=rule)
    assert status == 201, created
    return str(created["rule"]["id"])


async def _report(server: LiveServer) -> dict[str, tuple[int, int, int]]:
    status, report = await server.request("GET", "/api/reports/proactive", token=await server.admin_token())
    assert status == 200, report
    return {r["name"]: (r["shown"], r["answered"], r["chats"]) for r in report["rules"]}


async def _on_payment_page(page: Page, path: str = "/demo/payment.html", *, install: bool = True) -> None:
    """Open the payment page on a fake clock and wait until the widget has the rules that apply
    (its proactive:rules acknowledgement arrived over the WebSocket)."""
    if install:
        await page.clock.install()
    async with page.expect_websocket() as opened:
        await page.goto(path)
    socket = await opened.value
    await socket.wait_for_event("framereceived", lambda frame: '"rules"' in str(frame))


async def test_a_shopper_20_s_on_the_payment_page_is_asked_answers_and_a_chat_starts_with_the_rule(
        shop: LiveServer, open_page: OpenPage) -> None:
    rule_id = await _add_rule(shop, PAYMENT_HELP)
    alice = await agent(shop, await shop.add_agent("Alice"))
    page = await open_page("/demo/")
    await _on_payment_page(page)
    await page.clock.fast_forward(19_000)
    await expect(bubble(page)).to_be_hidden()  # 19 s: not yet
    await page.clock.fast_forward(1_000)
    message = bubble(page).get_by_role("status")
    await expect(message).to_have_text("Need a hand with the payment?")
    await expect(panel(page)).to_be_hidden()  # no chat opened by itself
    assert (await widget_state(page, shop.url)).get("conversationId") is None
    await screenshot(page, "proactive-bubble")

    # Keyboard: Tab from the chat button reaches the reply field; typing a reply and Enter answers.
    await launcher(page).focus()
    await page.keyboard.press("Tab")
    await expect(bubble(page).get_by_label("Your reply")).to_be_focused()
    await page.keyboard.type("Is paying by card safe here?")
    await page.keyboard.press("Enter")

    chat = panel(page)
    await expect(chat).to_be_visible()
    await expect(bubble(page)).to_have_count(0)
    line = chat.locator(".proactive-line:not([hidden])")
    await expect(line).to_contain_text("Need a hand with the payment?")
    await expect(chat.get_by_label("How can we help?")).to_have_value("Is paying by card safe here?")
    await screenshot(page, "proactive-prechat")
    await chat.get_by_label("Your name").fill("Ann")
    await chat.get_by_role("button", name="Start chat").click()
    await expect(chat.locator("ol.messages > li .body", has_text="Is paying by card safe here?")).to_be_visible()
    await expect(line).to_contain_text("Need a hand with the payment?")  # the shop's first line
    await screenshot(page, "proactive-chat")

    conversation_id = (await widget_state(page, shop.url))["conversationId"]
    assert conversation_id
    assigned = await alice.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == conversation_id)
    assert assigned["conversation"]["id"] == conversation_id

    async def recorded() -> bool:
        _, transcript = await shop.request("GET", f"/api/conversations/{conversation_id}",
                                           token=await shop.admin_token())
        return bool(transcript.get("proactive") == {"rule_id": rule_id, "name": "Payment help"})
    await wait_until(recorded)
    assert await _report(shop) == {"Payment help": (1, 1, 1)}

    # Once per session: the next page of the visit shows nothing more.
    await page.goto("/demo/payment.html")
    await page.clock.fast_forward(60_000)
    await expect(launcher(page)).to_be_visible()
    await expect(bubble(page)).to_have_count(0)


async def test_the_message_is_in_the_shoppers_language_fits_a_phone_and_is_dismissed_for_the_visit(
        shop: LiveServer, open_page: OpenPage) -> None:
    await _add_rule(shop, PAYMENT_HELP)
    await agent(shop, await shop.add_agent("Alice"))
    # A German browser: the widget, and so the bubble and the shop's text, speak German.
    page = await open_page("/demo/", viewport={"width": 375, "height": 667}, locale="de-DE")
    await _on_payment_page(page)
    german_launcher = page.locator("chatserver-widget").get_by_role("button", name="Chatten Sie mit uns")
    await page.clock.fast_forward(20_000)
    await expect(bubble(page).get_by_role("status")).to_have_text("Brauchen Sie Hilfe beim Bezahlen?")
    # On a phone the bubble sits above the chat button, inside the screen.
    box, button = await bubble(page).bounding_box(), await german_launcher.bounding_box()
    assert box is not None and button is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375 and box["y"] + box["height"] <= button["y"], (box, button)
    await screenshot(page, "proactive-phone-de")
    await expect(bubble(page)).to_have_accessible_name(re.compile(r"^Chatten Sie mit uns: Nachricht$"))
    await bubble(page).get_by_label("Ihre Antwort").focus()
    await page.keyboard.press("Escape")
    await expect(bubble(page)).to_have_count(0)
    await expect(german_launcher).to_be_focused()  # focus back on the chat button
    await expect(panel(page)).to_have_count(0)  # dismissing opens nothing
    await page.reload()
    await page.clock.fast_forward(60_000)
    await expect(german_launcher).to_be_visible()
    await expect(bubble(page)).to_have_count(0)
    assert await _report(shop) == {"Payment help": (1, 0, 0)}


async def test_a_shopper_who_already_chatted_is_not_asked(shop: LiveServer, open_page: OpenPage) -> None:
    await _add_rule(shop, PAYMENT_HELP)
    await agent(shop, await shop.add_agent("Alice"))
    page = await open_page("/demo/")
    await launcher(page).click()
    await _start_chat(page, "Bo", "Where is my parcel?")
    await expect(panel(page).locator("ol.messages > li .body", has_text="Where is my parcel?")).to_be_visible()
    await page.clock.install()
    await page.goto("/demo/payment.html")
    await expect(launcher(page)).to_be_visible()
    await page.clock.fast_forward(60_000)
    await expect(panel(page).locator("ol.messages > li .body", has_text="Where is my parcel?")).to_be_visible()
    await expect(bubble(page)).to_have_count(0)
    assert await _report(shop) == {"Payment help": (0, 0, 0)}


def _closed_now() -> str:
    """Business hours that exclude the present hour (UTC) every day."""
    later = (dt.datetime.now(dt.UTC).hour + 3) % 24
    return f"mon-sun {later:02d}:00-{later:02d}:59"


@pytest_asyncio.fixture(loop_scope="session")
async def closed_shop(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with running(make_settings(tmp_path, business_hours=_closed_now())) as live:
        yield live


async def test_outside_business_hours_or_without_an_agent_the_rule_that_says_so_stays_silent(
        closed_shop: LiveServer, browser: Any) -> None:
    await _add_rule(closed_shop, {**PAYMENT_HELP, "name": "Hours", "agent_available_only": False,
                                  "business_hours_only": True, "text": "We are open!"})
    await _add_rule(closed_shop, {**PAYMENT_HELP, "name": "Agents", "position": 1, "text": "An agent is here!"})
    context = await browser.new_context(base_url=closed_shop.url, reduced_motion="reduce")
    try:
        page = await context.new_page()
        await page.goto("/demo/")
        await _on_payment_page(page)
        await page.clock.fast_forward(60_000)
        await expect(launcher(page)).to_be_visible()
        await expect(bubble(page)).to_have_count(0)
        await screenshot(page, "proactive-closed-no-agent")
        assert await _report(closed_shop) == {"Hours": (0, 0, 0), "Agents": (0, 0, 0)}

        # The same page once an agent is online: the rule that only needed one shows; the shop is
        # still closed, so the business-hours rule does not.
        await agent(closed_shop, await closed_shop.add_agent("Alice"))
        await _on_payment_page(page, install=False)
        await page.clock.fast_forward(20_000)
        await expect(bubble(page).get_by_role("status")).to_have_text("An agent is here!")
        assert await _report(closed_shop) == {"Hours": (0, 0, 0), "Agents": (1, 0, 0)}
    finally:
        await context.close()
