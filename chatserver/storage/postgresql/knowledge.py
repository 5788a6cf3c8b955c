"""PostgreSQL storage of the knowledge base: categories, articles, their search, and the search and
outcome logs (migrations 0001, 0002).

Search is PostgreSQL's own full-text search: each article's ``search`` tsvector is a generated
column (title, tags and body, weighted in that order, accents folded), matched by a tsquery of
the shopper's words as prefixes and ranked by ``ts_rank``. The vocabulary beside it (``kb_words``:
each word of the published articles and how many hold it) is kept by a trigger, and its trigram
index (pg_trgm) gives the words most like a mistyped one. Everything is computed by the database
in the article's own transaction, so every host searches what is committed.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from ...domain.kb_search import PREFIX_FROM, term_forms
from ...domain.knowledge import (
    Article,
    ArticleCount,
    ArticleFilter,
    Category,
    KnowledgeReport,
    Outcome,
    QueryCount,
    SearchHit,
    SearchSource,
)
from ...errors import Conflict, InvalidPayload
from ..filters import Filters
from ..rows import postgres_mark
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
from .database import PostgresDatabase

# ts_rank's weights for D, C (body), B (tags) and A (title): the ratios of SQLite's bm25 weights.
_WEIGHTS = "{0, 0.1, 0.4, 1.0}"
_HAS_TAG = "a.tags::jsonb @> jsonb_build_array({}::text)"
# How many of the words most like a mistyped one (by trigrams) are offered to the caller, who
# keeps those one edit away: enough that a word one edit away is among them in a large vocabulary.
_NEAR_WORDS = 32


def _lexeme(form: str, titles_only: bool) -> str:
    # Search terms are letters and digits only; quoting is escaped anyway, whatever the caller sent.
    quoted = "'" + form.replace("\\", "\\\\").replace("'", "''") + "'"
    label = ("*" if len(form) >= PREFIX_FROM else "") + ("A" if titles_only else "")
    return f"{quoted}:{label}" if label else quoted


def group_queries(groups: Sequence[Sequence[str]], titles_only: bool) -> list[str]:
    """A tsquery for each group: any of its words and their naive singulars, words of
    ``PREFIX_FROM`` letters or more as prefixes, only in titles (weight A) if asked."""
    queries = []
    for group in groups:
        forms = dict.fromkeys(form for term in group for form in term_forms(term))
        queries.append(" | ".join(_lexeme(form, titles_only) for form in forms))
    return queries


class PostgresKnowledge:
    """Implements ``KnowledgeStore``."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    # -- categories ---------------------------------------------------------------------------

    async def categories(self) -> list[Category]:
        return [category_from_row(r) for r in await self.database.fetch(
            f'SELECT {CATEGORY_COLUMNS} FROM kb_categories ORDER BY position, name COLLATE "C"')]

    async def category(self, category_id: str) -> Category | None:
        row = await self.database.fetchrow(f"SELECT {CATEGORY_COLUMNS} FROM kb_categories WHERE id = $1", category_id)
        return category_from_row(row) if row else None

    async def category_by_slug(self, slug: str) -> Category | None:
        row = await self.database.fetchrow(f"SELECT {CATEGORY_COLUMNS} FROM kb_categories WHERE slug = $1", slug)
        return category_from_row(row) if row else None

    async def save_category(self, category: Category) -> None:
        c = category
        try:
            async with self.database.transaction() as conn:
                await conn.execute(
                    f"INSERT INTO kb_categories ({CATEGORY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                    f"ON CONFLICT (id) DO UPDATE SET {CATEGORY_UPDATES}",
                    c.id, c.slug, c.name, c.description, c.position, c.created_at, c.updated_at)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"another category has the slug {c.slug!r}") from exc

    async def delete_category(self, category_id: str) -> bool:
        async with self.database.transaction() as conn:
            await conn.execute("UPDATE kb_articles SET category_id = NULL, faq_position = NULL WHERE category_id = $1",
                               category_id)
            return await conn.fetchval("DELETE FROM kb_categories WHERE id = $1 RETURNING id", category_id) is not None

    async def published_counts(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in await self.database.fetch(
            "SELECT category_id, count(*) FROM kb_articles WHERE status = 'published' AND category_id IS NOT NULL "
            "GROUP BY category_id")}

    # -- articles -----------------------------------------------------------------------------

    async def articles(self, where: ArticleFilter, limit: int, offset: int) -> tuple[list[Article], int]:
        filters = article_filters(where, Filters(postgres_mark), _HAS_TAG)
        total = await self.database.fetchval(f"SELECT count(*) FROM kb_articles a {filters.where}", *filters.params)
        rows = await self.database.fetch(
            f"SELECT {ARTICLE_COLUMNS_OF_A} FROM kb_articles a {filters.where} "
            f"ORDER BY {ARTICLE_ORDER}, a.n DESC {filters.page(limit, offset)}", *filters.params)
        return [article_from_row(r) for r in rows], int(total)

    async def article(self, article_id: str) -> Article | None:
        row = await self.database.fetchrow(f"SELECT {ARTICLE_COLUMNS} FROM kb_articles WHERE id = $1", article_id)
        return article_from_row(row) if row else None

    async def article_by_slug(self, slug: str) -> Article | None:
        row = await self.database.fetchrow(f"SELECT {ARTICLE_COLUMNS} FROM kb_articles WHERE slug = $1", slug)
        return article_from_row(row) if row else None

    async def slug_taken(self, slug: str, except_id: str | None) -> bool:
        return await self.database.fetchval(
            "SELECT 1 FROM kb_articles WHERE slug = $1 AND id IS DISTINCT FROM $2", slug, except_id) is not None

    async def save_article(self, article: Article) -> None:
        values = article_values(article)
        marks = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        try:
            async with self.database.transaction() as conn:
                # The search vector and the vocabulary follow in this statement (0002).
                await conn.execute(f"INSERT INTO kb_articles ({ARTICLE_COLUMNS}) VALUES ({marks}) "
                                   f"ON CONFLICT (id) DO UPDATE SET {ARTICLE_UPDATES}", *values)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"another article has the slug {article.slug!r}") from exc
        except asyncpg.ForeignKeyViolationError as exc:
            raise InvalidPayload("the category, the assignee or the conversation's customer does not exist") from exc

    async def delete_article(self, article_id: str) -> bool:
        async with self.database.transaction() as conn:
            return await conn.fetchval("DELETE FROM kb_articles WHERE id = $1 RETURNING id", article_id) is not None

    async def set_faq(self, category_id: str, article_ids: Sequence[str]) -> None:
        async with self.database.transaction() as conn:
            await conn.execute("UPDATE kb_articles SET faq_position = NULL WHERE category_id = $1", category_id)
            for position, article_id in enumerate(article_ids, start=1):
                if await conn.fetchval("UPDATE kb_articles SET faq_position = $1 WHERE id = $2 AND category_id = $3 "
                                       "RETURNING id", position, article_id, category_id) is None:
                    raise InvalidPayload(f"article {article_id!r} is not in this category",
                                         details={"fields": ["article_ids"]})

    async def faq(self, category_id: str | None, locale: str | None) -> list[Article]:
        filters = Filters(postgres_mark, conditions=["a.status = 'published'", "a.faq_position IS NOT NULL"])
        filters.equal("a.category_id", category_id)
        in_locale(filters, locale)
        return [article_from_row(r) for r in await self.database.fetch(
            f"SELECT {ARTICLE_COLUMNS_OF_A} FROM kb_articles a JOIN kb_categories c ON c.id = a.category_id "
            f'{filters.where} ORDER BY c.position, c.name COLLATE "C", a.faq_position', *filters.params)]

    async def any_published(self) -> bool:
        return await self.database.fetchval("SELECT 1 FROM kb_articles WHERE status = 'published' LIMIT 1") is not None

    # -- search -------------------------------------------------------------------------------

    async def match(self, groups: Sequence[Sequence[str]], *, locale: str | None, category_id: str | None,
                    limit: int, titles_only: bool = False) -> list[SearchHit]:
        queries = group_queries(groups, titles_only)
        filters = Filters(postgres_mark, conditions=["a.status = 'published'"])
        each = filters.mark(queries)
        filters.add("a.search @@ {}::tsquery", " | ".join(f"({q})" for q in queries))
        in_locale(filters, locale)
        filters.equal("a.category_id", category_id)
        # ts_rank knows one article only: each group's rank is weighted by how rare the group is
        # among the published articles (bm25's inverse document frequency, as SQLite ranks), so
        # that "track my order" prefers the one article about tracking to the many naming orders.
        rows = await self.database.fetch(
            "WITH published AS (SELECT count(*) AS n FROM kb_articles WHERE status = 'published'), "
            "groups AS (SELECT g.query, ln(1 + (published.n - hits.n + 0.5) / (hits.n + 0.5)) AS idf "
            f"FROM published, unnest({each}::text[]) AS t (text), LATERAL (SELECT t.text::tsquery AS query) AS g, "
            "LATERAL (SELECT count(*) AS n FROM kb_articles WHERE status = 'published' AND search @@ g.query) AS hits) "
            f"SELECT {ARTICLE_COLUMNS_OF_A}, "
            f"(SELECT sum(ts_rank('{_WEIGHTS}', a.search, groups.query) * groups.idf) FROM groups) AS score "
            f"FROM kb_articles a {filters.where} ORDER BY score DESC, a.n LIMIT {filters.mark(limit)}",
            *filters.params)
        return [SearchHit(article=article_from_row(r), score=float(r[-1])) for r in rows]

    async def vocabulary(self, terms: Sequence[str]) -> tuple[int, dict[str, tuple[int, int]]]:
        # One statement: the published articles, each term's count as a word, and the counts of the
        # longer words it starts (a range of the "C"-ordered primary key).
        rows = await self.database.fetch(
            "SELECT total.n, t.term, (SELECT docs FROM kb_words WHERE word = t.term), "
            "(SELECT sum(docs) FROM kb_words WHERE word > t.term AND word <= t.term || chr(1114111)) "
            "FROM (SELECT count(*) AS n FROM kb_articles WHERE status = 'published') AS total "
            "LEFT JOIN LATERAL unnest($1::text[]) AS t (term) ON t.term <> ''", list(terms))
        counts = {r[1]: (int(r[2] or 0), int(r[3] or 0)) for r in rows if r[1] is not None}
        return int(rows[0][0]), counts

    async def near_words(self, term: str) -> dict[str, int]:
        # The nearest words by trigram distance (the GiST index walks them in that order) among
        # those whose length allows one edit.
        rows = await self.database.fetch(
            "SELECT word, docs FROM kb_words WHERE length(word) BETWEEN $2 AND $3 ORDER BY word <-> $1 LIMIT $4",
            term, len(term) - 1, len(term) + 1, _NEAR_WORDS)
        return {r[0]: int(r[1]) for r in rows}

    async def topic_articles(self, topics: Sequence[str], locale: str | None, limit: int) -> list[Article]:
        if not topics:
            return []
        filters = Filters(postgres_mark, conditions=["a.status = 'published'"])
        filters.add("(c.slug = ANY ({0}::text[]) OR a.tags::jsonb ?| {0}::text[])", list(topics))  # one $n, twice
        in_locale(filters, locale)
        return [article_from_row(r) for r in await self.database.fetch(
            f"SELECT {ARTICLE_COLUMNS_OF_A} FROM kb_articles a LEFT JOIN kb_categories c ON c.id = a.category_id "
            f"{filters.where} ORDER BY {ARTICLE_ORDER} LIMIT {filters.mark(limit)}", *filters.params)]

    # -- the logs and the report --------------------------------------------------------------

    async def record_search(self, query: str, results: int, source: SearchSource, at: float) -> None:
        async with self.database.transaction() as conn:
            await conn.execute("INSERT INTO kb_searches (query, results, source, created_at) VALUES ($1, $2, $3, $4)",
                               query, results, str(source), at)

    async def record_outcome(self, outcome: Outcome, query: str | None, article_id: str | None, at: float) -> None:
        async with self.database.transaction() as conn:
            await conn.execute("INSERT INTO kb_outcomes (outcome, query, article_id, created_at) "
                               "VALUES ($1, $2, $3, $4)", str(outcome), query, article_id, at)

    async def report(self, since: float | None, until: float | None, limit: int) -> KnowledgeReport:
        def period(column: str = "created_at") -> Filters:
            filters = Filters(postgres_mark)
            filters.between(column, since, until)
            return filters

        when = period()
        [(searches, empty)] = await self.database.fetch(
            f"SELECT count(*), count(*) FILTER (WHERE results = 0) FROM kb_searches {when.where}", *when.params)
        when = period()
        top = await self.database.fetch(
            f"SELECT query, count(*) AS n, (array_agg(results ORDER BY id DESC))[1] FROM kb_searches {when.where} "
            f'GROUP BY query ORDER BY n DESC, query COLLATE "C" LIMIT {when.mark(limit)}', *when.params)
        when = period()
        when.add("results = 0")
        missing = await self.database.fetch(
            f"SELECT query, count(*) AS n FROM kb_searches {when.where} "
            f'GROUP BY query ORDER BY n DESC, query COLLATE "C" LIMIT {when.mark(limit)}', *when.params)
        when = period()
        outcomes = {r[0]: int(r[1]) for r in await self.database.fetch(
            f"SELECT outcome, count(*) FROM kb_outcomes {when.where} GROUP BY outcome", *when.params)}
        when = period("o.created_at")
        when.add("o.outcome = 'answered' AND o.article_id IS NOT NULL")
        articles = await self.database.fetch(
            f"SELECT o.article_id, max(a.title), count(*) AS n FROM kb_outcomes o LEFT JOIN kb_articles a "
            f"ON a.id = o.article_id {when.where} GROUP BY o.article_id "
            f'ORDER BY n DESC, o.article_id COLLATE "C" LIMIT {when.mark(limit)}', *when.params)
        return KnowledgeReport(
            searches=int(searches), searches_without_results=int(empty),
            top_searches=[QueryCount(query=r[0], count=int(r[1]), results=int(r[2])) for r in top],
            no_result_searches=[QueryCount(query=r[0], count=int(r[1])) for r in missing],
            outcomes={str(o): outcomes.get(str(o), 0) for o in Outcome},
            top_articles=[ArticleCount(article_id=r[0], title=r[1], count=int(r[2])) for r in articles])

    async def prune_events(self, before: float) -> int:
        async with self.database.transaction() as conn:
            searches = await conn.fetchval("WITH gone AS (DELETE FROM kb_searches WHERE created_at < $1 RETURNING 1) "
                                           "SELECT count(*) FROM gone", before)
            outcomes = await conn.fetchval("WITH gone AS (DELETE FROM kb_outcomes WHERE created_at < $1 RETURNING 1) "
                                           "SELECT count(*) FROM gone", before)
        return int(searches) + int(outcomes)
