"""REST routes: health, login, visitor sessions, agents, conversations; structured errors."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from chatserver.config import Settings
from chatserver.http.common import MAX_JSON_BODY, MAX_OFFSET
from chatserver.http.openapi import ROUTES, STREAMED, openapi_document

from ..storage.sqlite.support import database_of
from ..support import PASSWORD, LiveServer, agent, prechat, visitor


def _error(body: Any) -> str:
    assert set(body) == {"error"} and body["error"]["message"], body
    return str(body["error"]["code"])


@pytest.mark.both_backends
async def test_health_and_readiness(server: LiveServer) -> None:
    assert await server.request("GET", "/healthz") == (200, {"status": "ok"})
    status, body = await server.request("GET", "/readyz")
    assert status == 200 and body == {"status": "ready", "checks": {"database": "ok", "routing": "ok"}}


async def test_readiness_reports_storage_that_cannot_be_reached(server: LiveServer) -> None:
    database = database_of(server.app)
    reader = database._reader
    database._reader = None  # the reader connection is gone, as after a failed disk
    try:
        status, body = await server.request("GET", "/readyz")
    finally:
        database._reader = reader
    assert status == 503 and body["status"] == "not_ready" and body["checks"]["database"].startswith("error")


async def test_login_refuses_wrong_credentials_and_bad_bodies(server: LiveServer) -> None:
    login = await server.add_agent()
    for body in [{"email": login["email"], "password": "wrong password"},
                 {"email": "nobody@example.com", "password": PASSWORD}]:
        status, reply = await server.request("POST", "/api/auth/login", json=body)
        assert status == 401 and _error(reply) == "invalid_credentials"
    for raw in [b"not json", b"[]", b'{"email": 1, "password": "x"}', b'{"email": "a@b.co"}',
                b'{"email": "a@b.co", "password": "x", "admin": true}']:
        status, reply = await server.request("POST", "/api/auth/login", data=raw,
                                             headers={"Content-Type": "application/json"})
        assert status == 400 and _error(reply) == "invalid_payload", raw
    status, reply = await server.request("POST", "/api/auth/login", data=b"x" * 100_000,
                                         headers={"Content-Type": "application/json"})
    assert status == 413 and _error(reply) == "payload_too_large"


async def test_an_unexpected_failure_answers_internal_error_and_logs_no_text_of_it(
        tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    from ..support import make_settings

    async def broken(request: web.Request) -> web.Response:
        sent = await request.json()
        try:
            raise KeyError(f"no card {sent['card']}")
        except KeyError:
            raise RuntimeError(f"could not charge {sent['card']} for {sent['email']}") from None

    # A route with a bug (added for this test: every shipped route validates what it is sent).
    server = LiveServer(make_settings(tmp_path),
                        prepare=lambda app: app.router.add_route("POST", "/api/test/{what}", broken))
    await server.start()
    try:
        with caplog.at_level("INFO"):
            status, body = await server.request("POST", "/api/test/broken",
                                                json={"card": "4242 4242", "email": "ann@example.com"})
        assert status == 500 and body == {"error": {"code": "internal_error", "message": "internal server error"}}
        failures = [r.getMessage() for r in caplog.records if r.name == "chatserver.http"
                    and "unhandled error" in r.getMessage()]
        assert len(failures) == 1, failures
        # The type (and the one it was raised while handling) and where: the frame of the route.
        assert "method=POST path=/api/test/broken exception=RuntimeError <- KeyError\n" in failures[0]
        assert ", in broken\n" in failures[0] and "tests/http/test_api.py" in failures[0]
        assert not [r for r in caplog.records if "4242" in r.getMessage() or "ann@example.com" in r.getMessage()
                    or r.exc_info or r.exc_text]
        # A path with a line break in it (sent percent-encoded) cannot forge a line of the log.
        with caplog.at_level("INFO"):
            status, _ = await server.request("POST", "/api/test/x%0AERROR%20forged%00", json={"card": 1, "email": 2})
        assert status == 500
        [line] = [r.getMessage() for r in caplog.records if "unhandled error" in r.getMessage()][1:]
        assert line.startswith('unhandled error method=POST path="/api/test/x\\nERROR forged\\u0000" exception='), line
        assert (await server.request("GET", "/healthz"))[0] == 200
    finally:
        await server.close()


async def test_login_attempts_are_rate_limited(tmp_path: Any) -> None:
    from ..support import make_settings

    server = LiveServer(make_settings(tmp_path, login_attempts_per_minute=3))
    await server.start()
    try:
        codes = []
        for _ in range(5):
            _status, reply = await server.request("POST", "/api/auth/login",
                                                 json={"email": "x@example.com", "password": "nope"})
            codes.append(_error(reply))
        assert codes[:3] == ["invalid_credentials"] * 3 and codes[3:] == ["rate_limited"] * 2
    finally:
        await server.close()


async def test_agent_routes_need_a_token_and_admin_routes_an_admin(server: LiveServer) -> None:
    login = await server.add_agent()
    for method, path in [("GET", "/api/me"), ("GET", "/api/queue"), ("GET", "/api/conversations"),
                         ("GET", "/api/agents"), ("POST", "/api/auth/logout")]:
        status, body = await server.request(method, path)
        assert status == 401 and _error(body) == "auth_required"
        status, body = await server.request(method, path, token="forged.token")
        assert status == 401 and _error(body) == "invalid_token"
    # A signature (or body) that is not base64url, down to bytes that are not ASCII.
    for token in ["abc.\u00e9", "\u00e9.abc", "abc.d\u00e9f", "abc.+/="]:
        status, body = await server.request("GET", "/api/me", headers={"Authorization": f"Bearer {token}"})
        assert status == 401 and _error(body) == "invalid_token", (token, status, body)
    status, body = await server.request("GET", "/api/agents", token=login["token"])
    assert status == 403 and _error(body) == "forbidden"
    status, body = await server.request("POST", "/api/agents", token=login["token"],
                                        json={"name": "x", "email": "x@example.com", "password": PASSWORD})
    assert status == 403
    status, body = await server.request("GET", "/api/agents", token=await server.admin_token())
    assert status == 200 and login["email"] in [a["email"] for a in body["agents"]]


async def test_adding_agents_validates_and_refuses_duplicates(server: LiveServer) -> None:
    admin = await server.admin_token()
    good = {"name": "Bea", "email": "bea@example.com", "password": PASSWORD}
    assert (await server.request("POST", "/api/agents", token=admin, json=good))[0] == 201
    status, body = await server.request("POST", "/api/agents", token=admin, json={**good, "email": "BEA@example.com"})
    assert status == 409 and _error(body) == "conflict"
    for bad in [{**good, "email": "not-an-email"}, {**good, "email": "bee@example.com\n"},
                {**good, "password": "short"}, {**good, "capacity": 0},
                {**good, "role": "owner"}, {"name": "x"}]:
        status, body = await server.request("POST", "/api/agents", token=admin, json=bad)
        assert status == 400 and _error(body) == "invalid_payload", bad
    _, listing = await server.request("GET", "/api/agents", token=admin)
    assert [a["email"] for a in listing["agents"]].count("bea@example.com") == 1


async def test_a_whole_number_written_with_a_fraction_is_an_integer(server: LiveServer) -> None:
    """JSON has one number type: 2.0 is the integer 2 (as JSON Schema says); 2.5 is not one."""
    admin = await server.admin_token()
    bea = {"name": "Bea", "email": "bea@example.com", "password": PASSWORD}
    status, body = await server.request("POST", "/api/agents", token=admin, json={**bea, "capacity": 2.0})
    assert status == 201 and body["agent"]["capacity"] == 2, body
    agent_id = body["agent"]["id"]
    status, body = await server.request("PATCH", f"/api/agents/{agent_id}", token=admin, json={"capacity": 3e0})
    assert status == 200 and body["agent"]["capacity"] == 3, body
    for capacity in (b"2.5", b'"4"', b"1e400"):
        status, body = await server.request("PATCH", f"/api/agents/{agent_id}", token=admin,
                                            data=b'{"capacity": %s}' % capacity,
                                            headers={"Content-Type": "application/json"})
        assert status == 400 and _error(body) == "invalid_payload", capacity
    # Deeper than any body here is: refused, not a server error.
    status, body = await server.request("PATCH", f"/api/agents/{agent_id}", token=admin,
                                        data=b'{"departments": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
                                        headers={"Content-Type": "application/json"})
    assert status == 400 and _error(body) == "invalid_payload", body
    _, listing = await server.request("GET", "/api/agents", token=admin)
    assert [a["capacity"] for a in listing["agents"] if a["id"] == agent_id] == [3]


async def test_conversations_are_readable_only_by_their_agents_and_admins(server: LiveServer) -> None:
    owner = await server.add_agent()
    console = await agent(server, owner)
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat()))["conversation"]["id"]
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    outsider = await server.add_agent()

    assert (await server.request("GET", f"/api/conversations/{cid}", token=owner["token"]))[0] == 200
    assert (await server.request("GET", f"/api/conversations/{cid}", token=await server.admin_token()))[0] == 200
    status, body = await server.request("GET", f"/api/conversations/{cid}", token=outsider["token"])
    assert status == 403 and _error(body) == "forbidden"
    status, body = await server.request("GET", "/api/conversations/does-not-exist", token=owner["token"])
    assert status == 404 and _error(body) == "not_found"

    _, mine = await server.request("GET", "/api/conversations?status=assigned", token=owner["token"])
    assert [c["id"] for c in mine["conversations"]] == [cid]
    _, theirs = await server.request("GET", "/api/conversations", token=outsider["token"])
    assert theirs["conversations"] == []
    status, body = await server.request("GET", f"/api/conversations?agent_id={owner['agent']['id']}",
                                        token=outsider["token"])
    assert status == 403
    for query in ["status=nope", "limit=0", "limit=abc", "offset=-1"]:
        status, body = await server.request("GET", f"/api/conversations?{query}", token=owner["token"])
        assert status == 400 and _error(body) == "invalid_payload", query


@pytest.mark.both_backends
async def test_queue_route_lists_waiting_chats(server: LiveServer) -> None:
    login = await server.add_agent()
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat()))["conversation"]["id"]
    status, body = await server.request("GET", "/api/queue", token=login["token"])
    assert status == 200 and body["total"] == 1 and body["entries"][0]["id"] == cid
    assert body["entries"][0]["position"] == 1


# Query integers that are not one in range: negative, zero, over the maximum, far too large,
# not a number, and what Python's int() would take but no client should send.
BAD_LIMITS = ["-1", "0", "201", "1" + "0" * 30, "9" * 5000, "x", "ten", "1.5", "1e3", "", " 5", "5 ", "+", "1_0",
              "\u0663", "0x10", "5&limit=x"]


async def test_queue_route_refuses_bad_limits_and_changes_nothing(server: LiveServer) -> None:
    login = await server.add_agent()
    for n in range(2):
        await (await visitor(server)).call("chat:start", prechat(n))
    status, before = await server.request("GET", "/api/queue", token=login["token"])
    assert status == 200 and before["total"] == 2
    for raw in BAD_LIMITS:
        status, body = await server.request("GET", f"/api/queue?limit={urllib.parse.quote(raw, safe='&=')}",
                                            token=login["token"])
        assert status == 400 and _error(body) == "invalid_payload", raw
        assert "limit" in body["error"]["message"], body
    _, after = await server.request("GET", "/api/queue", token=login["token"])

    def order(queue: dict[str, Any]) -> list[tuple[str, str, int]]:
        return [(e["id"], e["status"], e["position"]) for e in queue["entries"]]

    assert after["total"] == 2 and order(after) == order(before)
    # The bounds themselves are fine.
    for limit, shown in [("1", 1), ("200", 2), ("+2", 2)]:
        status, body = await server.request("GET", f"/api/queue?limit={urllib.parse.quote(limit)}",
                                            token=login["token"])
        assert status == 200 and body["total"] == 2 and len(body["entries"]) == shown, limit


def test_openapi_document_states_the_bounds_of_every_limit_and_offset() -> None:
    found = 0
    for path, operations in openapi_document(Settings())["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                if parameter["name"] == "offset":
                    found += 1
                    assert (schema["type"], schema["minimum"], schema["maximum"]) == ("integer", 0, MAX_OFFSET), path
                elif parameter["name"] == "limit":
                    assert schema["type"] == "integer" and schema["minimum"] == 1 and schema["maximum"] > 1, path
    assert found >= 5


async def test_visitor_sessions_are_signed_and_rate_limited(tmp_path: Any) -> None:
    from ..support import make_settings

    server = LiveServer(make_settings(tmp_path, visitor_sessions_per_minute=2))
    await server.start()
    try:
        first = await server.request("POST", "/api/visitor/sessions")
        second = await server.request("POST", "/api/visitor/sessions")
        assert first[0] == second[0] == 201 and first[1]["visitor_id"] != second[1]["visitor_id"]
        status, body = await server.request("POST", "/api/visitor/sessions")
        assert status == 429 and _error(body) == "rate_limited"
    finally:
        await server.close()


async def _limited_calls(server: LiveServer, client: str, count: int = 1) -> list[int]:
    """The statuses of ``count`` calls of each per-address-limited route, sent through a proxy on
    127.0.0.1 on behalf of ``client`` (a forged entry first, as a client may send one)."""
    headers = {"X-Forwarded-For": f"192.0.2.66, {client}"}
    statuses = []
    for _ in range(count):
        statuses.append((await server.request("POST", "/api/visitor/sessions", headers=headers))[0])
        statuses.append((await server.request("POST", "/api/auth/login", headers=headers,
                                              json={"email": "x@example.com", "password": "nope"}))[0])
        statuses.append((await server.request("POST", "/api/kb/feedback", headers=headers,
                                              json={"outcome": "chat_started"}))[0])
    return statuses


async def test_per_address_limits_count_the_client_a_trusted_proxy_names(tmp_path: Any) -> None:
    """Behind a proxy every request comes from the proxy's address: the limits count the client
    it names in X-Forwarded-For (an IPv6 client by its /64), and only if it is a trusted proxy."""
    from ..support import make_settings

    limits = {"visitor_sessions_per_minute": 2, "login_attempts_per_minute": 2, "kb_events_per_minute": 2,
              "login_lockout_failures": 100}
    server = LiveServer(make_settings(tmp_path / "proxied", trusted_proxies=("127.0.0.1",), **limits))
    await server.start()
    try:
        assert await _limited_calls(server, "198.51.100.1", 2) == [201, 401, 204] * 2
        assert await _limited_calls(server, "198.51.100.1") == [429, 429, 429]
        assert await _limited_calls(server, "198.51.100.2") == [201, 401, 204]  # another shopper
        assert await _limited_calls(server, "2001:db8:1:2::1", 2) == [201, 401, 204] * 2
        assert await _limited_calls(server, "2001:db8:1:2:ffff::9") == [429, 429, 429]  # the same /64
        assert await _limited_calls(server, "2001:db8:1:3::1") == [201, 401, 204]
        # The help centre's logged searches count per client too (two each, here).
        for client in ("198.51.100.3", "198.51.100.3", "198.51.100.3", "198.51.100.4"):
            assert (await server.request("GET", "/help/search?q=refund",
                                         headers={"X-Forwarded-For": client}))[0] == 200
        _, report = await server.request("GET", "/api/reports/knowledge-base", token=await server.admin_token())
        assert report["searches"] == 3
    finally:
        await server.close()
    # Without trusted proxies the header is the client's own claim: ignored.
    server = LiveServer(make_settings(tmp_path / "direct", **limits))
    await server.start()
    try:
        assert await _limited_calls(server, "198.51.100.1", 2) == [201, 401, 204] * 2
        assert await _limited_calls(server, "198.51.100.2") == [429, 429, 429]
    finally:
        await server.close()


async def test_unknown_routes_and_methods_get_structured_errors(server: LiveServer) -> None:
    status, body = await server.request("GET", "/api/nothing-here")
    assert status == 404 and _error(body) == "not_found"
    status, body = await server.request("DELETE", "/healthz")
    assert status == 405 and _error(body) == "method_not_allowed"


def test_openapi_document_lists_exactly_the_routes_the_server_has() -> None:
    document = openapi_document(Settings())
    assert document["openapi"].startswith("3.1")
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    served = {(route.method, route.path) for route in ROUTES}
    assert documented == served


async def test_openapi_is_served(server: LiveServer) -> None:
    status, body = await server.request("GET", "/api/openapi.json")
    assert status == 200 and body == openapi_document(server.settings)


@pytest.mark.parametrize("path", ["/", "/healthz"])
async def test_public_routes_need_no_token(server: LiveServer, path: str) -> None:
    assert (await server.request("GET", path))[0] == 200


async def test_shop_origins_may_get_visitor_tokens_and_nothing_else(tmp_path: Any) -> None:
    from ..support import make_settings

    server = LiveServer(make_settings(tmp_path, allowed_origins=("https://shop.example",)))
    await server.start()
    try:
        assert server.http is not None
        shop = {"Origin": "https://shop.example"}
        async with server.http.options(server.url + "/api/visitor/sessions", headers={
                **shop, "Access-Control-Request-Method": "POST"}) as resp:
            assert resp.status == 204
            assert resp.headers["Access-Control-Allow-Origin"] == "https://shop.example"
            assert "POST" in resp.headers["Access-Control-Allow-Methods"]
        async with server.http.post(server.url + "/api/visitor/sessions", headers=shop) as resp:
            assert resp.status == 201 and resp.headers["Access-Control-Allow-Origin"] == "https://shop.example"
        async with server.http.post(server.url + "/api/visitor/sessions",
                                    headers={"Origin": "https://evil.example"}) as resp:
            assert "Access-Control-Allow-Origin" not in resp.headers
        async with server.http.get(server.url + "/api/me", headers=shop) as resp:
            assert resp.status == 401 and "Access-Control-Allow-Origin" not in resp.headers
    finally:
        await server.close()


JSON = {"Content-Type": "application/json"}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _padded(payload: dict[str, Any], size: int) -> bytes:
    """``payload`` as JSON, padded with trailing whitespace (still valid JSON) to ``size`` bytes."""
    raw = json.dumps(payload).encode()
    return raw + b" " * (size - len(raw))


async def _chunked(body: bytes) -> AsyncIterator[bytes]:
    """The body sent with Transfer-Encoding: chunked (no Content-Length), 8 KiB at a time."""
    for start in range(0, len(body), 8192):
        yield body[start:start + 8192]


def _database(server: LiveServer) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the server's SQLite file."""
    database_of(server.app)  # the server runs on it (else the test is skipped)
    with contextlib.closing(sqlite3.connect(server.settings.db_path)) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: sorted(db.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}


