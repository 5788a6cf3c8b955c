"""The OpenAPI paths and schemas of the knowledge-base routes (``knowledge.py``), merged into
``openapi.openapi_document``."""

from __future__ import annotations

from typing import Any

from ..domain.knowledge import LOCALE
from ..domain.patterns import NOT_BLANK, SPACE
from .common import MAX_OFFSET

_NULLABLE_STRING = {"type": ["string", "null"]}
_NULLABLE_NUMBER = {"type": ["number", "null"]}
_STATUS = {"type": "string", "enum": ["draft", "in_review", "published"]}
_REF = {"type": ["object", "null"], "required": ["id", "name"],
        "properties": {"id": {"type": "string"}, "slug": {"type": "string"}, "name": {"type": "string"}}}

KNOWLEDGE_SCHEMAS: dict[str, Any] = {
    "KbCategory": {
        "type": "object",
        "required": ["id", "slug", "name", "description", "position"],
        "properties": {
            "id": {"type": "string"}, "slug": {"type": "string"}, "name": {"type": "string"},
            "description": {"type": "string"}, "position": {"type": "integer"},
            "articles": {"type": "integer", "description": "published articles in it (in the list only)"},
        },
    },
    "KbArticle": {
        "type": "object",
        "required": ["id", "slug", "url", "title", "summary", "status", "locale", "category", "tags", "faq_position",
                     "updated_at", "published_at"],
        "properties": {
            "id": {"type": "string"}, "slug": {"type": "string"},
            "url": {"type": "string", "description": "its page in the help centre, e.g. /help/articles/refunds"},
            "title": {"type": "string"},
            "summary": {"type": "string", "description": "the start of the body as plain text"},
            "status": _STATUS, "locale": _NULLABLE_STRING, "category": _REF,
            "tags": {"type": "array", "items": {"type": "string"}},
            "faq_position": {"type": ["integer", "null"], "description": "its place in its category's FAQ"},
            "updated_at": {"type": "number"}, "published_at": _NULLABLE_NUMBER,
            "body_html": {"type": "string", "description": "the body rendered to sanitized HTML (single articles)"},
            "body": {"type": "string", "description": "the Markdown source (agents only)"},
            "assignee": {**_REF, "description": "who works on it (agents only)"},
            "created_by": {"type": "string"}, "created_at": {"type": "number"},
            "source_conversation_id": {**_NULLABLE_STRING, "description": "the conversation it was drafted from"},
            "snippet": {"type": "string", "description": "search results: the text around the first match"},
            "score": {"type": "number", "description": "search results: relevance (higher is better)"},
        },
    },
}

_ID = {"type": "string", "minLength": 1, "maxLength": 64}
# A title or name: something besides whitespace and control characters (they are dropped).
_SHOWN = rf"[^{SPACE}\x00-\x08\x0e-\x1b\x7f]"
_ARTICLE_FIELDS = {
    "title": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": _SHOWN},
    "slug": {"type": "string", "minLength": 1, "maxLength": 80, "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$",
             "description": "made from the title when not given"},
    "status": _STATUS,
    "locale": {"type": ["string", "null"], "maxLength": 35, "pattern": f"^({LOCALE[1:-1]})?$",
               "description": "a language tag such as en or de-CH; empty for none"},
    "category_id": {"type": ["string", "null"], "minLength": 1, "maxLength": 64},
    "tags": {"type": "array", "maxItems": 20, "items": {"type": "string", "maxLength": 40}},
    "assignee_id": {"type": ["string", "null"], "minLength": 1, "maxLength": 64},
}
_CATEGORY_FIELDS = {
    "name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": _SHOWN},
    "slug": {"type": "string", "minLength": 1, "maxLength": 80, "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"},
    "description": {"type": "string", "maxLength": 1000},
    "position": {"type": "integer", "minimum": 0, "maximum": 10000},
}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": required, "additionalProperties": False, "properties": properties}}}}


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": {"type": "string", **schema}}


