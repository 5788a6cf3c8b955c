"""Files in the chat, in real Chromium on both sides: a shopper (the widget on the demo shop) and
an agent (the console), each in a browser context of their own, against the real server.

The shopper sends by the attach button, by dropping a file on the chat and by pasting a
screenshot; the agent sends the same three ways. Each side sees the other's images as thumbnails
that open full size in a new tab, and a PDF as a link with its name and size; every file link is
rel="noopener noreferrer". A file whose name lies about its content is refused with a visible
reason, the typed text stays and the chat goes on; a cancelled upload leaves no message; a file
over the server's limit is refused with the limit in MB (test_attachments_limit.py). A reload
shows the files again.
Screenshots under test-artifacts/.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

import pytest
from playwright.async_api import Locator, Page, Route, expect

from ..support import LiveServer
from .conftest import OpenPage
from .console import OpenConsole, composer, open_console, signed_in, tab, timeline
from .console import screenshot as console_screenshot
from .files import LYING_FILE, as_file, drop_file, paste_file, pdf_bytes, png_bytes
from .test_widget_chat import _start_chat, _transcript
from .widget import launcher, panel, widget_state
from .widget import screenshot as widget_screenshot

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")

DRAFT = "My parcel arrived torn, see the photos"
# 182 KB exactly as the UIs count (1 KB = 1,024 bytes).
MARKUP_NAME = "<img src=x onerror=window.pwned=1>.png"
INVOICE = as_file("invoice.pdf", "application/pdf", pdf_bytes(182 * 1024 - len(pdf_bytes(0)) - 2))


async def _chat(shop: LiveServer, open_page: OpenPage, open_console: OpenConsole) -> tuple[Page, Page, dict[str, Any]]:
    """Ann on the cart page chatting with Alice, whose console shows the chat."""
    alice_login = await shop.add_agent("Alice")
    console = await open_console()
    await signed_in(console, alice_login)
    shopper = await open_page("/demo/")
    await launcher(shopper).click()
    await _start_chat(shopper, "Ann", "My parcel arrived damaged")
    await expect(tab(console, "Ann")).to_be_visible()
    await expect(panel(shopper).get_by_text("You are chatting with Alice")).to_be_visible()
    return shopper, console, alice_login


def widget_box(page: Page) -> Locator:
    return panel(page).get_by_placeholder("Type your message…")


def file_link(area: Locator, name: str) -> Locator:
    """The link of a file in a chat, by the file's name (its text starts with the name)."""
    return area.locator("a.file-link").filter(has_text=re.compile(rf"^{re.escape(name)}"))


async def _assert_safe_links(area: Locator) -> None:
    links = area.locator("a.file-link")
    assert await links.count() > 0
    for link in await links.all():
        assert await link.get_attribute("rel") == "noopener noreferrer"
        assert await link.get_attribute("target") == "_blank"
        assert re.match(r"^http://127\.0\.0\.1:\d+/files/", await link.evaluate("a => a.href"))


async def _open_image(page: Page, link: Locator) -> None:
    """Click a thumbnail: the full image opens in a new tab, as an image the browser decoded."""
    await expect(link.locator("img")).to_have_js_property("complete", True)
    assert await link.locator("img").evaluate("img => img.naturalWidth") > 0
    async with page.context.expect_page() as opened:
        await link.click()
    tab_ = await opened.value
    await tab_.wait_for_load_state()
    assert "/files/" in tab_.url
    assert await tab_.evaluate("document.contentType") == "image/png"
    assert await tab_.locator("img").evaluate("img => img.naturalWidth") == 64
    # noreferrer: the new tab cannot reach back into the chat's page.
    assert await tab_.evaluate("window.opener") is None
    await tab_.close()