async def test_a_body_over_64_kib_is_refused_declared_or_chunked_and_nothing_is_stored(server: LiveServer) -> None:
    admin = await server.admin_token()

    def new_agent(email: str) -> dict[str, Any]:
        return {"name": "Big", "email": email, "password": PASSWORD}

    before = _database(server)
    # Bodies that would be valid but for their size: a declared Content-Length, and chunked.
    for data in [_padded(new_agent("declared@example.com"), MAX_JSON_BODY + 1),
                 _chunked(_padded(new_agent("chunked@example.com"), MAX_JSON_BODY + 1)),
                 _chunked(_padded(new_agent("huge@example.com"), 10 * MAX_JSON_BODY))]:
        status, reply = await server.request("POST", "/api/agents", token=admin, data=data, headers=JSON)
        assert status == 413 and _error(reply) == "payload_too_large", reply
        assert reply["error"]["details"] == {"max_bytes": MAX_JSON_BODY}
    assert _database(server) == before
    # A body of exactly the limit is taken, declared or chunked.
    for data in [_padded(new_agent("at-limit@example.com"), MAX_JSON_BODY),
                 _chunked(_padded(new_agent("at-limit-chunked@example.com"), MAX_JSON_BODY))]:
        status, reply = await server.request("POST", "/api/agents", token=admin, data=data, headers=JSON)
        assert status == 201, reply
    _, listing = await server.request("GET", "/api/agents", token=admin)
    emails = {a["email"] for a in listing["agents"]}
    assert {"at-limit@example.com", "at-limit-chunked@example.com"} <= emails
    assert not emails & {"declared@example.com", "chunked@example.com", "huge@example.com"}