def knowledge_paths(max_body_chars: int) -> dict[str, Any]:
    """The OpenAPI paths of ``KNOWLEDGE_ROUTES`` (an article's body: up to ``max_body_chars``)."""
    from .openapi import _AUTH, _errors, _json, _ref  # the document's helpers; imported late (it imports us)
    from .openapi_records import _DATES

    optional_auth: list[dict[str, list[str]]] = [{}, *_AUTH]
    one_article = _json({"type": "object", "required": ["article"], "properties": {"article": _ref("KbArticle")}},
                        "Article")
    one_category = _json({"type": "object", "required": ["category"], "properties": {
        "category": _ref("KbCategory")}}, "Category")
    article_id = [{"name": "article_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    category_id = [{"name": "category_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    articles = {"type": "array", "items": _ref("KbArticle")}
    locale = _query("locale", "articles in this language (and those without one)", maxLength=35)
    category = _query("category", "a category's slug", maxLength=80)
    limit = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 20}}
    article_fields = {**_ARTICLE_FIELDS, "body": {
        "type": "string", "maxLength": max_body_chars, "description": "Markdown (CommonMark, tables, "
        "strikethrough); raw HTML is shown as text; up to kb_max_body_chars"}}
    return {
        "/api/kb/categories": {
            "get": {"summary": "Knowledge-base categories, in order, with their published articles' count",
                    "operationId": "listKbCategories",
                    "responses": {"200": _json({"type": "object", "required": ["categories"], "properties": {
                        "categories": {"type": "array", "items": _ref("KbCategory")}}}, "Categories")}},
            "post": {"summary": "Add a category (admins)", "operationId": "addKbCategory", "security": _AUTH,
                     "requestBody": _body(_CATEGORY_FIELDS, ["name"]),
                     "responses": {"201": one_category, **_errors(400, 401, 403, 409)}},
        },
        "/api/kb/categories/{category_id}": {
            "patch": {"summary": "Change a category: name, slug, description, position (admins)",
                      "operationId": "updateKbCategory", "security": _AUTH, "parameters": category_id,
                      "requestBody": _body(_CATEGORY_FIELDS, []),
                      "responses": {"200": one_category, **_errors(400, 401, 403, 404, 409)}},
            "delete": {"summary": "Delete a category; its articles keep no category (admins)",
                       "operationId": "deleteKbCategory", "security": _AUTH, "parameters": category_id,
                       "responses": {"204": {"description": "Deleted"}, **_errors(401, 403, 404)}},
        },
        "/api/kb/categories/{category_id}/faq": {"put": {
            "summary": "Set a category's FAQ: these articles of the category, in this order (admins)",
            "operationId": "setKbFaq", "security": _AUTH, "parameters": category_id,
            "requestBody": _body({"article_ids": {"type": "array", "maxItems": 200, "uniqueItems": True,
                                                  "items": _ID}}, ["article_ids"]),
            "responses": {"200": _json({"type": "object", "required": ["category", "entries"], "properties": {
                "category": _ref("KbCategory"), "entries": articles}}, "The FAQ"), **_errors(400, 401, 403, 404)}}},
        "/api/kb/articles": {
            "get": {"summary": "Articles, FAQ order first then newest: published ones for anyone, drafts and "
                               "articles in review for agents", "operationId": "listKbArticles",
                    "security": optional_auth,
                    "parameters": [
                        _query("status", "agents: draft, in_review or all", enum=["published", "draft", "in_review",
                                                                                  "all"]),
                        category, _query("tag", "articles with this tag", maxLength=40), locale,
                        _query("assignee", "agents: an agent's id, or me", maxLength=64),
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                                     "maximum": MAX_OFFSET}}],
                    "responses": {"200": _json({"type": "object", "required": ["articles", "total"], "properties": {
                        "articles": articles, "total": {"type": "integer"}}}, "Articles"),
                        **_errors(400, 401, 403, 404)}},
            "post": {"summary": "Write an article (admins)", "operationId": "addKbArticle", "security": _AUTH,
                     "requestBody": _body(article_fields, ["title"]),
                     "responses": {"201": one_article, **_errors(400, 401, 403, 409)}},
        },
        "/api/kb/articles/{article_id}": {
            "get": {"summary": "An article with its rendered body: published ones for anyone, any for agents",
                    "operationId": "getKbArticle", "security": optional_auth, "parameters": article_id,
                    "responses": {"200": one_article, **_errors(401, 404)}},
            "patch": {"summary": "Change an article (admins; the assignee of a draft: its text, and draft or in "
                                 "review)", "operationId": "updateKbArticle", "security": _AUTH,
                      "parameters": article_id, "requestBody": _body(article_fields, []),
                      "responses": {"200": one_article, **_errors(400, 401, 403, 404, 409)}},
            "delete": {"summary": "Delete an article (admins)", "operationId": "deleteKbArticle", "security": _AUTH,
                       "parameters": article_id,
                       "responses": {"204": {"description": "Deleted"}, **_errors(401, 403, 404)}},
        },
        "/api/kb/drafts": {"post": {
            "summary": "Turn a finished conversation the agent may read into a draft article: its question as "
                       "the title and the agents' answers as the body unless given, assigned to the caller "
                       "unless to someone else", "operationId": "draftKbArticle", "security": _AUTH,
            "requestBody": _body({"conversation_id": _ID, **{k: v for k, v in article_fields.items()
                                                           if k != "status"},
                                  "status": {"type": "string", "enum": ["draft"]}}, ["conversation_id"]),
            "responses": {"201": one_article, **_errors(400, 401, 403, 404, 409)}}},
        "/api/kb/search": {"get": {
            "summary": "Search the published articles (any of the words, best first; the last word may be "
                       "unfinished; unknown words are corrected to the nearest known ones)",
            "operationId": "searchKb",
            "parameters": [
                {"name": "q", "in": "query", "required": True, "schema": {"type": "string", "minLength": 1,
                                                                          "maxLength": 200, "pattern": NOT_BLANK}},
                locale, category, limit,
                {"name": "record", "in": "query", "description": "log the search for the report (not while the "
                                                                "shopper is still typing)",
                 "schema": {"type": "boolean"}},
                _query("source", "where the search was made, for the report", enum=["widget", "help", "console",
                                                                                    "api"])],
            "responses": {"200": _json({"type": "object", "required": ["query", "corrected", "did_you_mean",
                                                                        "results"], "properties": {
                "query": {"type": "string"}, "corrected": {"type": "boolean"},
                "did_you_mean": {**_NULLABLE_STRING, "description": "the words searched instead of unknown ones"},
                "results": articles}}, "Results"), **_errors(400, 404)}}},
        "/api/kb/suggestions": {"get": {
            "summary": "Articles to offer on a page before the shopper types: the page's topics (kb_page_topics, "
                       "or the shop's own), else the FAQ", "operationId": "kbSuggestions",
            "parameters": [_query("page_url", "the page's address (http or https, percent-encoded)", maxLength=1000,
                                  pattern="^https?://[\\x21-\\x7e]*$"),
                           _query("page_title", "the page's title", maxLength=200),
                           _query("topic", "comma-separated category slugs or tags the shop gives", maxLength=100),
                           locale, limit],
            "responses": {"200": _json({"type": "object", "required": ["available", "topics", "articles"],
                                        "properties": {
                "available": {"type": "boolean", "description": "whether any article is published"},
                "topics": {"type": "array", "items": {"type": "string"}}, "articles": articles}}, "Suggestions"),
                **_errors(400)}}},
        "/api/kb/faq": {"get": {
            "summary": "The FAQ: each category's published FAQ articles in order, with their bodies",
            "operationId": "kbFaq", "parameters": [category, locale],
            "responses": {"200": _json({"type": "object", "required": ["categories"], "properties": {
                "categories": {"type": "array", "items": {"type": "object", "properties": {
                    "category": _ref("KbCategory"), "entries": articles}}}}}, "FAQ"), **_errors(400, 404)}}},
        "/api/kb/feedback": {"post": {
            "summary": "Record what the widget's help step led to: an article answered the shopper, or they "
                       "started a chat or left a ticket (no visitor id is kept)", "operationId": "kbFeedback",
            "requestBody": _body({
                "outcome": {"type": "string", "enum": ["answered", "chat_started", "ticket_created"]},
                "query": {"type": ["string", "null"], "maxLength": 200},
                "article_id": {"type": ["string", "null"], "minLength": 1, "maxLength": 64}}, ["outcome"]),
            "responses": {"204": {"description": "Recorded"}, **_errors(400, 404, 429)}}},
        "/api/reports/knowledge-base": {"get": {
            "summary": "Top searches, searches with no result, what the help step led to and the deflection rate "
                       "(admins)", "operationId": "kbReport", "security": _AUTH,
            "parameters": [*_DATES, {"name": "limit", "in": "query",
                                     "schema": {"type": "integer", "minimum": 1, "maximum": 200}}],
            "responses": {"200": _json({"type": "object", "required": [
                "searches", "searches_without_results", "top_searches", "no_result_searches", "outcomes",
                "deflection_rate", "top_articles"], "properties": {
                "searches": {"type": "integer"}, "searches_without_results": {"type": "integer"},
                "top_searches": {"type": "array", "items": {"type": "object", "properties": {
                    "query": {"type": "string"}, "count": {"type": "integer"},
                    "results": {"type": "integer", "description": "results of its latest search"}}}},
                "no_result_searches": {"type": "array", "items": {"type": "object", "properties": {
                    "query": {"type": "string"}, "count": {"type": "integer"}}}},
                "outcomes": {"type": "object", "properties": {
                    "answered": {"type": "integer"}, "chat_started": {"type": "integer"},
                    "ticket_created": {"type": "integer"}}},
                "deflection_rate": {**_NULLABLE_NUMBER, "description": "answered / (answered + chat_started)"},
                "top_articles": {"type": "array", "items": {"type": "object", "properties": {
                    "article_id": {"type": "string"}, "title": _NULLABLE_STRING, "count": {"type": "integer"}}}}}},
                "Report"), **_errors(400, 401, 403)}}},
    }
