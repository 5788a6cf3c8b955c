"""The agent console in the agent's language (docs/console.md, "Languages"): a German browser
gets German, from the page's own words to the messages the console writes; only that language's
file is fetched."""

from __future__ import annotations

import pytest
from playwright.async_api import Request, expect

from ..support import PASSWORD, LiveServer, visitor
from .console import OpenConsole, open_console, screenshot

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_german_browser_gets_a_german_console(shop: LiveServer, open_console: OpenConsole) -> None:
    page = await open_console("about:blank", locale="de-DE")
    fetched: list[str] = []

    def record(request: Request) -> None:
        if "/locales/console/" in request.url:
            fetched.append(request.url.rsplit("/", 1)[1])

    page.on("request", record)
    await page.goto("/console/")
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    await expect(page).to_have_title("Agentenkonsole · chatserver")
    login = await shop.add_agent("Alice")
    form = page.locator("#login-form")
    await form.get_by_label("E-Mail").fill(login["email"])
    await form.get_by_label("Passwort").fill(login.get("password", PASSWORD))
    await form.get_by_role("button", name="Anmelden").click()
    await expect(page.get_by_role("status").first).to_have_text("Verbunden · nimmt Chats an")
    await expect(page.get_by_text("Niemand wartet.")).to_be_visible()

    shopper = await visitor(shop)
    await shopper.call("chat:start", {"name": "Ann", "question": "Wo ist meine Bestellung?"})
    await expect(page.get_by_role("log", name="Unterhaltung")).to_contain_text("Alice ist dem Chat beigetreten.")
    await expect(page.get_by_role("textbox", name="Nachricht")).to_have_attribute(
        "placeholder", "Antwort schreiben (Enter sendet, Umschalt+Enter für eine neue Zeile, / für Textbausteine)")
    await expect(page.get_by_role("heading", name="Wissensdatenbank")).to_be_visible()
    await expect(page.get_by_role("button", name="Chat beenden")).to_be_visible()
    await screenshot(page, "language-de")
    assert len(fetched) == 1 and fetched[0].startswith("de."), fetched
