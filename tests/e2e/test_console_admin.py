"""The admin's pages of the console, in real Chromium: changing and disabling agents (in force at
once: the agent's own console is signed out), setting an agent's password, changing canned
responses (every agent's console reads them again at once), and the server's settings, secrets
never shown; and every agent changing their own password."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Locator, Page, expect

from ..support import PASSWORD, LiveServer, make_settings, prechat, visitor
from .conftest import running
from .console import OpenConsole, alert, composer, login_form, open_console, screenshot, sign_in, signed_in

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")

IDENTITY_SECRET = "shop-identity-secret-do-not-show"


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path) -> AsyncIterator[LiveServer]:
    settings = make_settings(tmp_path, departments=("billing", "returns"), identity_secret=IDENTITY_SECRET)
    async with running(settings) as live:
        yield live


async def _admin_console(shop: LiveServer, open_console: OpenConsole) -> Page:
    text = (shop.settings.data_dir / "first-admin.txt").read_text()
    creds = dict(line.split(": ", 1) for line in text.strip().splitlines())
    page = await open_console()
    await signed_in(page, {"email": creds["email"], "password": creds["password"]})
    return page


async def test_admins_change_and_disable_agents(shop: LiveServer, open_console: OpenConsole) -> None:
    dana_login = await shop.add_agent("Dana", capacity=3)
    dana = await open_console()
    await signed_in(dana, dana_login)
    admin = await _admin_console(shop, open_console)
    await admin.get_by_role("button", name="Agents").click()
    dialog = admin.get_by_role("dialog", name="Agents")
    row = dialog.get_by_role("row").filter(has_text=dana_login["email"])
    await expect(row.get_by_role("cell").nth(5)).to_have_text("online")
    # The admin's own row cannot be disabled.
    await expect(dialog.get_by_role("button", name="Disable Admin")).to_have_count(0)

    await dialog.get_by_role("button", name="Change Dana").click()
    form = dialog.get_by_role("form", name="Change Dana")
    await expect(form.get_by_label("Chats at once")).to_have_value("3")
    await expect(form.get_by_role("checkbox")).to_have_count(2)
    await form.get_by_label("Chats at once").fill("0")
    await form.get_by_role("button", name="Save").click()
    await expect(form.get_by_role("alert")).to_contain_text("capacity")
    await form.get_by_label("Chats at once").fill("5")
    await form.get_by_label("billing").check()
    await screenshot(admin, "30-agent-change")
    await form.get_by_role("button", name="Save").click()
    await expect(form).to_be_hidden()
    await expect(row.get_by_role("cell")).to_have_text(
        ["Dana", dana_login["email"], "agent", "5", "billing", "online", "ChangePasswordDisable"])
    _, listing = await shop.request("GET", "/api/agents", token=await shop.admin_token())
    stored = next(a for a in listing["agents"] if a["email"] == dana_login["email"])
    assert (stored["capacity"], stored["departments"]) == (5, ["billing"])

    # Disabled: Dana's console is signed out at once, and she cannot sign in again.
    await dialog.get_by_role("button", name="Disable Dana").click()
    await expect(row.get_by_role("cell").nth(5)).to_have_text("disabled")
    await expect(dialog.get_by_role("button", name="Enable Dana")).to_be_visible()
    await screenshot(admin, "31-agent-disabled")
    await expect(dana.locator("#login-message")).to_have_text(
        "Your account has been disabled. Ask an admin if you need to sign in again.")
    await screenshot(dana, "32-account-disabled")
    await login_form(dana).get_by_label("Email").fill(dana_login["email"])
    await login_form(dana).get_by_label("Password").fill(PASSWORD)
    await dana.get_by_role("button", name="Sign in").click()
    await expect(dana.locator("#login-message")).to_have_text("The email or password is wrong.")
    # Enabled again, she signs in.
    await dialog.get_by_role("button", name="Enable Dana").click()
    await expect(row.get_by_role("cell").nth(5)).to_have_text("offline")
    await signed_in(dana, dana_login)


async def test_canned_responses_change_for_every_agent_at_once(shop: LiveServer, open_console: OpenConsole) -> None:
    admin = await _admin_console(shop, open_console)
    await admin.get_by_label("Status").select_option("away")
    await admin.get_by_role("button", name="Canned responses").click()
    dialog = admin.get_by_role("dialog", name="Canned responses")
    await dialog.get_by_label("Shortcut").fill("/thanks")
    await dialog.get_by_label("Text").fill("Thank you!")
    await dialog.get_by_role("button", name="Add").click()
    await expect(dialog.locator("#canned-admin-list li")).to_have_count(1)

    # An agent's console already open reads the change without a reload.
    agent_page = await open_console()
    await signed_in(agent_page, await shop.add_agent("Erin"))
    suggestions = agent_page.get_by_role("listbox", name="Canned responses")
    await dialog.get_by_role("button", name="Change /thanks").click()
    form = dialog.get_by_role("form", name="Change /thanks")
    await expect(form.get_by_label("Text")).to_have_value("Thank you!")
    await form.get_by_label("Text").fill("Thank you for shopping with us!")
    await screenshot(admin, "33-canned-change")
    await form.get_by_role("button", name="Save").click()
    await expect(dialog.locator("#canned-admin-list")).to_contain_text("Thank you for shopping with us!")
    await expect(dialog.get_by_role("form", name="Add a canned response")).to_be_visible()
    _, listing = await shop.request("GET", "/api/canned-responses", token=await shop.admin_token())
    assert [(c["shortcut"], c["body"]) for c in listing["canned_responses"]] == [
        ("thanks", "Thank you for shopping with us!")]

    # In a chat (routed to the agent), the suggestion is the new text.
    shopper = await visitor(shop)
    await shopper.call("chat:start", prechat(1))
    await expect(agent_page.get_by_role("tab", name="Shopper 1")).to_be_visible()
    await composer(agent_page).fill("/tha")
    await expect(suggestions.get_by_role("option")).to_have_text(["/thanks — Thank you for shopping with us!"])
    # Deleted: gone from the agent's suggestions too.
    await dialog.get_by_role("button", name="Delete /thanks").click()
    await expect(dialog.locator("#canned-admin-list li")).to_have_count(0)
    await composer(agent_page).fill("")
    await composer(agent_page).fill("/tha")
    await expect(suggestions).to_be_hidden()


async def test_admins_read_the_settings_without_the_secrets(shop: LiveServer, open_console: OpenConsole) -> None:
    admin = await _admin_console(shop, open_console)
    await admin.get_by_role("button", name="Settings").click()
    dialog = admin.get_by_role("dialog", name="Settings")
    settings = dialog.get_by_role("table", name="Settings")
    await expect(settings.get_by_role("row").filter(has_text="departments")).to_contain_text("billing, returns")
    await expect(settings.get_by_role("row").filter(has_text=re.compile("^grace_period"))).to_contain_text(
        "CHATSERVER_GRACE_PERIOD")
    secrets = dialog.get_by_role("table", name="Secrets")
    await expect(secrets.get_by_role("row").filter(has_text="identity_secret")).to_contain_text("set (not shown)")
    await expect(secrets.get_by_role("row").filter(has_text="smtp_password")).to_contain_text("not set")
    assert IDENTITY_SECRET not in await admin.content()
    await screenshot(admin, "34-settings")
    # Agents have no settings page.
    page = await open_console()
    await signed_in(page, await shop.add_agent())
    await expect(page.get_by_role("button", name="Settings")).to_be_hidden()


NEW_PASSWORD = "a new and longer one"


async def _change_own_password(page: Page, current: str, new: str, again: str | None = None) -> Locator:
    await page.get_by_role("button", name="Change password").click()
    dialog = page.get_by_role("dialog", name="Change your password")
    await dialog.get_by_label("Current password").fill(current)
    await dialog.get_by_label("New password (8 characters or more)").fill(new)
    await dialog.get_by_label("New password again").fill(new if again is None else again)
    await dialog.get_by_role("button", name="Change password").click()
    return dialog


async def test_an_agent_changes_their_password_and_their_other_sessions_end(
        shop: LiveServer, open_console: OpenConsole) -> None:
    dana_login = await shop.add_agent("Dana")
    here, elsewhere = await open_console(), await open_console()
    await signed_in(here, dana_login)
    await signed_in(elsewhere, dana_login)

    dialog = await _change_own_password(here, PASSWORD, NEW_PASSWORD, again="a new and longer on")
    await expect(dialog.get_by_role("alert")).to_have_text("The two new passwords differ.")
    await expect(dialog.get_by_label("New password again")).to_be_focused()
    await dialog.get_by_role("button", name="Cancel").click()
    dialog = await _change_own_password(here, "not my password", NEW_PASSWORD)
    await expect(dialog.get_by_role("alert")).to_have_text("Your current password is wrong.")
    await expect(dialog.get_by_label("Current password")).to_be_focused()
    await screenshot(here, "35-password-wrong")
    await dialog.get_by_label("Current password").fill(PASSWORD)
    await dialog.get_by_role("button", name="Change password").click()
    await expect(dialog).to_be_hidden()
    await expect(alert(here)).to_have_text("Your password has been changed. Your other sessions have been signed out.")
    # This console carries on (its socket connected again with the new token); the other is out.
    await expect(here.get_by_role("status")).to_have_text("Connected · taking chats")
    await expect(login_form(elsewhere)).to_be_visible()
    await expect(elsewhere.locator("#login-message")).to_have_text(
        "You were signed out from another tab or window. Please sign in again.")
    shopper = await visitor(shop)
    await shopper.call("chat:start", prechat(1))
    await expect(here.get_by_role("tab", name="Shopper 1")).to_be_visible()
    await here.reload()  # the new token was kept
    await expect(here.get_by_role("status")).to_have_text("Connected · taking chats")
    await sign_in(elsewhere, dana_login["email"], PASSWORD)
    await expect(elsewhere.locator("#login-message")).to_have_text("The email or password is wrong.")
    await signed_in(elsewhere, {**dana_login, "password": NEW_PASSWORD})


async def test_admins_set_an_agents_password_and_the_first_admins_file_goes_with_their_own(
        shop: LiveServer, open_console: OpenConsole) -> None:
    dana_login = await shop.add_agent("Dana")
    dana = await open_console()
    await signed_in(dana, dana_login)
    admin = await _admin_console(shop, open_console)
    await admin.get_by_role("button", name="Agents").click()
    dialog = admin.get_by_role("dialog", name="Agents")
    await expect(dialog.get_by_role("button", name="Set a password for Admin")).to_have_count(0)
    await dialog.get_by_role("button", name="Set a password for Dana").click()
    form = dialog.get_by_role("form", name="New password for Dana")
    await form.get_by_label("New password (8 characters or more)").fill("short")
    await form.get_by_role("button", name="Set password").click()
    await expect(form.get_by_role("alert")).to_have_text("The password needs 8 characters or more.")
    await form.get_by_label("New password (8 characters or more)").fill(NEW_PASSWORD)
    await screenshot(admin, "36-agent-password")
    await form.get_by_role("button", name="Set password").click()
    await expect(form).to_be_hidden()
    await expect(dialog.locator("#agent-message")).to_have_text(
        "Dana has a new password and was signed out everywhere.")
    await expect(login_form(dana)).to_be_visible()
    await signed_in(dana, {**dana_login, "password": NEW_PASSWORD})
    await dialog.get_by_role("button", name="Close").click()

    credentials = shop.settings.data_dir / "first-admin.txt"
    first = dict(line.split(": ", 1) for line in credentials.read_text().strip().splitlines())
    dialog = await _change_own_password(admin, first["password"], NEW_PASSWORD)
    await expect(dialog).to_be_hidden()
    await expect(admin.get_by_role("status")).to_have_text("Connected · taking chats")
    assert not credentials.exists()
    assert (await shop.login(first["email"], NEW_PASSWORD))["agent"]["role"] == "admin"
