"""A returning shopper in real Chromium: after a chat ended, and with the widget's storage
holding only the visitor token, opening the chat offers the earlier conversation read-only
(replayed from the server, no composer, its files shown as files) and fills the pre-chat name
and email from the server. Another shopper's browser is offered nothing."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from ..support import LiveServer, agent
from .conftest import OpenPage
from .files import pdf_bytes, png_bytes
from .test_attachments import _assert_safe_links, _open_image, file_link
from .test_widget_chat import _assigned, _start_chat
from .widget import launcher, panel, screenshot, storage_key, widget_state

pytestmark = pytest.mark.asyncio(loop_scope="session")

REPLY = "Your parcel left today: https://track.example/p/1"


async def _new_visit(page: Page, shop: LiveServer) -> None:
    """The widget's storage keeps only the visitor token (nothing of the chat), then a new visit
    with the chat open."""
    key = storage_key(shop.url)
    await page.evaluate("""key => {
        const saved = JSON.parse(localStorage.getItem(key));
        localStorage.setItem(key, JSON.stringify({token: saved.token, expiresAt: saved.expiresAt}));
    }""", key)
    await page.reload()
    assert set(await widget_state(page, shop.url)) <= {"token", "expiresAt", "open"}
    if not await panel(page).is_visible():
        await launcher(page).click()


async def test_a_returning_shopper_reads_the_earlier_chat_and_finds_the_form_filled(
        shop: LiveServer, open_page: OpenPage) -> None:
    alice = await agent(shop, await shop.add_agent("Alice"))
    page = await open_page("/demo/")
    await launcher(page).click()
    chat = panel(page)
    await expect(chat.get_by_label("Your name")).to_have_value("")
    await expect(chat.get_by_role("list", name="Your earlier conversations")).to_be_hidden()
    await _start_chat(page, "Ann", "Where is my parcel?", email="ann@example.com")
    cid = await _assigned(alice)
    assert (await alice.call("message:send", {"conversation_id": cid, "client_msg_id": "a-1", "body": REPLY}))["ok"]
    await expect(chat.get_by_text("Your parcel left today")).to_be_visible()
    assert (await alice.call("conversation:close", {"conversation_id": cid}))["ok"]
    await expect(chat.get_by_text("The agent ended the chat.")).to_be_visible()

    await _new_visit(page, shop)
    await expect(chat.get_by_label("Your name")).to_have_value("Ann")
    await expect(chat.get_by_label("Email")).to_have_value("ann@example.com")
    earlier = chat.get_by_role("list", name="Your earlier conversations").get_by_role("button")
    await expect(earlier).to_have_count(1)
    await expect(earlier).to_contain_text("with Alice: Where is my parcel?")
    await screenshot(page, "history-offered")

    # Read-only: the messages from the server, a link in them, no composer, no form.
    await earlier.click()
    past = chat.get_by_role("region", name="Previous conversation")
    await expect(past.get_by_role("heading", name="Previous conversation")).to_be_focused()
    bodies = past.locator("ol.messages > li .body")
    await expect(bodies.filter(has_text="Where is my parcel?")).to_have_count(1)
    await expect(bodies.filter(has_text="Your parcel left today")).to_have_count(1)
    await expect(past.get_by_role("link", name="https://track.example/p/1")).to_have_attribute(
        "href", "https://track.example/p/1")
    await expect(past.get_by_text("The agent ended the chat.")).to_be_visible()
    await expect(chat.get_by_placeholder("Type your message…")).to_be_hidden()
    await expect(chat.get_by_role("button", name="Start chat")).to_be_hidden()
    await screenshot(page, "history-read")

    # Back to the form, filled in, focus on the conversation's button.
    await past.get_by_role("button", name="Back").click()
    await expect(past).to_be_hidden()
    await expect(earlier).to_be_focused()
    await expect(chat.get_by_role("button", name="Start chat")).to_be_visible()
    await expect(chat.get_by_label("Your name")).to_have_value("Ann")

    # Another shopper (another browser) is offered nothing and gets an empty form.
    other = await open_page("/demo/")
    await launcher(other).click()
    other_chat = panel(other)
    await expect(other_chat.get_by_role("button", name="Start chat")).to_be_visible()
    await expect(other_chat.get_by_label("Your name")).to_have_value("")
    await expect(other_chat.get_by_role("list", name="Your earlier conversations")).to_be_hidden()
    await alice.disconnect()


async def test_the_earlier_chat_shows_its_files_as_files(shop: LiveServer, open_page: OpenPage) -> None:
    login = await shop.add_agent("Alice")
    alice = await agent(shop, login)
    page = await open_page("/demo/")
    await launcher(page).click()
    chat = panel(page)
    await _start_chat(page, "Ann", "Here is the broken checkout")
    cid = await _assigned(alice)
    sent = [("photo.png", png_bytes(64, 48)), ("receipt.pdf", pdf_bytes(3000))]
    for n, (name, data) in enumerate(sent):
        status, body = await shop.request("POST", f"/api/conversations/{cid}/attachments?name={name}"
                                          f"&client_msg_id=f-{n}", token=login["token"], data=data,
                                          headers={"Content-Type": "application/octet-stream"})
        assert status == 201, body
    await expect(file_link(chat, "receipt.pdf")).to_be_visible()
    assert (await alice.call("conversation:close", {"conversation_id": cid}))["ok"]
    await expect(chat.get_by_text("The agent ended the chat.")).to_be_visible()
    await _new_visit(page, shop)
    await chat.get_by_role("list", name="Your earlier conversations").get_by_role("button").first.click()
    past = chat.get_by_role("region", name="Previous conversation")

    # As in the chat: the image a thumbnail that opens full size, the PDF a named link with its
    # size, both through fresh links of the server's; no file name left as bare text.
    await expect(file_link(past, "receipt.pdf")).to_have_text(re.compile(r"^receipt\.pdf · 3\.\d KB$"))
    await expect(past.locator("p.body", has_text=re.compile(r"receipt\.pdf|photo\.png"))).to_have_count(0)
    await _assert_safe_links(past)
    await screenshot(page, "history-files")
    await _open_image(page, file_link(past, "photo.png"))
    pdf = await page.request.get(await file_link(past, "receipt.pdf").evaluate("a => a.href"))
    assert pdf.status == 200 and await pdf.body() == sent[1][1]
    assert pdf.headers["content-disposition"].startswith("attachment")
    await alice.disconnect()
