"""Browser tests of the visitor widget: real headless Chromium (Playwright, the system's
/usr/bin/chromium) against the real server on a loopback port.

One browser for these tests (closed when they are done; it runs in the session's event loop,
which the tests share); each test gets its own server and browser context, so nothing carries over.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright, expect

from chatserver.config import Settings
from chatserver.domain.clock import Clock

from ..redis_server import free_port
from ..support import LiveServer, make_settings
from .widget import CHROMIUM, CHROMIUM_ARGS

expect.set_options(timeout=10_000)


@pytest_asyncio.fixture(loop_scope="session", scope="package")
async def browser(widget_built: None) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """The chat server, serving the demo shop and the widget."""
    async with running(make_settings(tmp_path)) as live:
        yield live


@contextlib.asynccontextmanager
async def running(settings: Settings, clock: Clock | None = None) -> AsyncIterator[LiveServer]:
    """A chat server with ``settings`` (a module's own ``shop``; ``clock``: its clock, the system's
    if None), stopped however the test ends."""
    live = LiveServer(settings, clock=clock)
    await live.start()
    try:
        yield live
    finally:
        await _close_or_show_what_hangs(live)


async def _close_or_show_what_hangs(live: LiveServer, limit: float = 30.0) -> None:
    """Stop the server; if that hangs, fail with the stack of every task still running."""
    closing = asyncio.ensure_future(live.close())
    done, _ = await asyncio.wait({closing}, timeout=limit)
    if not done:
        stacks = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(file=stacks)
        pytest.fail(f"the server did not stop within {limit} s; tasks still running:\n{stacks.getvalue()}")
    closing.result()


@pytest.fixture
def shop_port() -> int:
    """A port for a shop's own site on another origin than the chat server's, found free when the
    test starts (not when its module is imported, minutes before in a parallel run, when another
    server may take it meanwhile)."""
    return free_port()


OpenPage = Callable[..., Awaitable[Page]]


@pytest.fixture
def allowed_page_errors() -> list[str]:
    """Texts of shop-page console errors a test provokes on purpose (say, the demo's CSP refusing
    an injected handler); any other page error fails the test."""
    return []


@pytest_asyncio.fixture(loop_scope="session")
async def open_page(browser: Browser, shop: LiveServer, allowed_page_errors: list[str]) -> AsyncIterator[OpenPage]:
    """Open a page of the demo shop in a fresh browser profile; page errors fail the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    async def open_(path: str = "/demo/", *, viewport: dict[str, int] | None = None, locale: str = "en-GB",
                    html: Callable[[str], str] | None = None) -> Page:
        # Reduced motion: the panel's opening animation would move what the test measures. The
        # browser's language is British English unless the test gives another (the widget follows it).
        context = await browser.new_context(base_url=shop.url, reduced_motion="reduce", locale=locale,
                                            viewport=viewport or {"width": 1280, "height": 800})  # type: ignore[arg-type]
        if html is not None:
            # The shop's page as ``html`` rewrites it (say, a data- attribute on the script tag).
            async def rewrite(route: Route) -> None:
                response = await route.fetch()
                await route.fulfill(response=response, body=html(await response.text()))

            await context.route(re.compile(r"/demo/[a-z]*(\.html)?$"), rewrite)
        contexts.append(context)
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
    # Expected failures (a refused connection while the server is down) are filtered by the test.
    unexpected = [e for e in errors if "ERR_CONNECTION_REFUSED" not in e and "WebSocket connection" not in e
                  and not any(allowed in e for allowed in allowed_page_errors)]
    assert not unexpected, unexpected

