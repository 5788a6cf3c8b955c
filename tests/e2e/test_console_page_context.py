"""The agent console follows the shopper through the checkout: each page the shopper opens (the
widget's page:update) shows in the sidebar of the chat, in real Chromium on both sides."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from ..support import LiveServer
from .conftest import OpenPage
from .console import OpenConsole, open_console, screenshot, signed_in, tab
from .test_widget_chat import _start_chat
from .widget import launcher, panel

__all__ = ["open_console"]

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_sidebar_shows_the_page_the_shopper_is_on(shop: LiveServer, open_page: OpenPage,
                                                            open_console: OpenConsole) -> None:
    alice_login = await shop.add_agent("Alice")
    alice = await open_console()
    await signed_in(alice, alice_login)

    shopper = await open_page("/demo/")
    await launcher(shopper).click()
    await _start_chat(shopper, "Ann", "Will the voucher apply at payment?")
    await expect(tab(alice, "Ann")).to_have_attribute("aria-selected", "true")
    sidebar = alice.get_by_role("complementary", name="Customer")
    await expect(sidebar).to_contain_text("Your cart · Canvas & Co. (demo shop)")
    await expect(sidebar).to_contain_text(f"{shop.url}/demo/")

    await shopper.get_by_role("link", name="Continue to shipping").click()
    await expect(panel(shopper).get_by_text("Alice joined the chat.")).to_be_visible()
    await expect(sidebar).to_contain_text("Shipping · Canvas & Co. (demo shop)")
    await expect(sidebar).to_contain_text(f"{shop.url}/demo/shipping.html")
    await shopper.get_by_role("button", name="Continue to payment").click()
    await expect(sidebar).to_contain_text("Payment · Canvas & Co. (demo shop)")
    checkout = sidebar.locator("dt", has_text="In checkout").locator("xpath=following-sibling::dd[1]")
    await expect(checkout).to_have_text("Yes")
    await expect(sidebar).not_to_contain_text("Your cart · Canvas & Co.")
    await expect(sidebar).to_contain_text("Will the voucher apply at payment?")  # the form's fields stay
    await screenshot(alice, "20-sidebar-follows-checkout")
