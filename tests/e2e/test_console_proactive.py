"""Proactive messages in the console's admin pages, in real Chromium: an admin adds a rule with
its translations, a wrong field is refused at that field and nothing changes, the list shows each
rule's counts (shown, answered, chats) as the report has them, a rule is changed and deleted; an
agent has no such page."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from ..support import LiveServer, visitor
from .console import OpenConsole, open_console, screenshot, signed_in
from .test_console_admin import _admin_console

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _rules(shop: LiveServer) -> list[dict[str, object]]:
    status, listing = await shop.request("GET", "/api/proactive-rules", token=await shop.admin_token())
    assert status == 200
    return list(listing["rules"])


async def test_an_admin_keeps_proactive_messages_and_reads_their_counts(shop: LiveServer,
                                                                        open_console: OpenConsole) -> None:
    admin = await _admin_console(shop, open_console)
    await admin.get_by_role("button", name="Proactive messages").click()
    dialog = admin.get_by_role("dialog", name="Proactive messages")
    await expect(dialog.get_by_text("No proactive messages yet.")).to_be_visible()
    form = dialog.get_by_role("form", name="Add a proactive message")
    await form.get_by_label("Name", exact=True).fill("Payment help")
    await form.get_by_label("Page URL pattern").fill("*/demo/payment*")
    await form.get_by_label("Seconds on the page").fill("20")
    await form.get_by_label("Checkout step (empty: any)").fill("payment")
    await form.get_by_label("Within business hours only").uncheck()
    await form.get_by_label("Message", exact=True).fill("Need a hand with the payment?")
    await form.get_by_label("Message in other languages").fill("de: Brauchen Sie Hilfe?\nnl Hulp nodig?")
    await form.get_by_role("button", name="Add").click()
    # A translation line without its colon is refused in the page; nothing was sent.
    await expect(form.get_by_role("alert")).to_contain_text("Line 2")
    await expect(form.get_by_label("Message in other languages")).to_be_focused()
    await form.get_by_label("Message in other languages").fill("de: Brauchen Sie Hilfe?\nnl-NL-x-y-z: Hulp?")
    await form.get_by_role("button", name="Add").click()
    # The server refuses the locale tag: the error names the field, and nothing is stored.
    await expect(form.get_by_role("alert")).to_contain_text("texts")
    assert await _rules(shop) == []
    await form.get_by_label("Message in other languages").fill("de: Brauchen Sie Hilfe?\nnl: Hulp nodig?")
    await form.get_by_role("button", name="Add").click()
    row = dialog.get_by_role("row").filter(has_text="Payment help")
    await expect(row).to_contain_text("after 20 s, step payment, agent available")
    [rule] = await _rules(shop)
    assert rule["texts"] == {"de": "Brauchen Sie Hilfe?", "nl": "Hulp nodig?"}
    assert (rule["business_hours_only"], rule["agent_available_only"]) == (False, True)

    # A shopper was shown it: the counts follow the report when the page opens again.
    ann = await visitor(shop)
    assert (await ann.call("proactive:shown", {"rule_id": rule["id"]}))["show"] is True
    await dialog.get_by_role("button", name="Close").click()
    await admin.get_by_role("button", name="Proactive messages").click()
    cells = row.get_by_role("cell")
    await expect(cells.nth(4)).to_have_text("1")
    await expect(cells.nth(5)).to_have_text("0")
    await expect(cells.nth(6)).to_have_text("0")
    await screenshot(admin, "proactive-rules")

    await dialog.get_by_role("button", name="Change Payment help").click()
    edit = dialog.get_by_role("form", name="Change Payment help")
    translations = edit.get_by_label("Message in other languages")
    await expect(translations).to_have_value("de: Brauchen Sie Hilfe?\nnl: Hulp nodig?")
    await edit.get_by_label("Enabled").uncheck()
    await edit.get_by_role("button", name="Save").click()
    await expect(row).to_contain_text("off")
    assert (await _rules(shop))[0]["enabled"] is False
    await dialog.get_by_role("button", name="Delete Payment help").click()
    await expect(dialog.get_by_text("No proactive messages yet.")).to_be_visible()
    assert await _rules(shop) == []


async def test_agents_have_no_proactive_page(shop: LiveServer, open_console: OpenConsole) -> None:
    page = await open_console()
    await signed_in(page, await shop.add_agent("Dana"))
    await expect(page.get_by_role("button", name="Canned responses")).to_be_hidden()
    await expect(page.get_by_role("button", name="Proactive messages")).to_be_hidden()
