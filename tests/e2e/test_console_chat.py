"""The agent console in real Chromium: an agent signs in, takes a shopper's chat from the queue,
chats, writes a note the shopper never receives, and ends the chat with tags. The shopper is the
widget on the demo shop in a second browser context; a second agent finds the chat taken.
Screenshots of each console screen go to test-artifacts/console-*.png."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Page, WebSocketRoute, expect

from ..support import LiveServer, prechat, visitor
from .conftest import OpenPage
from .console import OpenConsole, alert, composer, open_console, queue_item, screenshot, signed_in, tab, timeline
from .test_widget_chat import _start_chat, _transcript
from .widget import launcher, panel

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")

NOTE = "Internal: refund approved by the manager, do not promise a voucher"


async def _freeze_queue_updates(page: Page) -> dict[str, bool]:
    """Let the test hold back the queue updates the server sends this page, so its queue goes
    stale the way a slow agent's does: another agent may take a chat it still shows."""
    frozen = {"queue": False}

    async def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            if frozen["queue"] and isinstance(message, str) and '"queue:updated"' in message:
                return
            ws.send(message)

        server.on_message(from_server)
        ws.on_message(lambda message: server.send(message))

    await page.route_web_socket(re.compile(r"/socket\.io/"), route)
    await page.reload()  # the page's WebSocket is routed from its next load on
    return frozen


async def _set_away(page: Page) -> None:
    await page.get_by_label("Status").select_option("away")
    await expect(page.get_by_role("status")).to_have_text("Connected · away: no new chats")


async def test_agent_takes_chats_and_notes_stay_internal(shop: LiveServer, open_page: OpenPage,
                                                         open_console: OpenConsole) -> None:
    admin = await shop.admin_token()
    status, _ = await shop.request("POST", "/api/canned-responses", token=admin, json={
        "shortcut": "refund", "body": "Your refund is on its way: 3 to 5 working days."})
    assert status == 201
    alice_login = await shop.add_agent("Alice")
    bob_login = await shop.add_agent("Bob")

    # Alice signs in; both agents are away, so the chat waits in the queue for a manual take.
    alice = await open_console()
    await expect(alice.get_by_role("heading", name="Agent console")).to_be_visible()
    await screenshot(alice, "01-sign-in")
    await signed_in(alice, alice_login)
    await _set_away(alice)
    await expect(alice.get_by_text("Nobody is waiting.")).to_be_visible()
    await screenshot(alice, "02-empty-queue")
    bob = await open_console()
    frozen = await _freeze_queue_updates(bob)
    await signed_in(bob, bob_login)
    await _set_away(bob)

    # The shopper asks from the cart page, through the widget.
    shopper = await open_page("/demo/")
    frames: list[str] = []
    shopper.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    await launcher(shopper).click()
    await _start_chat(shopper, "Ann", "Where is my refund?", email="ann@example.com", order="A-1001")
    chat = panel(shopper)

    waiting = queue_item(alice, "Ann")
    await expect(waiting).to_contain_text("Where is my refund?")
    await expect(waiting).to_contain_text("Your cart · Canvas & Co. (demo shop)")
    await expect(waiting.locator("time")).to_have_text(re.compile(r"^\d+:\d\d$"))
    await expect(alice.locator("#queue-total")).to_have_text("(1)")
    await expect(queue_item(bob, "Ann")).to_be_visible()
    await screenshot(alice, "03-queue")

    # Bob's view of the queue goes stale; Alice takes the chat first.
    frozen["queue"] = True
    await waiting.get_by_role("button", name="Take chat with Ann").click()
    await expect(tab(alice, "Ann")).to_have_attribute("aria-selected", "true")
    await expect(timeline(alice)).to_contain_text("Alice joined the chat.")
    sidebar = alice.get_by_role("complementary", name="Customer")
    for text in ["ann@example.com", "A-1001", "Where is my refund?", "Your cart · Canvas & Co. (demo shop)", "59.90"]:
        await expect(sidebar).to_contain_text(text)
    await expect(alice.get_by_text("Nobody is waiting.")).to_be_visible()
    await expect(chat.get_by_text("You are chatting with Alice")).to_be_visible()

    # Bob still sees the chat and tries to take it: told at once, and his queue catches up.
    await queue_item(bob, "Ann").get_by_role("button", name="Take chat with Ann").click()
    await expect(alert(bob)).to_have_text("Another agent took this chat first.")
    await expect(queue_item(bob, "Ann")).to_have_count(0)
    await expect(bob.get_by_role("tab")).to_have_count(0)
    await screenshot(bob, "04-already-taken")
    frozen["queue"] = False

    # Messages both ways, typing both ways, read receipts.
    await composer(alice).fill("Hello Ann, let me look at your refund.")
    await expect(chat.get_by_text("Alice is typing…")).to_be_visible()
    await composer(alice).press("Enter")
    await expect(chat.get_by_text("Hello Ann, let me look at your refund.")).to_be_visible()
    mine = timeline(alice).locator("li.agent").last
    await expect(mine.locator(".receipt")).to_have_text(" · Read")  # the widget is open: it read it
    await expect(mine.locator("time")).to_have_text(re.compile(r"\d\d:\d\d"))
    shopper_box = chat.get_by_placeholder("Type your message…")
    await shopper_box.fill("Thanks! It was order A-1001.")
    await expect(alice.get_by_text("Ann is typing…")).to_be_visible()
    await shopper_box.press("Enter")
    await expect(timeline(alice).locator("li.visitor").last).to_contain_text("Thanks! It was order A-1001.")
    await expect(alice.get_by_text("Ann is typing…")).to_be_hidden()

    # A canned response: "/refund" expands to its text; Enter then sends it.
    await composer(alice).fill("/ref")
    suggestions = alice.get_by_role("listbox", name="Canned responses")
    await expect(suggestions.get_by_role("option")).to_have_text(
        ["/refund — Your refund is on its way: 3 to 5 working days."])
    await screenshot(alice, "05-canned")
    await composer(alice).press("Enter")
    await expect(composer(alice)).to_have_value("Your refund is on its way: 3 to 5 working days.")
    await composer(alice).press("Enter")
    await expect(chat.get_by_text("Your refund is on its way: 3 to 5 working days.")).to_be_visible()

    # An internal note: in Alice's timeline, never at the shopper's.
    await alice.get_by_label("Internal note").check()
    await composer(alice).fill(NOTE)
    await composer(alice).press("Enter")
    note = timeline(alice).locator("li.note")
    await expect(note).to_contain_text(NOTE)
    await expect(note).to_contain_text("Internal note by Alice")
    await alice.get_by_label("Reply to customer").check()
    await composer(alice).fill("Anything else I can do?")
    await composer(alice).press("Enter")
    await expect(chat.get_by_text("Anything else I can do?")).to_be_visible()
    await screenshot(alice, "06-note")
    # The reply sent after the note has arrived, so the note would have too: it is nowhere.
    assert NOTE not in await shopper.content()
    assert frames and not [f for f in frames if "refund approved by the manager" in f]

    # End the chat with tags and a resolution note.
    await alice.get_by_role("button", name="End chat").click()
    dialog = alice.get_by_role("dialog", name="End the chat")
    await dialog.get_by_label("Tags (comma-separated)").fill("Refund, shipping")
    await dialog.get_by_label("Resolution note").fill("Refund confirmed, arrives in 3-5 days")
    await screenshot(alice, "07-end-dialog")
    await dialog.get_by_role("button", name="End chat").click()
    await expect(dialog).to_be_hidden()
    await expect(alice.locator("#chat-state")).to_have_text("Chat ended · tags: refund, shipping")
    await expect(tab(alice, "Ann (ended)")).to_be_visible()
    await expect(chat.get_by_text("The agent ended the chat.")).to_be_visible()
    await screenshot(alice, "08-ended")
    cid = await _conversation_id(shop, alice_login)
    transcript = await _transcript(shop, alice_login["token"], cid)
    assert transcript["tags"] == ["refund", "shipping"]
    assert transcript["resolution_note"] == "Refund confirmed, arrives in 3-5 days"
    assert [n["body"] for n in transcript["notes"]] == [NOTE]
    assert NOTE not in [m["body"] for m in transcript["messages"]]
    await alice.get_by_role("button", name="Close tab").click()
    await expect(alice.get_by_text("No chat open. Take one from the queue.")).to_be_visible()


