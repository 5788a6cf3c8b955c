"""A closed shop's offline form says when it opens again, in real Chromium: the server works out
the next opening in the shop's time zone (Europe/Berlin) and the widget writes it in the
shopper's (New York). Both clocks are the test's: Saturday 28 November 2026, 16:00 in Berlin."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from chatserver.domain.clock import ManualClock

from ..support import LiveServer, agent, make_settings
from .widget import launcher, panel, screenshot

pytestmark = pytest.mark.asyncio(loop_scope="session")

SATURDAY = dt.datetime(2026, 11, 28, 16, 0, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path) -> AsyncIterator[LiveServer]:
    settings = make_settings(tmp_path, business_hours="mon-fri 09:00-17:30; sat 10:00-13:00",
                             business_timezone="Europe/Berlin")
    live = LiveServer(settings, clock=ManualClock(SATURDAY.timestamp()))
    await live.start()
    try:
        yield live
    finally:
        await live.close()


@pytest.mark.parametrize(("zone", "locale", "expected"), [
    ("America/New_York", "en-GB", "We're closed. We open again Monday at 03:00 (your time)."),
    ("Europe/Berlin", "en-US", "We're closed. We open again Monday at 09:00 AM (your time)."),
])
async def test_the_offline_form_says_when_the_shop_opens_again(shop: LiveServer, browser: Browser, zone: str,
                                                               locale: str, expected: str) -> None:
    await agent(shop, await shop.add_agent("Alice"))  # online, but the shop is closed
    context = await browser.new_context(base_url=shop.url, reduced_motion="reduce", timezone_id=zone, locale=locale)
    errors: list[str] = []
    try:
        page = await context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.clock.install(time=SATURDAY)
        await page.goto("/demo/")
        await launcher(page).click()
        chat = panel(page)
        notice = chat.get_by_role("status").filter(has_text="We're closed.")
        await expect(notice).to_have_text(f"{expected} Leave your question and we will answer by email.")
        await expect(chat.get_by_label("Your question")).to_be_visible()
        await screenshot(page, f"offline-opens-again-{locale}")
    finally:
        await context.close()
    assert errors == []
