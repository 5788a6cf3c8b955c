"""An agent's day in the console, in real Chromium: several chats as tabs with unread counts and
keyboard navigation, desktop notifications and a sound while the tab is in the background,
transfers to a colleague and to a department, the customer's past conversations, and the
admin's canned responses."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page, expect

from ..support import PASSWORD, Client, LiveServer, agent, make_settings, prechat, visitor
from .conftest import running
from .console import (
    OpenConsole,
    alert,
    composer,
    login_form,
    open_console,
    screenshot,
    signed_in,
    tab,
    timeline,
)

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")

# The browser's notification API, observed: headless Chromium has no notification centre. Its
# audio is real but lets every AudioContext run; desktop Chrome's rule is put back: a context
# runs only if made or resumed while the page has a user gesture (navigator.userActivation),
# otherwise it stays suspended and silent. Tones count only when they can be heard.
OBSERVE_ALERTS = """
window.__notified = [];
window.__asked = 0;
window.__tones = 0;
window.__contexts = [];
window.__hidden = false;
window.Notification = class {
  static permission = "default";
  static requestPermission() {
    window.__asked += 1; window.Notification.permission = "granted"; return Promise.resolve("granted");
  }
  constructor(title, options) { window.__notified.push([title, options.body]); }
};
Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => window.__hidden });
window.AudioContext = class extends window.AudioContext {
  constructor(...args) {
    super(...args);
    window.__contexts.push(this);
    if (!navigator.userActivation.isActive) this.suspend();
  }
  resume() { return navigator.userActivation.isActive ? super.resume() : Promise.resolve(); }
  createOscillator() {
    const tone = super.createOscillator();
    const start = tone.start.bind(tone);
    tone.start = (...args) => { if (this.state === "running") window.__tones += 1; return start(...args); };
    return tone;
  }
};
"""
AUDIO_STATES = "window.__contexts.map((c) => c.state)"


async def _sound_unlocked(page: Page) -> None:
    """One audio context, and it runs (a context's state settles asynchronously)."""
    await page.wait_for_function("window.__contexts.length === 1 && window.__contexts[0].state === 'running'",
                                 timeout=5000)
    assert await page.evaluate(AUDIO_STATES) == ["running"]


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """The chat server, with departments to transfer to."""
    async with running(make_settings(tmp_path, departments=("billing", "returns"))) as live:
        yield live


async def _hide(page: Page, hidden: bool) -> None:
    await page.evaluate("h => { window.__hidden = h; document.dispatchEvent(new Event('visibilitychange')); }", hidden)


async def _started(shop: LiveServer, n: int, token: str | None = None) -> tuple[Client, str]:
    shopper = await visitor(shop, token)
    return shopper, (await shopper.call("chat:start", prechat(n)))["conversation"]["id"]


async def test_tabs_unread_counts_notifications_and_transfers(shop: LiveServer, open_console: OpenConsole) -> None:
    alice_login = await shop.add_agent("Alice")
    bob_login = await shop.add_agent("Bob")
    # Shopper 1 talked to Alice before: that conversation shows in the customer's history.
    earlier_alice = await agent(shop, alice_login)
    first, earlier = await _started(shop, 1)
    await earlier_alice.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    await earlier_alice.call("conversation:join", {"conversation_id": earlier})
    await earlier_alice.call("message:send", {"conversation_id": earlier, "client_msg_id": "e-1",
                                              "body": "Your parcel left yesterday."})
    assert (await earlier_alice.call("conversation:end", {"conversation_id": earlier, "tags": ["shipping"]}))["ok"]
    await earlier_alice.disconnect()

    bob = await open_console()
    await signed_in(bob, bob_login)
    await bob.get_by_label("Status").select_option("away")
    await expect(bob.get_by_role("status")).to_have_text("Connected · away: no new chats")
    alice = await open_console(init_script=OBSERVE_ALERTS)
    await signed_in(alice, alice_login)
    assert await alice.evaluate("window.__asked") == 1  # asked at sign-in, once
    # The sound is unlocked by the sign-in click: one context, running.
    await _sound_unlocked(alice)

    # Two chats arrive: two tabs, the first one open.
    shopper1, cid1 = await _started(shop, 1, first.token)
    await expect(tab(alice, "Shopper 1")).to_have_attribute("aria-selected", "true")
    shopper2, cid2 = await _started(shop, 2)
    await expect(tab(alice, "Shopper 2")).to_have_attribute("aria-selected", "false")
    assert await alice.evaluate("window.__notified") == []  # the console is in front: no pop-ups

    # The customer's history, read from the sidebar.
    sidebar = alice.get_by_role("complementary", name="Customer")
    await expect(sidebar.get_by_role("heading", name="Past conversations")).to_be_visible()
    await expect(sidebar.locator("#past-list li")).to_have_count(1)
    await expect(sidebar.locator("#past-list li")).to_contain_text("shipping")
    await sidebar.get_by_role("button", name=re.compile("^Read the conversation of")).click()
    past = alice.get_by_role("dialog", name="Past conversation")
    await expect(past.get_by_text("Your parcel left yesterday.")).to_be_visible()
    await expect(past.locator("#past-dialog-summary")).to_contain_text("closed · tags: shipping")
    await screenshot(alice, "20-past-conversation")
    await past.get_by_role("button", name="Close").click()

    # A message in the other chat shows as unread on its tab; arrow keys move between tabs.
    await shopper2.call("message:send", {"conversation_id": cid2, "client_msg_id": "s2-1", "body": "Hello?"})
    # (The question it opened with is unread too: Alice has not looked at that chat yet.)
    await expect(tab(alice, "Shopper 2")).to_have_accessible_name("Shopper 2 (2 unread)")
    await screenshot(alice, "21-unread-tab")
    await tab(alice, "Shopper 1").focus()
    await alice.keyboard.press("ArrowRight")
    await expect(tab(alice, "Shopper 2")).to_be_focused()
    await expect(tab(alice, "Shopper 2")).to_have_attribute("aria-selected", "true")
    await expect(tab(alice, "Shopper 2")).to_have_accessible_name("Shopper 2")
    await expect(timeline(alice)).to_contain_text("Hello?")
    await shopper2.wait_for("message:read", lambda d: d["party"] == "agent" and d["seq"] >= 4)

    # In the background: a desktop notification and a sound for a message and for a new chat.
    await _hide(alice, True)
    await shopper1.call("message:send", {"conversation_id": cid1, "client_msg_id": "s1-1", "body": "Any news?"})
    await expect(tab(alice, "Shopper 1")).to_have_accessible_name("Shopper 1 (1 unread)")
    _shopper3, _cid3 = await _started(shop, 3)
    await expect(tab(alice, "Shopper 3")).to_be_visible()
    notified = await alice.evaluate("window.__notified")
    assert notified == [["Message from Shopper 1", "Any news?"],
                        ["New chat assigned", "Shopper 3: Where is my order 3?"]]
    assert await alice.evaluate("window.__tones") == 2
    assert await alice.evaluate(AUDIO_STATES) == ["running"]
    await _hide(alice, False)

    # A note, then a transfer to Bob: he gets the chat with its history and Alice's note.
    await bob.get_by_label("Status").select_option("online")
    await expect(bob.get_by_role("status")).to_have_text("Connected · taking chats")
    await tab(alice, re.compile("^Shopper 1")).click()
    await alice.get_by_label("Internal note").check()
    await composer(alice).fill("Parcel is lost, offer a resend")
    await composer(alice).press("Enter")
    await expect(timeline(alice).locator("li.note")).to_contain_text("Parcel is lost, offer a resend")
    await alice.get_by_role("button", name="Transfer").click()
    dialog = alice.get_by_role("dialog", name="Transfer the chat")
    await expect(dialog.get_by_label("Transfer to").locator("option")).to_have_text(
        ["Admin (offline)", "Bob (online)", "billing", "returns"])
    await dialog.get_by_label("Transfer to").select_option(label="Bob (online)")
    await screenshot(alice, "22-transfer-dialog")
    await dialog.get_by_role("button", name="Transfer").click()
    await expect(alert(alice)).to_have_text("The chat with Shopper 1 moved to Bob.")
    await expect(tab(alice, re.compile("^Shopper 1"))).to_have_count(0)
    await expect(tab(bob, "Shopper 1")).to_be_visible()
    await tab(bob, "Shopper 1").click()
    await expect(timeline(bob)).to_contain_text("Alice transferred the chat to Bob.")
    await expect(timeline(bob).locator("li.note")).to_contain_text("Parcel is lost, offer a resend")
    await expect(timeline(bob)).to_contain_text("Any news?")
    await screenshot(bob, "23-transferred-in")

    # To a department: with nobody taking chats it waits, marked with its department.
    await bob.get_by_label("Status").select_option("away")
    await expect(bob.get_by_role("status")).to_have_text("Connected · away: no new chats")
    await alice.get_by_label("Status").select_option("away")
    await tab(alice, "Shopper 2").click()
    await alice.get_by_role("button", name="Transfer").click()
    await dialog.get_by_label("Transfer to").select_option(label="billing")
    await dialog.get_by_role("button", name="Transfer").click()
    await expect(alert(alice)).to_have_text("The chat with Shopper 2 moved to billing.")
    waiting = alice.locator("#queue-list li").filter(has_text="Shopper 2")
    await expect(waiting.locator(".badge")).to_have_text(["billing"])
    await expect(tab(alice, "Shopper 2")).to_have_count(0)


async def test_admins_manage_canned_responses_in_the_console(shop: LiveServer, open_console: OpenConsole) -> None:
    text = (shop.settings.data_dir / "first-admin.txt").read_text()
    creds = dict(line.split(": ", 1) for line in text.strip().splitlines())
    admin = await open_console()
    await signed_in(admin, {"email": creds["email"], "password": creds["password"]})
    await admin.get_by_role("button", name="Canned responses").click()
    dialog = admin.get_by_role("dialog", name="Canned responses")
    await dialog.get_by_label("Shortcut").fill("/thanks")
    await dialog.get_by_label("Text").fill("Thank you for shopping with us!")
    await dialog.get_by_role("button", name="Add").click()
    await expect(dialog.locator("#canned-admin-list li")).to_have_count(1)
    await expect(dialog.locator("#canned-admin-list")).to_contain_text("/thanks")
    await dialog.get_by_label("Shortcut").fill("two words")
    await dialog.get_by_label("Text").fill("x")
    await dialog.get_by_role("button", name="Add").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("shortcut must be 1-32 characters")
    await screenshot(admin, "24-canned-admin")
    _, listing = await shop.request("GET", "/api/canned-responses", token=await shop.admin_token())
    assert [c["shortcut"] for c in listing["canned_responses"]] == ["thanks"]
    await dialog.get_by_role("button", name="Delete /thanks").click()
    await expect(dialog.locator("#canned-admin-list li")).to_have_count(0)
    await dialog.get_by_role("button", name="Close").click()

    # Agents: the admin adds one; a second with the same email is refused with the reason.
    await admin.get_by_role("button", name="Agents").click()
    agents = admin.get_by_role("dialog", name="Agents")
    await expect(agents.get_by_role("cell", name=creds["email"])).to_be_visible()
    add = agents.get_by_role("form", name="Add an agent")
    for label, value in [("Name", "Dana"), ("Email", "dana@example.com"), ("Password (8 characters or more)", PASSWORD),
                         ("Chats at once", "2"), ("Departments (comma-separated)", "billing")]:
        await add.get_by_label(label).fill(value)
    await add.get_by_role("button", name="Add agent").click()
    dana = agents.get_by_role("row").filter(has_text="dana@example.com")
    await expect(dana.get_by_role("cell")).to_have_text(
        ["Dana", "dana@example.com", "agent", "2", "billing", "offline", "ChangePasswordDisable"])
    for label, value in [("Name", "Dana again"), ("Email", "DANA@example.com"),
                         ("Password (8 characters or more)", PASSWORD)]:
        await add.get_by_label(label).fill(value)
    await agents.get_by_role("button", name="Add agent").click()
    await expect(agents.get_by_role("alert")).to_have_text("an agent with email 'dana@example.com' already exists")
    await expect(agents.get_by_role("row").filter(has_text="dana@example.com")).to_have_count(1)
    await screenshot(admin, "25-agents-admin")
    await agents.get_by_role("button", name="Close").click()

    # The new agent signs in; agents use canned responses but manage neither them nor agents.
    page = await open_console()
    await signed_in(page, {"email": "dana@example.com"})
    await expect(page.get_by_role("button", name="Canned responses")).to_be_hidden()
    await expect(page.get_by_role("button", name="Agents")).to_be_hidden()


async def test_an_agent_works_with_the_keyboard_alone(shop: LiveServer, open_console: OpenConsole) -> None:
    login = await shop.add_agent("Alice")
    page = await open_console()
    await login_form(page).get_by_label("Email").focus()
    await page.keyboard.type(login["email"])
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Connected · taking chats")
    status_select = page.get_by_label("Status")
    await status_select.focus()
    await page.keyboard.press("ArrowDown")  # away
    await expect(page.get_by_role("status")).to_have_text("Connected · away: no new chats")
    shopper, cid = await _started(shop, 1)

    # Tab from the status select reaches the queue's Take button (Log out comes between).
    take = page.get_by_role("button", name="Take chat with Shopper 1")
    await expect(take).to_be_visible()
    for _ in range(5):
        await page.keyboard.press("Tab")
        if await take.evaluate("b => b === document.activeElement"):
            break
    await expect(take).to_be_focused()
    focus_ring = await take.evaluate("b => getComputedStyle(b).outlineStyle")
    assert focus_ring == "solid"  # the focus is visible
    await page.keyboard.press("Enter")
    await expect(composer(page)).to_be_focused()
    await page.keyboard.type("Hello from the keyboard")
    await page.keyboard.press("Enter")
    await shopper.wait_for("message:new", lambda m: m["body"] == "Hello from the keyboard")

    # The end dialog: Escape closes it without ending; Enter in it ends the chat.
    await page.get_by_role("button", name="End chat").focus()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="End the chat")
    await expect(dialog.get_by_label("Tags (comma-separated)")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    assert (await shopper.call("session:resume"))["conversation"]["status"] == "assigned"
    await page.get_by_role("button", name="End chat").focus()
    await page.keyboard.press("Enter")
    await page.keyboard.type("keyboard")
    await page.keyboard.press("Enter")
    await expect(page.locator("#chat-state")).to_have_text("Chat ended · tags: keyboard")
    closed = await shopper.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "closed")
    assert closed["conversation"]["id"] == cid