async def _conversation_id(shop: LiveServer, login: dict[str, Any]) -> str:
    status, body = await shop.request("GET", "/api/conversations", token=login["token"])
    assert status == 200 and len(body["conversations"]) == 1, body
    return str(body["conversations"][0]["id"])


async def test_the_queue_puts_checkout_chats_first_marked_and_its_waits_tick(
        shop: LiveServer, open_console: OpenConsole) -> None:
    page = await open_console()
    await signed_in(page, await shop.add_agent("Alice"))
    await _set_away(page)
    general = await visitor(shop)
    await general.call("chat:start", prechat(1))
    checkout = await visitor(shop)
    await checkout.call("chat:start", prechat(2, checkout=True, page_title="Payment"))
    items = page.locator("#queue-list li")
    await expect(items.locator(".who")).to_have_text(["Shopper 2Checkout", "Shopper 1"])
    await expect(items.first).to_have_class("priority")
    await expect(queue_item(page, "Shopper 2").locator(".badge")).to_have_text(["Checkout"])
    await expect(queue_item(page, "Shopper 1").locator(".badge")).to_have_count(0)
    await screenshot(page, "09-queue-priority")
    # The wait counts up on its own, between the server's queue updates.
    wait = queue_item(page, "Shopper 1").locator("time")
    before = await wait.inner_text()
    assert re.fullmatch(r"\d+:\d\d", before)
    await expect(wait).not_to_have_text(before)

    def seconds(text: str) -> int:
        minutes, secs = text.split(":")
        return int(minutes) * 60 + int(secs)

    assert seconds(await wait.inner_text()) > seconds(before)
