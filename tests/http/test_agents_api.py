"""Admins change agents (PATCH /api/agents/{id}) and read the server's settings (GET /api/settings):
a change is in force at once, for routing and for the agent's open sockets (on both backends)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import socketio

from chatserver.config import SECRET_SETTINGS, SECRET_SUFFIXES, settings_fields

from ..support import PASSWORD, Client, LiveServer, agent, make_settings, prechat, visitor, wait_until


@pytest.fixture
async def shop(tmp_path: Path, backend_settings: dict[str, str]) -> AsyncIterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path, departments=("sales", "billing"), **backend_settings))
    await live.start()
    try:
        yield live
    finally:
        await live.close()


def _error(body: Any) -> str:
    assert set(body) == {"error"} and body["error"]["message"], body
    return str(body["error"]["code"])


async def _patch(server: LiveServer, agent_id: str, body: Any, token: str | None = None) -> tuple[int, Any]:
    return await server.request("PATCH", f"/api/agents/{agent_id}", token=token or await server.admin_token(),
                                json=body)


async def _start(server: LiveServer, n: int, **fields: Any) -> tuple[Client, str]:
    shopper = await visitor(server)
    return shopper, (await shopper.call("chat:start", prechat(n, **fields)))["conversation"]["id"]


def _assigned(cid: str) -> Any:
    return lambda d: d["conversation"]["id"] == cid and d["conversation"]["status"] == "assigned"


@pytest.mark.both_backends
async def test_more_capacity_and_other_departments_take_waiting_chats_at_once(shop: LiveServer) -> None:
    login = await shop.add_agent("Alice", capacity=1)
    alice = await agent(shop, login)
    _, first = await _start(shop, 1)
    await alice.wait_for("conversation:updated", _assigned(first))
    _, second = await _start(shop, 2)
    await shop.chats.tasks.idle()
    assert (await alice.call("session:resume"))["queue"]["total"] == 1  # at capacity: it waits

    status, body = await _patch(shop, login["agent"]["id"], {"capacity": 2})
    assert status == 200 and body["agent"]["capacity"] == 2 and body["agent"]["status"] == "online"
    await alice.wait_for("conversation:updated", _assigned(second))
    # The socket's own copy changed too: queue:take counts against the new capacity.
    assert (await alice.call("session:resume"))["agent"]["capacity"] == 2

    status, body = await _patch(shop, login["agent"]["id"], {"capacity": 3, "departments": ["sales"]})
    assert status == 200 and body["agent"]["departments"] == ["sales"]
    _, billing = await _start(shop, 3, department="billing")
    await shop.chats.tasks.idle()
    assert not [u for u in alice.events["conversation:updated"] if u["conversation"]["id"] == billing]
    status, body = await _patch(shop, login["agent"]["id"], {"departments": ["sales", "billing", "sales"]})
    assert status == 200 and body["agent"]["departments"] == ["sales", "billing"]
    await alice.wait_for("conversation:updated", _assigned(billing))


@pytest.mark.both_backends
async def test_a_disabled_agent_is_signed_out_routes_nothing_and_gives_back_their_chats(shop: LiveServer) -> None:
    alice_login = await shop.add_agent("Alice")
    alice, alice_tab = await agent(shop, alice_login), await agent(shop, alice_login)
    shopper, cid = await _start(shop, 1)
    await alice.wait_for("conversation:updated", _assigned(cid))
    bob_login = await shop.add_agent("Bob")
    bob = await agent(shop, bob_login)

    status, body = await _patch(shop, alice_login["agent"]["id"], {"disabled": True})
    assert status == 200 and body["agent"]["disabled"] is True
    for tab in (alice, alice_tab):
        assert (await tab.wait_for("session:ended"))["reason"] == "disabled"
        await asyncio.wait_for(tab.closed.wait(), 5)
    # Alice's chat went back to the queue at once, and on to Bob.
    await bob.wait_for("conversation:updated", _assigned(cid))
    requeued = await shopper.wait_for("message:new", lambda m: m["body"] == "requeued")
    assert requeued["meta"] == {"reason": "agent_disabled"}
    _, another = await _start(shop, 2)
    await bob.wait_for("conversation:updated", _assigned(another))
    # Neither her token nor her password opens anything.
    assert (await shop.request("GET", "/api/me", token=alice_login["token"]))[0] == 401
    status, body = await shop.request("POST", "/api/auth/login", json={"email": alice_login["email"],
                                                                        "password": PASSWORD})
    assert status == 401 and _error(body) == "invalid_credentials"

    # Enabled again: she signs in anew; the tokens from before stay revoked.
    status, body = await _patch(shop, alice_login["agent"]["id"], {"disabled": False})
    assert status == 200 and body["agent"]["disabled"] is False and body["agent"]["status"] == "offline"
    assert (await shop.request("GET", "/api/me", token=alice_login["token"]))[0] == 401
    with pytest.raises(socketio.exceptions.ConnectionError):
        await agent(shop, alice_login)
    back = await agent(shop, await shop.login(alice_login["email"]))
    assert (await back.call("session:resume"))["status"] == "online"


async def test_bad_changes_are_refused_and_change_nothing(shop: LiveServer) -> None:
    admin = await shop.admin_token()
    login = await shop.add_agent("Alice")
    agent_id = login["agent"]["id"]
    _, before = await shop.request("GET", "/api/agents", token=admin)
    status, body = await _patch(shop, agent_id, {"capacity": 2}, token=login["token"])
    assert status == 403 and _error(body) == "forbidden"
    status, body = await shop.request("PATCH", f"/api/agents/{agent_id}", json={"capacity": 2})
    assert status == 401 and _error(body) == "auth_required"
    for bad in [{}, {"capacity": None}, {"capacity": 0}, {"capacity": 101}, {"capacity": "2"}, {"disabled": "yes"},
                {"departments": ["support"]}, {"departments": "sales"}, {"departments": [""]},
                {"departments": ["sales"] * 21}, {"capacity": 2, "role": "admin"}, {"name": "Eve"}, [1], "x"]:
        status, body = await _patch(shop, agent_id, bad)
        assert status == 400 and _error(body) == "invalid_payload", bad
    status, body = await shop.request("PATCH", f"/api/agents/{agent_id}", token=admin, data=b"{not json",
                                      headers={"Content-Type": "application/json"})
    assert status == 400 and _error(body) == "invalid_payload"
    for missing in ["nobody", "x" * 65]:
        status, body = await _patch(shop, missing, {"capacity": 2})
        assert status == 404 and _error(body) == "not_found"
    # An admin cannot lock themselves out.
    _, me = await shop.request("GET", "/api/me", token=admin)
    status, body = await _patch(shop, me["agent"]["id"], {"disabled": True})
    assert status == 409 and _error(body) == "conflict"
    _, after = await shop.request("GET", "/api/agents", token=admin)
    assert after == before
    assert (await shop.request("GET", "/api/me", token=admin))[0] == 200
    assert (await shop.request("GET", "/api/me", token=login["token"]))[0] == 200


async def test_admins_read_the_settings_but_never_the_secrets(tmp_path: Path) -> None:
    secrets = {"identity_secret": "shop-identity-secret-1", "smtp_password": "smtp-pass-2", "smtp_user": "mailer-3",
               "secret_key": "token-signing-key-4"}
    server = LiveServer(make_settings(tmp_path, departments=("sales",), smtp_host="mail.example", **secrets))
    await server.start()
    try:
        login = await server.add_agent()
        assert (await server.request("GET", "/api/settings", token=login["token"]))[0] == 403
        assert (await server.request("GET", "/api/settings"))[0] == 401
        status, body = await server.request("GET", "/api/settings", token=await server.admin_token())
        assert status == 200
        values = {s["name"]: s["value"] for s in body["settings"]}
        assert values["departments"] == ["sales"] and values["smtp_host"] == "mail.example"
        assert body["email_configured"] is True
        assert values["grace_period"] == 60.0 and values["data_dir"] == str(tmp_path / "data")
        assert {s["name"]: s["env"] for s in body["settings"]}["grace_period"] == "CHATSERVER_GRACE_PERIOD"
        configured = {s["name"]: s["configured"] for s in body["secrets"]}
        assert configured == {"secret_key": True, "identity_secret": True, "smtp_password": True, "smtp_user": True,
                              "redis_url": False, "database_url": False, "metrics_token": False}
        text = json.dumps(body)
        assert not [name for name, value in secrets.items() if value in text]
        assert set(values) | set(configured) == set(settings_fields())
    finally:
        await server.close()


def test_every_setting_named_like_a_secret_is_kept_secret() -> None:
    named = {name for name in settings_fields() if name.endswith(SECRET_SUFFIXES)}
    assert named <= SECRET_SETTINGS
    assert set(settings_fields()) >= SECRET_SETTINGS


async def test_a_change_reaches_the_agents_sockets_in_another_process(tmp_path: Path, redis_url: str) -> None:
    """Two processes on one Redis and one database: disabling an agent through one closes their
    socket held by the other, and the other routes nothing to them."""
    settings = make_settings(tmp_path, redis_url=redis_url)
    first, second = LiveServer(settings), LiveServer(settings)
    await first.start()
    await second.start()
    try:
        alice_login = await first.add_agent("Alice", capacity=1)
        bob_login = await first.add_agent("Bob")
        alice = await agent(second, alice_login)
        bob = await agent(first, bob_login)
        assert (await bob.call("presence:set", {"status": "away"}))["ok"]
        status, _ = await _patch(first, alice_login["agent"]["id"], {"capacity": 2})
        assert status == 200
        held = [c for c in second.parts.transport.hub.connections.values() if c.actor.id == alice_login["agent"]["id"]]
        assert held
        await wait_until(lambda: all(c.agent is not None and c.agent.capacity == 2 for c in held), 5,
                         "the other process to hear of the change")
        assert (await alice.call("session:resume"))["agent"]["capacity"] == 2
        status, _ = await _patch(first, alice_login["agent"]["id"], {"disabled": True})
        assert status == 200
        assert (await alice.wait_for("session:ended"))["reason"] == "disabled"
        await asyncio.wait_for(alice.closed.wait(), 5)
        _, cid = await _start(second, 1)
        assert (await bob.call("presence:set", {"status": "online"}))["ok"]
        await bob.wait_for("conversation:updated", _assigned(cid))
    finally:
        await second.close()
        await first.close()


NEW_PASSWORD = "a new and longer one"


async def _change_password(server: LiveServer, token: str, current: str, new: str) -> tuple[int, Any]:
    return await server.request("POST", "/api/me/password", token=token,
                                json={"current_password": current, "new_password": new})


@pytest.mark.both_backends
async def test_an_agent_changes_their_password_and_their_other_sessions_end(shop: LiveServer) -> None:
    alice_login = await shop.add_agent("Alice")
    other_device = await shop.login(alice_login["email"])
    tab, elsewhere = await agent(shop, alice_login), await agent(shop, other_device)
    bob_login = await shop.add_agent("Bob")
    bob = await agent(shop, bob_login)
    token = alice_login["token"]

    status, body = await _change_password(shop, token, "not it", NEW_PASSWORD)
    assert status == 401 and _error(body) == "invalid_credentials"
    assert body["error"]["details"] == {"fields": ["current_password"]}
    status, body = await _change_password(shop, token, PASSWORD, "short")
    assert status == 400 and _error(body) == "invalid_payload"
    assert (await shop.request("GET", "/api/me", token=token))[0] == 200  # nothing changed
    assert await shop.request("GET", "/api/me", token=other_device["token"]) == (200, {"agent": alice_login["agent"]})

    status, body = await _change_password(shop, token, PASSWORD, NEW_PASSWORD)
    assert status == 200 and body["agent"]["id"] == alice_login["agent"]["id"] and body["expires_at"] > 0
    # Every session of hers ends, this one's old token included; the new token carries on.
    for socket in (tab, elsewhere):
        assert (await socket.wait_for("session:ended"))["reason"] == "signed_out"
        await asyncio.wait_for(socket.closed.wait(), 5)
    for old in (token, other_device["token"]):
        assert (await shop.request("GET", "/api/me", token=old))[0] == 401
    assert (await shop.request("GET", "/api/me", token=body["token"]))[0] == 200
    again = await agent(shop, body)
    assert (await again.call("session:resume"))["status"] == "online"
    # The old password no longer signs in, the new one does; Bob is not touched.
    status, reply = await shop.request("POST", "/api/auth/login", json={"email": alice_login["email"],
                                                                         "password": PASSWORD})
    assert status == 401 and _error(reply) == "invalid_credentials"
    assert (await shop.login(alice_login["email"], NEW_PASSWORD))["agent"]["id"] == alice_login["agent"]["id"]
    assert not bob.closed.is_set() and (await shop.request("GET", "/api/me", token=bob_login["token"]))[0] == 200


async def test_guessing_the_current_password_with_a_token_meets_the_lockout(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path, login_lockout_failures=3))
    await server.start()
    try:
        login = await server.add_agent()
        codes = [_error((await _change_password(server, login["token"], f"guess {n}", NEW_PASSWORD))[1])
                 for n in range(4)]
        assert codes == ["invalid_credentials", "invalid_credentials", "account_locked", "account_locked"]
        status, body = await _change_password(server, login["token"], PASSWORD, NEW_PASSWORD)
        assert status == 429 and _error(body) == "account_locked"  # even with the right one
        status, body = await server.request("POST", "/api/auth/login", json={"email": login["email"],
                                                                             "password": PASSWORD})
        assert status == 429 and _error(body) == "account_locked"
    finally:
        await server.close()


@pytest.mark.both_backends
async def test_admins_reset_another_agents_password_and_end_their_sessions(shop: LiveServer) -> None:
    alice_login = await shop.add_agent("Alice")
    alice = await agent(shop, alice_login)
    bob_login = await shop.add_agent("Bob")
    admin = await shop.admin_token()
    path = f"/api/agents/{alice_login['agent']['id']}/password"
    before = await shop.request("GET", "/api/agents", token=admin)
    for token, body, expected in [
            (bob_login["token"], {"password": NEW_PASSWORD}, (403, "forbidden")),
            (None, {"password": NEW_PASSWORD}, (401, "auth_required")),
            (admin, {"password": "short"}, (400, "invalid_payload")),
            (admin, {"password": NEW_PASSWORD, "current_password": PASSWORD}, (400, "invalid_payload")),
            (admin, {}, (400, "invalid_payload"))]:
        status, reply = await shop.request("PUT", path, token=token, json=body)
        assert (status, _error(reply)) == expected, (body, reply)
    status, reply = await shop.request("PUT", "/api/agents/nobody/password", token=admin,
                                       json={"password": NEW_PASSWORD})
    assert status == 404 and _error(reply) == "not_found"
    _, me = await shop.request("GET", "/api/me", token=admin)
    status, reply = await shop.request("PUT", f"/api/agents/{me['agent']['id']}/password", token=admin,
                                       json={"password": NEW_PASSWORD})
    assert status == 409 and _error(reply) == "conflict" and "/api/me/password" in reply["error"]["message"]
    assert await shop.request("GET", "/api/agents", token=admin) == before
    assert not alice.closed.is_set()

    status, reply = await shop.request("PUT", path, token=admin, json={"password": NEW_PASSWORD})
    assert status == 200 and reply["agent"]["id"] == alice_login["agent"]["id"]
    assert (await alice.wait_for("session:ended"))["reason"] == "signed_out"
    await asyncio.wait_for(alice.closed.wait(), 5)
    assert (await shop.request("GET", "/api/me", token=alice_login["token"]))[0] == 401
    assert (await shop.login(alice_login["email"], NEW_PASSWORD))["agent"]["name"] == "Alice"
    assert (await shop.request("GET", "/api/me", token=admin))[0] == 200


async def test_the_first_admins_credentials_file_goes_once_that_admin_changes_the_password(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path))
    await server.start()
    try:
        credentials = server.settings.data_dir / "first-admin.txt"
        first = dict(line.split(": ", 1) for line in credentials.read_text().splitlines())
        admin = await server.admin_token()
        # Another admin's new password leaves the file alone.
        other = await server.add_agent("Second admin", role="admin")
        assert (await _change_password(server, other["token"], PASSWORD, NEW_PASSWORD))[0] == 200
        status, _ = await server.request("PUT", f"/api/agents/{other['agent']['id']}/password", token=admin,
                                         json={"password": PASSWORD})
        assert status == 200 and credentials.exists()
        status, _ = await _change_password(server, admin, first["password"], NEW_PASSWORD)
        assert status == 200 and not credentials.exists()
        assert (await server.login(first["email"], NEW_PASSWORD))["agent"]["role"] == "admin"
    finally:
        await server.close()


async def test_an_admin_reset_of_the_first_admin_removes_the_file_too(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path))
    await server.start()
    try:
        credentials = server.settings.data_dir / "first-admin.txt"
        _, me = await server.request("GET", "/api/me", token=await server.admin_token())
        other = await server.add_agent("Second admin", role="admin")
        status, _ = await server.request("PUT", f"/api/agents/{me['agent']['id']}/password", token=other["token"],
                                         json={"password": NEW_PASSWORD})
        assert status == 200 and not credentials.exists()
    finally:
        await server.close()
