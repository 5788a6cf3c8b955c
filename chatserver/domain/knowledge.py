"""The knowledge base: articles, categories and their FAQ, search, and what deflected a question.

Articles are written in Markdown and rendered to sanitized HTML when saved (``kb_markdown``).
An article is a ``draft``, ``in_review`` or ``published``; only published ones are public and
searchable. Admins write everything; an agent may turn a finished conversation into a draft
(assigned to someone), and the assignee may edit a draft and send it for review; admins publish.

Search (``kb_search``) asks the store's full-text index (SQLite's FTS5 or PostgreSQL's
tsvector): any of the words, ranked with the title weighted most, the word being typed as a
prefix. A word the index does not know is replaced by the index's words one edit away (the typo
tolerance). The index lives in the database, so every process sharing it answers the same.

What shoppers searched is logged without anything that identifies them (no visitor id, no
address; e-mail addresses and long numbers masked) and deleted after ``retention_days``.
"""

from __future__ import annotations

import fnmatch
import re
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum
from typing import Protocol

import msgspec

from ..errors import AuthRequired, Conflict, ConversationNotClosed, Forbidden, InvalidPayload, NotFound
from .kb_markdown import render_markdown
from .kb_search import (
    PREFIX_FROM,
    TYPO_FROM,
    normalize_logged_query,
    one_edit_apart,
    search_terms,
    snippet,
)
from .models import Agent, ConversationRecord, PartyKind, Role, Transcript