async def test_a_chat_the_shopper_ended_is_wrapped_up(shop: LiveServer, open_console: OpenConsole) -> None:
    login = await shop.add_agent("Alice")
    page = await open_console()
    await signed_in(page, login)
    shopper, cid = await _started(shop, 1)
    await expect(tab(page, "Shopper 1")).to_have_attribute("aria-selected", "true")
    await expect(page.get_by_role("button", name="End chat")).to_be_visible()
    assert (await shopper.call("conversation:close", {"conversation_id": cid}))["ok"]
    await expect(timeline(page)).to_contain_text("The customer ended the chat.")
    await expect(tab(page, "Shopper 1 (ended)")).to_be_visible()
    await expect(page.get_by_role("button", name="End chat")).to_be_hidden()
    await page.get_by_role("button", name="Wrap up").click()
    dialog = page.get_by_role("dialog", name="Wrap up the chat")
    await dialog.get_by_label("Tags (comma-separated)").fill("Left early")
    await dialog.get_by_label("Resolution note").fill("Shopper left before the answer")
    await screenshot(page, "26-wrap-up")
    await dialog.get_by_role("button", name="Save wrap-up").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#chat-state")).to_have_text("Chat ended · tags: left early")
    await expect(page.get_by_role("button", name="Wrap up")).to_be_hidden()
    _, transcript = await shop.request("GET", f"/api/conversations/{cid}", token=login["token"])
    assert transcript["tags"] == ["left early"] and transcript["resolution_note"] == "Shopper left before the answer"
    assert transcript["conversation"]["closed_by"] == "visitor"
    # After a reload the chat is not offered for wrap-up again.
    await page.goto(f"/console/#c={cid}")
    await expect(tab(page, "Shopper 1 (ended)")).to_be_visible()
    await expect(page.locator("#chat-state")).to_have_text("Chat ended · tags: left early")
    await expect(page.get_by_role("button", name="Wrap up")).to_be_hidden()


