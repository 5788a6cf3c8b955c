"""Co-browsing in real Chromium: a shopper on the demo checkout (the widget) and an agent in the
console, each in a browser context of their own. Consent; the agent's live view follows typing;
the card number never reaches the server (checked on what the server relayed and keeps); a
late-joining console sees the current page; a prefilled field the shopper cleared never leaves the
browser; pointer, scroll-to and the lag figure; remote control needs and honours a second consent
and never writes masked or sensitive fields; closing the view keeps the session; stop sharing ends
it at both ends; nothing of the shopper's page runs in the console. Screenshots under
test-artifacts/."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import msgpack
import pytest
from playwright.async_api import FrameLocator, Page, expect

from chatserver.domain.models import ConversationStatus

from ..support import Client, LiveServer, agent, wait_until
from .conftest import OpenPage
from .console import OpenConsole, open_console, screenshot, signed_in, tab
from .test_widget_chat import _start_chat
from .widget import launcher, panel
from .widget import screenshot as widget_screenshot

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")

CARD = "4000 0566 5566 5556"
CVC = "737"
CARD_NAME = "Annabel Cardholder"


def replay(page: Page) -> FrameLocator:
    """The shopper's page as rebuilt in the console's live view."""
    return page.frame_locator("#cobrowse-stage iframe")


def consent(page: Page) -> Any:
    return page.get_by_role("alertdialog")


def sharing_bar(page: Page) -> Any:
    return page.locator("chatserver-widget .cobrowse-bar")


def relayed_text(client: Client) -> tuple[bytes, str]:
    """Everything the server relayed to this agent connection: the raw bytes, and the decoded
    events as JSON text."""
    raw = b""
    batches: list[Any] = []
    pending: list[bytes] = []
    for item in client.events["cobrowse:events"]:
        pending.append(bytes(item["data"]))
        raw += pending[-1]
        if item["part"] == item["parts"] - 1:
            batches.append(msgpack.unpackb(b"".join(pending)))
            pending = []
    return raw, json.dumps(batches)


async def _cobrowse_chat(shop: LiveServer, open_page: OpenPage, open_console: OpenConsole,
                         viewport: dict[str, int] | None = None) -> tuple[Page, Page, dict[str, Any]]:
    """A shopper on the shipping page (in a window of ``viewport``) chatting with Alice, whose
    console shows the chat."""
    alice_login = await shop.add_agent("Alice")
    console = await open_console()
    await signed_in(console, alice_login)
    shopper = await open_page("/demo/shipping.html", viewport=viewport)
    await launcher(shopper).click()
    await _start_chat(shopper, "Ann", "Can you help me with the checkout?")
    await expect(tab(console, "Ann")).to_be_visible()
    await expect(panel(shopper).get_by_text("You are chatting with Alice")).to_be_visible()
    return shopper, console, alice_login


async def _share(shopper: Page, console: Page) -> None:
    await console.get_by_role("button", name="Co-browse").click()
    await expect(console.locator("#cobrowse-status")).to_have_text("Waiting for the customer to accept…")
    dialog = consent(shopper)
    await expect(dialog).to_contain_text("Alice would like to see this page")
    await expect(dialog.get_by_role("button", name="Share my screen")).to_be_focused()
    await widget_screenshot(shopper, "cobrowse-request")
    await dialog.get_by_role("button", name="Share my screen").click()
    await expect(sharing_bar(shopper)).to_contain_text("Alice can see this page")
    await expect(console.locator("#cobrowse-status")).to_have_text("Live")
    await expect(replay(console).get_by_role("heading", name="Shipping")).to_be_visible()


async def test_the_agent_sees_the_page_live_and_never_the_card(shop: LiveServer, open_page: OpenPage,
                                                               open_console: OpenConsole,
                                                               allowed_page_errors: list[str]) -> None:
    # The shop's own CSP refuses the handler injected below, on its own page; the point is the console.
    allowed_page_errors.append("Executing inline event handler violates the following Content Security Policy")
    shopper, console, alice_login = await _cobrowse_chat(shop, open_page, open_console)
    await _share(shopper, console)
    # The iframe the page is rebuilt in may never run script.
    assert await console.locator("#cobrowse-stage iframe").get_attribute("sandbox") == "allow-same-origin"
    await screenshot(console, "cobrowse-live")
    await widget_screenshot(shopper, "cobrowse-sharing")

    # The server side: a second connection of Alice's joins, and keeps everything relayed to it.
    tap = await agent(shop, alice_login)
    session_id = (await tap.call("cobrowse:request", {"conversation_id": await _conversation_id(shop)}))[
        "session"]["id"]
    assert (await tap.call("cobrowse:join", {"session_id": session_id}))["ok"]

    # Typing in an unmasked field shows in the agent's view.
    started = time.monotonic()
    await shopper.locator("#full-name").press_sequentially("Ann Shopper", delay=20)
    typed = time.monotonic()
    await expect(replay(console).locator("#full-name")).to_have_value("Ann Shopper")
    print(f"\nco-browse: the agent's view showed the typed name {1000 * (time.monotonic() - typed):.0f} ms "
          f"after the last key ({1000 * (typed - started):.0f} ms of typing)")

    # The chat widget itself is never captured: what the shopper writes there is not in the page.
    box = panel(shopper).get_by_placeholder("Type your message…")
    await box.fill("SECRET-CHAT-TEXT about my order")
    await box.press("Enter")
    await expect(panel(shopper).get_by_text("SECRET-CHAT-TEXT about my order")).to_be_visible()

    # Script from the shopper's page does not run in the console (it runs in the shop's own page).
    await shopper.evaluate("""() => {
        const img = document.createElement('img');
        img.src = 'data:,x';
        img.setAttribute('onerror', 'window.top.__cobrowsePwned = (window.top.__cobrowsePwned || 0) + 1');
        document.querySelector('main').append(img);
    }""")
    await expect(replay(console).locator("main img")).to_have_count(1)
    await console.wait_for_timeout(300)
    assert await console.evaluate("window.__cobrowsePwned") is None

    # On to the payment page: the agent's view follows without a new prompt.
    await shopper.get_by_role("button", name="Continue to payment").click()
    await expect(shopper.get_by_role("heading", name="Payment")).to_be_visible()
    await expect(replay(console).get_by_role("heading", name="Payment")).to_be_visible()
    await expect(sharing_bar(shopper)).to_contain_text("Alice can see this page")
    await expect(consent(shopper)).to_be_hidden()
    # Things the shop hides from co-browsing, and a hidden input.
    await shopper.evaluate("""() => {
        const saved = document.createElement('p');
        saved.className = 'cb-block';
        saved.textContent = 'Saved card SECRET-BLOCKED-TEXT';
        document.querySelector('main').prepend(saved);
        const hidden = document.createElement('input');
        hidden.type = 'hidden';
        hidden.value = 'SECRET-HIDDEN-TOKEN';
        document.querySelector('form').append(hidden);
    }""")
    await shopper.locator("#card-name").fill(CARD_NAME)
    await shopper.locator("#card-number").press_sequentially(CARD, delay=10)
    await shopper.locator("#card-expiry").fill("12/30")
    await shopper.locator("#card-cvc").press_sequentially(CVC, delay=10)
    await expect(replay(console).locator("#card-number")).to_have_value("*" * len(CARD))
    await expect(replay(console).locator("#card-cvc")).to_have_value("***")
    await expect(replay(console).locator("#card-name")).to_have_value("*" * len(CARD_NAME))
    await screenshot(console, "cobrowse-payment-masked")

    # Nothing the server relayed or keeps holds the card, the blocked text or the hidden value.
    await asyncio.sleep(0.3)
    raw, text = relayed_text(tap)
    assert "Payment" in text and "Ann Shopper" in text
    for secret in (CARD, CARD.replace(" ", ""), CARD_NAME, "SECRET-BLOCKED-TEXT", "SECRET-HIDDEN-TOKEN",
                   "SECRET-CHAT-TEXT"):
        assert secret not in text and secret.encode() not in raw, secret
    typed_values = [e["data"].get("text", "") for batch in json.loads(text) for e in batch
             if e.get("type") == 3 and e.get("data", {}).get("source") == 5]  # rrweb input events
    assert "Ann Shopper" in typed_values and "*" * len(CARD) in typed_values and "***" in typed_values
    assert not [t for t in typed_values if CVC in t or "4000" in t]
    kept = b"".join(data for _, data in shop.parts.transport.relay._ingest[session_id].buffer)
    assert b"Payment" in kept
    for secret in (CARD, CARD.replace(" ", ""), CARD_NAME, "SECRET-BLOCKED-TEXT", "SECRET-HIDDEN-TOKEN"):
        assert secret.encode() not in kept, secret

    # An agent who opens the console late sees the current page at once.
    late = await open_console()
    await signed_in(late, alice_login)
    await tab(late, "Ann").click()
    await late.get_by_role("button", name="Co-browse").click()
    await expect(replay(late).get_by_role("heading", name="Payment")).to_be_visible()
    await expect(replay(late).locator("#card-number")).to_have_value("*" * len(CARD))
    await screenshot(late, "cobrowse-late-joiner")

    # A third party is refused.
    bob = await agent(shop, await shop.add_agent("Bob"))
    refused = await bob.call("cobrowse:join", {"session_id": session_id})
    assert refused["error"]["code"] == "forbidden"
    assert "cobrowse:events" not in bob.events

    # Stop sharing: ends at once, at both ends.
    await sharing_bar(shopper).get_by_role("button", name="Stop sharing").click()
    await expect(sharing_bar(shopper)).to_contain_text("You stopped sharing your screen.")
    await expect(console.locator("#cobrowse-message")).to_have_text("The customer stopped sharing.")
    await expect(late.locator("#cobrowse-message")).to_have_text("The customer stopped sharing.")
    await screenshot(console, "cobrowse-stopped")
    count = len(tap.events["cobrowse:events"])
    await shopper.locator("#card-expiry").fill("11/31")
    await asyncio.sleep(0.3)
    assert len(tap.events["cobrowse:events"]) == count

    # Recorded on the conversation: who watched and for how long; no page content.
    status, record = await shop.request("GET", f"/api/conversations/{await _conversation_id(shop)}",
                                        token=alice_login["token"])
    assert status == 200
    [session] = record["cobrowse"]
    assert session["reason"] == "stopped_by_visitor" and session["pages"] == 1
    assert len(session["watched"]) >= 3 and all(w["agent_name"] == "Alice" for w in session["watched"])
    assert "Payment" not in json.dumps(record["cobrowse"])


async def test_pointer_scroll_and_remote_control_with_consent(shop: LiveServer, open_page: OpenPage,
                                                              open_console: OpenConsole) -> None:
    shopper, console, alice_login = await _cobrowse_chat(shop, open_page, open_console)
    # A field the shop did not unmask: the agent sees it masked, so may not type into it.
    await shopper.evaluate("""() => {
        const label = document.createElement('label');
        label.htmlFor = 'gift-note';
        label.textContent = 'Gift note';
        const note = document.createElement('input');
        note.id = 'gift-note';
        document.querySelector('form').prepend(label, note);
    }""")
    await _share(shopper, console)
    stage = console.locator("#cobrowse-stage .cobrowse-overlay")
    name_field = replay(console).locator("#city")
    await expect(name_field).to_be_visible()
    # The connection's quality: the round trip to the shopper's page, in ms.
    await expect(console.locator("#cobrowse-lag")).to_have_text(re.compile(r"^Lag \d+ ms$"))

    # The agent's pointer appears on the shopper's page.
    box = await stage.bounding_box()
    assert box is not None
    await console.mouse.move(box["x"] + 40, box["y"] + 60)
    await console.mouse.move(box["x"] + 80, box["y"] + 90, steps=5)
    await expect(shopper.locator("chatserver-widget .cobrowse-pointer")).to_be_visible()
    # Scroll to an element: the shopper's page highlights it.
    await console.get_by_label("Scroll to").check()
    city = await name_field.bounding_box()
    assert city is not None
    await console.mouse.click(city["x"] + 5, city["y"] + 5)
    await expect(shopper.locator("chatserver-widget .cobrowse-highlight")).to_be_visible()
    await widget_screenshot(shopper, "cobrowse-pointer")

    # Without consent to control, the agent cannot act.
    assert await console.get_by_label("Control").is_disabled()
    await console.get_by_role("button", name="Ask for control").click()
    dialog = consent(shopper)
    await expect(dialog).to_contain_text("Alice asks to click and fill in fields on this page")
    await widget_screenshot(shopper, "cobrowse-control-request")
    await dialog.get_by_role("button", name="Allow control").click()
    await expect(sharing_bar(shopper)).to_contain_text("Alice can see and control this page")
    await expect(console.locator("#cobrowse-status")).to_have_text(
        "Live · you may click and type on the customer's page")

    # Typing into a field for the shopper.
    await console.get_by_label("Control").check()
    await _fill_in(console, name_field, "Lyon")
    await expect(shopper.locator("#city")).to_have_value("Lyon")
    await expect(replay(console).locator("#city")).to_have_value("Lyon")
    await screenshot(console, "cobrowse-control")

    # A masked field is never written: the console says why at once, without asking for text.
    await _click(console, replay(console).locator("#gift-note"))
    await expect(console.locator("#cobrowse-message")).to_contain_text("That field is hidden from you")
    await expect(console.get_by_label("Text to type into the field")).to_be_hidden()
    assert await shopper.locator("#gift-note").input_value() == ""

    # The shopper takes back control: the agent's actions stop working.
    await sharing_bar(shopper).get_by_role("button", name="Take back control").click()
    await expect(sharing_bar(shopper)).to_contain_text("Alice can see this page")
    await expect(console.get_by_label("Control")).to_be_disabled()
    await expect(console.get_by_role("button", name="Ask for control again")).to_be_visible()

    # On the payment page: control is asked for again, and card fields are never writable.
    await shopper.get_by_role("button", name="Continue to payment").click()
    await expect(replay(console).get_by_role("heading", name="Payment")).to_be_visible()
    await console.get_by_role("button", name="Ask for control again").click()
    await consent(shopper).get_by_role("button", name="Allow control").click()
    await expect(sharing_bar(shopper)).to_contain_text("Alice can see and control this page")
    await console.get_by_label("Control").check()
    await _click(console, replay(console).locator("#card-number"))
    await expect(console.locator("#cobrowse-message")).to_contain_text("That is a private field")
    await expect(console.get_by_label("Text to type into the field")).to_be_hidden()
    assert await shopper.locator("#card-number").input_value() == ""

    # Close view: the agent stops watching, the session goes on; Co-browse rejoins it, unasked.
    await console.get_by_role("button", name="Close view").click()
    await expect(console.locator("#cobrowse")).to_be_hidden()
    status, record = await shop.request("GET", f"/api/conversations/{await _conversation_id(shop)}",
                                        token=alice_login["token"])
    assert status == 200
    [session] = record["cobrowse"]
    assert session["status"] == "active" and all(w["left_at"] is not None for w in session["watched"])
    await expect(sharing_bar(shopper)).to_contain_text("Alice can see and control this page")
    await console.get_by_role("button", name="Co-browse").click()
    await expect(replay(console).get_by_role("heading", name="Payment")).to_be_visible()
    await expect(console.locator("#cobrowse-status")).to_have_text(
        "Live · you may click and type on the customer's page")
    await expect(consent(shopper)).to_be_hidden()
    status, record = await shop.request("GET", f"/api/conversations/{await _conversation_id(shop)}",
                                        token=alice_login["token"])
    assert [w["left_at"] is None for w in record["cobrowse"][0]["watched"]].count(True) == 1

    # The agent stops co-browsing; the shopper sees it ended.
    await console.get_by_role("button", name="Stop co-browsing").click()
    await expect(sharing_bar(shopper)).to_contain_text("Alice no longer sees your screen.")
    await expect(console.locator("#cobrowse-message")).to_have_text("You stopped co-browsing.")


async def test_a_private_field_is_refused_before_the_agent_types_and_a_public_one_filled(
        shop: LiveServer, open_page: OpenPage, open_console: OpenConsole) -> None:
    alice_login = await shop.add_agent("Alice")
    console = await open_console()
    # Every co-browse action the console sends to the shopper's page, as it leaves the browser.
    actions: list[str] = []
    console.on("websocket", lambda ws: ws.on(
        "framesent", lambda frame: actions.append(frame) if '"cobrowse:action"' in str(frame) else None))
    await signed_in(console, alice_login)
    shopper = await open_page("/demo/shipping.html")
    await launcher(shopper).click()
    await _start_chat(shopper, "Ann", "Can you fill in my address?")
    await expect(tab(console, "Ann")).to_be_visible()
    # A saved card on the page, and a note the shop did not unmask.
    await shopper.evaluate("""() => {
        const form = document.querySelector('form');
        for (const [id, autocomplete] of [['saved-card', 'cc-number'], ['gift-note', null]]) {
            const label = document.createElement('label');
            label.htmlFor = id;
            label.textContent = id;
            const field = document.createElement('input');
            field.id = id;
            if (autocomplete) field.setAttribute('autocomplete', autocomplete);
            form.prepend(label, field);
        }
    }""")
    await _share(shopper, console)
    await console.get_by_role("button", name="Ask for control").click()
    await consent(shopper).get_by_role("button", name="Allow control").click()
    await expect(console.locator("#cobrowse-status")).to_have_text(
        "Live · you may click and type on the customer's page")
    await console.get_by_label("Control").check()
    box = console.get_by_label("Text to type into the field")
    message = console.locator("#cobrowse-message")

    # Private fields: the refusal shows on the click, no box asks for text, nothing is sent.
    for field, reason in [("#saved-card", "That is a private field"), ("#gift-note", "That field is hidden from you")]:
        await _click(console, replay(console).locator(field))
        await expect(message).to_be_visible()
        await expect(message).to_contain_text(reason)
        await expect(box).to_be_hidden()
        assert await shopper.locator(field).input_value() == ""
    await screenshot(console, "cobrowse-private-field-refused")
    assert actions == []

    # A public field opens the box and is filled on the shopper's page.
    await _click(console, replay(console).locator("#city"))
    await expect(box).to_be_visible()
    await expect(box).to_be_focused()
    await box.fill("Lyon")
    await console.get_by_role("button", name="Fill in").click()
    await expect(shopper.locator("#city")).to_have_value("Lyon")
    await expect(replay(console).locator("#city")).to_have_value("Lyon")
    assert len(actions) == 1

    # A field the page makes private while it is shared is refused at once as well.
    await shopper.evaluate("() => document.querySelector('#full-name').setAttribute('autocomplete', 'cc-name')")
    await expect(replay(console).locator("#full-name")).to_have_attribute("data-cb-fill", "sensitive_field")
    await _click(console, replay(console).locator("#full-name"))
    await expect(message).to_contain_text("That is a private field")
    await expect(box).to_be_hidden()
    assert len(actions) == 1


async def _drawn(console: Page) -> tuple[dict[str, float], dict[str, float]]:
    """The replayed page's box as drawn in the console, and the stage it is drawn in."""
    drawn = await console.locator("#cobrowse-stage iframe").bounding_box()
    stage = await console.locator("#cobrowse-stage").bounding_box()
    assert drawn is not None and stage is not None
    return drawn, stage


