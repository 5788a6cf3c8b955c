"""The widget's files, the demo shop and the console: content types, caching, compression, and
nothing served from outside their directories."""

from __future__ import annotations

import gzip
from pathlib import Path

import brotli
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
    """GET ``path`` with these headers only (no Accept-Encoding unless given), the body as sent."""
    assert server.http is not None
    async with server.http.get(server.url + path, headers=headers, allow_redirects=False, auto_decompress=False,
                               skip_auto_headers=() if "Accept-Encoding" in headers else ("Accept-Encoding",)) as resp:
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
    assert len(chunks) == 4  # the panel, socket.io-client, the co-browse recorder, the proactive watcher
    for chunk in chunks:
        status, headers, body = await _get(server, chunk, **{"Accept-Encoding": "gzip, deflate"})
        assert status == 200, chunk
        assert headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert headers["Access-Control-Allow-Origin"] == "*"  # module scripts are fetched with CORS
        assert headers["Content-Encoding"] == "gzip" and headers["Vary"] == "Accept-Encoding"
        assert gzip.decompress(body) == (DIST / chunk.removeprefix("/")).read_bytes()
        etag = headers["ETag"]
        status, _, _ = await _get(server, chunk, **{"If-None-Match": etag, "Accept-Encoding": "gzip"})
        assert status == 304


# Every text file a browser loads from the server, and the file it must be, uncompressed.
_TEXT_ASSETS = [
    ("/widget.js", DIST / "widget.js", "text/javascript; charset=utf-8"),
    ("/demo/", DIST.parent / "demo" / "index.html", "text/html; charset=utf-8"),
    ("/demo/payment.html", DIST.parent / "demo" / "payment.html", "text/html; charset=utf-8"),
    ("/demo/demo.css", DIST.parent / "demo" / "demo.css", "text/css; charset=utf-8"),
    ("/console/", static.CONSOLE_DIST_DIR.parent / "index.html", "text/html; charset=utf-8"),
    ("/console/console.css", static.CONSOLE_DIST_DIR.parent / "console.css", "text/css; charset=utf-8"),
    ("/console/console.js", static.CONSOLE_DIST_DIR / "console.js", "text/javascript; charset=utf-8"),
    ("/console/replay.css", static.CONSOLE_DIST_DIR / "replay.css", "text/css; charset=utf-8"),
]
_DECODERS = {"br": brotli.decompress, "gzip": gzip.decompress}


def _bytes(path: Path) -> bytes:
    return path.read_bytes()


@pytest.mark.parametrize(("path", "source", "content_type"), _TEXT_ASSETS, ids=[a[0] for a in _TEXT_ASSETS])
async def test_every_text_file_is_sent_compressed_to_a_client_that_asks(
        server: LiveServer, path: str, source: Path, content_type: str) -> None:
    expected = _bytes(source)
    etags: dict[str | None, str] = {}
    # What Chromium sends, what curl --compressed sends, nothing, and gzip refused.
    for accept, coding in [("gzip, deflate, br, zstd", "br"), ("deflate, gzip", "gzip"), (None, None),
                           ("identity", None)]:
        status, headers, body = await _get(server, path, **({"Accept-Encoding": accept} if accept else {}))
        assert status == 200, (path, accept)
        assert headers["Content-Type"] == content_type
        assert headers["Vary"] == "Accept-Encoding"  # compressed or not: a cache keeps them apart
        assert headers.get("Content-Encoding") == coding, (path, accept)
        assert (_DECODERS[coding](body) if coding else body) == expected, (path, accept)
        if coding:
            assert len(body) < len(expected) / 2, (path, coding)
        assert etags.setdefault(coding, headers["ETag"]) == headers["ETag"]
        # A revalidation answers 304 for the same representation only.
        status, _, _ = await _get(server, path, **{"If-None-Match": headers["ETag"], "Accept-Encoding": accept or ""})
        assert status == 304, (path, accept)
    assert len(set(etags.values())) == 3  # one ETag per representation


async def test_public_generated_pages_are_gzipped_and_api_answers_are_not(server: LiveServer) -> None:
    for path in ("/api/openapi.json", "/help/", "/help/search?q=refund", "/help/articles/none-such"):
        status, headers, body = await _get(server, path, **{"Accept-Encoding": "gzip, deflate, br"})
        assert status in (200, 404) and headers["Content-Encoding"] == "gzip", path
        # Help pages are in the language the browser asks for (help_centre.py) as well.
        language = ", Accept-Language" if path.startswith("/help/") else ""
        assert headers["Vary"] == f"Accept-Encoding{language}"
        plain_status, plain_headers, plain = await _get(server, path, **{"Accept-Encoding": "gzip;q=0, br"})
        assert plain_status == status and "Content-Encoding" not in plain_headers, path
        assert gzip.decompress(body) == plain
    # An answer that carries a secret (a token) is never compressed: next to text an attacker
    # chose, it would leak through the compressed length (BREACH).
    assert server.http is not None
    await server.admin_token()
    first_admin = _bytes(server.settings.data_dir / "first-admin.txt").decode()
    creds = dict(line.split(": ", 1) for line in first_admin.splitlines())
    for path, json in [("/api/auth/login", {"email": creds["email"], "password": creds["password"]}),
                       ("/api/visitor/sessions", None)]:
        async with server.http.post(server.url + path, json=json, auto_decompress=False,
                                    headers={"Accept-Encoding": "gzip, deflate, br"}) as resp:
            assert resp.status in (200, 201), path
            assert "Content-Encoding" not in resp.headers and "token" in await resp.json(), path


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