async def test_shopper_sends_files_by_button_drop_and_paste(shop: LiveServer, open_page: OpenPage,
                                                            open_console: OpenConsole) -> None:
    shopper, console, alice_login = await _chat(shop, open_page, open_console)
    chat = panel(shopper)
    await widget_box(shopper).fill(DRAFT)

    # The attach button is a labelled button that opens the file picker.
    attach = chat.get_by_role("button", name="Attach a file")
    await expect(attach).to_be_enabled()
    async with shopper.expect_file_chooser() as chosen:
        await attach.press("Enter")
    await (await chosen.value).set_files(files=[as_file("photo.png", "image/png", png_bytes())])
    await expect(file_link(chat, "photo.png")).to_be_visible()
    await expect(file_link(timeline(console), "photo.png")).to_be_visible()

    # Dropped on the chat, and a screenshot pasted into the message box.
    conversation = chat.get_by_role("log", name="Conversation")
    assert await drop_file(conversation, as_file("dropped.png", "image/png", png_bytes()))
    await expect(file_link(chat, "dropped.png")).to_be_visible()
    assert await paste_file(widget_box(shopper), as_file("image.png", "image/png", png_bytes()))
    pasted = file_link(chat, "screenshot-")
    await expect(pasted).to_have_text(re.compile(r"^screenshot-\d{4}-\d\d-\d\d-\d{6}\.png · \d"))
    # A PDF: a link with its name and size, on both sides.
    await chat.locator("input[type=file]").set_input_files(files=[INVOICE])
    await expect(file_link(chat, "invoice.pdf")).to_have_text("invoice.pdf · 182 KB")
    await expect(file_link(timeline(console), "invoice.pdf")).to_have_text("invoice.pdf · 182 KB")
    await expect(widget_box(shopper)).to_have_value(DRAFT)
    # A name is text, never markup, on either side.
    await chat.locator("input[type=file]").set_input_files(files=[as_file(MARKUP_NAME, "image/png", png_bytes())])
    for area in (chat, timeline(console)):
        await expect(file_link(area, MARKUP_NAME)).to_be_visible()
        await expect(area.locator("img[src='x']")).to_have_count(0)
    assert await shopper.evaluate("window.pwned") is None and await console.evaluate("window.pwned") is None
    await widget_screenshot(shopper, "attachments-sent")

    # The agent sees the shopper's thumbnails and opens one full size; the PDF downloads.
    await expect(timeline(console).locator("li.visitor a.file-link img")).to_have_count(4)
    await console_screenshot(console, "attachments-from-shopper")
    await _open_image(console, file_link(timeline(console), "photo.png"))
    pdf = await console.request.get(await file_link(timeline(console), "invoice.pdf").evaluate("a => a.href"))
    assert pdf.status == 200
    assert pdf.headers["content-disposition"].startswith("attachment")
    assert pdf.headers["x-content-type-options"] == "nosniff"
    assert await pdf.body() == INVOICE["buffer"]
    await _assert_safe_links(chat)
    await _assert_safe_links(timeline(console))

    # Stored once each, as file messages of the conversation.
    conversation_id = (await widget_state(shopper, shop.url))["conversationId"]
    files = [m for m in (await _transcript(shop, alice_login["token"], conversation_id))["messages"]
             if m["kind"] == "file"]
    assert [m["meta"]["name"] for m in files][:2] == ["photo.png", "dropped.png"]
    assert len(files) == 5 and files[3]["meta"]["size"] == str(len(INVOICE["buffer"]))
    assert files[4]["body"] == MARKUP_NAME

    # After a reload the files are there again (the history's replay), thumbnails loaded.
    await shopper.reload()
    await expect(file_link(chat, "invoice.pdf")).to_have_text("invoice.pdf · 182 KB")
    await expect(chat.locator("li.visitor a.file-link img")).to_have_count(4)
    for img in await chat.locator("li.visitor a.file-link img").all():
        await expect(img).to_have_js_property("complete", True)
        assert await img.evaluate("img => img.naturalWidth") > 0


async def test_agent_sends_files_by_button_drop_and_paste(shop: LiveServer, open_page: OpenPage,
                                                          open_console: OpenConsole) -> None:
    shopper, console, _ = await _chat(shop, open_page, open_console)
    chat = panel(shopper)
    await composer(console).fill("Could you send the order number?")
    async with console.expect_file_chooser() as chosen:
        await console.get_by_role("button", name="Attach a file").click()
    await (await chosen.value).set_files(files=[as_file("label.png", "image/png", png_bytes())])
    await expect(file_link(timeline(console), "label.png")).to_be_visible()
    assert await drop_file(timeline(console), INVOICE)
    assert await paste_file(composer(console), as_file("image.png", "image/png", png_bytes()))
    await expect(file_link(timeline(console), "screenshot-")).to_be_visible()
    await expect(composer(console)).to_have_value("Could you send the order number?")

    # The shopper sees the agent's files: thumbnails that open full size, the PDF with its size.
    await expect(chat.locator("li.agent a.file-link img")).to_have_count(2)
    await expect(file_link(chat, "invoice.pdf")).to_have_text("invoice.pdf · 182 KB")
    await widget_screenshot(shopper, "attachments-from-agent")
    await console_screenshot(console, "attachments-sent")
    await _open_image(shopper, file_link(chat, "label.png"))
    await _assert_safe_links(chat)

    # After a reload the console shows the files again (the join replays them).
    await console.reload()
    await expect(timeline(console).locator("a.file-link")).to_have_count(3)
    await expect(file_link(timeline(console), "invoice.pdf")).to_have_text("invoice.pdf · 182 KB")

    # Internal notes take no files.
    await console.get_by_label("Internal note").check()
    await expect(console.get_by_role("button", name="Attach a file")).to_be_disabled()
    assert not await paste_file(composer(console), as_file("image.png", "image/png", png_bytes()))


