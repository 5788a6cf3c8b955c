"""REST routes: health, login, visitor sessions, agents, conversations; structured errors."""

from __future__ import annotations

from typing import Any

import pytest

from chatserver.http.openapi import openapi_document
from chatserver.http.views import ROUTES

from ..support import PASSWORD, LiveServer, agent, prechat, visitor


def _error(body: Any) -> str:
    assert set(body) == {"error"} and body["error"]["message"], body
    return str(body["error"]["code"])


async def test_health_and_readiness(server: LiveServer) -> None:
    assert await server.request("GET", "/healthz") == (200, {"status": "ok"})
    status, body = await server.request("GET", "/readyz")
    assert status == 200 and body == {"status": "ready", "checks": {"database": "ok", "routing": "ok"}}


async def test_readiness_reports_storage_that_cannot_be_reached(server: LiveServer) -> None:
    from chatserver.http import keys as K

    store = server.app[K.STORE]
    reader = store._reader
    store._reader = None  # the reader connection is gone, as after a failed disk
    try:
        status, body = await server.request("GET", "/readyz")
    finally:
        store._reader = reader
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
    assert status in (400, 413) and _error(reply) in {"invalid_payload", "payload_too_large"}


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
    for bad in [{**good, "email": "not-an-email"}, {**good, "password": "short"}, {**good, "capacity": 0},
                {**good, "role": "owner"}, {"name": "x"}]:
        status, body = await server.request("POST", "/api/agents", token=admin, json=bad)
        assert status == 400 and _error(body) == "invalid_payload", bad
    _, listing = await server.request("GET", "/api/agents", token=admin)
    assert [a["email"] for a in listing["agents"]].count("bea@example.com") == 1


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


async def test_queue_route_lists_waiting_chats(server: LiveServer) -> None:
    login = await server.add_agent()
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat()))["conversation"]["id"]
    status, body = await server.request("GET", "/api/queue", token=login["token"])
    assert status == 200 and body["total"] == 1 and body["entries"][0]["id"] == cid
    assert body["entries"][0]["position"] == 1


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


async def test_unknown_routes_and_methods_get_structured_errors(server: LiveServer) -> None:
    status, body = await server.request("GET", "/api/nothing-here")
    assert status == 404 and _error(body) == "not_found"
    status, body = await server.request("DELETE", "/healthz")
    assert status == 405 and _error(body) == "method_not_allowed"


def test_openapi_document_lists_exactly_the_routes_the_server_has() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.1")
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    served = {(method, path) for method, path, _ in ROUTES}
    assert documented == served


async def test_openapi_is_served(server: LiveServer) -> None:
    status, body = await server.request("GET", "/api/openapi.json")
    assert status == 200 and body == openapi_document()


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
