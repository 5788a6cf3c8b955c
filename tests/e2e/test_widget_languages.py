"""The widget in the shopper's language (docs/widget.md, "Languages"): the browser's, unless the
shop's page names one (data-locale); only that language's file is fetched; a shop's override
changes a text without a rebuild; Arabic lays out right to left."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page, Request, expect

from ..support import LiveServer, make_settings
from .conftest import OpenPage, running
from .widget import screenshot

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A shop that says "Fragen Sie uns" on its German button instead of the built-in text."""
    overrides = tmp_path / "locales" / "widget"
    overrides.mkdir(parents=True)
    (overrides / "de.json").write_text(json.dumps({"launcher.title": "Fragen Sie uns"}), encoding="utf-8")
    async with running(make_settings(tmp_path, locale_dir=tmp_path / "locales")) as live:
        yield live


def language_files(page: Page) -> list[str]:
    """The language files the page fetches (the redirects that lead to them not counted)."""
    fetched: list[str] = []

    def record(request: Request) -> None:
        if "/locales/widget/" in request.url:
            fetched.append(request.url.rsplit("/", 1)[1])

    page.on("request", record)
    return fetched


def with_locale(locale: str):  # type: ignore[no-untyped-def]
    return lambda html: html.replace('<script src="/widget.js"', f'<script data-locale="{locale}" src="/widget.js"')


async def test_a_german_browser_gets_german_and_only_the_german_file(shop: LiveServer, open_page: OpenPage) -> None:
    page = await open_page("about:blank", locale="de-AT")
    fetched = language_files(page)
    await page.goto("/demo/")
    widget = page.locator("chatserver-widget")
    # The shop's override of the button's text, without a rebuild.
    button = widget.get_by_role("button", name="Fragen Sie uns")
    await expect(button).to_be_visible()
    await expect(widget).to_have_attribute("lang", "de")
    await button.click()
    chat = page.get_by_role("dialog", name="Fragen Sie uns")
    await expect(chat.get_by_label("Ihr Name")).to_be_visible()
    await expect(chat.get_by_role("button", name="Chat starten")).to_be_visible()
    await chat.get_by_role("button", name="Chat starten").click()
    await expect(chat.get_by_text("Bitte nennen Sie uns Ihren Namen.")).to_be_visible()
    await screenshot(page, "language-de")
    assert len(fetched) == 1 and fetched[0].startswith("de."), fetched


async def test_an_english_browser_gets_english(shop: LiveServer, open_page: OpenPage) -> None:
    page = await open_page("about:blank", locale="en-US")
    fetched = language_files(page)
    await page.goto("/demo/")
    await page.locator("chatserver-widget").get_by_role("button", name="Chat with us").click()
    await expect(page.get_by_role("dialog", name="Chat with us").get_by_label("Your name")).to_be_visible()
    assert len(fetched) == 1 and fetched[0].startswith("en."), fetched


async def test_the_page_s_data_locale_wins_over_the_browser(shop: LiveServer, open_page: OpenPage) -> None:
    page = await open_page("about:blank", locale="de-DE", html=with_locale("en"))
    fetched = language_files(page)
    await page.goto("/demo/")
    await page.locator("chatserver-widget").get_by_role("button", name="Chat with us").click()
    await expect(page.get_by_role("dialog", name="Chat with us").get_by_label("Your name")).to_be_visible()
    assert len(fetched) == 1 and fetched[0].startswith("en."), fetched


async def test_data_locale_fr_wins_over_a_german_browser(shop: LiveServer, open_page: OpenPage) -> None:
    page = await open_page("about:blank", locale="de-DE", html=with_locale("fr"))
    fetched = language_files(page)
    await page.goto("/demo/")
    await page.locator("chatserver-widget").get_by_role("button", name="Discutez avec nous").click()
    chat = page.get_by_role("dialog", name="Discutez avec nous")
    await expect(chat.get_by_label("Votre nom")).to_be_visible()
    await expect(chat.get_by_text("Aucun conseiller n\u2019est disponible pour le moment.")).to_be_visible()
    await screenshot(page, "language-fr")
    assert len(fetched) == 1 and fetched[0].startswith("fr."), fetched


async def test_arabic_is_right_to_left_and_each_message_finds_its_own_direction(
        shop: LiveServer, open_page: OpenPage) -> None:
    page = await open_page("about:blank", locale="ar-EG")
    fetched = language_files(page)
    await page.goto("/demo/")
    widget = page.locator("chatserver-widget")
    await expect(widget).to_have_attribute("dir", "rtl")
    await expect(widget).to_have_attribute("lang", "ar")
    button = widget.get_by_role("button", name="تحدّث معنا")
    # The button is mirrored to the bottom left.
    box = await button.bounding_box()
    assert box is not None and box["x"] < 100, box
    await button.click()
    chat = page.get_by_role("dialog", name="تحدّث معنا")
    await expect(chat).to_have_attribute("dir", "rtl")
    panel_box = await chat.bounding_box()
    assert panel_box is not None and panel_box["x"] < 100, panel_box
    await chat.get_by_label("اسمك").fill("ليلى")
    await chat.get_by_label("كيف يمكننا مساعدتك؟").fill("أين طلبي؟")
    await chat.get_by_role("button", name="بدء المحادثة").click()
    box_input = chat.get_by_placeholder("اكتب رسالتك…")
    await box_input.fill("رقم الطلب A-1001 لم يصل بعد")
    await chat.get_by_role("button", name="إرسال", exact=True).click()
    message = chat.locator("ol.messages > li.visitor .body").filter(has_text="A-1001")
    await expect(message).to_have_attribute("dir", "auto")
    await expect(message).to_have_text("رقم الطلب A-1001 لم يصل بعد")
    await screenshot(page, "language-ar")
    assert len(fetched) == 1 and fetched[0].startswith("ar."), fetched


async def test_the_help_centre_in_a_german_browser(shop: LiveServer, open_page: OpenPage,
                                                   allowed_page_errors: list[str]) -> None:
    allowed_page_errors.append("404 (Not Found)")  # the browser asks for /favicon.ico
    page = await open_page("/help/", locale="de-DE")
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    await expect(page.get_by_role("heading", name="Wie können wir helfen?")).to_be_visible()
    await page.get_by_label("Antworten suchen").fill("zzzzqqq")
    await page.get_by_role("button", name="Suchen").click()
    await expect(page.get_by_text("Kein Artikel passt.")).to_be_visible()
    await screenshot(page, "help-centre-de")
