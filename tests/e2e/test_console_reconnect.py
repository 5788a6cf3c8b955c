"""The console when the server refuses its connection for a while: with its Redis down the server
answers the agent's connect ``unavailable`` (docs/protocol.md, Connecting), which socket.io-client
does not retry by itself; the console tries again until the server takes it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import expect

from ..redis_server import RedisServer
from ..support import LiveServer, make_settings, wait_until
from .conftest import _close_or_show_what_hangs
from .console import OpenConsole, open_console, sign_in

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[LiveServer]:
    """The server on Redis (the console's ``open_console`` fixture serves from it)."""
    live = LiveServer(make_settings(tmp_path, redis_url=redis_server.url))
    await live.start()
    try:
        yield live
    finally:
        await _close_or_show_what_hangs(live)


async def test_the_console_connects_once_the_server_stops_refusing(
    shop: LiveServer, redis_server: RedisServer, open_console: OpenConsole, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="chatserver")
    login = await shop.add_agent("Alice")
    redis_server.stop()
    page = await open_console()
    await sign_in(page, login["email"])
    # Signed in (REST needs the database only), but every connect is refused.
    await wait_until(lambda: caplog.text.count("connection refused namespace=/agent code=unavailable") >= 2,
                     timeout=20, what="the console's connect refused, and tried again")
    await expect(page.get_by_role("status")).to_have_text("Offline · reconnecting…")
    redis_server.start()
    await expect(page.get_by_role("status")).to_have_text("Connected · taking chats", timeout=20_000)
