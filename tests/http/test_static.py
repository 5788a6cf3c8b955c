"""The widget's files and the demo shop: content types, caching, compression, and nothing served
from outside their directories."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from multidict import CIMultiDict

from chatserver.config import Settings
from chatserver.http import static
from chatserver.http.openapi import ROUTES, openapi_document

from ..e2e.widget import DIST
from ..support import LiveServer

pytestmark = pytest.mark.usefixtures("widget_built")


def _chunks() -> list[str]:
    return sorted(f"/widget/{p.name}" for p in (DIST / "widget").glob("*.js"))


async def _get(server: LiveServer, path: str, **headers: str) -> tuple[int, CIMultiDict[str], bytes]:
    assert server.http is not None
    async with server.http.get(server.url + path, headers=headers, allow_redirects=False,
                               auto_decompress=False) as resp:
        return resp.status, CIMultiDict(resp.headers), await resp.read()


async def test_the_loader_is_served_as_javascript_with_a_short_cache(server: LiveServer) -> None:
    status, headers, body = await _get(server, "/widget.js", **{"Accept-Encoding": "identity"})
    assert status == 200
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=300"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Encoding" not in headers
    assert body == (DIST / "widget.js").read_bytes()
    ui = (DIST / next(c for c in _chunks() if "/ui-" in c).removeprefix("/")).read_bytes()
    for chunk in _chunks():  # the loader names the chunks it fetches; the panel, the recorder
        assert chunk.removeprefix("/").encode() in (ui if "/recorder-" in chunk else body), chunk


async def test_chunks_are_cached_for_good_and_sent_gzipped_to_browsers_that_accept_it(server: LiveServer) -> None:
    chunks = _chunks()
    assert len(chunks) == 3  # the panel, socket.io-client, the co-browse recorder
    for chunk in chunks:
        status, headers, body = await _get(server, chunk, **{"Accept-Encoding": "gzip, deflate, br"})
        assert status == 200, chunk
        assert headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert headers["Access-Control-Allow-Origin"] == "*"  # module scripts are fetched with CORS
        assert headers["Content-Encoding"] == "gzip" and headers["Vary"] == "Accept-Encoding"
        assert gzip.decompress(body) == (DIST / chunk.removeprefix("/")).read_bytes()
        etag = headers["ETag"]
        status, _, _ = await _get(server, chunk, **{"If-None-Match": etag, "Accept-Encoding": "gzip"})
        assert status == 304


async def test_the_demo_shop_is_served_under_a_strict_policy(server: LiveServer) -> None:
    status, headers, _ = await _get(server, "/demo")
    assert status == 308 and headers["Location"] == "/demo/"
    status, headers, body = await _get(server, "/demo/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'<script src="/widget.js" async' in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-cache"
    for page in ("shipping.html", "payment.html", "confirmation.html", "privacy.html"):
        status, headers, body = await _get(server, f"/demo/{page}")
        assert status == 200 and b'src="/widget.js"' in body, page
    status, headers, _ = await _get(server, "/demo/demo.css")
    assert status == 200 and headers["Content-Type"] == "text/css; charset=utf-8"
    assert (await server.request("HEAD", "/demo/payment.html"))[0] == 200


@pytest.mark.parametrize("path", [
    "/demo/..%2f..%2fpyproject.toml", "/demo/%2e%2e/%2e%2e/pyproject.toml", "/demo/..%2fbuild.mjs",
    "/widget/..%2fwidget.js", "/widget/..%2f..%2fsrc%2floader.js", "/demo/.hidden.html", "/demo/nope.html",
    "/demo/index.html.gz", "/widget/ui.js", "/widget/sizes.json", "/demo/demo.css%00.html", "/widget.js/x",
    "/demo/sub/index.html",
])
async def test_nothing_outside_the_widget_and_demo_files_is_served(server: LiveServer, path: str) -> None:
    status, body = await server.request("GET", path)
    assert status == 404, (path, body)


def test_a_symlink_out_of_a_directory_is_not_followed(tmp_path: Path) -> None:
    inside = tmp_path / "demo"
    inside.mkdir()
    (tmp_path / "secret.html").write_text("secret")
    (inside / "page.html").write_text("ok")
    (inside / "leak.html").symlink_to(tmp_path / "secret.html")
    assert static._safe_file(inside, "page.html") == inside / "page.html"
    with pytest.raises(static.web.HTTPNotFound):
        static._safe_file(inside, "leak.html")


def test_static_routes_are_not_part_of_the_rest_api() -> None:
    api_paths = set(openapi_document(Settings())["paths"]) | {route.path for route in ROUTES}
    assert not api_paths & {path for path, _ in static.STATIC_ROUTES}
