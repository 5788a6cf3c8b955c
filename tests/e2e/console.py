"""Helpers for the agent console's browser tests: an agent's browser context, signing in, the
console's regions; screenshots go to test-artifacts/console-*.png."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from ..support import PASSWORD, LiveServer
from .widget import ARTIFACTS

OpenConsole = Callable[..., Awaitable[Page]]


@pytest_asyncio.fixture(loop_scope="session")
async def open_console(browser: Browser, shop: LiveServer) -> AsyncIterator[OpenConsole]:
    """Open /console/ in a fresh browser profile (one per agent); page errors fail the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    async def open_(path: str = "/console/", *, init_script: str | None = None, locale: str = "en-GB") -> Page:
        # The agent's browser speaks British English unless the test gives another language.
        context = await browser.new_context(base_url=shop.url, reduced_motion="reduce", locale=locale,
                                            viewport={"width": 1280, "height": 800})
        contexts.append(context)
        if init_script:
            await context.add_init_script(init_script)
        page = await context.new_page()
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
        await page.goto(path)
        return page

    try:
        yield open_
    finally:
        for context in contexts:
            await context.close()
    # Refused requests are what the bad-input tests provoke (a wrong password answers 401); a
    # script of a shopper's page refused in the co-browse view's sandbox is the sandbox at work.
    unexpected = [e for e in errors if "Failed to load resource" not in e and "WebSocket connection" not in e
                  and "because the document's frame is sandboxed" not in e]
    assert not unexpected, unexpected


def login_form(page: Page) -> Locator:
    return page.locator("#login-form")


async def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    form = login_form(page)
    await form.get_by_label("Email").fill(email)
    await form.get_by_label("Password").fill(password)
    await form.get_by_role("button", name="Sign in").click()


async def signed_in(page: Page, login: dict[str, Any]) -> None:
    await sign_in(page, login["email"], login.get("password", PASSWORD))
    await expect(page.get_by_role("status")).to_have_text("Connected · taking chats")


def queue_item(page: Page, name: str) -> Locator:
    return page.locator("#queue-list li").filter(has_text=name)


def tab(page: Page, name: str) -> Locator:
    return page.get_by_role("tab", name=name)


def timeline(page: Page) -> Locator:
    return page.get_by_role("log", name="Conversation")


def composer(page: Page) -> Locator:
    return page.get_by_role("textbox", name="Message")


def alert(page: Page) -> Locator:
    return page.locator("#alert")


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"))
