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
    started = await shopper.call("chat:start", {"name": "Ann", "question": "Wo ist meine Bestellung?"})
    await expect(page.get_by_role("log", name="Unterhaltung")).to_contain_text("Alice ist dem Chat beigetreten.")
    await expect(page.get_by_role("textbox", name="Nachricht")).to_have_attribute(
        "placeholder", "Antwort schreiben (Enter sendet, Umschalt+Enter für eine neue Zeile, / für Textbausteine)")
    await expect(page.get_by_role("heading", name="Wissensdatenbank")).to_be_visible()
    await expect(page.get_by_role("button", name="Chat beenden")).to_be_visible()
    await shopper.call("typing:update", {"conversation_id": started["conversation"]["id"], "typing": True})
    await expect(page.locator("#typing")).to_have_text("Ann schreibt…")
    await screenshot(page, "language-de")
    assert len(fetched) == 1 and fetched[0].startswith("de."), fetched


async def test_a_german_admin_keeps_proactive_messages_in_german(shop: LiveServer,
                                                                 open_console: OpenConsole) -> None:
    page = await open_console("/console/", locale="de-DE")
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    login = await shop.add_agent("Ada", role="admin")
    form = page.locator("#login-form")
    await form.get_by_label("E-Mail").fill(login["email"])
    await form.get_by_label("Passwort").fill(login.get("password", PASSWORD))
    await form.get_by_role("button", name="Anmelden").click()
    await page.get_by_role("button", name="Proaktive Nachrichten").click()

    dialog = page.get_by_role("dialog", name="Proaktive Nachrichten")
    await expect(dialog.get_by_text("Noch keine proaktiven Nachrichten.")).to_be_visible()
    table = dialog.get_by_role("table", name="Regeln für proaktive Nachrichten")
    await expect(table.get_by_role("columnheader")).to_have_text(
        ["Name", "Seite", "Wann", "Nachricht", "Gezeigt", "Beantwortet", "Chats", "Aktionen"])
    rule = dialog.get_by_role("form", name="Proaktive Nachricht hinzufügen")
    await rule.get_by_label("Name", exact=True).fill("Hilfe beim Bezahlen")
    await rule.get_by_label("Muster der Seiten-URL").fill("*/demo/payment*")
    await rule.get_by_label("Sekunden auf der Seite").fill("20")
    await rule.get_by_label("Warenkorbwert mindestens (leer: beliebig)").fill("49.5")
    await rule.get_by_label("Checkout-Schritt (leer: beliebig)").fill("payment")
    await rule.get_by_label("Nur während der Geschäftszeiten").uncheck()
    await rule.get_by_label("Nachricht", exact=True).fill("Brauchen Sie Hilfe beim Bezahlen?")
    await rule.get_by_label("Nachricht in anderen Sprachen").fill("en: Need a hand?\nfr Besoin d'aide ?")
    await rule.get_by_role("button", name="Hinzufügen").click()
    await expect(rule.get_by_role("alert")).to_have_text(
        "Zeile 2: Schreiben Sie sie als „en: die Nachricht auf Englisch“.")
    await rule.get_by_label("Nachricht in anderen Sprachen").fill("en: Need a hand?")
    await rule.get_by_role("button", name="Hinzufügen").click()

    row = table.get_by_role("row").filter(has_text="Hilfe beim Bezahlen")
    await expect(row.get_by_role("cell").nth(2)).to_have_text(
        "nach 20 s, Warenkorb ≥ 49,5, Schritt payment und Agent verfügbar")
    await row.get_by_role("button", name="Hilfe beim Bezahlen ändern").click()
    edit = dialog.get_by_role("form", name="Hilfe beim Bezahlen ändern")
    await expect(edit.get_by_role("button", name="Speichern")).to_be_visible()
    await expect(edit.get_by_role("button", name="Änderung verwerfen")).to_be_visible()
    await screenshot(page, "language-de-proactive")
    await row.get_by_role("button", name="Hilfe beim Bezahlen löschen").click()
    await expect(dialog.get_by_text("Noch keine proaktiven Nachrichten.")).to_be_visible()
