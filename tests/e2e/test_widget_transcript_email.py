"""In real Chromium: with no agent online the shopper may leave a message instead of waiting;
after a chat, "email me the transcript" sends it through a real SMTP server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import expect

from chatserver.domain.identity import sign_identity

from ..offline_support import SmtpServer
from ..support import LiveServer, agent, make_settings, wait_until
from .conftest import OpenPage, running
from .test_widget_chat import _assigned, _start_chat
from .widget import launcher, panel, screenshot

pytestmark = pytest.mark.asyncio(loop_scope="session")
SECRET = "shop-identity-secret"


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
    settings = make_settings(tmp_path, **smtp.settings(), outbox_poll_interval=0.5, identity_secret=SECRET)
    async with running(settings) as live:
        yield live


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
    await chat.get_by_role("button", name="Yes, end chat").click()  # "End this chat?"
    # It goes to the address given before the chat, named; there is no field for another one.
    send = chat.get_by_role("button", name="Email me the transcript")
    await expect(send).to_have_accessible_description("It goes to ann@example.com, the address you gave.")
    await expect(chat.locator(".ended input[type=email]")).to_have_count(0)
    await send.click()
    await expect(chat.get_by_text("We are sending the transcript to ann@example.com.")).to_be_visible()
    await expect(send).to_be_hidden()
    await screenshot(page, "24-transcript-emailed")

    await wait_until(lambda: len(smtp.mails) == 1, what="the transcript email")
    mail = smtp.mails[0]
    assert mail.recipients == ["ann@example.com"]
    text = mail.message.get_content()
    assert "Is express shipping possible?" in text and "Yes, for 9.90 <script>x()</script>" in text
    assert mail.message.get_content_type() == "text/plain"


async def test_without_an_address_no_transcript_is_offered_until_the_shop_vouches_for_one(
        shop: LiveServer, open_page: OpenPage, smtp: SmtpServer) -> None:
    alice = await agent(shop, await shop.add_agent("Alice"))
    page = await open_page("/demo/")
    await launcher(page).click()
    await _start_chat(page, "Bo", "Do you ship to Norway?")
    cid = await _assigned(alice)
    chat = panel(page)
    await chat.get_by_role("button", name="End chat").click()
    await chat.get_by_role("button", name="Yes, end chat").click()  # "End this chat?"
    await expect(chat.get_by_role("button", name="Start a new chat")).to_be_visible()
    await expect(chat.get_by_role("button", name="Email me the transcript")).to_be_hidden()

    # Signed in by the shop (window.chatserver.identify), the next chat's transcript can go to the
    # account's address.
    identity = sign_identity(SECRET, {"external_id": "cust-5", "email": "bo@shop.example", "iat": time.time()})
    await page.evaluate("identity => window.chatserver.identify(identity)", identity)
    await chat.get_by_role("button", name="Start a new chat").click()
    await _start_chat(page, "Bo", "And to Finland?")
    update = await alice.wait_for("conversation:updated", lambda d: d["conversation"]["id"] != cid
                                  and d["conversation"]["status"] == "assigned", timeout=10)
    assert (await alice.call("conversation:join", {"conversation_id": update["conversation"]["id"]}))["ok"]
    await chat.get_by_role("button", name="End chat").click()
    await chat.get_by_role("button", name="Yes, end chat").click()  # "End this chat?"
    send = chat.get_by_role("button", name="Email me the transcript")
    await expect(send).to_have_accessible_description("It goes to the email address of your account.")
    await send.click()
    await expect(chat.get_by_text("We are sending the transcript to bo@shop.example.")).to_be_visible()
    await wait_until(lambda: len(smtp.mails) == 1, what="the transcript email")
    assert smtp.mails[0].recipients == ["bo@shop.example"] and "And to Finland?" in smtp.mails[0].message.get_content()
