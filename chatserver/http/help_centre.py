"""The public help centre at ``/help/`` (docs/knowledge-base.md): the categories with their
articles and FAQ, article pages and a search form, rendered on the server as plain HTML (fast,
indexable, no script needed).

Pages run under a policy that allows no script at all and styles only from this server. Every
value is escaped (``_help_pages.esc``); an article's stored HTML, sanitized when it was saved,
is sanitized again here before it goes in a page, so a row changed behind the application's
back cannot bring a script in either. Like the console and the demo, these pages are not part
of the REST API: they stay out of ``openapi.ROUTES`` and the OpenAPI document.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from ..domain.i18n import wanted_languages
from ..domain.kb_markdown import sanitize_html
from ..domain.knowledge import SLUG_RE, Article, ArticleFilter, SearchSource, check_locale
from ..errors import InvalidPayload, NotFound
from . import _help_pages as pages
from .common import client_key, compressed_when_accepted
from .services import services

log = logging.getLogger("chatserver.http.help")

STYLESHEET = Path(__file__).with_name("help.css")
HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; img-src 'self' https:; base-uri 'none'; "
                                "form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
PAGE_CACHE = "public, max-age=60"
# Articles listed under each category on the home page.
HOME_ARTICLES = 5

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PageHandler = Callable[[web.Request], Awaitable[web.Response]]


def _page(text: str, status: int = 200, cache: str = PAGE_CACHE) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8",
                        headers={**HEADERS, "Cache-Control": cache})


def _locale(request: web.Request) -> str | None:
    try:
        return check_locale(request.query.get("locale"))
    except InvalidPayload:
        return None


def _reader(request: web.Request, article_locale: str | None = None) -> pages.Reader:
    """The page's language: ``?lang=``, else the articles' ``?locale=``, else the browser's
    (Accept-Language), else the article's own, else the shop's default_locale."""
    languages = services(request).languages
    chosen = languages.supported(request.query.get("lang"))
    wanted = [chosen] if chosen else []
    wanted += [tag for tag in [_locale(request)] if tag]
    wanted += wanted_languages(request.headers.get("Accept-Language", "")[:500])
    wanted += [article_locale] if article_locale else []
    language = languages.choose("server", wanted)
    return pages.Reader(locale=_locale(request), t=languages.catalogs["server"].translator(language),
                        chosen=chosen is not None)


def _slug(request: web.Request) -> str:
    slug = request.match_info["slug"]
    if len(slug) > 80 or not SLUG_RE.fullmatch(slug):
        raise NotFound("no such page")
    return slug


def _bodies(articles: list[Article]) -> dict[str, str]:
    return {a.id: sanitize_html(a.body_html) for a in articles}


def pages_of(handler: PageHandler) -> Handler:
    """Turn the domain's errors into HTML pages (the REST routes answer JSON); every page gzipped
    for a browser that accepts it (a page is the same for every caller: it holds no secret)."""
    async def page(request: web.Request) -> web.StreamResponse:
        try:
            response = await handler(request)
        except NotFound:
            reader = _reader(request)
            response = _page(pages.error_page(404, reader.t("help.noSuchPage"), reader), 404, "no-cache")
        except InvalidPayload as exc:
            response = _page(pages.error_page(400, exc.message, _reader(request)), 400, "no-cache")
        compressed_when_accepted(request, response)
        # A page is in the language the browser asks for (unless the address names one).
        response.headers["Vary"] = "Accept-Encoding, Accept-Language"
        return response

    return page


async def home(request: web.Request) -> web.Response:
    locale = _locale(request)
    service = services(request).knowledge
    categories = await service.store.categories()
    counts = await service.store.published_counts()
    by_category = {}
    for category in categories:
        articles, _ = await service.store.articles(ArticleFilter(category_id=category.id, locale=locale),
                                                   HOME_ARTICLES, 0)
        by_category[category.id] = articles
    faq = await service.store.faq(None, locale)
    shown = [c for c in categories if by_category[c.id]]
    return _page(pages.home_page(shown, by_category, counts, faq, _bodies(faq), _reader(request)))


async def category(request: web.Request) -> web.Response:
    locale = _locale(request)
    service = services(request).knowledge
    found = await service.category_by_slug(_slug(request))
    faq = await service.store.faq(found.id, locale)
    articles, _ = await service.store.articles(ArticleFilter(category_id=found.id, locale=locale), 200, 0)
    in_faq = {a.id for a in faq}
    return _page(pages.category_page(found, faq, [a for a in articles if a.id not in in_faq], _bodies(faq),
                                     _reader(request)))


async def article(request: web.Request) -> web.Response:
    locale = _locale(request)
    service = services(request).knowledge
    found = await service.published_by_slug(_slug(request))
    category = await service.store.category(found.category_id) if found.category_id else None
    related: list[Article] = []
    if category is not None:
        siblings, _ = await service.store.articles(ArticleFilter(category_id=category.id, locale=locale), 6, 0)
        related = [a for a in siblings if a.id != found.id][:5]
    return _page(pages.article_page(found, sanitize_html(found.body_html), category, related,
                                    _reader(request, found.locale)))


async def search(request: web.Request) -> web.Response:
    locale = _locale(request)
    query = request.query.get("q", "").strip()
    if not query:
        return _page(pages.search_page(None, "", _reader(request)), cache="no-cache")
    if len(query) > 200:
        raise InvalidPayload("Searches are limited to 200 characters.")
    record = services(request).kb_limiter.take(client_key(request))
    result = await services(request).knowledge.search(query, locale=locale, limit=20, record=record,
                                                 source=SearchSource.HELP)
    return _page(pages.search_page(result, query, _reader(request)), cache="no-cache")


async def stylesheet(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STYLESHEET, headers={"Content-Type": "text/css; charset=utf-8",
                                                 "Cache-Control": "public, max-age=3600",
                                                 "X-Content-Type-Options": "nosniff"})


async def redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect("/help/")


HELP_ROUTES: list[tuple[str, Handler]] = [
    ("/help", redirect),
    ("/help/", pages_of(home)),
    ("/help/search", pages_of(search)),
    ("/help/categories/{slug}", pages_of(category)),
    ("/help/articles/{slug}", pages_of(article)),
    ("/help/help.css", stylesheet),
]


def add_help_routes(app: web.Application) -> None:
    """Register the help centre's pages (GET and HEAD)."""
    for path, handler in HELP_ROUTES:
        app.router.add_get(path, handler)