def _typing(shopper: Client, cid: str) -> list[bool]:
    return [t["typing"] for t in shopper.events["typing:updated"] if t["conversation_id"] == cid]


async def test_each_chat_keeps_its_draft_and_its_typing(shop: LiveServer, open_console: OpenConsole) -> None:
    login = await shop.add_agent("Alice")
    page = await open_console()
    await page.clock.install()  # time flows as usual; the test jumps ahead where it waits for a timeout
    await page.reload()
    await signed_in(page, login)
    shopper1, cid1 = await _started(shop, 1)
    await expect(tab(page, "Shopper 1")).to_have_attribute("aria-selected", "true")
    shopper2, cid2 = await _started(shop, 2)
    await expect(tab(page, "Shopper 2")).to_be_visible()

    await composer(page).fill("Half a reply")
    await shopper1.wait_for("typing:updated", lambda t: t["typing"] is True)
    # Another chat: its own empty composer, and the first shopper no longer sees Alice typing.
    await tab(page, "Shopper 2").click()
    await expect(composer(page)).to_have_value("")
    await shopper1.wait_for("typing:updated", lambda t: t["typing"] is False)
    await composer(page).fill("For the second")
    await shopper2.wait_for("typing:updated", lambda t: t["typing"] is True)
    await tab(page, "Shopper 1").click()
    await expect(composer(page)).to_have_value("Half a reply")
    await shopper2.wait_for("typing:updated", lambda t: t["typing"] is False)
    assert _typing(shopper1, cid1) == [True, False] and _typing(shopper2, cid2) == [True, False]
    await composer(page).press("Enter")
    assert (await shopper1.wait_for("message:new", lambda m: m["sender"]["kind"] == "agent"))["body"] == "Half a reply"
    await tab(page, "Shopper 2").click()
    await expect(composer(page)).to_have_value("For the second")

    # The shopper's "is typing" ends by itself when their typing:false never comes (a closed tab).
    await shopper2.call("typing:update", {"conversation_id": cid2, "typing": True})
    typing_line = page.locator("#typing")
    await expect(typing_line).to_have_text("Shopper 2 is typing…")
    await page.clock.fast_forward(3000)
    await expect(typing_line).to_have_text("Shopper 2 is typing…")  # still within the timeout
    await page.clock.fast_forward(3500)
    await expect(typing_line).to_have_text("")