async def test_a_body_the_document_allows_is_not_too_large_however_it_is_encoded(server: LiveServer) -> None:
    """The longest text the OpenAPI document allows, sent by a client that escapes everything but
    ASCII (Python's json.dumps: 12 bytes for a character outside the BMP), is taken, and the
    route's limit is the one the document states."""
    admin = await server.admin_token()
    document = openapi_document(server.settings)
    emoji = "\U0001F600"
    for path, body in [("/api/kb/articles", {"title": emoji * 200, "body": emoji * 20_000, "tags": [emoji * 40] * 20}),
                       ("/api/customers", {"name": emoji * 100, "notes": emoji * 4000,
                                           "emails": [f"{emoji * 240}{n}@x.io" for n in range(10)]})]:
        data = json.dumps(body).encode()
        assert len(data) > MAX_JSON_BODY
        status, reply = await server.request("POST", path, token=admin, data=data, headers=JSON)
        assert status == 201, (path, reply)
        limit = server.parts.http.body_limits[("POST", path)]
        assert f" {limit} bytes" in document["paths"][path]["post"]["requestBody"]["description"]
        status, reply = await server.request("POST", path, token=admin, data=b" " * (limit + 1), headers=JSON)
        assert status == 413 and reply["error"]["details"] == {"max_bytes": limit}, reply


