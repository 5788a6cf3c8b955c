"""A file over the server's attachment_max_bytes, in real Chromium: both the widget and the
console know the limit from session:resume, so the file is refused before a byte of it is sent
(no request to the upload route at all), with the limit in MB, and the shopper keeps what they
typed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import expect

from ..support import LiveServer, make_settings
from .conftest import OpenPage, running
from .console import OpenConsole, open_console, timeline
from .files import as_file, pdf_bytes
from .test_attachments import DRAFT, _chat, widget_box
from .widget import panel
from .widget import screenshot as widget_screenshot

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")

LIMIT = 1024 * 1024


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with running(make_settings(tmp_path, attachment_max_bytes=LIMIT)) as live:
        yield live


async def test_a_file_over_the_limit_never_leaves_the_browser(
        shop: LiveServer, open_page: OpenPage, open_console: OpenConsole) -> None:
    shopper, console, _ = await _chat(shop, open_page, open_console)
    chat = panel(shopper)
    uploads: list[str] = []
    for page in (shopper, console):
        page.on("request", lambda request: uploads.append(request.url) if "/attachments" in request.url else None)
    await widget_box(shopper).fill(DRAFT)
    big = as_file("big.pdf", "application/pdf", pdf_bytes(LIMIT + LIMIT // 2))
    too_large = re.compile(r"^“big\.pdf” is too large \(1\.5 MB\): files can be up to 1 MB\.$")
    await chat.locator("input[type=file]").set_input_files(files=[big])
    await expect(chat.get_by_role("alert")).to_have_text(too_large)
    await widget_screenshot(shopper, "attachments-too-large")
    await expect(widget_box(shopper)).to_have_value(DRAFT)
    await expect(chat.locator("a.file-link")).to_have_count(0)

    await console.locator("#composer input[type=file]").set_input_files(files=[big])
    await expect(console.locator("#composer-hint")).to_have_text(too_large)
    await expect(timeline(console).locator("a.file-link")).to_have_count(0)
    assert uploads == []  # neither sent a byte: both knew the limit before the first file

    # Just under it goes (the limit is the server's, not a guess).
    fits = as_file("fits.pdf", "application/pdf", pdf_bytes(LIMIT - 1000))
    await chat.locator("input[type=file]").set_input_files(files=[fits])
    await expect(chat.locator("a.file-link")).to_have_count(1)
