"""The console's REST routes (canned responses, transfer targets) and the login lockout; what
reaches other consoles, and agents' presence, on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chatserver.domain.clock import ManualClock

from ..support import PASSWORD, LiveServer, agent, make_settings, prechat, visitor


def _error(body: Any) -> str:
    assert set(body) == {"error"} and body["error"]["message"], body
    return str(body["error"]["code"])


async def test_admins_manage_canned_responses_and_agents_read_them(server: LiveServer) -> None:
    admin = await server.admin_token()
    login = await server.add_agent()
    status, created = await server.request("POST", "/api/canned-responses", token=admin,
                                           json={"shortcut": "/Refund", "body": "Your refund is on its way."})
    assert status == 201, created
    refund = created["canned_response"]
    assert (refund["shortcut"], refund["body"]) == ("refund", "Your refund is on its way.")
    await server.request("POST", "/api/canned-responses", token=admin, json={"shortcut": "hello", "body": "Hi!"})

    status, listing = await server.request("GET", "/api/canned-responses", token=login["token"])
    assert status == 200 and [c["shortcut"] for c in listing["canned_responses"]] == ["hello", "refund"]

    status, updated = await server.request("PUT", f"/api/canned-responses/{refund['id']}", token=admin,
                                           json={"shortcut": "refund", "body": "Refunds take 3 days."})
    assert status == 200 and updated["canned_response"]["body"] == "Refunds take 3 days."
    assert updated["canned_response"]["created_at"] == refund["created_at"]
    status, _ = await server.request("DELETE", f"/api/canned-responses/{refund['id']}", token=admin)
    assert status == 204
    _, listing = await server.request("GET", "/api/canned-responses", token=login["token"])
    assert [c["shortcut"] for c in listing["canned_responses"]] == ["hello"]


@pytest.mark.both_backends
async def test_every_console_hears_when_the_canned_responses_change(server: LiveServer) -> None:
    admin = await server.admin_token()
    alice, bob = await agent(server, await server.add_agent("Alice")), await agent(server, await server.add_agent())
    status, created = await server.request("POST", "/api/canned-responses", token=admin,
                                           json={"shortcut": "hello", "body": "Hi!"})
    assert status == 201
    canned_id = created["canned_response"]["id"]
    assert (await server.request("PUT", f"/api/canned-responses/{canned_id}", token=admin,
                                 json={"shortcut": "hello", "body": "Hello!"}))[0] == 200
    assert (await server.request("DELETE", f"/api/canned-responses/{canned_id}", token=admin))[0] == 204
    # A refused change tells nobody: after it and one more accepted change, each console heard four.
    status, _ = await server.request("POST", "/api/canned-responses", token=admin,
                                     json={"shortcut": "a b", "body": "x"})
    assert status == 400
    assert (await server.request("POST", "/api/canned-responses", token=admin,
                                 json={"shortcut": "bye", "body": "Bye!"}))[0] == 201
    for console in (alice, bob):
        # The event went out before the answer; an ack on the same socket comes after it.
        assert (await console.call("session:resume"))["ok"]
        assert console.events["canned:updated"] == [{}, {}, {}, {}]


async def test_canned_responses_refuse_bad_input_and_non_admins(server: LiveServer) -> None:
    admin = await server.admin_token()
    login = await server.add_agent()
    good = {"shortcut": "refund", "body": "Text"}
    for method, path in [("POST", "/api/canned-responses"), ("PUT", "/api/canned-responses/x"),
                         ("DELETE", "/api/canned-responses/x")]:
        status, body = await server.request(method, path, token=login["token"], json=good)
        assert status == 403 and _error(body) == "forbidden"
        status, body = await server.request(method, path, json=good)
        assert status == 401 and _error(body) == "auth_required"
    assert (await server.request("POST", "/api/canned-responses", token=admin, json=good))[0] == 201
    status, body = await server.request("POST", "/api/canned-responses", token=admin, json=good)
    assert status == 409 and _error(body) == "conflict"
    for bad in [{"shortcut": "two words", "body": "x"}, {"shortcut": "/", "body": "x"}, {"shortcut": "ok", "body": " "},
                {"shortcut": "ok", "body": "x" * 4001}, {"shortcut": "ok"}, {**good, "shortcut": "a", "extra": 1}]:
        status, body = await server.request("POST", "/api/canned-responses", token=admin, json=bad)
        assert status == 400 and _error(body) == "invalid_payload", bad
    for method in ("PUT", "DELETE"):
        status, body = await server.request(method, "/api/canned-responses/missing", token=admin, json=good)
        assert status == 404 and _error(body) == "not_found"
    _, listing = await server.request("GET", "/api/canned-responses", token=admin)
    assert [c["shortcut"] for c in listing["canned_responses"]] == ["refund"]


@pytest.mark.both_backends
async def test_transfer_targets_list_the_other_agents_and_departments(tmp_path: Path,
                                                                      backend_settings: dict[str, str]) -> None:
    server = LiveServer(make_settings(tmp_path, departments=("sales", "billing"), **backend_settings))
    await server.start()
    try:
        alice = await server.add_agent("Alice")
        bob = await server.add_agent("Bob")
        await agent(server, bob)
        status, body = await server.request("GET", "/api/transfer-targets", token=alice["token"])
        assert status == 200 and body["departments"] == ["sales", "billing"]
        by_name = {a["name"]: a for a in body["agents"]}
        assert "Alice" not in by_name and by_name["Bob"]["status"] == "online"
        assert by_name["Admin"]["status"] == "offline"
        assert (await server.request("GET", "/api/transfer-targets"))[0] == 401
    finally:
        await server.close()


@pytest.fixture
async def clocked(tmp_path: Path, backend_settings: dict[str, str]) -> AsyncIterator[tuple[LiveServer, ManualClock]]:
    clock = ManualClock()
    server = LiveServer(make_settings(tmp_path, login_lockout_failures=3, login_lockout_seconds=300,
                                      **backend_settings), clock=clock)
    await server.start()
    try:
        yield server, clock
    finally:
        await server.close()


async def _login(server: LiveServer, email: str, password: str) -> tuple[int, Any]:
    return await server.request("POST", "/api/auth/login", json={"email": email, "password": password})


async def test_repeated_wrong_passwords_lock_the_account_for_a_while(
        clocked: tuple[LiveServer, ManualClock]) -> None:
    server, clock = clocked
    login = await server.add_agent()
    email = login["email"]
    for _ in range(2):
        status, body = await _login(server, email, "wrong password")
        assert status == 401 and _error(body) == "invalid_credentials"
    status, body = await _login(server, email.upper(), "wrong password")  # the same account
    assert status == 429 and _error(body) == "account_locked"
    assert body["error"]["details"]["retry_after"] == 300 and "5 minutes" in body["error"]["message"]
    # Locked: even the right password is refused, and the other accounts are not affected.
    clock.advance(299)
    status, body = await _login(server, email, PASSWORD)
    assert status == 429 and _error(body) == "account_locked" and body["error"]["details"]["retry_after"] == 1
    assert server.http is not None  # the header says it too
    async with server.http.post(f"{server.url}/api/auth/login", json={"email": email, "password": PASSWORD}) as resp:
        assert (resp.status, resp.headers["Retry-After"]) == (429, "1")
    await server.admin_token()
    # Once the lock is over the right password works, and clears the count.
    clock.advance(1)
    assert (await _login(server, email, PASSWORD))[0] == 200
    for _ in range(2):
        assert (await _login(server, email, "wrong password"))[0] == 401
    assert (await _login(server, email, PASSWORD))[0] == 200
    assert (await _login(server, email, "wrong password"))[0] == 401


async def test_unknown_emails_lock_the_same_way_and_failures_far_apart_do_not_add_up(
        clocked: tuple[LiveServer, ManualClock]) -> None:
    server, clock = clocked
    codes = [_error((await _login(server, "nobody@example.com", "guess"))[1]) for _ in range(4)]
    assert codes == ["invalid_credentials", "invalid_credentials", "account_locked", "account_locked"]
    login = await server.add_agent()
    for _ in range(5):
        assert _error((await _login(server, login["email"], "slip of the finger"))[1]) == "invalid_credentials"
        clock.advance(301)


async def _login_from(server: LiveServer, address: str, email: str, password: str) -> tuple[int, str]:
    status, body = await server.request("POST", "/api/auth/login", json={"email": email, "password": password},
                                        headers={"X-Forwarded-For": address})
    return status, "ok" if status == 200 else _error(body)


ATTACKER, AGENT_HOME = "198.51.100.66", "203.0.113.7"


@pytest.fixture
async def behind_proxy(tmp_path: Path,
                       backend_settings: dict[str, str]) -> AsyncIterator[tuple[LiveServer, ManualClock]]:
    """Sign-ins arriving through a trusted proxy (their address in X-Forwarded-For): 3 failures
    lock an address for 300 s, 6 from anywhere lock the account for 60 s."""
    clock = ManualClock()
    server = LiveServer(make_settings(tmp_path, trusted_proxies=("127.0.0.1",), login_lockout_failures=3,
                                      login_lockout_seconds=300, login_lockout_global_failures=6,
                                      login_lockout_global_seconds=60, **backend_settings), clock=clock)
    await server.start()
    try:
        yield server, clock
    finally:
        await server.close()


async def test_wrong_passwords_from_one_address_do_not_lock_the_agent_out_from_theirs(
        behind_proxy: tuple[LiveServer, ManualClock]) -> None:
    server, clock = behind_proxy
    email = (await server.add_agent())["email"]
    tries = [await _login_from(server, ATTACKER, email, "guess") for _ in range(3)]
    assert tries == [(401, "invalid_credentials")] * 2 + [(429, "account_locked")]
    assert await _login_from(server, ATTACKER, email, PASSWORD) == (429, "account_locked")
    # The agent, from their own address, signs in as ever.
    assert await _login_from(server, AGENT_HOME, email, PASSWORD) == (200, "ok")
    assert await _login_from(server, "2001:db8:7:7::1", email, PASSWORD) == (200, "ok")
    # The attacker's lock lasts its 300 s.
    clock.advance(299)
    assert await _login_from(server, ATTACKER, email, PASSWORD) == (429, "account_locked")
    clock.advance(1)
    assert await _login_from(server, ATTACKER, email, PASSWORD) == (200, "ok")


async def test_guesses_spread_over_addresses_lock_the_account_for_a_shorter_while(
        behind_proxy: tuple[LiveServer, ManualClock]) -> None:
    server, clock = behind_proxy
    email = (await server.add_agent())["email"]
    # Two guesses from each of three addresses (an IPv6 /64 counts as one address): no
    # address reaches its own lock, the sixth guess locks the account for everyone.
    tries = [await _login_from(server, address, email, "guess")
             for address in ("198.51.100.1", "198.51.100.2", "2001:db8:1:2::1", "2001:db8:1:2::2",
                             "198.51.100.1", "198.51.100.2")]
    assert tries == [(401, "invalid_credentials")] * 5 + [(429, "account_locked")]
    status, body = await server.request("POST", "/api/auth/login", json={"email": email, "password": PASSWORD},
                                        headers={"X-Forwarded-For": AGENT_HOME})
    assert status == 429 and body["error"]["details"]["retry_after"] == 60
    clock.advance(60)
    assert await _login_from(server, AGENT_HOME, email, PASSWORD) == (200, "ok")
    # The agent's sign-in does not wipe the guesses out: a guessing address still has its count.
    assert await _login_from(server, "198.51.100.1", email, "guess") == (429, "account_locked")


async def test_every_process_sharing_the_database_keeps_the_same_locks(tmp_path: Path, redis_url: str) -> None:
    clock = ManualClock()
    servers = [LiveServer(make_settings(tmp_path, trusted_proxies=("127.0.0.1",), login_lockout_failures=3,
                                        redis_url=redis_url), clock=clock) for _ in range(2)]
    for server in servers:
        await server.start()
    try:
        first, second = servers
        email = (await first.add_agent())["email"]
        tries = [await _login_from(server, ATTACKER, email, "guess") for server in (first, second, first)]
        assert tries == [(401, "invalid_credentials")] * 2 + [(429, "account_locked")]
        assert await _login_from(second, ATTACKER, email, PASSWORD) == (429, "account_locked")
        assert await _login_from(second, AGENT_HOME, email, PASSWORD) == (200, "ok")
    finally:
        for server in servers:
            await server.close()


async def test_notes_go_with_the_customer_export_and_deletion(server: LiveServer) -> None:
    """Internal notes are personal data of the customer too: the admin's export of a customer
    carries them, and deleting the customer deletes them (customer records, docs/customers.md)."""
    login = await server.add_agent()
    console = await agent(server, login)
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat(1)))["conversation"]["id"]
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    assert (await console.call("note:add", {"conversation_id": cid, "body": "Asked for a discount"}))["ok"]
    assert (await console.call("conversation:end", {"conversation_id": cid, "tags": ["discount"]}))["ok"]
    admin = await server.admin_token()
    _, transcript = await server.request("GET", f"/api/conversations/{cid}", token=admin)
    customer_id = transcript["conversation"]["customer_id"]
    status, export = await server.request("GET", f"/api/customers/{customer_id}/export", token=admin)
    assert status == 200
    assert [n["body"] for n in export["related"]["conversation_notes"]] == ["Asked for a discount"]
    assert (await server.request("DELETE", f"/api/customers/{customer_id}", token=admin))[0] == 204
    status, _ = await server.request("GET", f"/api/conversations/{cid}", token=admin)
    assert status == 404
    assert (await console.call("note:list", {"conversation_id": cid}))["error"]["code"] == "not_found"
