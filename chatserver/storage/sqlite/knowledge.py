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

import aiosqlite

from ...domain.kb_search import TYPO_FROM, article_words, match_expression, variants
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
from ..filters import Filters
from ..rows import sqlite_mark
from ..rows.knowledge import (
    ARTICLE_COLUMNS,
    ARTICLE_COLUMNS_OF_A,
    ARTICLE_ORDER,
    ARTICLE_UPDATES,
    CATEGORY_COLUMNS,
    CATEGORY_UPDATES,
    article_filters,
    article_from_row,
    article_values,
    category_from_row,
    in_locale,
)
from .database import SQLiteDatabase

# bm25 weights of the index's columns: title, body, tags (locale and category are not searched).
_WEIGHTS = "10.0, 1.0, 4.0, 0.0, 0.0"
# Past the highest code point: ``word <= prefix || _TOP`` bounds the words starting with prefix.
_TOP = "\U0010ffff"
# The kb_words row counting the published articles.
_TOTAL = ""
_HAS_TAG = "EXISTS (SELECT 1 FROM json_each(a.tags) WHERE value = {})"


class SQLiteKnowledge:
    """Implements ``KnowledgeStore``."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self.database = database

    # -- categories ---------------------------------------------------------------------------

    async def categories(self) -> list[Category]:
        return [category_from_row(r) for r in await self.database.fetchall(
            f"SELECT {CATEGORY_COLUMNS} FROM kb_categories ORDER BY position, name")]

    async def category(self, category_id: str) -> Category | None:
        rows = await self.database.fetchall(f"SELECT {CATEGORY_COLUMNS} FROM kb_categories WHERE id = ?",
                                            (category_id,))
        return category_from_row(rows[0]) if rows else None

    async def category_by_slug(self, slug: str) -> Category | None:
        rows = await self.database.fetchall(f"SELECT {CATEGORY_COLUMNS} FROM kb_categories WHERE slug = ?", (slug,))
        return category_from_row(rows[0]) if rows else None

    async def save_category(self, category: Category) -> None:
        try:
            async with self.database.transaction() as db:
                await db.execute(
                    f"INSERT INTO kb_categories ({CATEGORY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    f"ON CONFLICT (id) DO UPDATE SET {CATEGORY_UPDATES}",
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
        filters = article_filters(where, Filters(sqlite_mark), _HAS_TAG)
        total = await self.database.fetchall(f"SELECT count(*) FROM kb_articles a {filters.where}", filters.params)
        rows = await self.database.fetchall(
            f"SELECT {ARTICLE_COLUMNS_OF_A} FROM kb_articles a {filters.where} "
            f"ORDER BY {ARTICLE_ORDER}, a.n DESC {filters.page(limit, offset)}", filters.params)
        return [article_from_row(r) for r in rows], int(total[0][0])

    async def article(self, article_id: str) -> Article | None:
        rows = await self.database.fetchall(f"SELECT {ARTICLE_COLUMNS} FROM kb_articles WHERE id = ?", (article_id,))
        return article_from_row(rows[0]) if rows else None

    async def article_by_slug(self, slug: str) -> Article | None:
        rows = await self.database.fetchall(f"SELECT {ARTICLE_COLUMNS} FROM kb_articles WHERE slug = ?", (slug,))
        return article_from_row(rows[0]) if rows else None

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
        values = article_values(a)
        try:
            async with self.database.transaction() as db:
                async with db.execute(
                    f"INSERT INTO kb_articles ({ARTICLE_COLUMNS}) VALUES ({', '.join('?' for _ in values)}) "
                    f"ON CONFLICT (id) DO UPDATE SET {ARTICLE_UPDATES} RETURNING n", values,
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
        filters = Filters(sqlite_mark, conditions=["a.status = 'published'", "a.faq_position IS NOT NULL"])
        filters.equal("a.category_id", category_id)
        in_locale(filters, locale)
        return [article_from_row(r) for r in await self.database.fetchall(
            f"SELECT {ARTICLE_COLUMNS_OF_A} FROM kb_articles a JOIN kb_categories c ON c.id = a.category_id "
            f"{filters.where} ORDER BY c.position, c.name, a.faq_position", filters.params)]

    async def any_published(self) -> bool:
        return bool(await self.database.fetchall("SELECT 1 FROM kb_articles WHERE status = 'published' LIMIT 1"))

    # -- search -------------------------------------------------------------------------------

    async def match(self, groups: Sequence[Sequence[str]], *, locale: str | None, category_id: str | None,
                    limit: int, titles_only: bool = False) -> list[SearchHit]:
        expression = match_expression(groups)
        filters = Filters(sqlite_mark)
        filters.add("kb_search MATCH {}", f"title : ({expression})" if titles_only else expression)
        if locale is not None:
            filters.add("(locale = {} OR locale IS NULL)", locale)
        filters.equal("category_id", category_id)
        # Ranked and cut in the index first; only the best rows are joined to their articles.
        rows = await self.database.fetchall(
            f"SELECT {ARTICLE_COLUMNS_OF_A}, hit.score FROM (SELECT rowid AS n, bm25(kb_search, {_WEIGHTS}) AS score "
            f"FROM kb_search {filters.where} ORDER BY score LIMIT {filters.mark(limit)}) AS hit "
            "JOIN kb_articles a ON a.n = hit.n ORDER BY hit.score", filters.params)
        return [SearchHit(article=article_from_row(r), score=-float(r[-1])) for r in rows]

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
        filters = Filters(sqlite_mark, conditions=["a.status = 'published'"])
        filters.add(f"(c.slug IN ({filters.marks(topics)}) "
                    f"OR EXISTS (SELECT 1 FROM json_each(a.tags) WHERE value IN ({filters.marks(topics)})))")
        in_locale(filters, locale)
        return [article_from_row(r) for r in await self.database.fetchall(
            f"SELECT {ARTICLE_COLUMNS_OF_A} FROM kb_articles a LEFT JOIN kb_categories c ON c.id = a.category_id "
            f"{filters.where} ORDER BY {ARTICLE_ORDER} LIMIT {filters.mark(limit)}", filters.params)]

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
        def period(column: str = "created_at") -> Filters:
            filters = Filters(sqlite_mark)
            filters.between(column, since, until)
            return filters

        when = period()
        [(searches, empty)] = await self.database.fetchall(
            f"SELECT count(*), coalesce(sum(results = 0), 0) FROM kb_searches {when.where}", when.params)
        # The results of a query's latest search: max(id) picks that row's value in SQLite.
        when = period()
        top = await self.database.fetchall(
            f"SELECT query, count(*) AS n, results, max(id) FROM kb_searches {when.where} "
            f"GROUP BY query ORDER BY n DESC, query LIMIT {when.mark(limit)}", when.params)
        when = period()
        when.add("results = 0")
        missing = await self.database.fetchall(
            f"SELECT query, count(*) AS n FROM kb_searches {when.where} "
            f"GROUP BY query ORDER BY n DESC, query LIMIT {when.mark(limit)}", when.params)
        when = period()
        outcomes = {r[0]: int(r[1]) for r in await self.database.fetchall(
            f"SELECT outcome, count(*) FROM kb_outcomes {when.where} GROUP BY outcome", when.params)}
        when = period("o.created_at")
        when.add("o.outcome = 'answered' AND o.article_id IS NOT NULL")
        articles = await self.database.fetchall(
            f"SELECT o.article_id, a.title, count(*) AS n FROM kb_outcomes o LEFT JOIN kb_articles a "
            f"ON a.id = o.article_id {when.where} GROUP BY o.article_id ORDER BY n DESC, o.article_id "
            f"LIMIT {when.mark(limit)}", when.params)
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
