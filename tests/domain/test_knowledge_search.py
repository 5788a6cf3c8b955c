"""Search relevance on a small fixture corpus, over each database's real store and index (SQLite's
FTS5, PostgreSQL's tsvector and trigrams): the expected article ranks first for each of its
questions, with prefixes and typos; drafts and other languages stay out; what is logged keeps no
personal data."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from chatserver.domain.kb_search import (
    article_words,
    match_expression,
    normalize_logged_query,
    one_edit_apart,
    search_terms,
    variants,
)
from chatserver.domain.knowledge import (
    ArticleFields,
    ArticleStatus,
    CategoryFields,
    KnowledgeService,
    KnowledgeStore,
    Outcome,
    SearchSource,
)
from chatserver.domain.models import Agent, Role
from chatserver.storage.postgresql.database import PostgresDatabase
from chatserver.storage.postgresql.knowledge import PostgresKnowledge
from chatserver.storage.sqlite import open_sqlite
from chatserver.storage.sqlite.knowledge import SQLiteKnowledge

from ..kb_corpus import ARTICLES, CATEGORIES, DRAFT, GERMAN, QUESTIONS, article_payload

# Nobody is assigned an article here, so no agent is looked up: the admin need not be stored.
ADMIN = Agent(id="admin", email="ada@example.com", name="Ada", role=Role.ADMIN, capacity=1, disabled=False,
              token_version=0, created_at=1.0)


class Corpus(msgspec.Struct):
    service: KnowledgeService
    admin: Agent
    ids: dict[str, str]
    store: KnowledgeStore


async def _no_transcripts(agent: Agent, conversation_id: str) -> Any:
    raise AssertionError("not used here")


class _NoAgents:
    async def agent_by_id(self, agent_id: str) -> Agent | None:
        raise AssertionError("not used here")


@pytest.fixture(params=["sqlite", "postgresql"])
async def knowledge(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KnowledgeStore]:
    """Each database's knowledge store, over a new empty database."""
    if request.param == "sqlite":
        stores = await open_sqlite(tmp_path / "kb.db")
        try:
            yield stores.knowledge
        finally:
            await stores.database.close()
        return
    database = PostgresDatabase(request.getfixturevalue("postgres_url"), pool_min=1, pool_max=2)
    await database.open()
    try:
        yield PostgresKnowledge(database)
    finally:
        await database.close()


@pytest.fixture
async def corpus(knowledge: KnowledgeStore) -> Corpus:
    counter = itertools.count()
    admin = ADMIN
    service = KnowledgeService(store=knowledge, agents=_NoAgents(), read_transcript=_no_transcripts,
                               now=lambda: 1000.0 + next(counter), new_id=lambda: f"id{next(counter)}",
                               max_body_chars=20_000)
    categories = {}
    for c in CATEGORIES:
        category = await service.save_category(admin, None, CategoryFields(name=c["name"], slug=c["slug"],
                                                                           position=c["position"]))
        categories[c["slug"]] = category.id
    ids = {}
    for entry in [*ARTICLES, GERMAN]:
        article = await service.create_article(admin, ArticleFields(**article_payload(entry, categories)))
        ids[entry[0]] = article.id
    draft = await service.create_article(admin, ArticleFields(**article_payload(DRAFT, categories, "draft")))
    ids["draft"] = draft.id
    return Corpus(service=service, admin=admin, ids=ids, store=knowledge)


@pytest.mark.parametrize(("question", "expected"), QUESTIONS)
async def test_the_expected_article_ranks_first(corpus: Corpus, question: str, expected: str) -> None:
    result = await corpus.service.search(question, locale="en")
    assert result.hits, question
    ranked = [hit.article.id for hit in result.hits]
    assert ranked[0] == corpus.ids[expected], (question, [h.article.title for h in result.hits])
    assert all(a >= b for a, b in itertools.pairwise(h.score for h in result.hits))


async def test_typos_are_corrected_and_said(corpus: Corpus) -> None:
    result = await corpus.service.search("refnud")
    assert result.corrected and result.did_you_mean == "refund"
    exact = await corpus.service.search("refund")
    assert not exact.corrected and exact.did_you_mean is None
    assert (await corpus.service.search("xylophone")).hits == []