MAX_TITLE = 200
MAX_TAGS = 20
MAX_TAG = 40
MAX_SLUG = 80
MAX_FAQ = 200
MAX_QUERY = 200
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$(?!\n)")
LOCALE = r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,3}$"
LOCALE_RE = re.compile(LOCALE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Of the corrections found for a mistyped word, the most common ones are searched.
CORRECTIONS_PER_TERM = 2
# The index ranks every article a query matches (about a microsecond each), so a query keeps
# its rarest words while they match at most this many articles together (estimated from the
# vocabulary); the commoner ones say least about which article is meant. When even the rarest
# word matches more, only titles are searched.
RANK_BUDGET = 2000


class ArticleStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"


class Outcome(StrEnum):
    """What happened after a shopper used the help step: an article answered them, or they went
    on to a chat or an offline ticket."""

    ANSWERED = "answered"
    CHAT_STARTED = "chat_started"
    TICKET_CREATED = "ticket_created"


class SearchSource(StrEnum):
    WIDGET = "widget"
    HELP = "help"
    CONSOLE = "console"
    API = "api"


class Category(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    slug: str
    name: str
    description: str
    position: int
    created_at: float
    updated_at: float


class Article(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    slug: str
    title: str
    body: str  # Markdown, as written
    body_html: str  # rendered and sanitized when saved
    body_text: str  # what the search index holds
    status: ArticleStatus
    created_by: str
    created_at: float
    updated_at: float
    locale: str | None = None
    category_id: str | None = None
    tags: tuple[str, ...] = ()
    assignee_id: str | None = None
    source_conversation_id: str | None = None
    faq_position: int | None = None
    published_at: float | None = None
    # The customer of the conversation it was drafted from (not shown): their export lists the
    # article, their deletion deletes it unless published (docs/knowledge-base.md).
    source_customer_id: str | None = None

    @property
    def summary(self) -> str:
        return snippet(self.body_text, [], 200)


class ArticleFilter(msgspec.Struct, frozen=True, kw_only=True):
    statuses: tuple[ArticleStatus, ...] = (ArticleStatus.PUBLISHED,)
    category_id: str | None = None
    tag: str | None = None
    locale: str | None = None
    assignee_id: str | None = None


class SearchHit(msgspec.Struct, frozen=True, kw_only=True):
    article: Article
    score: float
    snippet: str = ""


class SearchResult(msgspec.Struct, frozen=True, kw_only=True):
    query: str
    hits: list[SearchHit]
    # The words were not all in the index: ``did_you_mean`` is what was searched instead.
    corrected: bool = False
    did_you_mean: str | None = None


class QueryCount(msgspec.Struct, frozen=True, kw_only=True):
    query: str
    count: int
    results: int = 0  # the number of results its latest search had


class ArticleCount(msgspec.Struct, frozen=True, kw_only=True):
    article_id: str
    title: str | None
    count: int


class KnowledgeReport(msgspec.Struct, frozen=True, kw_only=True):
    searches: int
    searches_without_results: int
    top_searches: list[QueryCount]
    no_result_searches: list[QueryCount]
    outcomes: dict[str, int]
    top_articles: list[ArticleCount]

    @property
    def deflection_rate(self) -> float | None:
        """Answered / (answered + chats started after the help step); ``None`` before either."""
        answered = self.outcomes.get(Outcome.ANSWERED, 0)
        total = answered + self.outcomes.get(Outcome.CHAT_STARTED, 0)
        return round(answered / total, 4) if total else None


class KnowledgeStore(Protocol):
    """Where the knowledge base lives (``storage/sqlite/knowledge.py``)."""

    async def categories(self) -> list[Category]:
        """Every category, by position then name."""
        ...

    async def category(self, category_id: str) -> Category | None: ...

    async def category_by_slug(self, slug: str) -> Category | None: ...

    async def save_category(self, category: Category) -> None:
        """Insert or replace by id; ``Conflict`` when another category has the slug."""
        ...

    async def delete_category(self, category_id: str) -> bool:
        """Delete it; its articles keep no category (and leave its FAQ)."""
        ...

    async def published_counts(self) -> dict[str, int]:
        """Published articles per category id."""
        ...

    async def articles(self, where: ArticleFilter, limit: int, offset: int) -> tuple[list[Article], int]:
        """Matching articles, FAQ order first then newest, and how many match in all."""
        ...

    async def article(self, article_id: str) -> Article | None: ...

    async def article_by_slug(self, slug: str) -> Article | None: ...

    async def slug_taken(self, slug: str, except_id: str | None) -> bool: ...

    async def save_article(self, article: Article) -> None:
        """Insert or replace by id, and index it for search while it is published (in the same
        transaction); ``Conflict`` when another article has the slug, ``InvalidPayload`` for a
        category or assignee that does not exist."""
        ...

    async def delete_article(self, article_id: str) -> bool: ...

    async def set_faq(self, category_id: str, article_ids: Sequence[str]) -> None:
        """Make these articles the category's FAQ, in this order (the others leave it);
        ``NotFound`` if one is not in the category, and then nothing changes."""
        ...

    async def faq(self, category_id: str | None, locale: str | None) -> list[Article]:
        """Published FAQ articles, by category position then FAQ position."""
        ...

    async def any_published(self) -> bool: ...

    async def match(self, groups: Sequence[Sequence[str]], *, locale: str | None, category_id: str | None,
                    limit: int, titles_only: bool = False) -> list[SearchHit]:
        """Published articles holding any word of any group (in their titles only, if asked; a word
        of ``PREFIX_FROM`` letters or more, and its naive singular, as a prefix: ``term_forms``),
        best first (the full-text index's rank, the title weighted most, then tags, then body)."""
        ...

    async def vocabulary(self, terms: Sequence[str]) -> tuple[int, dict[str, tuple[int, int]]]:
        """``(published articles, {term: (articles holding it as a word, the sum of the
        articles holding each longer word that starts with it)})``."""
        ...

    async def near_words(self, term: str) -> dict[str, int]:
        """Indexed words that may be ``term`` mistyped (candidates the caller checks with
        ``one_edit_apart``), with how many published articles hold each."""
        ...

    async def topic_articles(self, topics: Sequence[str], locale: str | None, limit: int) -> list[Article]:
        """Published articles in a category whose slug is one of ``topics`` or tagged with one."""
        ...

    async def record_search(self, query: str, results: int, source: SearchSource, at: float) -> None: ...

    async def record_outcome(self, outcome: Outcome, query: str | None, article_id: str | None, at: float) -> None: ...

    async def report(self, since: float | None, until: float | None, limit: int) -> KnowledgeReport: ...

    async def prune_events(self, before: float) -> int:
        """Delete logged searches and outcomes older than ``before``; how many went."""
        ...


class ArticleFields(msgspec.Struct, frozen=True, kw_only=True):
    """What a writer sets on an article; ``UNSET`` leaves a field as it is."""

    title: str | msgspec.UnsetType = msgspec.UNSET
    body: str | msgspec.UnsetType = msgspec.UNSET
    slug: str | msgspec.UnsetType = msgspec.UNSET
    status: ArticleStatus | msgspec.UnsetType = msgspec.UNSET
    locale: str | msgspec.UnsetType | None = msgspec.UNSET
    category_id: str | msgspec.UnsetType | None = msgspec.UNSET
    tags: list[str] | msgspec.UnsetType = msgspec.UNSET
    assignee_id: str | msgspec.UnsetType | None = msgspec.UNSET


class CategoryFields(msgspec.Struct, frozen=True, kw_only=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    slug: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    position: int | msgspec.UnsetType = msgspec.UNSET


class AgentLookup(Protocol):
    async def agent_by_id(self, agent_id: str) -> Agent | None: ...


ReadTranscript = Callable[[Agent, str], Awaitable[tuple[Transcript, ConversationRecord]]]


def check_title(title: str) -> str:
    title = " ".join(_CONTROL.sub(" ", title).split())
    if not title:
        raise InvalidPayload("title must not be empty", details={"fields": ["title"]})
    if len(title) > MAX_TITLE:
        raise InvalidPayload(f"title is limited to {MAX_TITLE} characters", details={"fields": ["title"]})
    return title


def check_body(body: str, max_chars: int) -> str:
    if len(body) > max_chars:
        raise InvalidPayload(f"body is limited to {max_chars} characters", details={"fields": ["body"]})
    return _CONTROL.sub("", body)


def check_slug(slug: str) -> str:
    if len(slug) > MAX_SLUG or not SLUG_RE.fullmatch(slug):
        raise InvalidPayload(f"slug must be 1-{MAX_SLUG} of a-z, 0-9 and single hyphens between them",
                             details={"fields": ["slug"]})
    return slug


def check_tags(tags: Sequence[str]) -> tuple[str, ...]:
    cleaned = [" ".join(t.lower().split()) for t in tags]
    if len(cleaned) > MAX_TAGS or any(not t or len(t) > MAX_TAG or "," in t or _CONTROL.search(t) for t in cleaned):
        raise InvalidPayload(f"up to {MAX_TAGS} tags of 1-{MAX_TAG} characters, without commas",
                             details={"fields": ["tags"]})
    return tuple(dict.fromkeys(cleaned))


def check_locale(locale: str | None) -> str | None:
    if locale is None or locale == "":
        return None
    if len(locale) > 35 or not LOCALE_RE.fullmatch(locale):
        raise InvalidPayload("locale must be a language tag such as en or de-CH", details={"fields": ["locale"]})
    return locale


def slug_from(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title).strip("-")[:MAX_SLUG].rstrip("-")
    return slug or "article"


def parse_page_topics(rules: Sequence[str]) -> list[tuple[str, str]]:
    """``PATTERN=TOPIC`` rules (settings ``kb_page_topics``) as ``(pattern, topic)`` pairs."""
    pairs = []
    for rule in rules:
        pattern, sep, topic = rule.rpartition("=")
        if not sep or not pattern.strip() or not topic.strip():
            raise ValueError(f"kb_page_topics: {rule!r} is not PATTERN=TOPIC")
        pairs.append((pattern.strip().lower(), topic.strip().lower()))
    return pairs


def page_topics(rules: Sequence[tuple[str, str]], page_url: str | None, page_title: str | None) -> list[str]:
    """The topics whose pattern matches the page's address or title (fnmatch, any case)."""
    found = []
    for pattern, topic in rules:
        if any(value and fnmatch.fnmatchcase(value.lower(), pattern) for value in (page_url, page_title)):
            found.append(topic)
    return list(dict.fromkeys(found))


class KnowledgeService:
    """The knowledge base's rules over a ``KnowledgeStore``."""

    def __init__(self, *, store: KnowledgeStore, agents: AgentLookup, read_transcript: ReadTranscript,
                 now: Callable[[], float], new_id: Callable[[], str], max_body_chars: int,
                 page_topic_rules: Sequence[tuple[str, str]] = (), retention_days: float = 0.0) -> None:
        self.store = store
        self.agents = agents
        self.read_transcript = read_transcript
        self.now = now
        self.new_id = new_id
        self.max_body_chars = max_body_chars
        self.page_topic_rules = list(page_topic_rules)
        self.retention_days = retention_days

    # -- reading ------------------------------------------------------------------------------

    async def article_for(self, reader: Agent | None, article_id: str) -> Article:
        """A published article for anyone; any article for an agent; ``NotFound`` otherwise (so
        drafts cannot be probed)."""
        article = await self.store.article(article_id)
        if article is None or (reader is None and article.status != ArticleStatus.PUBLISHED):
            raise NotFound("article not found")
        return article

    async def published_by_slug(self, slug: str) -> Article:
        article = await self.store.article_by_slug(slug)
        if article is None or article.status != ArticleStatus.PUBLISHED:
            raise NotFound("article not found")
        return article

    async def list_articles(self, reader: Agent | None, where: ArticleFilter, limit: int,
                            offset: int) -> tuple[list[Article], int]:
        if reader is None and where.statuses != (ArticleStatus.PUBLISHED,):
            raise AuthRequired("unpublished articles are listed for agents: send an agent token")
        return await self.store.articles(where, limit, offset)

    async def category_by_slug(self, slug: str) -> Category:
        category = await self.store.category_by_slug(slug)
        if category is None:
            raise NotFound("category not found")
        return category

    # -- writing articles ---------------------------------------------------------------------

    async def create_article(self, actor: Agent, fields: ArticleFields, *, source_conversation_id: str | None = None,
                             source_customer_id: str | None = None) -> Article:
        """An admin writes an article (any status); an agent only drafts (see ``draft_from_conversation``)."""
        if actor.role != Role.ADMIN and source_conversation_id is None:
            raise Forbidden("admins write articles; agents draft them from conversations")
        if isinstance(fields.title, msgspec.UnsetType):
            raise InvalidPayload("title is required", details={"fields": ["title"]})
        now = self.now()
        status = ArticleStatus.DRAFT if isinstance(fields.status, msgspec.UnsetType) else fields.status
        blank = Article(id=self.new_id(), slug="", title="", body="", body_html="", body_text="", status=status,
                        created_by=actor.id, created_at=now, updated_at=now,
                        source_conversation_id=source_conversation_id, source_customer_id=source_customer_id)
        article = await self._apply(actor, blank, fields, new=True)
        await self.store.save_article(article)
        return article

    async def draft_from_conversation(self, actor: Agent, conversation_id: str, fields: ArticleFields) -> Article:
        """A draft from a finished conversation the agent may read: its question as the title
        and the agents' answers as the body, unless given; assigned to the agent unless to
        someone else."""
        transcript, record = await self.read_transcript(actor, conversation_id)
        if transcript.conversation.closed_at is None:
            raise ConversationNotClosed("end the conversation before turning it into an article")
        if not isinstance(fields.status, msgspec.UnsetType) and fields.status != ArticleStatus.DRAFT:
            raise InvalidPayload("an article from a conversation starts as a draft", details={"fields": ["status"]})
        answers = [m.body for m in transcript.messages if m.kind == "text" and m.sender_kind == PartyKind.AGENT]
        defaults = ArticleFields(
            title=fields.title if not isinstance(fields.title, msgspec.UnsetType)
            else transcript.conversation.prechat.question[:MAX_TITLE],
            body=fields.body if not isinstance(fields.body, msgspec.UnsetType) else "\n\n".join(answers),
            assignee_id=fields.assignee_id if not isinstance(fields.assignee_id, msgspec.UnsetType) else actor.id,
            status=ArticleStatus.DRAFT, slug=fields.slug, locale=fields.locale, category_id=fields.category_id,
            tags=fields.tags)
        return await self.create_article(actor, defaults, source_conversation_id=conversation_id,
                                         source_customer_id=record.customer_id)

    async def update_article(self, actor: Agent, article_id: str, fields: ArticleFields) -> Article:
        """Admins change anything. The assignee of an unpublished article changes its text,
        category, tags and locale, and moves it between draft and in review."""
        current = await self.store.article(article_id)
        if current is None:
            raise NotFound("article not found")
        if actor.role != Role.ADMIN:
            if current.assignee_id != actor.id:
                raise Forbidden("only the article's assignee or an admin may change it")
            if current.status == ArticleStatus.PUBLISHED:
                raise Forbidden("published articles are changed by admins")
            if fields.status == ArticleStatus.PUBLISHED:
                raise Forbidden("admins publish articles")
            if not isinstance(fields.assignee_id, msgspec.UnsetType) and fields.assignee_id != current.assignee_id:
                raise Forbidden("admins assign articles")
        article = await self._apply(actor, current, fields, new=False)
        await self.store.save_article(article)
        return article

    async def delete_article(self, actor: Agent, article_id: str) -> None:
        _admin(actor)
        if not await self.store.delete_article(article_id):
            raise NotFound("article not found")

    async def _apply(self, actor: Agent, current: Article, fields: ArticleFields, *, new: bool) -> Article:
        changes: dict[str, object] = {}
        if not isinstance(fields.title, msgspec.UnsetType):
            changes["title"] = check_title(fields.title)
        if not isinstance(fields.body, msgspec.UnsetType):
            body = check_body(fields.body, self.max_body_chars)
            rendered = render_markdown(body)
            changes.update(body=body, body_html=rendered.html, body_text=rendered.text)
        if not isinstance(fields.locale, msgspec.UnsetType):
            changes["locale"] = check_locale(fields.locale)
        if not isinstance(fields.tags, msgspec.UnsetType):
            changes["tags"] = check_tags(fields.tags)
        if not isinstance(fields.category_id, msgspec.UnsetType):
            if fields.category_id is not None and await self.store.category(fields.category_id) is None:
                raise InvalidPayload("no such category", details={"fields": ["category_id"]})
            changes["category_id"] = fields.category_id
            if fields.category_id != current.category_id:
                changes["faq_position"] = None
        if not isinstance(fields.assignee_id, msgspec.UnsetType) and fields.assignee_id != current.assignee_id:
            if fields.assignee_id is not None:
                assignee = await self.agents.agent_by_id(fields.assignee_id)
                if assignee is None or assignee.disabled:
                    raise InvalidPayload("no such agent to assign", details={"fields": ["assignee_id"]})
            changes["assignee_id"] = fields.assignee_id
        if not isinstance(fields.status, msgspec.UnsetType):
            changes["status"] = fields.status
        title = str(changes.get("title", current.title))
        if not isinstance(fields.slug, msgspec.UnsetType):
            slug = check_slug(fields.slug)
            if await self.store.slug_taken(slug, current.id):
                raise Conflict(f"another article has the slug {slug!r}")
            changes["slug"] = slug
        elif new:
            changes["slug"] = await self._free_slug(slug_from(title), current.id)
        updated = msgspec.structs.replace(current, **changes, updated_at=self.now())
        if updated.status == ArticleStatus.PUBLISHED and not updated.body_text.strip():
            raise InvalidPayload("a published article needs a body", details={"fields": ["body"]})
        if updated.status == ArticleStatus.PUBLISHED and (new or current.status != ArticleStatus.PUBLISHED):
            updated = msgspec.structs.replace(updated, published_at=updated.updated_at)
        return updated

    async def _free_slug(self, base: str, article_id: str) -> str:
        for n in range(1, 50):
            slug = base if n == 1 else f"{base[:MAX_SLUG - 4]}-{n}"
            if not await self.store.slug_taken(slug, article_id):
                return slug
        return f"{base[:MAX_SLUG - 13]}-{article_id[:12]}"

    # -- categories and the FAQ ---------------------------------------------------------------

    async def save_category(self, actor: Agent, category_id: str | None, fields: CategoryFields) -> Category:
        """Add a category (``category_id`` None) or change one (admins)."""
        _admin(actor)
        now = self.now()
        if category_id is None:
            if isinstance(fields.name, msgspec.UnsetType):
                raise InvalidPayload("name is required", details={"fields": ["name"]})
            current = Category(id=self.new_id(), slug="", name="", description="", position=0, created_at=now,
                               updated_at=now)
        else:
            found = await self.store.category(category_id)
            if found is None:
                raise NotFound("category not found")
            current = found
        changes: dict[str, object] = {"updated_at": now}
        if not isinstance(fields.name, msgspec.UnsetType):
            name = " ".join(_CONTROL.sub(" ", fields.name).split())
            if not name or len(name) > 100:
                raise InvalidPayload("name must be 1-100 characters", details={"fields": ["name"]})
            changes["name"] = name
        if not isinstance(fields.description, msgspec.UnsetType):
            if len(fields.description) > 1000:
                raise InvalidPayload("description is limited to 1000 characters", details={"fields": ["description"]})
            changes["description"] = _CONTROL.sub("", fields.description).strip()
        if not isinstance(fields.position, msgspec.UnsetType):
            changes["position"] = fields.position
        if not isinstance(fields.slug, msgspec.UnsetType):
            changes["slug"] = check_slug(fields.slug)
        elif category_id is None:
            changes["slug"] = slug_from(str(changes["name"]))
        category = msgspec.structs.replace(current, **changes)
        await self.store.save_category(category)
        return category

    async def delete_category(self, actor: Agent, category_id: str) -> None:
        _admin(actor)
        if not await self.store.delete_category(category_id):
            raise NotFound("category not found")

    async def set_faq(self, actor: Agent, category_id: str, article_ids: Sequence[str]) -> list[Article]:
        """Order a category's FAQ (admins): these articles, in this order."""
        _admin(actor)
        if await self.store.category(category_id) is None:
            raise NotFound("category not found")
        if len(set(article_ids)) != len(article_ids) or len(article_ids) > MAX_FAQ:
            raise InvalidPayload(f"article_ids must be distinct, at most {MAX_FAQ}",
                                 details={"fields": ["article_ids"]})
        await self.store.set_faq(category_id, article_ids)
        articles, _ = await self.store.articles(ArticleFilter(statuses=tuple(ArticleStatus),
                                                              category_id=category_id), MAX_FAQ, 0)
        return [a for a in articles if a.faq_position is not None]

    # -- search, suggestions, outcomes ----------------------------------------------------------

    async def search(self, query: str, *, locale: str | None = None, category_id: str | None = None,
                     limit: int = 5, record: bool = False, source: SearchSource = SearchSource.API) -> SearchResult:
        """The published articles that best answer ``query``. With ``record`` the search is
        logged (normalized, without who searched) for the report."""
        terms = search_terms(query)
        groups: list[list[str]] = []
        estimates: list[int] = []
        corrected = False
        _total, counts = await self.store.vocabulary(terms) if terms else (0, {})
        for term in terms:
            exact, longer = counts.get(term, (0, 0))
            if exact or longer:
                groups.append([term])
                estimates.append(exact + (longer if len(term) >= PREFIX_FROM else 0))
                continue
            if len(term) < TYPO_FROM:
                continue  # an unknown short word: nothing to find, nothing safe to correct to
            near = {w: n for w, n in (await self.store.near_words(term)).items() if one_edit_apart(term, w)}
            best = sorted(near, key=lambda w: (-near[w], w))[:CORRECTIONS_PER_TERM]
            if best:
                groups.append(best)
                estimates.append(sum(near[w] for w in best))
                corrected = True
        kept, budget = [], RANK_BUDGET
        for estimate, group in sorted(zip(estimates, groups, strict=True), key=lambda pair: pair[0]):
            if estimate > budget:
                break
            kept.append(group)
            budget -= estimate
        hits: list[SearchHit] = []
        if groups:
            hits = await self.store.match(kept or groups, locale=locale, category_id=category_id, limit=limit,
                                          titles_only=not kept)
            if not hits and not kept:
                rarest = min(zip(estimates, groups, strict=True), key=lambda pair: pair[0])[1]
                hits = await self.store.match([rarest], locale=locale, category_id=category_id, limit=limit)
            words = [w for group in groups for w in group]
            hits = [msgspec.structs.replace(h, snippet=snippet(h.article.body_text, words)) for h in hits]
        if record and query.strip():
            await self.store.record_search(normalize_logged_query(query), len(hits), source, self.now())
        return SearchResult(query=query, hits=hits, corrected=corrected,
                            did_you_mean=" ".join(g[0] for g in groups) if corrected and groups else None)

    async def suggestions(self, *, page_url: str | None, page_title: str | None, topics: Sequence[str],
                          locale: str | None, limit: int) -> tuple[bool, list[str], list[Article]]:
        """What to offer before the shopper types: ``(any article published, the page's topics,
        articles)``: the topics' articles (the shop's ``topics`` first, then the
        ``kb_page_topics`` rules matching the page), else the FAQ."""
        if not await self.store.any_published():
            return False, [], []
        wanted = list(dict.fromkeys([t.lower() for t in topics] + page_topics(self.page_topic_rules, page_url,
                                                                              page_title)))
        articles = await self.store.topic_articles(wanted, locale, limit) if wanted else []
        if not articles:
            articles = (await self.store.faq(None, locale))[:limit]
        return True, wanted, articles

    async def record_outcome(self, outcome: Outcome, query: str | None, article_id: str | None) -> None:
        """Log what the help step led to (the article must be a published one, if named)."""
        if article_id is not None:
            article = await self.store.article(article_id)
            if article is None or article.status != ArticleStatus.PUBLISHED:
                raise NotFound("article not found")
        logged = normalize_logged_query(query) if query else None
        await self.store.record_outcome(outcome, logged or None, article_id, self.now())

    async def report(self, actor: Agent, since: float | None, until: float | None, limit: int) -> KnowledgeReport:
        _admin(actor)
        return await self.store.report(since, until, limit)

    async def apply_retention(self) -> None:
        """Delete logged searches and outcomes older than ``retention_days`` (0 keeps them)."""
        if self.retention_days > 0:
            await self.store.prune_events(self.now() - self.retention_days * 86400)


def _admin(actor: Agent) -> None:
    if actor.role != Role.ADMIN:
        raise Forbidden("admins only")


__all__ = [
    "Article", "ArticleFields", "ArticleFilter", "ArticleStatus", "Category", "CategoryFields", "KnowledgeReport",
    "KnowledgeService", "KnowledgeStore", "Outcome", "SearchHit", "SearchResult", "SearchSource", "page_topics",
    "parse_page_topics",
]
