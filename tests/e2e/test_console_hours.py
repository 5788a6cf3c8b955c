"""Business hours in the console, in real Chromium: outside them the top bar says the shop is
closed and when it opens, in the agent's time (shoppers get the offline form then), never
"taking chats"; inside them it says "taking chats"."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from playwright.async_api import expect

from ..support import LiveServer, make_settings, visitor
from .conftest import running
from .console import OpenConsole, open_console, screenshot, sign_in

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")

ZONE = "Europe/Berlin"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Open on one day only, three days from now in the shop's timezone: closed now, whatever the
# time of the run (and still "on <that day>" should midnight pass during the test).
OPEN_DAY = (dt.datetime.now(ZoneInfo(ZONE)).date() + dt.timedelta(days=3))


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[LiveServer]:
    hours = request.param
    async with running(make_settings(tmp_path, business_hours=hours, business_timezone=ZONE)) as live:
        yield live


@pytest.mark.parametrize("shop", [f"{DAYS[OPEN_DAY.weekday()]} 09:00-17:00"], indirect=True)
async def test_outside_business_hours_the_console_says_the_shop_is_closed_and_when_it_opens(
        shop: LiveServer, open_console: OpenConsole) -> None:
    # What shoppers are told at the same moment: the offline form, not a chat, until opens_at.
    shopper = await visitor(shop)
    availability = await shopper.call("availability:get")
    assert availability["chat_open"] is False and availability["reason"] == "closed"
    opens_at = availability["opens_at"]
    assert opens_at == dt.datetime.combine(OPEN_DAY, dt.time(9, 0), ZoneInfo(ZONE)).timestamp()

    login = await shop.add_agent("Alice")
    page = await open_console()
    await sign_in(page, login["email"])
    # The opening in the agent's own time zone, the time as their browser writes it.
    agent_zone = await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    opening = dt.datetime.fromtimestamp(opens_at, ZoneInfo(agent_zone))
    time = await page.evaluate("t => new Date(t * 1000).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'})",
                               opens_at)
    closed = f"Connected · Shop closed · opens {opening.strftime('%A')} at {time}"
    await expect(page.get_by_role("status")).to_have_text(closed)
    await screenshot(page, "shop-closed")
    # Away or online, the agent takes no chats while the shop is closed.
    await page.get_by_label("Status").select_option("away")
    await expect(page.get_by_label("Status")).to_have_value("away")
    await expect(page.get_by_role("status")).to_have_text(closed)


@pytest.mark.parametrize("shop", ["mon-sun 00:00-24:00"], indirect=True)
async def test_within_business_hours_the_console_is_taking_chats(shop: LiveServer, open_console: OpenConsole) -> None:
    login = await shop.add_agent("Alice")
    page = await open_console()
    await sign_in(page, login["email"])
    await expect(page.get_by_role("status")).to_have_text("Connected · taking chats")
    shopper = await visitor(shop)
    assert (await shopper.call("availability:get"))["chat_open"] is True  # Alice is online
