"""Offline tickets in the console, in real Chromium: agents see the open tickets (those left before
they signed in, and new ones as they come), read one and answer it; the answer reaches the
shopper's widget session and the ticket leaves every agent's list. Shoppers' text stays text."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from ..support import LiveServer, visitor
from .console import OpenConsole, alert, open_console, screenshot, signed_in

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")

XSS = '<img src=x onerror="window.__pwned=1">'


def _ticket(page: Page, name: str) -> Any:
    """The open ticket whose shopper's name contains ``name``."""
    return page.get_by_role("region", name="Tickets").get_by_role("listitem").filter(
        has=page.locator(".who", has_text=name))


async def test_agents_see_open_tickets_live_and_answer_them(shop: LiveServer, open_console: OpenConsole) -> None:
    ann = await visitor(shop)
    left = await ann.call("ticket:create", {"name": "Ann", "email": "ann@example.com", "order_number": "A-1001",
                                            "description": "My parcel never came.\nCan you check?",
                                            "page_url": "https://shop.example/orders"})
    assert left["ok"], left
    alice_login, bob_login = await shop.add_agent("Alice"), await shop.add_agent("Bob")
    alice, bob = await open_console(), await open_console()
    await signed_in(alice, alice_login)
    await signed_in(bob, bob_login)
    tickets = alice.get_by_role("region", name="Tickets")
    await expect(_ticket(alice, "Ann")).to_contain_text("My parcel never came.")
    await expect(_ticket(alice, "Ann")).to_contain_text(left["ticket"]["reference"])
    await expect(tickets.locator("#tickets-total")).to_have_text("(1)")

    # A ticket left now shows at once, at the top, its text as text.
    eve = await visitor(shop)
    assert (await eve.call("ticket:create", {"name": f"{XSS}Eve", "email": "eve@example.com",
                                             "description": f"{XSS} hello"}))["ok"]
    await expect(tickets.get_by_role("listitem")).to_have_count(2)
    await expect(tickets.get_by_role("listitem").first).to_contain_text(f"{XSS}Eve")
    await expect(_ticket(bob, "Eve")).to_be_visible()
    await screenshot(alice, "40-tickets")

    await _ticket(alice, "Ann").get_by_role("button", name="Answer the ticket of Ann").click()
    dialog = alice.get_by_role("dialog", name=f"Ticket {left['ticket']['reference']} · open")
    for text in ["ann@example.com", "A-1001", "My parcel never came.\nCan you check?"]:
        await expect(dialog).to_contain_text(text)
    await expect(dialog.get_by_role("link", name="https://shop.example/orders")).to_have_attribute(
        "href", "https://shop.example/orders")
    await dialog.get_by_role("button", name="Send answer").click()
    await expect(dialog.get_by_role("alert")).to_have_text("Write an answer first.")
    await dialog.get_by_label("Answer to the customer").fill("It left our warehouse today.")
    await screenshot(alice, "41-ticket-answer")
    await dialog.get_by_role("button", name="Send answer").click()
    await expect(dialog).to_be_hidden()
    # This server has no smtp_host (test_without_email.py has the mailing one): nothing is mailed.
    await expect(alert(alice)).to_have_text("Your answer to Ann is saved. Email is not configured, so it is not "
                                            "mailed: they see it when they open the chat on the shop again.")
    # Answered: gone from both agents' lists; the shopper's widget session hears of it.
    await expect(_ticket(alice, "Ann")).to_have_count(0)
    await expect(_ticket(bob, "Ann")).to_have_count(0)
    await expect(bob.get_by_role("region", name="Tickets").locator("#tickets-total")).to_have_text("(1)")
    updated = await ann.wait_for("ticket:updated")
    assert updated["ticket"]["status"] == "answered"
    assert [a["body"] for a in updated["ticket"]["answers"]] == ["It left our warehouse today."]
    _, listing = await shop.request("GET", "/api/tickets?status=answered", token=alice_login["token"])
    assert [t["name"] for t in listing["tickets"]] == ["Ann"]
    assert listing["tickets"][0]["answers"][0]["agent"]["name"] == "Alice"

    # Bob has Eve's ticket open when Alice answers it: he is told before he sends a second answer.
    await _ticket(bob, "Eve").get_by_role("button").click()
    bob_dialog = bob.get_by_role("dialog", name="Ticket", exact=False)
    await expect(bob_dialog).to_be_visible()
    await _ticket(alice, "Eve").get_by_role("button").click()
    alice_dialog = alice.get_by_role("dialog", name="Ticket", exact=False)
    await alice_dialog.get_by_label("Answer to the customer").fill("Hello Eve!")
    await alice_dialog.get_by_role("button", name="Send answer").click()
    await expect(bob_dialog.get_by_role("alert")).to_have_text("Alice answered this ticket meanwhile.")
    await expect(bob_dialog).to_contain_text("Answer by Alice")
    await expect(bob_dialog).to_contain_text("Hello Eve!")
    await expect(bob.get_by_role("region", name="Tickets").get_by_text("No open tickets.")).to_be_visible()
    assert await alice.evaluate("window.__pwned") is None
    assert await alice.locator("#tickets-list img, #ticket-dialog img").count() == 0
