"""In real Chromium: with no agent online the shopper may leave a message instead of waiting;
after a chat, "email me the transcript" sends it through a real SMTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import expect

from ..offline_support import SmtpServer, wait_until
from ..support import LiveServer, agent, make_settings
from .conftest import OpenPage, _close_or_show_what_hangs
from .test_widget_chat import _assigned, _start_chat
from .widget import launcher, panel, screenshot

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path, smtp: SmtpServer) -> AsyncIterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path, **smtp.settings(), outbox_poll_interval=0.5))
    await live.start()
    try:
        yield live
    finally:
        await _close_or_show_what_hangs(live)


async def test_without_agents_the_shopper_may_leave_a_message_instead(shop: LiveServer, open_page: OpenPage) -> None:
    page = await open_page("/demo/")
    await launcher(page).click()
    chat = panel(page)
    await expect(chat.get_by_text("No agent is available right now")).to_be_visible()
    await chat.get_by_role("button", name="Leave a message instead (we answer by email)").click()
    await expect(chat.get_by_label("Your question")).to_be_visible()
    order = chat.get_by_label("Order number")
    await expect(order).to_have_attribute("aria-describedby", "chatserver-ticket-order-problem")
    await chat.get_by_role("button", name="Wait for an agent instead").click()
    await expect(chat.get_by_label("How can we help?")).to_be_visible()
    await chat.get_by_role("button", name="Leave a message instead (we answer by email)").click()
    await chat.get_by_label("Your name").fill("Ann")
    await chat.get_by_label("Email").fill("ann@example.com")
    await chat.get_by_label("Your question").fill("Do you gift wrap?")
    await chat.get_by_role("button", name="Send question").click()  # the order number is optional here
    await expect(chat.get_by_text("Thank you! We received your question")).to_be_visible()


async def test_the_shopper_has_the_transcript_emailed_after_the_chat(
        shop: LiveServer, open_page: OpenPage, smtp: SmtpServer) -> None:
    alice = await agent(shop, await shop.add_agent("Alice"))
    page = await open_page("/demo/payment.html")
    await launcher(page).click()
    await _start_chat(page, "Ann", "Is express shipping possible?", email="ann@example.com")
    cid = await _assigned(alice)
    await alice.call("message:send", {"conversation_id": cid, "client_msg_id": "a-1",
                                      "body": "Yes, for 9.90 <script>x()</script>"})
    chat = panel(page)
    await expect(chat.get_by_text("Yes, for 9.90 <script>x()</script>")).to_be_visible()
    await chat.get_by_role("button", name="End chat").click()
    email = chat.get_by_label("Send the transcript to")
    await expect(email).to_have_value("ann@example.com")
    await email.fill("ann@")
    await chat.get_by_role("button", name="Email me the transcript").click()
    await expect(chat.get_by_text("This does not look like an email address.")).to_be_visible()
    await expect(email).to_be_focused()
    await email.fill("ann.b@example.com")
    await email.press("Enter")
    await expect(chat.get_by_text("We are sending the transcript to ann.b@example.com.")).to_be_visible()
    await screenshot(page, "24-transcript-emailed")

    await wait_until(lambda: len(smtp.mails) == 1, what="the transcript email")
    mail = smtp.mails[0]
    assert mail.recipients == ["ann.b@example.com"]
    text = mail.message.get_content()
    assert "Is express shipping possible?" in text and "Yes, for 9.90 <script>x()</script>" in text
    assert mail.message.get_content_type() == "text/plain"