async def test_drafts_are_never_found_and_publishing_makes_them_searchable(corpus: Corpus) -> None:
    assert corpus.ids["draft"] not in [h.article.id for h in (await corpus.service.search("secret refund")).hits]
    publish = ArticleFields(status=ArticleStatus.PUBLISHED)
    await corpus.service.update_article(corpus.admin, corpus.ids["draft"], publish)
    assert (await corpus.service.search("secrets")).hits[0].article.id == corpus.ids["draft"]
    await corpus.service.update_article(corpus.admin, corpus.ids["draft"], ArticleFields(status=ArticleStatus.DRAFT))
    assert (await corpus.service.search("secrets")).hits == []
    await corpus.service.delete_article(corpus.admin, corpus.ids["refund"])
    assert corpus.ids["refund"] not in [h.article.id for h in (await corpus.service.search("refund")).hits]


async def test_edits_change_what_is_found(corpus: Corpus) -> None:
    await corpus.service.update_article(corpus.admin, corpus.ids["warranty"],
                                        ArticleFields(title="Guarantee", body="Two years of guarantee.", tags=[]))
    assert (await corpus.service.search("warranty")).hits == []
    assert (await corpus.service.search("guarantee")).hits[0].article.id == corpus.ids["warranty"]


async def _vocabulary_matches_the_index(store: KnowledgeStore) -> None:
    """The vocabulary holds exactly what a recount of the indexed articles gives."""
    if isinstance(store, PostgresKnowledge):
        stored = {r[0]: r[1] for r in await store.database.fetch("SELECT word, docs FROM kb_words")}
        recount = {r[0]: r[1] for r in await store.database.fetch(
            "SELECT word, ndoc FROM ts_stat('SELECT search FROM kb_articles WHERE status = ''published''')")}
        assert stored and stored == recount
        return
    assert isinstance(store, SQLiteKnowledge)
    reader = store.database.reader
    async with reader.execute("SELECT title, body, tags FROM kb_search") as cur:
        rows = await cur.fetchall()
    expected: Counter[str] = Counter()
    for row in rows:
        expected.update(article_words(*row))
    async with reader.execute("SELECT word, docs FROM kb_words") as cur:
        stored = {r[0]: r[1] for r in await cur.fetchall()}
    assert stored.pop("") == len(rows)
    assert stored == dict(expected)
    async with reader.execute("SELECT variant, word FROM kb_word_variants") as cur:
        pairs = set(await cur.fetchall())
    assert pairs == {(v, w) for w in expected if len(w) >= 3 for v in variants(w)}


async def test_the_vocabulary_follows_every_change(corpus: Corpus) -> None:
    service, admin = corpus.service, corpus.admin
    await _vocabulary_matches_the_index(corpus.store)
    await service.update_article(admin, corpus.ids["warranty"], ArticleFields(body="Zanzibar shipping only."))
    await service.update_article(admin, corpus.ids["draft"], ArticleFields(status=ArticleStatus.PUBLISHED))
    await service.update_article(admin, corpus.ids["paypal"], ArticleFields(status=ArticleStatus.DRAFT))
    await service.delete_article(admin, corpus.ids["refund"])
    await _vocabulary_matches_the_index(corpus.store)
    assert (await service.search("zanzibra")).hits[0].article.id == corpus.ids["warranty"]
    assert (await service.search("paypl")).hits == []  # unpublished: its words left the vocabulary


async def test_locales_and_categories_narrow_the_search(corpus: Corpus) -> None:
    german = await corpus.service.search("Rückgabe", locale="de")
    assert german.hits[0].article.id == corpus.ids["ruckgabe"]
    assert (await corpus.service.search("ruckgabe", locale="de")).hits[0].article.id == corpus.ids["ruckgabe"]
    assert (await corpus.service.search("Rückgabe", locale="en")).hits == []
    # Articles without a locale are in every language's results.
    assert (await corpus.service.search("refund", locale="de")).hits[0].article.id == corpus.ids["refund"]
    payment = (await corpus.service.store.category_by_slug("payment"))
    assert payment is not None
    hits = (await corpus.service.search("card", category_id=payment.id, limit=20)).hits
    assert hits and all(h.article.category_id == payment.id for h in hits)


