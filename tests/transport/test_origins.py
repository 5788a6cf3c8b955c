"""Which pages may open Socket.IO connections: the server's own (its public URLs, or what it
listens on) and the configured shop origins, never because of what the Host header claims; and
no CORS answer echoes ``Origin: null`` (a sandboxed page, a file)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from ..support import LiveServer, make_settings

HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


async def _handshake(server: LiveServer, origin: str, **headers: str) -> tuple[int, str, dict[str, str]]:
    """A long-polling Engine.IO handshake sent with ``Origin: origin`` (and ``headers``)."""
    assert server.http is not None
    async with server.http.get(server.url + HANDSHAKE, headers={"Origin": origin, **headers}) as resp:
        return resp.status, await resp.text(), dict(resp.headers)


async def _websocket_opens(server: LiveServer, origin: str, **headers: str) -> bool:
    assert server.http is not None
    try:
        async with server.http.ws_connect(server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
                                          origin=origin, headers=headers) as ws:
            return (await ws.receive_str(timeout=5)).startswith("0{")
    except aiohttp.WSServerHandshakeError:
        return False


@pytest.fixture
async def own(tmp_path: Path) -> LiveServer:
    server = LiveServer(make_settings(tmp_path, allowed_origins=("https://shop.example",)))
    await server.start()
    yield server  # type: ignore[misc]
    await server.close()


async def test_the_host_header_does_not_make_an_origin_the_servers_own(own: LiveServer) -> None:
    status, body, _ = await _handshake(own, "http://evil.test", Host="evil.test")
    assert status == 403 and "this origin may not connect" in body
    assert not await _websocket_opens(own, "http://evil.test", Host="evil.test")
    status, body, _ = await _handshake(own, f"https://127.0.0.1:{own.port}")  # another scheme: another origin
    assert status == 403


async def test_pages_of_the_listening_address_and_the_shop_may_connect(own: LiveServer) -> None:
    for origin in (f"http://127.0.0.1:{own.port}", f"http://localhost:{own.port}", "https://shop.example"):
        status, body, headers = await _handshake(own, origin, Host="evil.test")
        assert status == 200 and body.startswith("0{"), (origin, body)
        assert headers["Access-Control-Allow-Origin"] == origin
        assert await _websocket_opens(own, origin)


async def test_behind_a_proxy_the_public_urls_are_the_servers_own(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path, public_urls=("https://Chat.Shop.example:443",)))
    await server.start()
    try:
        assert (await _handshake(server, "https://chat.shop.example", Host="chat.shop.example"))[0] == 200
        assert await _websocket_opens(server, "https://chat.shop.example")
        # What it listens on is no longer the browsers' way in: its pages are not the server's.
        assert (await _handshake(server, f"http://127.0.0.1:{server.port}"))[0] == 403
        assert (await _handshake(server, "http://evil.test", Host="evil.test"))[0] == 403
    finally:
        await server.close()


async def test_any_origin_means_any_page_but_never_null(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path, allowed_origins=("*",)))
    await server.start()
    try:
        status, _, headers = await _handshake(server, "https://anyone.example")
        assert status == 200 and headers["Access-Control-Allow-Origin"] == "https://anyone.example"
        status, _, headers = await _handshake(server, "null")
        assert status == 403 and "Access-Control-Allow-Origin" not in headers
        assert not await _websocket_opens(server, "null")
        assert server.http is not None
        for method, path in (("POST", "/api/visitor/sessions"), ("OPTIONS", "/api/visitor/sessions"),
                             ("GET", "/api/kb/suggestions")):
            async with server.http.request(method, server.url + path, headers={
                    "Origin": "null", "Access-Control-Request-Method": "POST"}) as resp:
                assert "Access-Control-Allow-Origin" not in resp.headers, (method, path)
            async with server.http.request(method, server.url + path, headers={
                    "Origin": "https://anyone.example", "Access-Control-Request-Method": "POST"}) as resp:
                assert resp.headers["Access-Control-Allow-Origin"] == "https://anyone.example", (method, path)
    finally:
        await server.close()


def test_null_cannot_be_an_allowed_origin(tmp_path: Path) -> None:
    from chatserver.config import load_settings

    with pytest.raises(ValueError, match="null"):
        load_settings({"allowed_origins": "https://shop.example,null", "data_dir": str(tmp_path)})


def test_the_listening_origins_of_wildcard_named_and_ipv6_servers() -> None:
    from chatserver.transport.origins import listening_origins, normalized

    assert listening_origins("0.0.0.0", "192.0.2.5", 8080) == {"http://192.0.2.5:8080"}
    assert listening_origins("chat.internal", "192.0.2.5", 80) == {"http://192.0.2.5", "http://chat.internal"}
    assert listening_origins("::", "::1", 8080) == {"http://[::1]:8080", "http://127.0.0.1:8080",
                                                    "http://localhost:8080"}
    assert normalized("HTTPS://Chat.Example:443") == "https://chat.example"
    assert normalized("http://[2001:DB8::1]:8080") == "http://[2001:db8::1]:8080"
