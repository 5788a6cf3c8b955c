"""Static files: the visitor widget and the demo shop (docs/widget.md).

- ``/widget.js``: the loader a shop's script tag points at; ``/widget/<chunk>.js``: the chat UI
  and the Socket.IO client it fetches when needed. Both are built into ``client/dist/`` by
  ``npm run build`` (``make install``), never committed.
- ``/demo/``: a static demo checkout from ``client/demo/`` (copied into ``client/dist/demo/`` by the
  build) with the widget on every page.
- ``/console/``: the agent console (``agent_console/``: index.html and console.css copied, and
  console.js built, into ``agent_console/dist/``).

Every text file is served compressed to a browser that accepts it: the build writes a ``.br`` and
a ``.gz`` twin of each (``scripts/precompress.mjs``), aiohttp's ``FileResponse`` sends the first
the request's ``Accept-Encoding`` names, and its ETag is that twin's own. These files hold no
secret, so compressing them gives a BREACH attacker nothing to guess.

These are not part of the REST API, so they stay out of ``openapi.ROUTES`` and the OpenAPI
document. Only plain file names with a known extension, directly inside those directories, are
served: a name is matched against a strict pattern before the file system is touched, and the
resolved file must still be in the directory (no ``..``, no symlinks out).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from .services import services

log = logging.getLogger("chatserver.http")

CLIENT_DIR = Path(__file__).resolve().parents[2] / "client"
DIST_DIR = CLIENT_DIR / "dist"
CHUNK_DIR = DIST_DIR / "widget"
DEMO_DIR = DIST_DIR / "demo"
CONSOLE_DIST_DIR = CLIENT_DIR.parent / "agent_console" / "dist"

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# Sent as twins compressed by the build, so every answer says it depends on Accept-Encoding: a
# shared cache must not hand a compressed body to a client that did not ask for one (aiohttp adds
# Vary only to a compressed answer).
COMPRESSED_SUFFIXES = frozenset({".js", ".html", ".css"})
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$(?!\n)")

# Shops keep one URL for the loader: a new build reaches their pages within minutes.
LOADER_CACHE = "public, max-age=300"
# Chunk names carry a hash of their content, so a cached chunk is never stale.
CHUNK_CACHE = "public, max-age=31536000, immutable"
DEMO_CACHE = "no-cache"

# Shops load the widget from the chat server's origin: module chunks are fetched with CORS,
# and a shop that isolates its pages (COEP) needs the resource policy.
_WIDGET_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "X-Content-Type-Options": "nosniff",
}
# The demo runs under a strict policy, as a careful shop would: the widget needs no inline
# script or style, and talks only to its own server.
_DEMO_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

# The console shows what shoppers type: it runs scripts from its own origin only, in no frame.
# The co-browse view rebuilds the shopper's page in a sandboxed frame that inherits this policy:
# no script of the page can run (script-src 'self', and the sandbox has no allow-scripts), and
# its styles, images and fonts load from the server's own origin and the shops' (allowed_origins)
# only, so a tracking pixel, an @import or a font of any other origin in a shopper's page (or in
# what a visitor sends as one) is never fetched by the agent's browser. With "*" the shops are
# not known: the page gets what the server's own origin serves and what its snapshot carries
# inline. base-uri admits the <base> the console gives the frame (the shopper's page, so that
# its relative URLs are the shop's, not the console's); a base fetches nothing by itself.
_CONSOLE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'{shops}; "
    "img-src 'self' data: blob:{shops}; font-src 'self' data:{shops}; media-src 'none'; connect-src 'self'; "
    "frame-src 'self'; base-uri 'self'{bases}; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
)


@functools.cache
def console_headers(allowed_origins: tuple[str, ...]) -> dict[str, str]:
    """The console's headers for the configured shop origins (validated by config.py)."""
    any_shop = "*" in allowed_origins
    shops = "" if any_shop else "".join(f" {origin}" for origin in allowed_origins)
    return {
        "Content-Security-Policy": _CONSOLE_POLICY.format(shops=shops, bases=" http: https:" if any_shop else shops),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


# Revalidated on every load (ETag), so a new build reaches agents at their next reload.
CONSOLE_CACHE = "no-cache"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _safe_file(directory: Path, name: str) -> Path:
    """``directory/name`` if it is a servable regular file there; otherwise 404."""
    if not _FILE_NAME.fullmatch(name) or ".." in name or Path(name).suffix not in CONTENT_TYPES:
        raise web.HTTPNotFound()
    path = directory / name
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise web.HTTPNotFound() from None
    if resolved.parent != directory.resolve() or not resolved.is_file():
        raise web.HTTPNotFound()
    return path


def _file_response(path: Path, cache: str, headers: dict[str, str]) -> web.FileResponse:
    # FileResponse answers conditional requests (ETag, Last-Modified) and sends the build's
    # precompressed ``.br`` or ``.gz`` twin to browsers that accept it.
    vary = {"Vary": "Accept-Encoding"} if path.suffix in COMPRESSED_SUFFIXES else {}
    return web.FileResponse(path, headers={
        "Content-Type": CONTENT_TYPES[path.suffix], "Cache-Control": cache, **vary, **headers,
    })


async def widget_loader(request: web.Request) -> web.StreamResponse:
    return _file_response(_safe_file(DIST_DIR, "widget.js"), LOADER_CACHE, _WIDGET_HEADERS)


async def widget_chunk(request: web.Request) -> web.StreamResponse:
    return _file_response(_safe_file(CHUNK_DIR, request.match_info["name"]), CHUNK_CACHE, _WIDGET_HEADERS)


async def demo_redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect("/demo/")


async def demo_page(request: web.Request) -> web.StreamResponse:
    name = request.match_info.get("name") or "index.html"
    return _file_response(_safe_file(DEMO_DIR, name), DEMO_CACHE, _DEMO_HEADERS)


async def console_redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect("/console/")


async def console_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info.get("name") or "index.html"
    headers = console_headers(services(request).settings.allowed_origins)
    # What the build made: index.html, console.css, console.js, its lazily loaded chunks (the
    # co-browse replayer) and replay.css.
    if Path(name).suffix not in (".js", ".css") and name != "index.html":
        raise web.HTTPNotFound()
    return _file_response(_safe_file(CONSOLE_DIST_DIR, name), CONSOLE_CACHE, headers)


STATIC_ROUTES: list[tuple[str, Handler]] = [
    ("/widget.js", widget_loader),
    ("/widget/{name}", widget_chunk),
    ("/demo", demo_redirect),
    ("/demo/", demo_page),
    ("/demo/{name}", demo_page),
    ("/console", console_redirect),
    ("/console/", console_file),
    ("/console/{name}", console_file),
]


def add_static_routes(app: web.Application) -> None:
    """Register the widget and demo routes (GET and HEAD)."""
    for path, handler in STATIC_ROUTES:
        app.router.add_get(path, handler)
    if not (DIST_DIR / "widget.js").is_file():
        log.warning("the widget is not built (%s missing): run `make install` or `npm ci && npm run build`",
                    DIST_DIR / "widget.js")
    if not (CONSOLE_DIST_DIR / "console.js").is_file():
        log.warning("the agent console is not built (%s missing): run `make install` or `npm ci && npm run build`",
                    CONSOLE_DIST_DIR / "console.js")
