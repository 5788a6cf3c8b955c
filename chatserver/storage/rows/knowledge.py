"""Knowledge-base rows as both databases hold them (the same columns): their column lists, the
models made of them, and the filters of an article listing."""

from __future__ import annotations

import json
from typing import Any

from ...domain.knowledge import Article, ArticleFilter, ArticleStatus, Category
from ..filters import Filters
from . import Row

CATEGORY_COLUMNS = "id, slug, name, description, position, created_at, updated_at"
ARTICLE_COLUMNS = (
    "id, slug, title, body, body_html, body_text, status, created_by, created_at, updated_at, locale, category_id, "
    "tags, assignee_id, source_conversation_id, faq_position, published_at, source_customer_id"
)
# The article columns of ``kb_articles a``.
ARTICLE_COLUMNS_OF_A = ", ".join(f"a.{c.strip()}" for c in ARTICLE_COLUMNS.split(","))
# What saving an article again changes (who wrote it, and where from, stay).
ARTICLE_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in [c.strip() for c in ARTICLE_COLUMNS.split(",")]
                            if c not in ("id", "created_by", "created_at", "source_conversation_id",
                                         "source_customer_id"))
CATEGORY_UPDATES = ("slug = excluded.slug, name = excluded.name, description = excluded.description, "
                    "position = excluded.position, updated_at = excluded.updated_at")
# Published, FAQ articles first in their order, then the newest.
ARTICLE_ORDER = "a.faq_position IS NULL, a.faq_position, a.updated_at DESC"


def category_from_row(row: Row) -> Category:
    return Category(id=row[0], slug=row[1], name=row[2], description=row[3], position=row[4], created_at=row[5],
                    updated_at=row[6])


def article_from_row(row: Row) -> Article:
    return Article(id=row[0], slug=row[1], title=row[2], body=row[3], body_html=row[4], body_text=row[5],
                   status=ArticleStatus(row[6]), created_by=row[7], created_at=row[8], updated_at=row[9],
                   locale=row[10], category_id=row[11], tags=tuple(json.loads(row[12])), assignee_id=row[13],
                   source_conversation_id=row[14], faq_position=row[15], published_at=row[16],
                   source_customer_id=row[17])


def article_values(a: Article) -> tuple[Any, ...]:
    """The article's values in ``ARTICLE_COLUMNS`` order."""
    return (a.id, a.slug, a.title, a.body, a.body_html, a.body_text, str(a.status), a.created_by, a.created_at,
            a.updated_at, a.locale, a.category_id, json.dumps(list(a.tags)), a.assignee_id,
            a.source_conversation_id, a.faq_position, a.published_at, a.source_customer_id)


def article_filters(where: ArticleFilter, filters: Filters, has_tag: str) -> Filters:
    """``filters`` narrowed to the articles (``a``) ``where`` asks for; ``has_tag`` is the
    database's condition that ``a.tags`` holds ``{}``."""
    filters.one_of("a.status", [str(s) for s in where.statuses])
    filters.equal("a.category_id", where.category_id)
    filters.equal("a.assignee_id", where.assignee_id)
    in_locale(filters, where.locale)
    if where.tag is not None:
        filters.add(has_tag, where.tag)
    return filters


def in_locale(filters: Filters, locale: str | None) -> None:
    """Articles in ``locale`` or in none (those are in every language's results)."""
    if locale is not None:
        filters.add("(a.locale = {} OR a.locale IS NULL)", locale)
