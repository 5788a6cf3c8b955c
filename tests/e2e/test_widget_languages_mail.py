"""A German shopper's question, left in the German widget of a closed shop, is answered by a
mail in German (docs/offline.md, Email): the widget sends its language with ticket:create."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import expect

from ..offline_support import SmtpServer
from ..support import LiveServer, make_settings, wait_until
from .conftest import OpenPage, running
from .widget import screenshot

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
    """The demo shop, closed today (open only tomorrow)."""
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%a").lower()
    async with running(make_settings(tmp_path, **smtp.settings(), business_hours=f"{tomorrow} 00:00-24:00",
                                     outbox_poll_interval=0.5)) as live:
        yield live


async def test_a_german_shopper_gets_the_answer_in_german(shop: LiveServer, open_page: OpenPage,
                                                          smtp: SmtpServer) -> None:
    page = await open_page("/demo/", locale="de-CH")
    await page.locator("chatserver-widget").get_by_role("button", name="Chatten Sie mit uns").click()
    chat = page.get_by_role("dialog", name="Chatten Sie mit uns")
    await expect(chat.get_by_text("Wir haben geschlossen.")).to_be_visible()
    await chat.get_by_label("Ihr Name").fill("Anna")
    await chat.get_by_label("E-Mail").fill("anna@example.com")
    await chat.get_by_label("Ihre Frage").fill("Wo ist mein Paket?")
    await chat.get_by_role("button", name="Frage senden").click()
    await expect(chat.get_by_text("Vielen Dank! Wir haben Ihre Frage erhalten")).to_be_visible()
    await screenshot(page, "language-de-ticket")

    login = await shop.add_agent("Bea")
    _, listing = await shop.request("GET", "/api/tickets?status=open", token=login["token"])
    [ticket] = listing["tickets"]
    status, _ = await shop.request("POST", f"/api/tickets/{ticket['id']}/answers", token=login["token"],
                                   json={"body": "Es ist heute rausgegangen."})
    assert status == 201
    await wait_until(lambda: len(smtp.mails) == 1, what="the answer email")
    mail = smtp.mails[0].message
    assert mail["Subject"] == f"AW: Ihre Frage ({ticket['reference']})"
    body = mail.get_content()
    assert body.startswith("Hallo Anna,") and f"Bea hat Ihre Frage ({ticket['reference']}) beantwortet:" in body
    assert "Ihre Frage war:\r\n> Wo ist mein Paket?" in body
    assert "Sie können diese Antwort auch im Chat auf unserer Website lesen." in body
    await expect(chat.get_by_text("Es ist heute rausgegangen.")).to_be_visible()
    await expect(chat.get_by_text(f"{ticket['reference']} · Beantwortet")).to_be_visible()
