"""The console when the server refuses its connection for a while: with its Redis down the server
answers the agent's connect ``unavailable`` (docs/protocol.md, Connecting), which socket.io-client
does not retry by itself; the console tries again until the server takes it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import expect

from ..redis_server import RedisServer
from ..support import LiveServer, make_settings, wait_until
from ..test_cluster import cluster_redis
from .conftest import running
from .console import OpenConsole, open_console, sign_in

__all__ = ["cluster_redis", "open_console"]  # fixtures, used by name
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path, cluster_redis: RedisServer) -> AsyncIterator[LiveServer]:
    """The server on Redis (the console's ``open_console`` fixture serves from it)."""
    async with running(make_settings(tmp_path, redis_url=cluster_redis.url)) as live:
        yield live


async def test_the_console_connects_once_the_server_stops_refusing(
    shop: LiveServer, cluster_redis: RedisServer, open_console: OpenConsole, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="chatserver")
    login = await shop.add_agent("Alice")
    cluster_redis.stop()
    page = await open_console()
    await sign_in(page, login["email"])
    # Signed in (REST needs the database only), but every connect is refused.
    await wait_until(lambda: caplog.text.count("connection refused namespace=/agent code=unavailable") >= 2,
                     timeout=20, what="the console's connect refused, and tried again")
    await expect(page.get_by_role("status")).to_have_text("Offline · reconnecting…")
    cluster_redis.start()
    await expect(page.get_by_role("status")).to_have_text("Connected · taking chats", timeout=20_000)
