"""Co-browsing and files, in real Chromium: a file input on the shopper's page is never captured
(neither the chosen file's name nor that one was chosen reaches the agent, in the snapshot, in a
later change or in a field added while sharing), and a file the shopper sends through the
widget's own attach button while sharing never shows in the agent's live view. Checked on what
the agent's console shows and on everything the server relayed. Screenshots under
test-artifacts/."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from ..support import LiveServer, agent
from .conftest import OpenPage
from .console import OpenConsole, open_console, screenshot, timeline
from .files import as_file, pdf_bytes, png_bytes
from .test_cobrowse import _cobrowse_chat, _conversation_id, _share, relayed_text, replay
from .widget import panel

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")

# What must never reach the agent: the names of the files the shopper picks.
SECRETS = ("SECRET-receipt-scan", "SECRET-late-photo", "SECRET-second-scan", "fakepath")


async def replay_html(console: Page) -> str:
    """The page as rebuilt in the agent's live view."""
    return await console.locator("#cobrowse-stage iframe").evaluate(  # type: ignore[no-any-return]
        "frame => frame.contentDocument.documentElement.outerHTML")


async def test_a_file_input_on_the_page_is_never_captured(shop: LiveServer, open_page: OpenPage,
                                                          open_console: OpenConsole) -> None:
    shopper, console, alice_login = await _cobrowse_chat(shop, open_page, open_console)
    # The shop's page asks for a photo of a damaged parcel; the shopper picks one before sharing.
    await shopper.evaluate("""() => {
        const label = document.createElement('label');
        label.htmlFor = 'receipt';
        label.textContent = 'Photo of the damage';
        const input = document.createElement('input');
        input.type = 'file';
        input.id = 'receipt';
        document.querySelector('form').prepend(label, input);
    }""")
    await shopper.locator("#receipt").set_input_files(files=[
        as_file("SECRET-receipt-scan.pdf", "application/pdf", pdf_bytes())])
    await _share(shopper, console)
    tap = await agent(shop, alice_login)
    session_id = (await tap.call("cobrowse:request", {"conversation_id": await _conversation_id(shop)}))[
        "session"]["id"]
    assert (await tap.call("cobrowse:join", {"session_id": session_id}))["ok"]

    # While sharing: another file in the same field, and a file field the page adds.
    await shopper.evaluate("""() => {
        const input = document.createElement('input');
        input.type = 'FILE';
        input.id = 'late';
        document.querySelector('form').append(input);
    }""")
    await shopper.locator("#late").set_input_files(files=[
        as_file("SECRET-late-photo.png", "image/png", png_bytes())])
    await shopper.locator("#receipt").set_input_files(files=[
        as_file("SECRET-second-scan.pdf", "application/pdf", pdf_bytes())])
    # Events reach the agent in order: once this typing shows, the file changes before it have gone.
    await shopper.locator("#full-name").fill("Ann Shopper")
    await expect(replay(console).locator("#full-name")).to_have_value("Ann Shopper")
    await tap.wait_for("cobrowse:events", lambda _: "Ann Shopper" in relayed_text(tap)[1], timeout=10)

    # The agent's view: the fields are empty boxes (no file input at all), the label is there.
    view = replay(console)
    await expect(view.get_by_text("Photo of the damage")).to_be_visible()
    await expect(view.locator("input[type=file], input[type=FILE]")).to_have_count(0)
    await expect(view.locator("#receipt")).to_have_count(0)  # blocked: not even its id
    html = await replay_html(console)
    await screenshot(console, "cobrowse-file-input")
    # Everything relayed: neither a name, nor the browser's fake path, nor a masked value.
    raw, text = relayed_text(tap)
    assert "Photo of the damage" in text and "Ann Shopper" in text
    for secret in SECRETS:
        assert secret not in html, secret
        assert secret not in text and secret.encode() not in raw, secret
    # Not even masked: asterisks as long as a chosen file's path would give its name's length away.
    for name in ("SECRET-receipt-scan.pdf", "SECRET-late-photo.png", "SECRET-second-scan.pdf"):
        masked = "*" * len(f"C:\\fakepath\\{name}")
        assert masked not in text, name


async def test_a_file_sent_through_the_widget_never_shows_in_the_live_view(
        shop: LiveServer, open_page: OpenPage, open_console: OpenConsole) -> None:
    shopper, console, alice_login = await _cobrowse_chat(shop, open_page, open_console)
    await _share(shopper, console)
    tap = await agent(shop, alice_login)
    session_id = (await tap.call("cobrowse:request", {"conversation_id": await _conversation_id(shop)}))[
        "session"]["id"]
    assert (await tap.call("cobrowse:join", {"session_id": session_id}))["ok"]

    chat = panel(shopper)
    async with shopper.expect_file_chooser() as chosen:
        await chat.get_by_role("button", name="Attach a file").click()
    await (await chosen.value).set_files(files=[as_file("SECRET-widget-photo.png", "image/png", png_bytes())])
    # The chat carries it (the agent sees it in the timeline, where it belongs) ...
    await expect(timeline(console).get_by_role("link", name=re.compile(r"^SECRET-widget-photo\.png"))).to_be_visible()
    await shopper.locator("#full-name").fill("Ann Shopper")
    await expect(replay(console).locator("#full-name")).to_have_value("Ann Shopper")
    await tap.wait_for("cobrowse:events", lambda _: "Ann Shopper" in relayed_text(tap)[1], timeout=10)
    # ... the page's live view never does: the widget, its attach input included, is not captured.
    html = await replay_html(console)
    raw, text = relayed_text(tap)
    for secret in ("SECRET-widget-photo", "fakepath"):
        assert secret not in html, secret
        assert secret not in text and secret.encode() not in raw, secret
    await screenshot(console, "cobrowse-widget-file")
