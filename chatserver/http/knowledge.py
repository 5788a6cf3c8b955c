"""REST routes of the knowledge base (docs/knowledge-base.md): published articles, the FAQ,
search and suggestions for anyone (the widget calls them from shops' pages); drafts for agents;
writing, ordering and the report for admins."""

from __future__ import annotations

import logging
import re
import time
from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web

from ..domain.knowledge import (
    LOCALE,
    Article,
    ArticleFields,
    ArticleFilter,
    ArticleStatus,
    Category,
    CategoryFields,
    Outcome,
    SearchSource,
)
from ..domain.models import Agent
from ..domain.patterns import NOT_BLANK, SPACE, checked
from ..errors import AuthRequired, InvalidPayload, RateLimited
from ..wire.shapes import (
    KbArticleAnswer,
    KbArticles,
    KbCategories,
    KbCategoryAnswer,
    KbFaq,
    KbFaqEntries,
    KbReport,
    KbSearchResults,
    KbSuggestions,
)
from ..wire.views import article_view, category_view, report_view, search_view
from ._records import DATES, check_range, path_id, time_query
from .common import MAX_OFFSET, client_key, current_agent, int_query, json_body, paging
from .route import Auth, Query, Route, bounded_by, empty_answer, json_answer
from .services import SERVICES, services

log = logging.getLogger("chatserver.http.knowledge")


Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
UNSET = msgspec.UNSET
Unset = msgspec.UnsetType
# What the knowledge service checks of a title or name: something besides whitespace and control
# characters (they are dropped); of a slug, its form; of a locale, a language tag.
_SHOWN = rf"[^{SPACE}\x00-\x08\x0e-\x1b\x7f]"
Slug = Annotated[str, msgspec.Meta(min_length=1, max_length=80,
                                   extra_json_schema=checked(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$(?!\n)"))]


class ArticleBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200, extra_json_schema=checked(pattern=_SHOWN))] | (
        Unset) = UNSET
    body: Annotated[str, msgspec.Meta(
        max_length=50_000, extra_json_schema=bounded_by("kb_max_body_chars"),
        description="Markdown (CommonMark, tables, strikethrough); raw HTML is shown as text; up to "
                    "kb_max_body_chars")] | Unset = UNSET
    slug: Annotated[Slug, msgspec.Meta(description="made from the title when not given")] | Unset = UNSET
    status: ArticleStatus | Unset = UNSET
    locale: Annotated[str, msgspec.Meta(
        max_length=35, extra_json_schema=checked(pattern=f"^({LOCALE[1:-1]})?$(?!\\n)"),
        description="a language tag such as en or de-CH; empty for none")] | Unset | None = UNSET
    category_id: Id | Unset | None = UNSET
    tags: Annotated[list[Annotated[str, msgspec.Meta(max_length=40)]], msgspec.Meta(max_length=20)] | Unset = UNSET
    assignee_id: Id | Unset | None = UNSET

    def fields(self) -> ArticleFields:
        return ArticleFields(**msgspec.structs.asdict(self))


# A new article has a title (create_article refuses one without).
NewArticle = Annotated[ArticleBody, msgspec.Meta(extra_json_schema=checked(required=["title"]))]


class DraftBody(ArticleBody, forbid_unknown_fields=True, kw_only=True):
    conversation_id: Id
    # draft_from_conversation refuses another status.
    status: Annotated[ArticleStatus, msgspec.Meta(extra_json_schema=checked(enum=["draft"]))] | Unset = UNSET

    def fields(self) -> ArticleFields:
        values = msgspec.structs.asdict(self)
        del values["conversation_id"]
        return ArticleFields(**values)


class CategoryBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, extra_json_schema=checked(pattern=_SHOWN))] | (
        Unset) = UNSET
    slug: Slug | Unset = UNSET
    description: Annotated[str, msgspec.Meta(max_length=1000)] | Unset = UNSET
    position: Annotated[int, msgspec.Meta(ge=0, le=10_000)] | Unset = UNSET


# A new category has a name (save_category refuses one without).
NewCategory = Annotated[CategoryBody, msgspec.Meta(extra_json_schema=checked(required=["name"]))]


class FaqBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # set_faq refuses an article named twice.
    article_ids: Annotated[list[Id], msgspec.Meta(max_length=200, extra_json_schema=checked(uniqueItems=True))]


class FeedbackBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    outcome: Outcome
    query: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    article_id: Id | None = None


# -- helpers ------------------------------------------------------------------------------------

async def optional_agent(request: web.Request) -> Agent | None:
    """The calling agent when the request carries a token (a bad one is refused), else None."""
    return await current_agent(request) if "Authorization" in request.headers else None


def text_query(request: web.Request, name: str, limit: int) -> str | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    if len(value) > limit:
        raise InvalidPayload(f"{name} is limited to {limit} characters")
    return value


def _bool_query(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise InvalidPayload(f"{name} must be true or false")
    return raw in ("true", "1")


async def _categories(app: web.Application) -> dict[str, Category]:
    return {c.id: c for c in await app[SERVICES].knowledge.store.categories()}


async def _category_id(app: web.Application, slug: str | None) -> str | None:
    return (await app[SERVICES].knowledge.category_by_slug(slug)).id if slug is not None else None


async def _agents(app: web.Application) -> dict[str, Agent]:
    return {a.id: a for a in await app[SERVICES].agents.list_agents()}


async def _staff_view(request: web.Request, article: Article) -> dict[str, Any]:
    return article_view(article, await _categories(request.app), agents=await _agents(request.app))


def _may_record(request: web.Request) -> bool:
    return services(request).kb_limiter.take(client_key(request))


# -- public -------------------------------------------------------------------------------------

async def list_categories(request: web.Request) -> web.Response:
    service = services(request).knowledge
    counts = await service.store.published_counts()
    return web.json_response({"categories": [category_view(c, counts.get(c.id, 0))
                                             for c in await service.store.categories()]})


_STATUSES = {"published": (ArticleStatus.PUBLISHED,), "draft": (ArticleStatus.DRAFT,),
             "in_review": (ArticleStatus.IN_REVIEW,), "all": tuple(ArticleStatus)}


async def list_articles(request: web.Request) -> web.Response:
    reader = await optional_agent(request)
    raw_status = request.query.get("status", "published")
    if raw_status not in _STATUSES:
        raise InvalidPayload("status must be published, draft, in_review or all")
    assignee = text_query(request, "assignee", 64)
    if assignee == "me":
        assignee = (await current_agent(request)).id
    where = ArticleFilter(statuses=_STATUSES[raw_status],
                          category_id=await _category_id(request.app, text_query(request, "category", 80)),
                          tag=text_query(request, "tag", 40), locale=text_query(request, "locale", 35),
                          assignee_id=assignee)
    if reader is None and assignee is not None:
        raise AuthRequired("assignee is for agents: send an agent token")
    articles, total = await services(request).knowledge.list_articles(
        reader, where, int_query(request, "limit", 50, 1, 200), int_query(request, "offset", 0, 0, MAX_OFFSET))
    categories = await _categories(request.app)
    agents = await _agents(request.app) if reader is not None else None
    return web.json_response({"articles": [article_view(a, categories, full=False, agents=agents) for a in articles],
                              "total": total})


async def get_article(request: web.Request) -> web.Response:
    reader = await optional_agent(request)
    article = await services(request).knowledge.article_for(reader, path_id(request, "article_id", "article"))
    if reader is not None:
        return web.json_response({"article": await _staff_view(request, article)})
    return web.json_response({"article": article_view(article, await _categories(request.app))})


async def search(request: web.Request) -> web.Response:
    query = request.query.get("q", "")
    if not query.strip() or len(query) > 200:
        raise InvalidPayload("q must be 1-200 characters")
    raw_source = request.query.get("source", "api")
    try:
        source = SearchSource(raw_source)
    except ValueError:
        raise InvalidPayload("source must be widget, help, console or api") from None
    limit = int_query(request, "limit", 5, 1, 20)
    locale = text_query(request, "locale", 35)
    category_id = await _category_id(request.app, text_query(request, "category", 80))
    record = _bool_query(request, "record") and _may_record(request)
    started = time.perf_counter()
    result = await services(request).knowledge.search(query, locale=locale, category_id=category_id, limit=limit,
                                                 record=record, source=source)
    # The time the search itself took (the load test reads it beside the round trip).
    timing = f"search;dur={(time.perf_counter() - started) * 1000:.3f}"
    categories = await _categories(request.app) if result.hits else {}
    return web.json_response(search_view(result, categories), headers={"Server-Timing": timing})


# A page address as a browser gives it (percent-encoded, so ASCII). The limits keep the whole
# query under the 8 KB request line aiohttp reads, even when the title is in a far script.
_PAGE_URL = re.compile(r"^https?://[\x21-\x7e]*$(?!\n)")


async def suggestions(request: web.Request) -> web.Response:
    raw_topics = text_query(request, "topic", 100)
    topics = [t.strip() for t in raw_topics.split(",") if t.strip()][:5] if raw_topics else []
    page_url = request.query.get("page_url")  # given empty, it is no address either
    if page_url is not None and not (len(page_url) <= 1000 and _PAGE_URL.fullmatch(page_url)):
        raise InvalidPayload("page_url must be an http(s) address of at most 1000 characters")
    available, matched, articles = await services(request).knowledge.suggestions(
        page_url=page_url, page_title=text_query(request, "page_title", 200),
        topics=topics, locale=text_query(request, "locale", 35), limit=int_query(request, "limit", 5, 1, 20))
    categories = await _categories(request.app)
    return web.json_response({"available": available, "topics": matched,
                              "articles": [article_view(a, categories, full=False) for a in articles]})


async def faq(request: web.Request) -> web.Response:
    service = services(request).knowledge
    category_id = await _category_id(request.app, text_query(request, "category", 80))
    articles = await service.store.faq(category_id, text_query(request, "locale", 35))
    categories = await _categories(request.app)
    groups: dict[str, list[Article]] = {}
    for article in articles:
        groups.setdefault(article.category_id or "", []).append(article)
    return web.json_response({"categories": [
        {"category": category_view(categories[cid]), "entries": [article_view(a, categories) for a in entries]}
        for cid, entries in groups.items() if cid in categories]})


async def feedback(request: web.Request) -> web.Response:
    body = await json_body(request, FeedbackBody)
    if not _may_record(request):
        raise RateLimited("too many reports from this address; wait a minute")
    await services(request).knowledge.record_outcome(body.outcome, body.query, body.article_id)
    return web.Response(status=204)


# -- agents and admins --------------------------------------------------------------------------

async def create_article(request: web.Request) -> web.Response:
    actor = await current_agent(request)
    body = await json_body(request, NewArticle)
    article = await services(request).knowledge.create_article(actor, body.fields())
    log.info("kb article created article=%s agent=%s status=%s", article.id, actor.id, article.status)
    return web.json_response({"article": await _staff_view(request, article)}, status=201)


async def create_draft(request: web.Request) -> web.Response:
    actor = await current_agent(request)
    body = await json_body(request, DraftBody)
    article = await services(request).knowledge.draft_from_conversation(actor, body.conversation_id, body.fields())
    log.info("kb draft from conversation article=%s conversation=%s agent=%s", article.id, body.conversation_id,
             actor.id)
    return web.json_response({"article": await _staff_view(request, article)}, status=201)


async def update_article(request: web.Request) -> web.Response:
    actor = await current_agent(request)
    article_id = path_id(request, "article_id", "article")
    body = await json_body(request, ArticleBody)
    article = await services(request).knowledge.update_article(actor, article_id, body.fields())
    log.info("kb article changed article=%s agent=%s status=%s", article.id, actor.id, article.status)
    return web.json_response({"article": await _staff_view(request, article)})


async def delete_article(request: web.Request) -> web.Response:
    actor = await current_agent(request)
    article_id = path_id(request, "article_id", "article")
    await services(request).knowledge.delete_article(actor, article_id)
    log.info("kb article deleted article=%s agent=%s", article_id, actor.id)
    return web.Response(status=204)


async def create_category(request: web.Request) -> web.Response:
    actor = await current_agent(request)
    body = await json_body(request, NewCategory)
    category = await services(request).knowledge.save_category(actor, None,
                                                               CategoryFields(**msgspec.structs.asdict(body)))
    return web.json_response({"category": category_view(category)}, status=201)


async def update_category(request: web.Request) -> web.Response:
    actor = await current_agent(request)
    category_id = path_id(request, "category_id", "category")
    body = await json_body(request, CategoryBody)
    category = await services(request).knowledge.save_category(actor, category_id,
                                                          CategoryFields(**msgspec.structs.asdict(body)))
    return web.json_response({"category": category_view(category)})


async def delete_category(request: web.Request) -> web.Response:
    actor = await current_agent(request)
    await services(request).knowledge.delete_category(actor, path_id(request, "category_id", "category"))
    return web.Response(status=204)


async def set_faq(request: web.Request) -> web.Response:
    actor = await current_agent(request)
    category_id = path_id(request, "category_id", "category")
    body = await json_body(request, FaqBody)
    entries = await services(request).knowledge.set_faq(actor, category_id, body.article_ids)
    categories = await _categories(request.app)
    return web.json_response({"category": category_view(categories[category_id]),
                              "entries": [article_view(a, categories, full=False) for a in entries]})


async def report(request: web.Request) -> web.Response:
    actor = await current_agent(request)
    since, until = time_query(request, "from"), time_query(request, "to", end=True)
    check_range(since, until)
    result = await services(request).knowledge.report(actor, since, until, int_query(request, "limit", 20, 1, 200))
    return web.json_response(report_view(result))


def _text(most: int, **schema: Any) -> Any:
    """A text query parameter of at most ``most`` characters (``text_query``)."""
    return Annotated[str, msgspec.Meta(max_length=most, extra_json_schema=schema)]


_LOCALE = Query("locale", _text(35), "articles in this language (and those without one)")
_CATEGORY = Query("category", _text(80), "a category's slug")
_FEW = Query("limit", Annotated[int, msgspec.Meta(ge=1, le=20)])
_ONE_ARTICLE = json_answer(KbArticleAnswer, "Article")
_ONE_CATEGORY = json_answer(KbCategoryAnswer, "Category")
_DELETED = empty_answer("Deleted")
_FOR_ADMINS = (401, 403)
KNOWLEDGE_ROUTES = [
    Route("GET", "/api/kb/categories", list_categories, operation_id="listKbCategories", auth=Auth.NONE,
          summary="Knowledge-base categories, in order, with their published articles' count",
          answers=(json_answer(KbCategories, "Categories"),)),
    Route("POST", "/api/kb/categories", create_category, operation_id="addKbCategory",
          summary="Add a category (admins)", body=NewCategory,
          answers=(json_answer(KbCategoryAnswer, "Category", 201),), errors=(400, *_FOR_ADMINS, 409)),
    Route("PATCH", "/api/kb/categories/{category_id}", update_category, operation_id="updateKbCategory",
          summary="Change a category: name, slug, description, position (admins)", body=CategoryBody,
          answers=(_ONE_CATEGORY,), errors=(400, *_FOR_ADMINS, 404, 409)),
    Route("DELETE", "/api/kb/categories/{category_id}", delete_category, operation_id="deleteKbCategory",
          summary="Delete a category; its articles keep no category (admins)", answers=(_DELETED,),
          errors=(*_FOR_ADMINS, 404)),
    Route("PUT", "/api/kb/categories/{category_id}/faq", set_faq, operation_id="setKbFaq",
          summary="Set a category's FAQ: these articles of the category, in this order (admins)", body=FaqBody,
          answers=(json_answer(KbFaqEntries, "The FAQ"),), errors=(400, *_FOR_ADMINS, 404)),
    Route("GET", "/api/kb/articles", list_articles, operation_id="listKbArticles", auth=Auth.OPTIONAL,
          summary="Articles, FAQ order first then newest: published ones for anyone, drafts and articles in review "
                  "for agents",
          query=(Query("status", Literal["published", "draft", "in_review", "all"], "agents: draft, in_review or all"),
                 _CATEGORY, Query("tag", _text(40), "articles with this tag"), _LOCALE,
                 Query("assignee", _text(64), "agents: an agent's id, or me"), *paging(200)),
          answers=(json_answer(KbArticles, "Articles"),), errors=(400, 401, 403, 404)),
    Route("POST", "/api/kb/articles", create_article, operation_id="addKbArticle", summary="Write an article (admins)",
          body=NewArticle, answers=(json_answer(KbArticleAnswer, "Article", 201),), errors=(400, *_FOR_ADMINS, 409)),
    Route("GET", "/api/kb/articles/{article_id}", get_article, operation_id="getKbArticle", auth=Auth.OPTIONAL,
          summary="An article with its rendered body: published ones for anyone, any for agents",
          answers=(_ONE_ARTICLE,), errors=(401, 404)),
    Route("PATCH", "/api/kb/articles/{article_id}", update_article, operation_id="updateKbArticle",
          summary="Change an article (admins; the assignee of a draft: its text, and draft or in review)",
          body=ArticleBody, answers=(_ONE_ARTICLE,), errors=(400, *_FOR_ADMINS, 404, 409)),
    Route("DELETE", "/api/kb/articles/{article_id}", delete_article, operation_id="deleteKbArticle",
          summary="Delete an article (admins)", answers=(_DELETED,), errors=(*_FOR_ADMINS, 404)),
    Route("POST", "/api/kb/drafts", create_draft, operation_id="draftKbArticle",
          summary="Turn a finished conversation the agent may read into a draft article: its question as the title "
                  "and the agents' answers as the body unless given, assigned to the caller unless to someone else",
          body=DraftBody, answers=(json_answer(KbArticleAnswer, "Article", 201),),
          errors=(400, *_FOR_ADMINS, 404, 409)),
    Route("GET", "/api/kb/search", search, operation_id="searchKb", auth=Auth.NONE,
          summary="Search the published articles (any of the words, best first; the last word may be unfinished; "
                  "unknown words are corrected to the nearest known ones)",
          query=(Query("q", Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NOT_BLANK)],
                       required=True),
                 _LOCALE, _CATEGORY, _FEW,
                 Query("record", bool, "log the search for the report (not while the shopper is still typing)"),
                 Query("source", SearchSource, "where the search was made, for the report")),
          answers=(json_answer(KbSearchResults, "Results"),), errors=(400, 404)),
    Route("GET", "/api/kb/suggestions", suggestions, operation_id="kbSuggestions", auth=Auth.NONE,
          summary="Articles to offer on a page before the shopper types: the page's topics (kb_page_topics, or the "
                  "shop's own), else the FAQ",
          query=(Query("page_url", _text(1000, pattern=_PAGE_URL.pattern),
                       "the page's address (http or https, percent-encoded)"),
                 Query("page_title", _text(200), "the page's title"),
                 Query("topic", _text(100), "comma-separated category slugs or tags the shop gives"), _LOCALE, _FEW),
          answers=(json_answer(KbSuggestions, "Suggestions"),), errors=(400,)),
    Route("GET", "/api/kb/faq", faq, operation_id="kbFaq", auth=Auth.NONE,
          summary="The FAQ: each category's published FAQ articles in order, with their bodies",
          query=(_CATEGORY, _LOCALE), answers=(json_answer(KbFaq, "FAQ"),), errors=(400, 404)),
    Route("POST", "/api/kb/feedback", feedback, operation_id="kbFeedback", auth=Auth.NONE,
          summary="Record what the widget's help step led to: an article answered the shopper, or they started a "
                  "chat or left a ticket (no visitor id is kept)",
          body=FeedbackBody, answers=(empty_answer("Recorded"),), errors=(400, 404, 429)),
    Route("GET", "/api/reports/knowledge-base", report, operation_id="kbReport",
          summary="Top searches, searches with no result, what the help step led to and the deflection rate (admins)",
          query=(*DATES, paging(200)[0]), answers=(json_answer(KbReport, "Report"),), errors=(400, *_FOR_ADMINS)),
]
# Called by the widget from shops' pages (cross-origin for the configured allowed_origins).
CORS_PATHS = frozenset({"/api/kb/search", "/api/kb/suggestions", "/api/kb/feedback"})
CORS_PREFIXES = ("/api/kb/articles/",)
