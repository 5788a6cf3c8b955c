"""Co-browsing on a server with small limits, in real Chromium: a page larger than
``cobrowse_max_part_bytes`` reaches the agent in parts of at most that size (the server tells the
widget its limit), also when the widget was told a larger one and the server refused a part; a
session over ``cobrowse_max_buffer_bytes`` pauses with a reason both sides see, and the agent's
Resume brings the page back."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import WebSocketRoute, expect

from ..support import LiveServer, make_settings
from .conftest import OpenPage, running
from .console import OpenConsole, open_console
from .test_cobrowse import _cobrowse_chat, _share, consent, replay, sharing_bar

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")

PART = 8 * 1024
BUFFER = 64 * 1024


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with running(make_settings(tmp_path, cobrowse_max_part_bytes=PART, cobrowse_max_buffer_bytes=BUFFER)) as live:
        yield live


# About 30 KB of text the shop's page carries (a product's care instructions, say).
ADD_CARE_TEXT = """() => {
    const care = document.createElement('section');
    care.id = 'care';
    for (let n = 0; n < 300; n += 1) {
        const line = document.createElement('p');
        line.textContent = `Care instruction ${n}: wipe the waxed canvas with a damp cloth, never wash it.`;
        care.append(line);
    }
    document.querySelector('main').append(care);
}"""


def _kept_parts(shop: LiveServer) -> list[bytes]:
    """The parts of the snapshot (and what followed) the server keeps for late joiners."""
    [ingest] = shop.parts.transport.relay._ingest.values()
    return [data for _, data in ingest.buffer]


async def test_a_page_larger_than_a_part_reaches_the_agent_in_parts(shop: LiveServer, open_page: OpenPage,
                                                                    open_console: OpenConsole) -> None:
    shopper, console, _ = await _cobrowse_chat(shop, open_page, open_console)
    await shopper.evaluate(ADD_CARE_TEXT)
    await _share(shopper, console)
    await expect(replay(console).get_by_text("Care instruction 299:")).to_be_visible()
    parts = _kept_parts(shop)
    assert sum(map(len, parts)) > 4 * PART and all(len(part) <= PART for part in parts), [len(p) for p in parts]
    # Later batches too are split by the limit.
    await shopper.locator("#full-name").press_sequentially("Ann Shopper", delay=10)
    await expect(replay(console).locator("#full-name")).to_have_value("Ann Shopper")
    assert all(len(part) <= PART for part in _kept_parts(shop))


async def test_a_refused_part_is_not_lost_the_page_is_sent_again_in_parts(shop: LiveServer, open_page: OpenPage,
                                                                          open_console: OpenConsole,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    shopper, console, _ = await _cobrowse_chat(shop, open_page, open_console)

    # The shopper's connection, relayed through the test: on the way, the server's acks of
    # cobrowse:status and cobrowse:respond announce a limit 64 times larger than the one it applies
    # (its refusals still say the real one).
    rewritten: list[str] = []

    def rewrite(message: str | bytes) -> str | bytes:
        if isinstance(message, bytes) or '"error"' in message or f'"max_part_bytes":{PART}' not in message:
            return message
        rewritten.append(message)
        return message.replace(f'"max_part_bytes":{PART}', f'"max_part_bytes":{64 * PART}')

    async def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        ws.on_message(lambda message: server.send(message))
        server.on_message(lambda message: ws.send(rewrite(message)))

    await shopper.route_web_socket(re.compile(r"/socket\.io/"), route)
    await shopper.reload()  # the widget connects again, through the route, and goes on with the chat
    await expect(shopper.get_by_role("heading", name="Shipping")).to_be_visible()
    await shopper.evaluate(ADD_CARE_TEXT)
    caplog.set_level(logging.INFO, logger="chatserver")
    await _share(shopper, console)
    await expect(replay(console).get_by_text("Care instruction 299:")).to_be_visible()
    # The widget was told the larger limit; its first snapshot, in one part too large, was
    # refused; it sent it again in parts.
    assert any('"session"' in message for message in rewritten), rewritten
    assert [r for r in caplog.records if "event=cobrowse:events" in r.getMessage()
            and "code=payload_too_large" in r.getMessage()]
    assert all(len(part) <= PART for part in _kept_parts(shop))


async def test_over_the_buffer_limit_it_pauses_and_resume_brings_the_page_back(shop: LiveServer,
                                                                               open_page: OpenPage,
                                                                               open_console: OpenConsole) -> None:
    shopper, console, _ = await _cobrowse_chat(shop, open_page, open_console)
    await _share(shopper, console)
    await expect(console.get_by_role("button", name="Resume")).to_be_hidden()
    # The page grows by far more than the server keeps for late joiners: the session pauses.
    await shopper.evaluate("""() => {
        const big = document.createElement('section');
        big.id = 'big';
        big.textContent = 'Reviews '.repeat(40000);
        document.querySelector('main').append(big);
    }""")
    await expect(sharing_bar(shopper)).to_contain_text("Sharing is paused: this page is too large to share.")
    await expect(console.locator("#cobrowse-status")).to_have_text("Paused: the customer's page is too large to share.")
    await expect(console.get_by_role("button", name="Resume")).to_be_visible()
    # The chat goes on; what the shopper does while paused is not sent.
    await shopper.evaluate("document.querySelector('#big').remove()")
    await shopper.locator("#full-name").fill("Ann Paused")
    await expect(replay(console).locator("#full-name")).to_have_value("")

    # The agent resumes: the page is sent afresh, as it is now, without a new consent.
    await console.get_by_role("button", name="Resume").click()
    await expect(console.locator("#cobrowse-status")).to_have_text("Live")
    await expect(sharing_bar(shopper)).to_contain_text("Alice can see this page")
    await expect(consent(shopper)).to_be_hidden()
    await expect(replay(console).locator("#full-name")).to_have_value("Ann Paused")
    await expect(replay(console).locator("#big")).to_have_count(0)
    await expect(console.get_by_role("button", name="Resume")).to_be_hidden()
