"""The co-browse consent says what the agent will see on this page, in real Chromium: on the demo's
shipping page, whose address fields the shop unmasked (cb-unmask), it names them by their labels;
on the payment page, where every field is masked, it says that what the shopper types stays hidden."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from ..support import Client, LiveServer, agent
from .conftest import OpenPage
from .test_cobrowse import consent
from .test_widget_chat import _assigned, _start_chat
from .widget import launcher, panel, screenshot

pytestmark = pytest.mark.asyncio(loop_scope="session")

GENERIC = ("Alice would like to see this page to help you. Card numbers, passwords and what you type into forms "
           "stay hidden from them, and they cannot click or type anything. You can stop at any time.")


async def _asked(alice: Client, cid: str, shopper: Page) -> None:
    ack = await alice.call("cobrowse:request", {"conversation_id": cid})
    assert ack["ok"], ack
    await expect(consent(shopper).get_by_role("button", name="Share my screen")).to_be_focused()


async def test_the_consent_names_the_fields_the_agent_will_read(shop: LiveServer, open_page: OpenPage) -> None:
    alice = await agent(shop, await shop.add_agent("Alice"))
    shopper = await open_page("/demo/shipping.html")
    await launcher(shopper).click()
    await _start_chat(shopper, "Ann", "Can you check my address?")
    cid = await _assigned(alice)
    await expect(panel(shopper).get_by_text("You are chatting with Alice")).to_be_visible()

    await _asked(alice, cid, shopper)
    await expect(consent(shopper)).to_contain_text(
        "Alice would like to see this page to help you. They will see what you type into: Full name, "
        "Street and number, Postcode, City. Card numbers, passwords and what you type into other fields stay "
        "hidden from them, and they cannot click or type anything. You can stop at any time.")
    await expect(consent(shopper)).not_to_contain_text("what you type into forms")
    await screenshot(shopper, "cobrowse-consent-unmasked")
    await consent(shopper).get_by_role("button", name="No, thanks").click()
    await expect(consent(shopper)).to_be_hidden()

    # The payment page unmasks nothing: the general promise holds there.
    await shopper.locator("#full-name").fill("Ann Shopper")
    await shopper.get_by_role("button", name="Continue to payment").click()
    await expect(shopper.get_by_role("heading", name="Payment")).to_be_visible()
    await expect(panel(shopper).get_by_text("You are chatting with Alice")).to_be_visible()
    await _asked(alice, cid, shopper)
    await expect(consent(shopper)).to_contain_text(GENERIC)
    await screenshot(shopper, "cobrowse-consent-masked")
