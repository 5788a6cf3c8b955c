"""The language files of the widget and the console (docs/widget.md, "Languages").

``GET /locales/{catalog}?want=de-AT,de,en`` answers with a redirect to the file of the first
language of ``want`` the catalog has (de-AT giving de), else of the shop's ``default_locale``:
``/locales/{catalog}/{language}.{hash}.json``, whose name carries a hash of its content (the
built-in messages with the shop's overrides merged in), so it is cached for good and a browser
fetches one language, once. Like the widget's chunks these are files, not part of the REST API:
they stay out of ``openapi.ROUTES`` and the OpenAPI document.
"""

from __future__ import annotations

import re

from aiohttp import web

from ..domain.i18n import wanted_languages
from .common import compressed_when_accepted
from .services import services

CATALOGS = frozenset({"widget", "console"})
MAX_WANT = 300
_FILE = re.compile(r"^([a-z]{2,3}(?:-[a-z0-9]{2,8})?)\.([0-9a-f]{12})\.json$(?!\n)")
# Which file a list of languages gets changes only with a restart (new overrides): asked again
# after as long as the loader itself is kept.
CHOICE_CACHE = "public, max-age=300"
FILE_CACHE = "public, max-age=31536000, immutable"
# Fetched by the widget from a shop's pages (CORS, and COEP pages need the resource policy).
_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "X-Content-Type-Options": "nosniff",
}


def _catalog(request: web.Request) -> str:
    name = request.match_info["catalog"]
    if name not in CATALOGS:
        raise web.HTTPNotFound()
    return name


def _redirect(location: str, cache: str) -> web.Response:
    return web.Response(status=302, headers={**_HEADERS, "Location": location, "Cache-Control": cache})


async def choose(request: web.Request) -> web.StreamResponse:
    """Redirect to the file of the language the reader gets."""
    name = _catalog(request)
    want = request.query.get("want", "")
    if len(want) > MAX_WANT:
        raise web.HTTPBadRequest(text="want: at most 300 characters of language tags")
    languages = services(request).languages
    language = languages.choose(name, wanted_languages(want))
    return _redirect(f"{name}/{language}.{languages.catalogs[name].hashes[language]}.json", CHOICE_CACHE)


async def language_file(request: web.Request) -> web.StreamResponse:
    """One language's messages; an outdated hash is sent on to the current file."""
    name = _catalog(request)
    match = _FILE.fullmatch(request.match_info["file"])
    catalog = services(request).languages.catalogs[name]
    if not match or match.group(1) not in catalog.bodies:
        raise web.HTTPNotFound()
    language, digest = match.groups()
    if digest != catalog.hashes[language]:
        return _redirect(f"{language}.{catalog.hashes[language]}.json", "no-cache")
    response = web.Response(body=catalog.bodies[language], content_type="application/json", charset="utf-8",
                            headers={**_HEADERS, "Cache-Control": FILE_CACHE, "Content-Language": language})
    return compressed_when_accepted(request, response)


def add_locale_routes(app: web.Application) -> None:
    """Register the language files' routes (GET and HEAD)."""
    app.router.add_get("/locales/{catalog}", choose)
    app.router.add_get("/locales/{catalog}/{file}", language_file)