async def _fills_the_stage(console: Page, width: int, height: int) -> bool:
    """Whether the shopper's ``width`` x ``height`` viewport is drawn whole, inside the stage, at
    its aspect ratio, using at least 90 % of the stage's width or height."""
    drawn, stage = await _drawn(console)
    inside = (drawn["x"] >= stage["x"] - 1 and drawn["y"] >= stage["y"] - 1
              and drawn["x"] + drawn["width"] <= stage["x"] + stage["width"] + 1
              and drawn["y"] + drawn["height"] <= stage["y"] + stage["height"] + 1)
    same_shape = abs(drawn["width"] / drawn["height"] - width / height) < 0.02 * width / height
    used = max(drawn["width"] / stage["width"], drawn["height"] / stage["height"])
    return inside and same_shape and used >= 0.9


async def test_the_view_fills_its_area_at_the_pages_aspect_ratio_and_after_resizes(
        shop: LiveServer, open_page: OpenPage, open_console: OpenConsole) -> None:
    # A shopper's window smaller than the agent's view: drawn larger than life, not at its size.
    shopper, console, _ = await _cobrowse_chat(shop, open_page, open_console, viewport={"width": 480, "height": 360})
    await _share(shopper, console)
    await wait_until(lambda: _fills_the_stage(console, 480, 360), what="the replay filling the stage")
    drawn, stage = await _drawn(console)
    assert drawn["width"] > 480  # scaled up
    await screenshot(console, "cobrowse-fills-the-view")

    # The agent's window grows: the page grows with it.
    await console.set_viewport_size({"width": 1600, "height": 1000})
    await wait_until(lambda: _fills_the_stage(console, 480, 360), what="the replay filling the larger stage")
    assert (await _drawn(console))[0]["width"] > drawn["width"]
    # The shopper turns their phone: a tall page fills the height instead.
    await shopper.set_viewport_size({"width": 400, "height": 600})
    await wait_until(lambda: _fills_the_stage(console, 400, 600), what="the tall replay filling the stage")
    drawn, stage = await _drawn(console)
    assert drawn["height"] >= 0.9 * stage["height"]
    # The pointer still lands where the agent points: a click on a field scrolls to that field.
    await console.get_by_label("Scroll to").check()
    city = await replay(console).locator("#city").bounding_box()
    assert city is not None
    await console.mouse.click(city["x"] + city["width"] / 2, city["y"] + city["height"] / 2)
    await expect(shopper.locator("chatserver-widget .cobrowse-highlight")).to_be_visible()
    await screenshot(console, "cobrowse-fills-the-view-tall")


