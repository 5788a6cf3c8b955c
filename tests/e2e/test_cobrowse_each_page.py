"""Co-browsing on a server that asks the shopper again on every page
(``cobrowse_resume_across_pages = false``), in real Chromium: sharing pauses on the next page
until the shopper agrees again, and saying no there ends the session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import expect

from ..support import LiveServer, make_settings
from .conftest import OpenPage, running
from .console import OpenConsole, open_console
from .test_cobrowse import _cobrowse_chat, _share, consent, replay, sharing_bar

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with running(make_settings(tmp_path, cobrowse_resume_across_pages=False)) as live:
        yield live


async def test_each_page_asks_again_before_it_is_shared(shop: LiveServer, open_page: OpenPage,
                                                        open_console: OpenConsole) -> None:
    shopper, console, _ = await _cobrowse_chat(shop, open_page, open_console)
    await _share(shopper, console)
    await shopper.get_by_role("button", name="Continue to payment").click()
    await expect(shopper.get_by_role("heading", name="Payment")).to_be_visible()
    dialog = consent(shopper)
    await expect(dialog).to_contain_text("Alice would like to see this page")
    await expect(sharing_bar(shopper)).to_be_hidden()
    # Until the shopper agrees, the agent's view stays on the page they shared before.
    await shopper.wait_for_timeout(500)
    await expect(replay(console).get_by_role("heading", name="Shipping")).to_be_visible()
    await dialog.get_by_role("button", name="Share my screen").click()
    await expect(replay(console).get_by_role("heading", name="Payment")).to_be_visible()
    await expect(sharing_bar(shopper)).to_contain_text("Alice can see this page")

    # On the next page the shopper says no: the session ends for both.
    await shopper.get_by_role("button", name="Pay €59.90").click()
    await expect(consent(shopper)).to_contain_text("Alice would like to see this page")
    await consent(shopper).get_by_role("button", name="No, thanks").click()
    await expect(console.locator("#cobrowse-message")).to_have_text("The customer stopped sharing.")