async def test_a_file_that_lies_about_its_type_is_refused_and_the_chat_goes_on(
        shop: LiveServer, open_page: OpenPage, open_console: OpenConsole, allowed_page_errors: list[str]) -> None:
    allowed_page_errors.append("the server responded with a status of 415")  # the refusal itself
    shopper, console, _ = await _chat(shop, open_page, open_console)
    chat = panel(shopper)
    await widget_box(shopper).fill(DRAFT)
    await chat.locator("input[type=file]").set_input_files(files=[LYING_FILE])
    problem = chat.get_by_role("alert").filter(has_text="holiday.png")
    await expect(problem).to_have_text("“holiday.png” was not sent: this type of file can't be sent. "
                                       "Images (PNG, JPEG, GIF, WebP), PDF and text files can.")
    await widget_screenshot(shopper, "attachments-refused")
    await expect(widget_box(shopper)).to_have_value(DRAFT)
    await expect(chat.locator("a.file-link")).to_have_count(0)
    await expect(chat.locator(".upload")).to_have_count(0)
    await widget_box(shopper).press("Enter")
    await expect(timeline(console).get_by_text(DRAFT)).to_be_visible()
    # The agent's side refuses it the same way.
    await console.locator("#composer input[type=file]").set_input_files(files=[LYING_FILE])
    await expect(console.locator("#composer-hint")).to_have_text(re.compile(r"^“holiday\.png” was not sent: this type"))
    await console_screenshot(console, "attachments-refused")
    await expect(timeline(console).locator("a.file-link")).to_have_count(0)


async def test_cancel_stops_the_upload_and_leaves_no_message(shop: LiveServer, open_page: OpenPage,
                                                             open_console: OpenConsole) -> None:
    shopper, console, alice_login = await _chat(shop, open_page, open_console)
    chat = panel(shopper)
    # The upload is held on its way (the browser has sent it; the server gets it only if it is
    # let go), so the shopper surely cancels it in flight. A throttled uplink did not: on a busy
    # machine Chromium sometimes sent the 4 MB whole before the click. That a body cut off
    # mid-way stores nothing is tests/http/test_attachment_streaming.py's.
    reached, release = asyncio.Event(), asyncio.Event()

    async def hold(route: Route) -> None:
        reached.set()
        await release.wait()
        with contextlib.suppress(Exception):  # the page aborted it already
            await route.abort()

    uploads = "**/api/conversations/*/attachments?*"
    await shopper.route(uploads, hold)
    big = as_file("catalogue.pdf", "application/pdf", pdf_bytes(4 * 1024 * 1024))
    await chat.locator("input[type=file]").set_input_files(files=[big])
    upload = chat.locator(".upload")
    await expect(upload).to_contain_text("Sending catalogue.pdf (4 MB)")
    progress = upload.get_by_role("progressbar", name=re.compile("^Sending catalogue.pdf"))
    await expect(progress).to_be_visible()
    await asyncio.wait_for(reached.wait(), timeout=10)
    await widget_screenshot(shopper, "attachments-uploading")
    await upload.get_by_role("button", name="Cancel sending catalogue.pdf").click()
    await expect(upload).to_have_count(0)
    await expect(widget_box(shopper)).to_be_focused()
    release.set()
    await shopper.unroute(uploads, hold)
    # The next file goes through; it is the only file the conversation has.
    await chat.locator("input[type=file]").set_input_files(files=[as_file("after.png", "image/png", png_bytes())])
    await expect(file_link(timeline(console), "after.png")).to_be_visible()
    conversation_id = (await widget_state(shopper, shop.url))["conversationId"]
    messages = (await _transcript(shop, alice_login["token"], conversation_id))["messages"]
    assert [m["meta"]["name"] for m in messages if m["kind"] == "file"] == ["after.png"]
    await expect(chat.locator("a.file-link")).to_have_count(1)
    await expect(chat.locator("#chatserver-message-problem")).to_be_empty()