async def test_a_restored_session_unlocks_the_sound_at_the_first_key(shop: LiveServer,
                                                                    open_console: OpenConsole) -> None:
    login = await shop.add_agent("Alice")
    page = await open_console(init_script=OBSERVE_ALERTS)
    await signed_in(page, login)
    await page.reload()  # the saved session: no sign-in click this time
    await expect(page.get_by_role("status")).to_have_text("Connected · taking chats")
    await _hide(page, True)
    _, _cid = await _started(shop, 1)
    await expect(tab(page, "Shopper 1")).to_be_visible()
    # No gesture yet: no sound could be heard, and the console makes no context that would stay silent.
    assert await page.evaluate("[window.__tones, window.__contexts.length]") == [0, 0]
    await page.keyboard.press("Tab")
    await _sound_unlocked(page)
    _, _cid2 = await _started(shop, 2)
    await expect(tab(page, "Shopper 2")).to_be_visible()
    assert await page.evaluate("window.__tones") == 1


async def test_a_status_chosen_in_one_tab_shows_in_the_agents_other_tab(
        shop: LiveServer, open_console: OpenConsole) -> None:
    login = await shop.add_agent("Alice")
    first = await open_console()
    await signed_in(first, login)
    # A second tab of the same browser: signed in already (the session is kept in localStorage).
    second = await first.context.new_page()
    errors: list[str] = []
    second.on("pageerror", lambda error: errors.append(str(error)))
    await second.goto("/console/")
    for page in (first, second):
        await expect(page.get_by_role("status")).to_have_text("Connected · taking chats")
    await first.get_by_label("Status").select_option("away")
    await expect(second.get_by_role("status")).to_have_text("Connected · away: no new chats")
    await expect(second.get_by_label("Status")).to_have_value("away")
    await screenshot(second, "30-status-from-another-tab")
    # Away in both: a new chat waits in the queue, shown in both tabs.
    await _started(shop, 1)
    for page in (first, second):
        await expect(page.get_by_role("button", name="Take chat with Shopper 1")).to_be_visible()
    await second.get_by_label("Status").select_option("online")
    await expect(first.get_by_role("status")).to_have_text("Connected · taking chats")
    await expect(first.get_by_label("Status")).to_have_value("online")
    # Online again: the chat goes to Alice, and each tab opens it.
    for page in (first, second):
        await expect(tab(page, "Shopper 1")).to_be_visible()
    # A reload keeps the status the other tab chose (the choice is kept for the next connect too).
    await first.get_by_label("Status").select_option("away")
    await expect(second.get_by_label("Status")).to_have_value("away")
    await second.reload()
    await expect(second.get_by_role("status")).to_have_text("Connected · away: no new chats")
    assert errors == []
