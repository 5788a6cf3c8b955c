"""The agent console's files at /console/: built script, strict content security policy, and
nothing else served from there."""

from __future__ import annotations

import pytest

from chatserver.config import load_settings
from chatserver.http.static import CONSOLE_DIST_DIR, console_headers

from ..support import LiveServer

pytestmark = pytest.mark.usefixtures("widget_built")  # npm run build: the widget and the console


async def test_console_files_are_served_under_a_strict_policy(server: LiveServer) -> None:
    assert server.http is not None
    async with server.http.get(server.url + "/console", allow_redirects=False) as resp:
        assert resp.status == 308 and resp.headers["Location"] == "/console/"
    for path, content_type in [("/console/", "text/html"), ("/console/index.html", "text/html"),
                               ("/console/console.css", "text/css"), ("/console/console.js", "text/javascript")]:
        async with server.http.get(server.url + path) as resp:
            assert resp.status == 200, path
            assert resp.headers["Content-Type"].startswith(content_type)
            policy = resp.headers["Content-Security-Policy"]
            assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
            assert resp.headers["Cache-Control"] == "no-cache"
            body = await resp.text()
            assert body
    async with server.http.get(server.url + "/console/console.js", headers={"Accept-Encoding": "gzip"}) as resp:
        assert resp.headers.get("Content-Encoding") == "gzip"


async def test_the_cobrowse_viewer_comes_from_the_build_under_the_same_policy(server: LiveServer) -> None:
    assert server.http is not None
    [chunk] = [p.name for p in CONSOLE_DIST_DIR.glob("replay-*.js")]
    async with server.http.get(server.url + "/console/console.js") as resp:
        assert chunk in await resp.text()  # fetched by the console when an agent opens a live view
    for path, content_type in [(f"/console/{chunk}", "text/javascript"), ("/console/replay.css", "text/css")]:
        async with server.http.get(server.url + path) as resp:
            assert resp.status == 200, path
            assert resp.headers["Content-Type"].startswith(content_type)
            policy = resp.headers["Content-Security-Policy"]
            # The replayed page may be styled, never scripted.
            assert "script-src 'self';" in policy and "object-src 'none'" in policy
            assert "unsafe-eval" not in policy and policy.count("unsafe-inline") == 1


@pytest.mark.parametrize("path", ["/console/build.mjs", "/console/src/main.js", "/console/..%2Fpyproject.toml",
                                  "/console/dist/console.js", "/console/format.js", "/console/nope.html",
                                  "/console/nope.js", "/console/replay.css.gz", "/console/cobrowse.js"])
async def test_nothing_else_is_served_from_the_console(server: LiveServer, path: str) -> None:
    status, _ = await server.request("GET", path)
    assert status == 404


def _directives(policy: str) -> dict[str, list[str]]:
    return {name: sources for name, *sources in (d.split() for d in policy.split(";"))}


def test_the_replayed_page_may_load_from_the_server_and_the_shops_only() -> None:
    shops = ("https://shop.example", "http://localhost:8000")
    policy = _directives(console_headers(shops)["Content-Security-Policy"])
    for name in ("img-src", "style-src", "font-src"):
        assert set(shops) <= set(policy[name]), name
        assert not {"*", "http:", "https:"} & set(policy[name]), name
    assert policy["base-uri"] == ["'self'", *shops]
    assert policy["script-src"] == ["'self'"] and policy["media-src"] == ["'none'"]
    # Any shop: none is known, so the page's files come from the server's own origin only (its
    # <base> may be any page's: a base fetches nothing).
    policy = _directives(console_headers(("*",))["Content-Security-Policy"])
    for name in ("img-src", "style-src", "font-src"):
        assert set(policy[name]) <= {"'self'", "'unsafe-inline'", "data:", "blob:"}, name
    assert policy["base-uri"] == ["'self'", "http:", "https:"]


@pytest.mark.parametrize("origin", ["https://shop.example/", "https://shop.example/checkout", "shop.example",
                                    "https://shop.example; script-src *", "https://a.example https://b.example",
                                    "ftp://shop.example"])
def test_an_allowed_origin_is_an_origin(origin: str) -> None:
    with pytest.raises(ValueError, match="allowed_origins"):
        load_settings(environ={"CHATSERVER_ALLOWED_ORIGINS": origin})
    assert load_settings(environ={"CHATSERVER_ALLOWED_ORIGINS": "https://shop.example,http://[::1]:8080,*"})
