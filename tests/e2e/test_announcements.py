"""What screen readers announce, in real Chromium: each live region's changes are recorded by a
MutationObserver as they happen. New messages, the queue line and the agent's typing are read
once each, and an update that changes nothing (a re-render, the same typing state again, a read
receipt) adds nothing to read; the console announces new chats and messages of chats not shown."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from ..support import LiveServer, agent, prechat, visitor
from .conftest import OpenPage
from .console import OpenConsole, open_console, signed_in, tab, timeline
from .test_widget_chat import _assigned, _start_chat
from .widget import launcher, panel

__all__ = ["open_console"]

pytestmark = pytest.mark.asyncio(loop_scope="session")

# record(name, element): every change of the element's text ("text"), or each list item added to
# it ("items": what a log with aria-relevant="additions" reads), goes to window.announced[name].
_RECORD = """([name, element, kind]) => {
  window.announced ??= {};
  const seen = window.announced[name] = [];
  new MutationObserver((records) => {
    for (const record of records) {
      if (kind === "items") {
        for (const node of record.addedNodes) if (node.nodeName === "LI") seen.push(node.textContent);
      } else if (record.addedNodes.length || record.removedNodes.length || record.type === "characterData") {
        seen.push(element.innerText);  // as read: paragraphs apart
      }
    }
  }).observe(element, { childList: true, subtree: kind !== "items", characterData: true });
}"""


async def _record(page: Page, name: str, selector: str, kind: str = "text", *, widget: bool = False) -> None:
    root = "document.querySelector('chatserver-widget').shadowRoot" if widget else "document"
    element = await page.evaluate_handle(f"{root}.querySelector({selector!r})")
    await page.evaluate(_RECORD, [name, element, kind])


async def _announced(page: Page) -> dict[str, list[str]]:
    return await page.evaluate("window.announced")  # type: ignore[no-any-return]


async def test_the_widget_reads_each_change_once(shop: LiveServer, open_page: OpenPage) -> None:
    ahead = [await visitor(shop) for _ in range(2)]
    ahead_ids = [(await v.call("chat:start", prechat(n + 1)))["conversation"]["id"] for n, v in enumerate(ahead)]
    page = await open_page("/demo/")
    await launcher(page).click()
    chat = panel(page)
    await _start_chat(page, "Ann", "My card is declined")
    await expect(chat.get_by_text(re.compile(r"^You are number 3 in the queue"))).to_be_visible()
    await _record(page, "queue", ".screen:not([hidden]) .status-line", widget=True)
    await _record(page, "typing", ".typing", widget=True)
    await _record(page, "log", "[role=log] ol.messages", "items", widget=True)

    # The shopper writes while waiting: the panel renders again and again, the queue line stays.
    box = chat.get_by_placeholder("Type your message…")
    await box.fill("Are you there?")
    await box.press("Enter")
    await expect(chat.locator("li.visitor").last.get_by_text("Sent")).to_be_visible()
    for n, place in ((0, "number 2"), (1, "next")):
        await ahead[n].call("conversation:close", {"conversation_id": ahead_ids[n]})
        await expect(chat.get_by_text(re.compile(rf"^You are {place} in the queue"))).to_be_visible()

    alice = await agent(shop, await shop.add_agent("Alice"))
    cid = await _assigned(alice)
    # The same typing state twice, then a message (which ends the typing): read once each; the
    # socket delivers them in order, so when the message shows both typing updates were handled.
    for _ in range(2):
        await alice.call("typing:update", {"conversation_id": cid, "typing": True})
    await alice.call("message:send", {"conversation_id": cid, "client_msg_id": "a-1", "body": "Hello Ann!"})
    await expect(chat.get_by_text("Hello Ann!")).to_be_visible()
    # Her message is read: its state changes in place, and nothing is added to the log.
    said = max(m["seq"] for m in alice.messages(cid) if m["sender"]["kind"] == "visitor")
    await alice.call("message:read", {"conversation_id": cid, "seq": said})
    await expect(chat.locator("li.visitor").last.get_by_text("Read")).to_be_visible()

    # Near the limit the counter changes at every key: the box names it, nothing reads it aloud.
    counter = chat.locator("#chatserver-counter")
    await box.fill("x" * 4000)
    await expect(counter).to_have_text(re.compile(r"^4,?000 / [\d,]+$"))  # numbers as the locale writes them
    assert await counter.evaluate("el => el.closest('[aria-live], [role=status], [role=log], [role=alert]')") is None
    assert "chatserver-counter" in (await box.get_attribute("aria-describedby") or "")
    await box.fill("")

    announced = await _announced(page)
    queue = announced["queue"]
    assert len(queue) == 3, queue
    assert queue[0].startswith("You are number 2 in the queue") and queue[1].startswith("You are next in the queue")
    assert queue[2] == "Alice is here to help you.", queue
    assert announced["typing"] == ["Alice is typing…", ""], announced
    added = announced["log"]
    assert sum("Are you there?" in text for text in added) == 1, added
    assert sum("Hello Ann!" in text for text in added) == 1, added
    assert not any("Read" in text for text in added), added


async def test_the_console_announces_new_chats_and_messages_once(shop: LiveServer, open_console: OpenConsole) -> None:
    alice_login = await shop.add_agent("Alice", capacity=3)
    console = await open_console()
    await signed_in(console, alice_login)
    await _record(console, "alerts", "#announcer")
    await _record(console, "log", "#timeline", "items")

    ann = await visitor(shop)
    ann_chat = (await ann.call("chat:start", prechat(1, name="Ann", question="Where is my parcel?")))["conversation"]
    await expect(tab(console, "Ann")).to_be_visible()
    bob = await visitor(shop)
    # The console joins Bob's chat (what the join replays is history, not announced), then reads
    # its record: from then on, his messages are new.
    async with console.expect_request(lambda r: r.method == "GET" and "/api/conversations/" in r.url
                                      and ann_chat["id"] not in r.url):
        bob_chat = (await bob.call("chat:start", prechat(2, name="Bob", question="Do you ship to Norway?")))[
            "conversation"]
    await expect(tab(console, "Bob")).to_be_visible()

    # Bob's chat is not the one shown: his message is announced; Ann's goes to the log only.
    await bob.call("message:send", {"conversation_id": bob_chat["id"], "client_msg_id": "b-1", "body": "Hello?"})
    await expect(console.locator("#announcer")).to_have_text("Message from BobHello?")
    await ann.call("message:send", {"conversation_id": ann_chat["id"], "client_msg_id": "a-1", "body": "Any news?"})
    await expect(timeline(console).get_by_text("Any news?")).to_be_visible()
    # Alice answers; Ann reads it: the receipt changes in place.
    box = console.get_by_role("textbox", name="Message")
    await box.fill("It left our warehouse today.")
    await box.press("Enter")
    reply = timeline(console).locator("li.agent").filter(has_text="It left our warehouse today.")
    await expect(reply).to_contain_text("Sent")
    await ann.wait_for("message:new", lambda m: m["body"] == "It left our warehouse today.")
    reply_seq = next(m["seq"] for m in ann.events["message:new"] if m["body"] == "It left our warehouse today.")
    await ann.call("message:read", {"conversation_id": ann_chat["id"], "seq": reply_seq})
    await expect(reply).to_contain_text("Read")

    announced = await _announced(console)
    alerts = [text for text in announced["alerts"] if text]
    assert alerts == ["New chat assigned\n\nAnn: Where is my parcel?",
                      "New chat assigned\n\nBob: Do you ship to Norway?", "Message from Bob\n\nHello?"], alerts
    added = announced["log"]
    for said in ("Where is my parcel?", "Any news?", "It left our warehouse today."):
        assert sum(said in text for text in added) <= 1, added
    assert sum("Any news?" in text for text in added) == 1, added
    assert sum("It left our warehouse today." in text for text in added) == 1, added
