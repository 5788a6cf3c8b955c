"""The sign-in form keeps the agent's place: the console's start (its language file, then the
form shown) never takes the focus from a field the agent is already typing in, which sent the
rest of a password into Email, in clear."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Route, expect

from ..support import LiveServer
from .console import OpenConsole, open_console

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_typing_in_the_password_field_before_the_console_has_started_stays_there(
        shop: LiveServer, open_console: OpenConsole) -> None:
    page = await open_console("about:blank")
    held: list[Route] = []
    asked, released = asyncio.Event(), asyncio.Event()

    async def hold(route: Route) -> None:
        if released.is_set():
            await route.continue_()
            return
        held.append(route)
        asked.set()

    def language_file(url: str) -> bool:
        return "/locales/console" in url

    await page.route(language_file, hold)
    await page.goto("/console/", wait_until="domcontentloaded")
    await asyncio.wait_for(asked.wait(), 10)
    form = page.locator("#login-form")
    await form.get_by_label("Email").fill("agent@example.com")
    password = form.get_by_label("Password")
    await password.click()
    await page.keyboard.type("secret-")
    released.set()
    for route in held:
        await route.continue_()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.keyboard.type("word")
    await expect(form.get_by_label("Email")).to_have_value("agent@example.com")
    await expect(password).to_have_value("secret-word")
    await expect(password).to_be_focused()