async def test_every_write_route_refuses_an_oversized_body_before_doing_anything(server: LiveServer) -> None:
    admin = await server.admin_token()
    login = await server.add_agent()
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat()))["conversation"]["id"]
    before = _database(server)
    limits = server.parts.http.body_limits
    writes = [(method, re.sub(r"\{conversation_id\}", cid, re.sub(r"\{(?!conversation_id)\w+\}", "x", path)),
               limits.get((method, path), MAX_JSON_BODY))
              for method, path in ((r.method, r.path) for r in ROUTES)
              if method in WRITE_METHODS and (method, path) not in STREAMED]  # uploads: test_attachments.py
    assert len(writes) >= 20, writes
    for method, path, limit in writes:
        oversized = b"{}" + b" " * (limit - 1)
        for token in (admin, login["token"], None):
            for data in (oversized, _chunked(oversized)):
                status, reply = await server.request(method, path, token=token, data=data, headers=JSON)
                assert status == 413 and _error(reply) == "payload_too_large", (method, path, reply)
    # Nothing happened: not a logout (the tokens still work), not a close, not a new session.
    assert _database(server) == before
    assert (await server.request("GET", "/api/me", token=admin))[0] == 200
    assert (await server.request("GET", "/api/me", token=login["token"]))[0] == 200
    _, transcript = await server.request("GET", f"/api/conversations/{cid}", token=admin)
    assert transcript["conversation"]["status"] != "closed"