async def test_results_carry_a_snippet_around_the_match(corpus: Corpus) -> None:
    [hit, *_] = (await corpus.service.search("3-D Secure")).hits
    assert hit.article.id == corpus.ids["declined"] and "Secure" in hit.snippet


async def test_recorded_searches_mask_addresses_and_numbers(corpus: Corpus) -> None:
    await corpus.service.search("Order 123456789 for bob@example.com refund", record=True, source=SearchSource.WIDGET)
    await corpus.service.search("xylophone", record=True)
    await corpus.service.search("refu", record=False)
    report = await corpus.service.report(corpus.admin, None, None, 10)
    assert report.searches == 2 and report.searches_without_results == 1
    assert {q.query for q in report.top_searches} == {"order [number] for [email] refund", "xylophone"}
    assert [q.query for q in report.no_result_searches] == ["xylophone"]


def test_query_terms_and_expressions() -> None:
    assert search_terms("How do I get a REFUND?") == ["refund"]
    assert search_terms("Rückgabe, rückgabe!") == ["ruckgabe"]
    assert search_terms("how do i") == ["how", "do"]
    assert search_terms('x"; DROP TABLE kb_articles; --') == ["drop", "table", "kb", "articles"]
    assert match_expression([["refunds"], ["pay", "paypal"]]) == '("refunds"* OR "refund"*) OR ("pay"* OR "paypal"*)'
    assert match_expression([["tv"]]) == '"tv"'
    assert all(one_edit_apart("refund", typo) for typo in ("refnud", "refud", "refuend", "refumd"))
    assert not one_edit_apart("refund", "rfnud") and not one_edit_apart("refund", "refund")
    assert "refud" in variants("refnud") & variants("refund")
    assert normalize_logged_query("  My  CARD 4111 1111 1111 1111 ") == "my card [number]"


async def test_logged_searches_and_outcomes_are_deleted_after_the_retention_period(corpus: Corpus) -> None:
    clock = {"now": 1_000_000.0}
    service = KnowledgeService(store=corpus.service.store, agents=_NoAgents(), read_transcript=_no_transcripts,
                               now=lambda: clock["now"], new_id=lambda: "unused", max_body_chars=20_000,
                               retention_days=90)
    await service.search("refund", record=True)
    await service.record_outcome(Outcome.ANSWERED, "refund", corpus.ids["refund"])
    clock["now"] += 89 * 86400
    await service.search("paypal", record=True)
    await service.apply_retention()
    report = await service.report(corpus.admin, None, None, 10)
    assert report.searches == 2 and report.outcomes["answered"] == 1
    clock["now"] += 2 * 86400  # the first search and the outcome are now 91 days old
    await service.apply_retention()
    report = await service.report(corpus.admin, None, None, 10)
    assert [q.query for q in report.top_searches] == ["paypal"] and report.outcomes["answered"] == 0
    keep = KnowledgeService(store=corpus.service.store, agents=_NoAgents(), read_transcript=_no_transcripts,
                            now=lambda: clock["now"] + 10**9, new_id=lambda: "unused", max_body_chars=20_000)
    await keep.apply_retention()  # retention_days 0 keeps everything
    assert (await keep.report(corpus.admin, None, None, 10)).searches == 1


async def test_topic_articles_are_those_of_the_category_or_the_tag(corpus: Corpus) -> None:
    """A page's topics (a category's slug, or a tag) give the published articles about them."""
    by_category = {a.id for a in await corpus.store.topic_articles(["payment"], None, 20)}
    assert {corpus.ids[k] for k in ("card", "paypal", "declined", "voucher")} <= by_category
    by_tag = {a.id for a in await corpus.store.topic_articles(["vouchers"], None, 20)}
    assert by_tag == {corpus.ids["voucher"]}
    assert await corpus.store.topic_articles(["no-such-topic"], None, 20) == []
