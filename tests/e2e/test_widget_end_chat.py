"""The widget's "End chat" asks first, in real Chromium and with the keyboard only: "End this
chat?" in the panel (not the browser's window.confirm); Cancel (or Escape) keeps the chat and puts
focus back on End chat, "Yes, end chat" ends it. (The console's End chat opens its wrap-up dialog,
with Cancel: tests/e2e/test_console_chat.py.)"""

from __future__ import annotations

import pytest
from playwright.async_api import Dialog, expect

from ..support import LiveServer, agent
from .conftest import OpenPage
from .test_widget_chat import _assigned, _start_chat
from .widget import launcher, panel, screenshot

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_end_chat_asks_first_and_works_with_the_keyboard(shop: LiveServer, open_page: OpenPage) -> None:
    alice = await agent(shop, await shop.add_agent("Alice"))
    page = await open_page("/demo/")
    browser_dialogs: list[str] = []

    async def refuse(dialog: Dialog) -> None:
        browser_dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", refuse)
    await launcher(page).click()
    await _start_chat(page, "Ann", "Can I change my order?")
    cid = await _assigned(alice)
    chat = panel(page)
    await expect(chat.get_by_text("You are chatting with Alice")).to_be_visible()
    end = chat.get_by_role("button", name="End chat")
    question = chat.get_by_role("alertdialog", name="End this chat?")
    await expect(question).to_be_hidden()

    # Asked, then cancelled: the chat goes on, focus is back on End chat.
    await end.focus()
    await page.keyboard.press("Enter")
    await expect(question).to_be_visible()
    await expect(question.get_by_role("button", name="Cancel")).to_be_focused()
    await screenshot(page, "end-chat-confirm")
    await page.keyboard.press("Enter")
    await expect(question).to_be_hidden()
    await expect(end).to_be_focused()
    # Escape cancels too, without minimizing the panel.
    await page.keyboard.press("Enter")
    await expect(question).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(question).to_be_hidden()
    await expect(chat).to_be_visible()
    await expect(end).to_be_focused()
    status, record = await shop.request("GET", f"/api/conversations/{cid}", token=await shop.admin_token())
    assert status == 200 and record["conversation"]["status"] == "assigned"

    # Confirmed: the chat ends.
    await page.keyboard.press("Enter")
    await page.keyboard.press("Shift+Tab")  # from Cancel back to "Yes, end chat"
    await expect(question.get_by_role("button", name="Yes, end chat")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(chat.get_by_text("You ended the chat.")).to_be_visible()
    await alice.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "closed")
    await expect(question).to_be_hidden()
    assert browser_dialogs == []