def test_openapi_document_states_the_servers_departments_and_text_limits() -> None:
    def body(document: dict[str, Any], path: str, method: str) -> Any:
        schema = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        return document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]

    document = openapi_document(Settings(departments=("billing", "sales"), max_message_chars=500,
                                         kb_max_body_chars=9000))
    assert body(document, "/api/agents", "post")["properties"]["departments"]["items"]["enum"] == ["billing", "sales"]
    assert body(document, "/api/agents/{agent_id}", "patch")["properties"]["departments"]["anyOf"][0]["items"][
        "enum"] == ["billing", "sales"]
    assert body(document, "/api/canned-responses", "post")["properties"]["body"]["maxLength"] == 500
    assert body(document, "/api/kb/articles", "post")["properties"]["body"]["maxLength"] == 9000
    # Without departments, an agent has none.
    assert body(openapi_document(Settings()), "/api/agents", "post")["properties"]["departments"]["maxItems"] == 0


def test_openapi_document_lists_413_on_every_write_route() -> None:
    document = openapi_document(Settings())
    for method, path in ((r.method, r.path) for r in ROUTES):
        responses = document["paths"][path][method.lower()]["responses"]
        assert ("413" in responses) == (method in WRITE_METHODS), (method, path)


def _json_body_routes() -> list[tuple[str, str]]:
    """Every (method, path) whose documented request body is JSON."""
    return [(method.upper(), path) for path, operations in openapi_document(Settings())["paths"].items()
            for method, operation in operations.items()
            if "application/json" in operation.get("requestBody", {}).get("content", {})]