async def test_prefilled_fields_the_shopper_cleared_never_reach_the_server(shop: LiveServer, open_page: OpenPage,
                                                                           open_console: OpenConsole) -> None:
    """rrweb copies a field's HTML value (and a textarea's default text) into its snapshot when the
    live value is empty: the widget sends the live value, masked, instead. (It also keeps the HTML's
    checked attribute of a box the shopper unticked: the view shows the box as it is now.)"""
    shopper, console, alice_login = await _cobrowse_chat(shop, open_page, open_console)
    saved_card, note, gift = "4111 1111 1111 1111", "SECRET-DELIVERY-NOTE door code 4711", "SECRET-GIFT-MESSAGE"
    # A page served with a saved card number and two filled-in text areas.
    await shopper.evaluate("""([card, note, gift]) => {
        const form = document.querySelector('form');
        const field = document.createElement('input');
        field.id = 'saved-card';
        field.setAttribute('autocomplete', 'cc-number');
        field.setAttribute('value', card);
        const noteArea = document.createElement('textarea');
        noteArea.id = 'delivery-note';
        noteArea.textContent = note;
        const giftArea = document.createElement('textarea');
        giftArea.id = 'gift-message';
        giftArea.textContent = gift;
        const newsletter = document.createElement('input');
        newsletter.id = 'newsletter';
        newsletter.type = 'checkbox';
        newsletter.setAttribute('checked', '');
        form.prepend(field, noteArea, giftArea, newsletter);
    }""", [saved_card, note, gift])
    # The shopper clears the card number and the note, and unticks the box, before anyone sees the page.
    await shopper.locator("#saved-card").fill("")
    await shopper.locator("#delivery-note").fill("")
    await shopper.locator("#newsletter").uncheck()
    await _share(shopper, console)
    # The agent's view shows the fields as the shopper sees them now: empty, or masked.
    await expect(replay(console).locator("#saved-card")).to_have_value("")
    await expect(replay(console).locator("#delivery-note")).to_have_value("")
    await expect(replay(console).locator("#gift-message")).to_have_value("*" * len(gift))
    await expect(replay(console).locator("#newsletter")).not_to_be_checked()

    tap = await agent(shop, alice_login)
    session_id = (await tap.call("cobrowse:request", {"conversation_id": await _conversation_id(shop)}))[
        "session"]["id"]
    assert (await tap.call("cobrowse:join", {"session_id": session_id}))["ok"]
    await wait_until(lambda: len(tap.events["cobrowse:events"]) > 0)
    # The page's script changes the note's default text while it is shared.
    await shopper.evaluate("""() => {
        document.querySelector('#delivery-note').firstChild.data = 'SECRET-LATER-TEXT';
        document.querySelector('main h1').append(' (changed)');
    }""")
    await expect(replay(console).get_by_role("heading", name="Shipping (changed)")).to_be_visible()
    await wait_until(lambda: "(changed)" in relayed_text(tap)[1])

    raw, text = relayed_text(tap)
    assert "Shipping" in text
    kept = b"".join(data for _, data in shop.parts.transport.relay._ingest[session_id].buffer)
    for secret in (saved_card, saved_card.replace(" ", ""), note, "door code", gift, "SECRET-LATER-TEXT"):
        assert secret not in text and secret.encode() not in raw, secret
        assert secret.encode() not in kept, secret


