"""Agent sessions end on the server, not only at the next connect: a logout or a token's expiry
closes every open socket of the agent (other tabs, other devices, other processes), each told why
with ``session:ended``. Real clients, both backends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import socketio

from chatserver.domain.clock import ManualClock

from ..support import Client, LiveServer, agent, make_settings, prechat, visitor

pytestmark = pytest.mark.both_backends  # routing, presence or delivery: tests/conftest.py


async def _ended(client: Client) -> str:
    """The reason the server gave, once it has also closed the connection."""
    ended = await client.wait_for("session:ended")
    await asyncio.wait_for(client.closed.wait(), 5)
    assert not client.sio.connected
    return str(ended["reason"])


async def test_logout_ends_every_open_socket_of_the_agent(server: LiveServer) -> None:
    login = await server.add_agent("Alice")
    bob_login = await server.add_agent("Bob")
    tab_a, tab_b = await agent(server, login), await agent(server, login)
    bob = await agent(server, bob_login)
    assert (await bob.call("presence:set", {"status": "away"}))["ok"]
    status, _ = await server.request("POST", "/api/auth/logout", token=login["token"])
    assert status == 204
    assert [await _ended(tab_a), await _ended(tab_b)] == ["signed_out", "signed_out"]
    assert await server.parts.backend.presence.status(login["agent"]["id"]) == "offline"
    # Nothing is routed to the signed-out agent; a colleague's session carries on.
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat(1)))["conversation"]["id"]
    await server.chats.tasks.idle()
    assert (await bob.call("session:resume"))["queue"]["entries"][0]["id"] == cid
    assert bob.sio.connected and "session:ended" not in bob.events
    # The old token opens nothing again.
    with pytest.raises(socketio.exceptions.ConnectionError):
        await agent(server, login)


async def test_a_session_signed_in_again_after_a_logout_carries_on(server: LiveServer) -> None:
    login = await server.add_agent("Alice")
    old = await agent(server, login)
    await server.request("POST", "/api/auth/logout", token=login["token"])
    assert await _ended(old) == "signed_out"
    again = await server.login(login["email"])
    fresh = await agent(server, again)
    assert (await fresh.call("session:resume"))["status"] == "online"
    # Another agent's logout changes nothing for it.
    other = await server.add_agent("Bob")
    await server.request("POST", "/api/auth/logout", token=other["token"])
    await server.chats.tasks.idle()
    assert fresh.sio.connected and (await fresh.call("session:resume"))["ok"]


@pytest.fixture
async def manual_server(tmp_path: Path,
                        backend_settings: dict[str, str]) -> AsyncIterator[tuple[LiveServer, ManualClock]]:
    clock = ManualClock()
    live = LiveServer(make_settings(tmp_path, agent_token_ttl=3600.0, **backend_settings), clock=clock)
    await live.start()
    try:
        yield live, clock
    finally:
        await live.close()


async def test_a_socket_is_closed_when_its_token_expires(manual_server: tuple[LiveServer, ManualClock]) -> None:
    server, clock = manual_server
    login = await server.add_agent("Alice")
    console = await agent(server, login)
    clock.advance(1800)
    later = await agent(server, await server.login(login["email"]))  # a token issued half an hour on
    clock.advance(1799)
    await server.chats.tasks.idle()
    assert console.sio.connected and "session:ended" not in console.events
    clock.advance(1)
    assert await _ended(console) == "expired"
    # The later token has half an hour left: its socket carries on.
    assert later.sio.connected and (await later.call("session:resume"))["ok"]
    clock.advance(1800)
    assert await _ended(later) == "expired"


async def test_logout_reaches_a_socket_held_by_another_process(tmp_path: Path, redis_url: str) -> None:
    """Two server processes on one Redis and one database: the logout answered by one closes the
    agent's socket held by the other."""
    settings = make_settings(tmp_path, redis_url=redis_url)
    first, second = LiveServer(settings), LiveServer(settings)
    await first.start()
    await second.start()
    try:
        login = await first.add_agent("Alice")
        elsewhere = await agent(second, login)
        here = await agent(first, login)
        status, _ = await first.request("POST", "/api/auth/logout", token=login["token"])
        assert status == 204
        assert [await _ended(here), await _ended(elsewhere)] == ["signed_out", "signed_out"]
    finally:
        await second.close()
        await first.close()
