"""SQLite storage of the knowledge base (migrations 0010, 0011): categories, articles, the FTS5 index
of the published ones, and the search and outcome logs.

It shares the ``SQLiteDatabase``'s connections: writes go through its writer transaction, reads
through its read-only connection. The index is written in the article's own transaction, so
every process sharing the file searches what is committed, nothing cached in one process.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite

from ...domain.kb_search import TYPO_FROM, article_words, variants
from ...domain.knowledge import (
    Article,
    ArticleCount,
    ArticleFilter,
    ArticleStatus,
    Category,
    KnowledgeReport,
    Outcome,
    QueryCount,
    SearchHit,
    SearchSource,
)
from ...errors import Conflict, InvalidPayload
from .database import SQLiteDatabase

_CATEGORY_COLUMNS = "id, slug, name, description, position, created_at, updated_at"
_ARTICLE_COLUMNS = (
    "id, slug, title, body, body_html, body_text, status, created_by, created_at, updated_at, locale, category_id, "
    "tags, assignee_id, source_conversation_id, faq_position, published_at, source_customer_id"
)
_A = ", ".join(f"a.{c.strip()}" for c in _ARTICLE_COLUMNS.split(","))
# bm25 weights of the index's columns: title, body, tags (locale and category are not searched).
_WEIGHTS = "10.0, 1.0, 4.0, 0.0, 0.0"
# Past the highest code point: ``word <= prefix || _TOP`` bounds the words starting with prefix.
_TOP = "\U0010ffff"
# The kb_words row counting the published articles.
_TOTAL = ""


def _category(row: sqlite3.Row | tuple[Any, ...]) -> Category:
    return Category(id=row[0], slug=row[1], name=row[2], description=row[3], position=row[4], created_at=row[5],
                    updated_at=row[6])


def _article(row: sqlite3.Row | tuple[Any, ...]) -> Article:
    return Article(id=row[0], slug=row[1], title=row[2], body=row[3], body_html=row[4], body_text=row[5],
                   status=ArticleStatus(row[6]), created_by=row[7], created_at=row[8], updated_at=row[9],
                   locale=row[10], category_id=row[11], tags=tuple(json.loads(row[12])), assignee_id=row[13],
                   source_conversation_id=row[14], faq_position=row[15], published_at=row[16],
                   source_customer_id=row[17])


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


class SQLiteKnowledge:
    """Implements ``KnowledgeStore``."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self.database = database

    # -- categories ---------------------------------------------------------------------------

    async def categories(self) -> list[Category]:
        return [_category(r) for r in await self.database.fetchall(
            f"SELECT {_CATEGORY_COLUMNS} FROM kb_categories ORDER BY position, name")]

    async def category(self, category_id: str) -> Category | None:
        rows = await self.database.fetchall(f"SELECT {_CATEGORY_COLUMNS} FROM kb_categories WHERE id = ?",
                                            (category_id,))
        return _category(rows[0]) if rows else None

    async def category_by_slug(self, slug: str) -> Category | None:
        rows = await self.database.fetchall(f"SELECT {_CATEGORY_COLUMNS} FROM kb_categories WHERE slug = ?", (slug,))
        return _category(rows[0]) if rows else None

    async def save_category(self, category: Category) -> None:
        try:
            async with self.database.transaction() as db:
                await db.execute(
                    f"INSERT INTO kb_categories ({_CATEGORY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, name = excluded.name, "
                    "description = excluded.description, position = excluded.position, "
                    "updated_at = excluded.updated_at",
                    (category.id, category.slug, category.name, category.description, category.position,
                     category.created_at, category.updated_at))
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"another category has the slug {category.slug!r}") from exc

    async def delete_category(self, category_id: str) -> bool:
        async with self.database.transaction() as db:
            await db.execute("UPDATE kb_articles SET category_id = NULL, faq_position = NULL WHERE category_id = ?",
                             (category_id,))
            await db.execute("UPDATE kb_search SET category_id = NULL WHERE category_id = ?", (category_id,))
            async with db.execute("DELETE FROM kb_categories WHERE id = ? RETURNING id", (category_id,)) as cur:
                return await cur.fetchone() is not None

    async def published_counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in await self.database.fetchall(
            "SELECT category_id, count(*) FROM kb_articles WHERE status = 'published' AND category_id IS NOT NULL "
            "GROUP BY category_id")}

    # -- articles -----------------------------------------------------------------------------

    async def articles(self, where: ArticleFilter, limit: int, offset: int) -> tuple[list[Article], int]:
        clauses = [f"a.status IN ({_marks(where.statuses)})"]
        params: list[Any] = [str(s) for s in where.statuses]
        if where.category_id is not None:
            clauses.append("a.category_id = ?")
            params.append(where.category_id)
        if where.assignee_id is not None:
            clauses.append("a.assignee_id = ?")
            params.append(where.assignee_id)
        if where.locale is not None:
            clauses.append("(a.locale = ? OR a.locale IS NULL)")
            params.append(where.locale)
        if where.tag is not None:
            clauses.append("EXISTS (SELECT 1 FROM json_each(a.tags) WHERE value = ?)")
            params.append(where.tag)
        sql_where = " AND ".join(clauses)
        rows = await self.database.fetchall(
            f"SELECT {_A} FROM kb_articles a WHERE {sql_where} "
            "ORDER BY a.faq_position IS NULL, a.faq_position, a.updated_at DESC, a.n DESC LIMIT ? OFFSET ?",
            (*params, limit, offset))
        total = await self.database.fetchall(f"SELECT count(*) FROM kb_articles a WHERE {sql_where}", params)
        return [_article(r) for r in rows], int(total[0][0])

    async def article(self, article_id: str) -> Article | None:
        rows = await self.database.fetchall(f"SELECT {_ARTICLE_COLUMNS} FROM kb_articles WHERE id = ?", (article_id,))
        return _article(rows[0]) if rows else None

    async def article_by_slug(self, slug: str) -> Article | None:
        rows = await self.database.fetchall(f"SELECT {_ARTICLE_COLUMNS} FROM kb_articles WHERE slug = ?", (slug,))
        return _article(rows[0]) if rows else None

    async def slug_taken(self, slug: str, except_id: str | None) -> bool:
        return bool(await self.database.fetchall("SELECT 1 FROM kb_articles WHERE slug = ? AND id IS NOT ?",
                                                 (slug, except_id)))

    @staticmethod
    def _words(title: str, body_text: str, tags: Sequence[str]) -> set[str]:
        return article_words(title, body_text, " ".join(tags))

    async def _count_words(self, db: aiosqlite.Connection, words: set[str], step: int) -> None:
        """Add ``step`` (1 or -1) to each word's article count (and the total); words that appear
        get their variants, words no article holds any more go with theirs."""
        await db.executemany("INSERT INTO kb_words (word, docs) VALUES (?, ?) "
                             "ON CONFLICT (word) DO UPDATE SET docs = docs + excluded.docs",
                             [(w, step) for w in [*words, _TOTAL]])
        changed = json.dumps(sorted(words))
        state = 1 if step > 0 else 0
        async with db.execute("SELECT word FROM kb_words WHERE docs = ? AND word IN (SELECT value FROM json_each(?))",
                              (state, changed)) as cur:
            turned = [r[0] for r in await cur.fetchall() if len(r[0]) >= TYPO_FROM - 1]
        pairs = [(v, w) for w in turned for v in variants(w)]
        if step > 0:
            await db.executemany("INSERT OR IGNORE INTO kb_word_variants (variant, word) VALUES (?, ?)", pairs)
        else:
            await db.executemany("DELETE FROM kb_word_variants WHERE variant = ? AND word = ?", pairs)
            await db.execute("DELETE FROM kb_words WHERE docs <= 0 AND word != ''")

    async def _unindex(self, db: aiosqlite.Connection, n: int) -> None:
        """Take article row ``n`` out of the index and its words out of the vocabulary, if it was in."""
        async with db.execute("SELECT title, body, tags FROM kb_search WHERE rowid = ?", (n,)) as cur:
            row = await cur.fetchone()
        if row is not None:
            await db.execute("DELETE FROM kb_search WHERE rowid = ?", (n,))
            await self._count_words(db, article_words(row[0], row[1], row[2]), -1)

    async def save_article(self, article: Article) -> None:
        a = article
        values = (a.id, a.slug, a.title, a.body, a.body_html, a.body_text, str(a.status), a.created_by, a.created_at,
                  a.updated_at, a.locale, a.category_id, json.dumps(list(a.tags)), a.assignee_id,
                  a.source_conversation_id, a.faq_position, a.published_at, a.source_customer_id)
        updates = ", ".join(f"{c} = excluded.{c}" for c in [c.strip() for c in _ARTICLE_COLUMNS.split(",")]
                            if c not in ("id", "created_by", "created_at", "source_conversation_id",
                                         "source_customer_id"))
        try:
            async with self.database.transaction() as db:
                async with db.execute(
                    f"INSERT INTO kb_articles ({_ARTICLE_COLUMNS}) VALUES ({_marks(values)}) "
                    f"ON CONFLICT (id) DO UPDATE SET {updates} RETURNING n", values,
                ) as cur:
                    row = await cur.fetchone()
                assert row is not None
                await self._unindex(db, row[0])
                if a.status == ArticleStatus.PUBLISHED:
                    await db.execute(
                        "INSERT INTO kb_search (rowid, title, body, tags, locale, category_id) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (row[0], a.title, a.body_text, " ".join(a.tags), a.locale, a.category_id))
                    await self._count_words(db, self._words(a.title, a.body_text, a.tags), 1)
        except sqlite3.IntegrityError as exc:
            if "slug" in str(exc):
                raise Conflict(f"another article has the slug {a.slug!r}") from exc
            raise InvalidPayload("the category, the assignee or the conversation's customer does not exist") from exc

    async def delete_article(self, article_id: str) -> bool:
        async with self.database.transaction() as db:
            async with db.execute("DELETE FROM kb_articles WHERE id = ? RETURNING n", (article_id,)) as cur:
                row = await cur.fetchone()
            if row is None:
                return False
            await self._unindex(db, row[0])
        return True

    async def set_faq(self, category_id: str, article_ids: Sequence[str]) -> None:
        async with self.database.transaction() as db:
            await db.execute("UPDATE kb_articles SET faq_position = NULL WHERE category_id = ?", (category_id,))
            for position, article_id in enumerate(article_ids, start=1):
                async with db.execute("UPDATE kb_articles SET faq_position = ? WHERE id = ? AND category_id = ? "
                                      "RETURNING id", (position, article_id, category_id)) as cur:
                    if await cur.fetchone() is None:
                        raise InvalidPayload(f"article {article_id!r} is not in this category",
                                             details={"fields": ["article_ids"]})

    async def faq(self, category_id: str | None, locale: str | None) -> list[Article]:
        clauses, params = ["a.status = 'published'", "a.faq_position IS NOT NULL"], []
        if category_id is not None:
            clauses.append("a.category_id = ?")
            params.append(category_id)
        if locale is not None:
            clauses.append("(a.locale = ? OR a.locale IS NULL)")
            params.append(locale)
        return [_article(r) for r in await self.database.fetchall(
            f"SELECT {_A} FROM kb_articles a JOIN kb_categories c ON c.id = a.category_id "
            f"WHERE {' AND '.join(clauses)} ORDER BY c.position, c.name, a.faq_position", params)]

    async def any_published(self) -> bool:
        return bool(await self.database.fetchall("SELECT 1 FROM kb_articles WHERE status = 'published' LIMIT 1"))

    # -- search -------------------------------------------------------------------------------

    async def match(self, expression: str, *, locale: str | None, category_id: str | None, limit: int,
                    titles_only: bool = False) -> list[SearchHit]:
        clauses, params = ["kb_search MATCH ?"], [f"title : ({expression})" if titles_only else expression]
        if locale is not None:
            clauses.append("(locale = ? OR locale IS NULL)")
            params.append(locale)
        if category_id is not None:
            clauses.append("category_id = ?")
            params.append(category_id)
        # Ranked and cut in the index first; only the best rows are joined to their articles.
        rows = await self.database.fetchall(
            f"SELECT {_A}, hit.score FROM (SELECT rowid AS n, bm25(kb_search, {_WEIGHTS}) AS score FROM kb_search "
            f"WHERE {' AND '.join(clauses)} ORDER BY score LIMIT ?) AS hit "
            "JOIN kb_articles a ON a.n = hit.n ORDER BY hit.score", (*params, limit))
        return [SearchHit(article=_article(r), score=-float(r[-1])) for r in rows]

    async def vocabulary(self, terms: Sequence[str]) -> tuple[int, dict[str, tuple[int, int]]]:
        # One statement: each term's count as a word, and the counts of the longer words it starts
        # (not for the total's empty word: every word starts with it).
        rows = await self.database.fetchall(
            "SELECT t.value, (SELECT docs FROM kb_words WHERE word = t.value), "
            "(SELECT sum(docs) FROM kb_words WHERE t.value != '' AND word > t.value AND word <= t.value || ?) "
            "FROM json_each(?) t",
            (_TOP, json.dumps([_TOTAL, *terms])))
        return int(rows[0][1] or 0), {r[0]: (int(r[1] or 0), int(r[2] or 0)) for r in rows[1:]}

    async def near_words(self, term: str) -> dict[str, int]:
        rows = await self.database.fetchall(
            "SELECT DISTINCT v.word, w.docs FROM kb_word_variants v JOIN kb_words w ON w.word = v.word "
            "WHERE v.variant IN (SELECT value FROM json_each(?))", (json.dumps(sorted(variants(term))),))
        return {r[0]: int(r[1]) for r in rows}

    async def topic_articles(self, topics: Sequence[str], locale: str | None, limit: int) -> list[Article]:
        if not topics:
            return []
        marks = _marks(topics)
        params: list[Any] = [*topics, *topics]
        locale_clause = ""
        if locale is not None:
            locale_clause = "AND (a.locale = ? OR a.locale IS NULL) "
            params.append(locale)
        return [_article(r) for r in await self.database.fetchall(
            f"SELECT {_A} FROM kb_articles a LEFT JOIN kb_categories c ON c.id = a.category_id "
            f"WHERE a.status = 'published' AND (c.slug IN ({marks}) "
            f"OR EXISTS (SELECT 1 FROM json_each(a.tags) WHERE value IN ({marks}))) {locale_clause}"
            "ORDER BY a.faq_position IS NULL, a.faq_position, a.updated_at DESC LIMIT ?", (*params, limit))]

    # -- the logs and the report --------------------------------------------------------------

    async def record_search(self, query: str, results: int, source: SearchSource, at: float) -> None:
        async with self.database.transaction() as db:
            await db.execute("INSERT INTO kb_searches (query, results, source, created_at) VALUES (?, ?, ?, ?)",
                             (query, results, str(source), at))

    async def record_outcome(self, outcome: Outcome, query: str | None, article_id: str | None, at: float) -> None:
        async with self.database.transaction() as db:
            await db.execute("INSERT INTO kb_outcomes (outcome, query, article_id, created_at) VALUES (?, ?, ?, ?)",
                             (str(outcome), query, article_id, at))

    async def report(self, since: float | None, until: float | None, limit: int) -> KnowledgeReport:
        clauses, params = ["1"], []
        if since is not None:
            clauses.append("created_at >= ?")
            params.append(since)
        if until is not None:
            clauses.append("created_at < ?")
            params.append(until)
        when = " AND ".join(clauses)
        [(searches, empty)] = await self.database.fetchall(
            f"SELECT count(*), coalesce(sum(results = 0), 0) FROM kb_searches WHERE {when}", params)
        # The results of a query's latest search: max(id) picks that row's value in SQLite.
        top = await self.database.fetchall(
            f"SELECT query, count(*) AS n, results, max(id) FROM kb_searches WHERE {when} "
            "GROUP BY query ORDER BY n DESC, query LIMIT ?", (*params, limit))
        missing = await self.database.fetchall(
            f"SELECT query, count(*) AS n FROM kb_searches WHERE {when} AND results = 0 "
            "GROUP BY query ORDER BY n DESC, query LIMIT ?", (*params, limit))
        outcomes = {r[0]: int(r[1]) for r in await self.database.fetchall(
            f"SELECT outcome, count(*) FROM kb_outcomes WHERE {when} GROUP BY outcome", params)}
        articles = await self.database.fetchall(
            f"SELECT o.article_id, a.title, count(*) AS n FROM kb_outcomes o LEFT JOIN kb_articles a "
            f"ON a.id = o.article_id WHERE {when.replace('created_at', 'o.created_at')} AND o.outcome = 'answered' "
            "AND o.article_id IS NOT NULL GROUP BY o.article_id ORDER BY n DESC, o.article_id LIMIT ?",
            (*params, limit))
        return KnowledgeReport(
            searches=int(searches), searches_without_results=int(empty),
            top_searches=[QueryCount(query=r[0], count=int(r[1]), results=int(r[2])) for r in top],
            no_result_searches=[QueryCount(query=r[0], count=int(r[1])) for r in missing],
            outcomes={str(o): outcomes.get(str(o), 0) for o in Outcome},
            top_articles=[ArticleCount(article_id=r[0], title=r[1], count=int(r[2])) for r in articles])

    async def prune_events(self, before: float) -> int:
        async with self.database.transaction() as db:
            async with db.execute("DELETE FROM kb_searches WHERE created_at < ?", (before,)) as cur:
                searches = cur.rowcount
            async with db.execute("DELETE FROM kb_outcomes WHERE created_at < ?", (before,)) as cur:
                outcomes = cur.rowcount
        return int(searches) + int(outcomes)
