"""``session:resume`` tells both sides this server's limits (docs/protocol.md), so that the widget
and the console refuse a message or a file too large before sending it: the settings themselves,
not defaults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ..support import LiveServer, agent, make_settings, visitor


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path, max_message_chars=1234, attachment_max_bytes=567_890))
    await live.start()
    try:
        yield live
    finally:
        await live.close()


async def test_both_namespaces_resume_with_the_servers_limits(server: LiveServer) -> None:
    limits = {"max_message_chars": 1234, "attachment_max_bytes": 567_890}
    shopper = await visitor(server)
    assert (await shopper.call("session:resume", {}))["limits"] == limits
    console = await agent(server, await server.add_agent("Alice"))
    assert (await console.call("session:resume", {}))["limits"] == limits
