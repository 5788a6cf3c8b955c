"""A server without outgoing mail (no smtp_host), in real Chromium: the widget does not offer the
transcript by email (it would only wait in the outbox), and the console's settings tell the admin
that mail waits; with smtp_host set, both are as usual."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import expect

from ..redis_server import free_port
from ..support import LiveServer, agent, make_settings, visitor
from .conftest import OpenPage, running
from .console import OpenConsole, alert, open_console, screenshot, signed_in
from .test_console_admin import _admin_console
from .test_widget_chat import _assigned, _start_chat
from .widget import launcher, panel
from .widget import screenshot as widget_screenshot

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session", params=[False, True], ids=["no-smtp", "smtp"])
async def shop(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[LiveServer]:
    # With smtp_host, mail goes to a port nobody listens on: what counts here is that it is set.
    smtp = {"smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_security": "none"} if request.param else {}
    async with running(make_settings(tmp_path, **smtp)) as live:
        yield live


async def test_the_transcript_is_offered_only_when_mail_is_sent(shop: LiveServer, open_page: OpenPage) -> None:
    alice = await agent(shop, await shop.add_agent("Alice"))
    page = await open_page("/demo/")
    await launcher(page).click()
    await _start_chat(page, "Ann", "Do you gift wrap?", email="ann@example.com")
    cid = await _assigned(alice)
    chat = panel(page)
    await expect(chat.get_by_text("You are chatting with Alice")).to_be_visible()
    await alice.call("conversation:close", {"conversation_id": cid})
    await expect(chat.get_by_text("How was your chat?")).to_be_visible()
    send = chat.get_by_role("button", name="Email me the transcript")
    if shop.settings.smtp_host:
        await expect(send).to_be_visible()
        return
    await expect(send).to_be_hidden()
    await expect(chat.get_by_text("It goes to ann@example.com", exact=False)).to_be_hidden()
    await widget_screenshot(page, "ended-without-email")
    # The same after a reload (the offer is decided by what the server says on every connect).
    await page.reload()
    await expect(panel(page).get_by_text("How was your chat?")).to_be_visible()
    await expect(panel(page).get_by_role("button", name="Email me the transcript")).to_be_hidden()


async def test_the_settings_say_when_email_is_not_configured(shop: LiveServer, open_console: OpenConsole) -> None:
    admin = await _admin_console(shop, open_console)
    await admin.get_by_role("button", name="Settings").click()
    dialog = admin.get_by_role("dialog", name="Settings")
    await expect(dialog.get_by_role("table", name="Settings").get_by_role("row").filter(has_text="smtp_host")) \
        .to_be_visible()
    notice = dialog.get_by_text("Email is not configured: transcripts and ticket answers wait in the outbox")
    if shop.settings.smtp_host:
        await expect(notice).to_be_hidden()
    else:
        await expect(notice).to_be_visible()
        await screenshot(admin, "settings-without-email")


async def test_a_ticket_answer_says_whether_it_is_mailed(shop: LiveServer, open_console: OpenConsole) -> None:
    ann = await visitor(shop)
    left = await ann.call("ticket:create", {"name": "Ann", "email": "ann@example.com", "description": "Parcel?"})
    assert left["ok"], left
    alice = await open_console()
    await signed_in(alice, await shop.add_agent("Alice"))
    await alice.get_by_role("button", name="Answer the ticket of Ann").click()
    dialog = alice.get_by_role("dialog", name=f"Ticket {left['ticket']['reference']} · open")
    await dialog.get_by_label("Answer to the customer").fill("It ships today.")
    await dialog.get_by_role("button", name="Send answer").click()
    if shop.settings.smtp_host:
        await expect(alert(alice)).to_have_text("Your answer to Ann is on its way to ann@example.com.")
    else:
        await expect(alert(alice)).to_contain_text("Email is not configured, so it is not mailed")
    # The widget shows the answer either way.
    updated = await ann.wait_for("ticket:updated")
    assert [a["body"] for a in updated["ticket"]["answers"]] == ["It ships today."]
