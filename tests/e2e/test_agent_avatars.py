"""Agents' avatars in real Chromium: an agent sets a picture in the console (a phone photo with
GPS in its EXIF); the shopper's widget shows it beside the agent's messages at once, the
initials before it and after it is removed. A file that is not a picture (an SVG) is refused
in the console and changes nothing. Screenshots: widget-avatar.png, console-avatar.png."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import expect

from ..domain.test_file_checks import GPS_IFD, jpeg_with_gps
from ..support import LiveServer
from .conftest import OpenPage
from .console import OpenConsole, composer, open_console, screenshot, signed_in, tab
from .test_widget_chat import _start_chat
from .widget import launcher, panel
from .widget import screenshot as widget_screenshot

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>'


async def test_an_agents_picture_shows_beside_their_messages_in_the_widget(
        shop: LiveServer, open_page: OpenPage, open_console: OpenConsole, tmp_path: Path) -> None:
    alice = await open_console()
    await signed_in(alice, await shop.add_agent("Alice Martin"))
    badge = alice.get_by_role("button", name="Your picture").locator(".avatar")
    await expect(badge).to_have_text("AM")

    shopper = await open_page("/demo/")
    await launcher(shopper).click()
    await _start_chat(shopper, "Ann", "Hello, is anyone there?")
    await expect(tab(alice, "Ann")).to_have_attribute("aria-selected", "true")
    await composer(alice).fill("Hi Ann, Alice here.")
    await composer(alice).press("Enter")
    chat = panel(shopper)
    said = chat.locator("ol.messages > li.agent").filter(has_text="Hi Ann, Alice here.")
    await expect(said.locator(".avatar")).to_have_text("AM")  # initials until there is a picture

    # Alice chooses a photo: saved, and the shopper's widget shows it beside her message at once.
    photo = tmp_path / "alice.jpg"
    photo.write_bytes(jpeg_with_gps((600, 400)))
    await alice.get_by_role("button", name="Your picture").click()
    dialog = alice.get_by_role("dialog", name="Your picture")
    await dialog.get_by_label("Choose a picture").set_input_files(photo)
    await expect(dialog.get_by_role("alert")).to_have_text("Saved. Shoppers see it in your chats.")
    src = await badge.locator("img").get_attribute("src")
    assert src and re.fullmatch(rf"{re.escape(shop.url)}/avatars/[0-9a-f]+", src), src
    await screenshot(alice, "avatar")
    picture = said.locator(".avatar img")
    await expect(picture).to_have_attribute("src", src)
    await picture.evaluate("img => img.decode()")
    assert await picture.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [128, 128]
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_be_hidden()
    await composer(alice).fill("Let me check your order.")
    await composer(alice).press("Enter")
    later = chat.locator("ol.messages > li.agent").filter(has_text="Let me check your order.")
    await expect(later.locator(".avatar img")).to_have_attribute("src", src)
    await widget_screenshot(shopper, "avatar")

    # What the shopper's browser loaded is the server's picture: square, small, no EXIF or GPS.
    assert shop.http is not None
    async with shop.http.get(src) as resp:
        served = await resp.read()
    with Image.open(io.BytesIO(served)) as image:
        assert image.size == (128, 128) and not image.getexif().get_ifd(GPS_IFD)

    # An SVG is refused in the console; nothing changes.
    drawing = tmp_path / "drawing.svg"
    drawing.write_bytes(SVG)
    await alice.get_by_role("button", name="Your picture").click()
    await expect(dialog.get_by_role("heading", name="Your picture")).to_be_visible()
    await dialog.get_by_label("Choose a picture").set_input_files(drawing)
    await expect(dialog.get_by_role("alert")).to_have_text(
        "This file is not a picture the server accepts: use a PNG, JPEG, GIF or WebP image.")
    await expect(badge.locator("img")).to_have_attribute("src", src)
    await expect(picture).to_have_attribute("src", src)

    # Removed: initials again, on both sides.
    await dialog.get_by_role("button", name="Remove picture").click()
    await expect(dialog.get_by_role("alert")).to_have_text("Removed. Shoppers see your initials.")
    await expect(badge).to_have_text("AM")
    await expect(said.locator(".avatar")).to_have_text("AM")
    await expect(said.locator(".avatar img")).to_have_count(0)