async def test_a_json_body_sent_as_another_media_type_is_refused_and_changes_nothing(server: LiveServer) -> None:
    """A page of another site can POST text/plain (or a form) without a CORS preflight: no route
    reads such a body, so a cross-site page cannot sign an agent in, or act with their token."""
    login = await server.add_agent()
    admin = await server.admin_token()
    credentials = json.dumps({"email": login["email"], "password": PASSWORD})
    for content_type in ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                         "multipart/form-data; boundary=x", None):
        headers = {"Content-Type": content_type} if content_type else {}
        status, reply = await server.request("POST", "/api/auth/login", data=credentials.encode(), headers=headers)
        assert status == 415 and _error(reply) == "unsupported_media_type", (content_type, reply)
    before = _database(server)
    routes = _json_body_routes()
    assert len(routes) >= 15, routes
    for method, path in routes:
        status, reply = await server.request(method, re.sub(r"\{\w+\}", "x", path), token=admin, data=b"{}",
                                             headers={"Content-Type": "text/plain"})
        assert status == 415 and _error(reply) == "unsupported_media_type", (method, path, reply)
    assert _database(server) == before
    # application/json, with or without a charset, is read.
    status, reply = await server.request("POST", "/api/auth/login", data=credentials.encode(),
                                         headers={"Content-Type": "application/json; charset=utf-8"})
    assert status == 200, reply


def test_openapi_document_lists_415_on_every_route_with_a_json_body() -> None:
    document = openapi_document(Settings())
    routes = set(_json_body_routes())
    for method, path in ((r.method, r.path) for r in ROUTES):
        responses = document["paths"][path][method.lower()]["responses"]
        # An upload answers 415 too: file_type_not_allowed, for its content (test_attachments.py).
        assert ("415" in responses) == ((method, path) in routes or (method, path) in STREAMED), (method, path)