async def test_declining_shows_the_agent_and_shares_nothing(shop: LiveServer, open_page: OpenPage,
                                                           open_console: OpenConsole) -> None:
    shopper, console, alice_login = await _cobrowse_chat(shop, open_page, open_console)
    await console.get_by_role("button", name="Co-browse").click()
    await consent(shopper).get_by_role("button", name="No, thanks").click()
    await expect(console.locator("#cobrowse-message")).to_have_text("The customer declined to share their screen.")
    await expect(consent(shopper)).to_be_hidden()
    await expect(sharing_bar(shopper)).to_be_hidden()
    # The recorder was never even loaded in the shopper's page.
    loaded = await shopper.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert not [url for url in loaded if "/widget/recorder-" in url]
    status, record = await shop.request("GET", f"/api/conversations/{await _conversation_id(shop)}",
                                        token=alice_login["token"])
    assert status == 200
    assert record["cobrowse"][0]["status"] == "declined" and record["cobrowse"][0]["bytes_relayed"] == 0


async def _click(console: Page, field: Any) -> None:
    """The agent clicks ``field`` in the replay (the overlay above the replay takes the click)."""
    box = await field.bounding_box()
    assert box is not None
    await console.mouse.click(box["x"] + 5, box["y"] + 5)


async def _fill_in(console: Page, field: Any, text: str) -> None:
    """The agent clicks ``field`` in the replay and types ``text`` into it (remote control)."""
    await _click(console, field)
    await console.get_by_label("Text to type into the field").fill(text)
    await console.get_by_role("button", name="Fill in").click()


async def _conversation_id(shop: LiveServer) -> str:
    """The one chat of the test (assigned to Alice)."""
    [conversation] = await shop.parts.stores.conversations.conversations_with_status([ConversationStatus.ASSIGNED,
                                                                        ConversationStatus.CLOSED])
    return conversation.id
