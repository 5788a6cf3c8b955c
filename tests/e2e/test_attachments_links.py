"""Files are shown through short-lived links (attachment_link_ttl at its shortest, 10 s, here), in
real Chromium: a file shown long enough ago for its link to have expired still opens, since every
click asks for a new link first, a middle click and a Ctrl-click too (in the console and in the
widget); a link of the server's is refused once expired. The server's clock skips the link's
life at once (the browser's stays: a click asks for a new link whatever the browser's clock says)."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Locator, Page, WebSocket, expect

from ..support import LiveServer, SkippingClock, make_settings
from .conftest import OpenPage, running
from .console import OpenConsole, open_console, timeline
from .files import as_file, png_bytes
from .test_attachments import _chat, _open_image, file_link

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with running(make_settings(tmp_path, attachment_link_ttl=10), clock=SkippingClock()) as live:
        yield live


def _past(shop: LiveServer, expires: int) -> None:
    """The server's clock a second past ``expires``."""
    assert isinstance(shop.clock, SkippingClock)
    shop.clock.skip(max(0.0, expires + 1 - shop.clock.now()))


async def test_an_expired_link_is_asked_for_again_at_the_click(shop: LiveServer, open_page: OpenPage,
                                                               open_console: OpenConsole) -> None:
    shopper, console, _ = await _chat(shop, open_page, open_console)
    asked: list[str] = []

    def watch(ws: WebSocket) -> None:
        ws.on("framesent", lambda frame: asked.append(str(frame)) if "attachment:link" in str(frame) else None)

    console.on("websocket", watch)
    await console.reload()  # its socket is watched from here on
    await expect(timeline(console)).to_be_visible()
    await shopper.locator("chatserver-widget input[type=file]").set_input_files(
        files=[as_file("photo.png", "image/png", png_bytes())])
    link = file_link(timeline(console), "photo.png")
    await expect(link.locator("img")).to_have_js_property("complete", True)
    shown = await link.evaluate("a => a.href")
    expires = int(urllib.parse.parse_qs(urllib.parse.urlsplit(shown).query)["exp"][0])
    # The link the console shows has expired: the server refuses it ...
    _past(shop, expires)
    stale = await console.request.get(shown)
    assert stale.status == 403
    # ... yet a click opens the image: the console asks for a new link first.
    before = len(asked)
    await _open_image(console, link)
    assert len(asked) > before
    assert re.search(r"exp=(\d+)", await link.evaluate("a => a.href"))[1] != str(expires)  # type: ignore[index]


def _expiry(href: str) -> int:
    return int(urllib.parse.parse_qs(urllib.parse.urlsplit(href).query)["exp"][0])


async def _opens_fresh(page: Page, link: Locator, expired: int, **click: Any) -> None:
    """A click of this kind on the thumbnail opens the image in a new tab, through a link newer
    than ``expired`` (the one shown had expired), with no way back to the chat's page."""
    async with page.context.expect_page() as opened:
        await link.click(**click)
    tab_ = await opened.value
    await tab_.wait_for_load_state()
    assert "/files/" in tab_.url and _expiry(tab_.url) > expired, tab_.url
    assert await tab_.evaluate("document.contentType") == "image/png"
    assert await tab_.evaluate("window.opener") is None
    await tab_.close()


async def test_a_middle_or_ctrl_click_never_opens_an_expired_link(shop: LiveServer, open_page: OpenPage,
                                                                   open_console: OpenConsole) -> None:
    shopper, console, _ = await _chat(shop, open_page, open_console)
    await shopper.locator("chatserver-widget input[type=file]").set_input_files(
        files=[as_file("photo.png", "image/png", png_bytes())])
    in_console = file_link(timeline(console), "photo.png")
    in_widget = file_link(shopper.locator("chatserver-widget"), "photo.png")
    for link in (in_console, in_widget):
        await expect(link.locator("img")).to_have_js_property("complete", True)
    expires = max([_expiry(await link.evaluate("a => a.href")) for link in (in_console, in_widget)])
    _past(shop, expires)
    assert (await console.request.get(await in_console.evaluate("a => a.href"))).status == 403  # as shown: expired
    await _opens_fresh(console, in_console, expires, button="middle")
    await _opens_fresh(console, in_console, expires, modifiers=["ControlOrMeta"])
    await _opens_fresh(shopper, in_widget, expires, button="middle")
    await _opens_fresh(shopper, in_widget, expires, modifiers=["ControlOrMeta"])
