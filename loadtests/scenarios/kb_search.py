"""Knowledge-base search latency over a generated corpus (issue 10: p99 under 10 ms at 10,000
articles).

The scenario writes ``--articles`` generated articles through the admin REST API (so the index
is built the way a real one is), then sends ``--queries`` searches one at a time, as the widget
does while a shopper types: ``GET /api/kb/search`` with a mix of exact words, unfinished words
(prefixes), two-word questions with common words, typos (corrected through the index's
vocabulary) and words no article has. Each sample is the round trip measured by the client,
and the time the server spent in the search itself (its ``Server-Timing`` header). The target
applies to the round trip. docs/loadtesting.md has the account.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp

from ..clients import Api, new_http_session
from ..errors import LoadTestError
from ..server import Target
from ..stats import Summary, summarize

NAME = "kb-search"
TARGET_P99_MS = 10.0
KINDS = ("word", "prefix", "question", "typo", "miss")
_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "be", "da", "fe", "gi", "ho", "ju", "pa", "re", "si",
              "to", "ul", "an", "er", "in", "os", "ur", "bra", "cle", "dri", "fla", "gro", "pli", "sto", "tre"]
_SHOP_WORDS = ["order", "delivery", "shipping", "refund", "return", "payment", "card", "invoice", "parcel", "tracking",
               "voucher", "account", "password", "address", "warranty", "repair", "exchange", "size", "colour",
               "stock", "discount", "basket", "checkout"]
_TIMING = re.compile(r"search;dur=([0-9.]+)")


@dataclass(frozen=True)
class KbSearchConfig:
    articles: int = 10_000
    queries: int = 2_000
    warmup: int = 100
    categories: int = 12
    vocabulary: int = 6_000
    seed_concurrency: int = 4
    limit: int = 5
    seed: int = 10
    target_p99_ms: float = TARGET_P99_MS

    def check(self) -> None:
        if self.articles < 1 or self.queries < 1 or self.warmup < 0 or self.categories < 1:
            raise LoadTestError("--articles and --queries must be >= 1, --warmup >= 0, --categories >= 1")
        if self.vocabulary < 50 or not 1 <= self.seed_concurrency <= 64 or not 1 <= self.limit <= 20:
            raise LoadTestError("--vocabulary must be >= 50, --seed-concurrency 1-64, --limit 1-20")

    def clients(self) -> int:
        return 0  # REST only: no Socket.IO connection

    def send_rate(self) -> float:
        return 0.0  # one query at a time, each after the last answer

    def server_settings(self) -> dict[str, str]:
        return {}

    def describe(self) -> str:
        return (f"knowledge-base search over {self.articles} generated articles: GET /api/kb/search, one at a time, "
                f"{self.queries} queries ({', '.join(KINDS)})")


@dataclass
class KbSearchResult:
    config: KbSearchConfig
    round_trip_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    by_kind_ms: dict[str, list[float]] = field(default_factory=dict)
    results: Counter[str] = field(default_factory=Counter)
    seed_s: float = 0.0
    complete: bool = True
    inconclusive = False  # a miss is a miss: no run is too small to judge

    @property
    def passed(self) -> bool:
        return self.complete and summarize(self.round_trip_ms).p99 <= self.config.target_p99_ms

    def summaries(self) -> dict[str, Summary]:
        series = {"round_trip": self.round_trip_ms, "server_search": self.server_ms,
                  **{f"round_trip_{kind}": values for kind, values in self.by_kind_ms.items()}}
        return {name: summarize(values) for name, values in series.items() if values}

    def as_report(self) -> dict[str, Any]:
        return {
            "measures": self.config.describe(),
            "config": asdict(self.config),
            "complete": self.complete,
            "target": {"p99_ms_at_most": self.config.target_p99_ms, "of": "round_trip", "passed": self.passed},
            "summary_ms": {name: s.as_dict() for name, s in self.summaries().items()},
            "queries_with_results": dict(self.results),
            "seed_s": round(self.seed_s, 2),
            "samples_ms": {"round_trip": [round(v, 3) for v in self.round_trip_ms],
                           "server_search": [round(v, 3) for v in self.server_ms]},
        }


class Corpus:
    """Deterministic articles and queries: made-up words with a Zipf-like frequency, and shop words."""

    def __init__(self, config: KbSearchConfig) -> None:
        self.rng = random.Random(config.seed)
        words: set[str] = set(_SHOP_WORDS)
        while len(words) < config.vocabulary:
            words.add("".join(self.rng.choice(_SYLLABLES) for _ in range(self.rng.randint(2, 4))))
        self.words = sorted(words)
        self.rng.shuffle(self.words)
        # Word i is drawn with weight 1 / (i + 1): a few are in most articles, most in few.
        self.weights = [1.0 / (i + 1) for i in range(len(self.words))]
        self.titles: list[str] = []

    def _draw(self, n: int) -> list[str]:
        return self.rng.choices(self.words, weights=self.weights, k=n)

    def article(self, n: int, category_ids: list[str]) -> dict[str, Any]:
        title_words = self.rng.sample(self.words[:len(self.words) // 2], self.rng.randint(3, 7))
        title = " ".join(title_words).capitalize()
        self.titles.append(title)
        paragraphs = [" ".join(self._draw(self.rng.randint(25, 60))).capitalize() + "." for _ in range(3)]
        bullets = f"- {' '.join(self._draw(6))}\n- {' '.join(self._draw(6))}"
        body = "\n\n".join([paragraphs[0], bullets, *paragraphs[1:]])
        return {"title": title, "body": body, "status": "published", "slug": f"article-{n}",
                "category_id": self.rng.choice(category_ids), "tags": self.rng.sample(_SHOP_WORDS, 2)}

    def query(self) -> tuple[str, str]:
        kind = self.rng.choice(KINDS)
        word = self.rng.choice(self.rng.choice(self.titles).lower().split())
        if kind == "word":
            return kind, word
        if kind == "prefix":
            return kind, word[:max(3, len(word) - 2)]
        if kind == "question":
            return kind, f"how do I {word} my {self.rng.choice(_SHOP_WORDS)}"
        if kind == "typo" and len(word) > 3:
            i = self.rng.randrange(len(word) - 1)
            return kind, word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if kind == "typo":
            return kind, word + "x"
        return "miss", "zq" + "".join(self.rng.choice("bcdfgjkqvwxz") for _ in range(6))


async def _post(http: aiohttp.ClientSession, url: str, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with http.post(url + path, json=body, headers={"Authorization": f"Bearer {token}"}) as response:
        data = await response.json()
        if response.status != 201:
            raise LoadTestError(f"POST {path} answered {response.status}: {data}")
        return dict(data)


async def _seed(http: aiohttp.ClientSession, target: Target, token: str, corpus: Corpus, config: KbSearchConfig,
                deadline: float, progress: bool) -> bool:
    category_ids = []
    for n in range(config.categories):
        created = await _post(http, target.url, token, "/api/kb/categories", {"name": f"Category {n + 1}",
                                                                              "position": n})
        category_ids.append(created["category"]["id"])
        target.created.kb_categories.add(str(created["category"]["id"]))
    bodies = [corpus.article(n, category_ids) for n in range(config.articles)]
    pending = iter(bodies)
    done = 0

    async def writer() -> None:
        nonlocal done
        for body in pending:
            if time.monotonic() > deadline:
                return
            written = await _post(http, target.url, token, "/api/kb/articles", body)
            target.created.kb_articles.add(str(written["article"]["id"]))
            done += 1
            if progress and done % 1000 == 0:
                print(f"  {done} articles written", flush=True)

    await asyncio.gather(*(writer() for _ in range(config.seed_concurrency)))
    return done == config.articles


async def run(target: Target, config: KbSearchConfig, deadline: float, progress: bool = True) -> KbSearchResult:
    result = KbSearchResult(config=config)
    corpus = Corpus(config)
    async with new_http_session() as http:
        login = await Api(http, target.url).login(target.admin_email, target.admin_password)
        started = time.perf_counter()
        if progress:
            print(f"writing {config.articles} articles…", flush=True)
        result.complete = await _seed(http, target, login["token"], corpus, config, deadline, progress)
        result.seed_s = time.perf_counter() - started
        if progress:
            print(f"searching ({config.warmup} warm-up, {config.queries} measured)…", flush=True)
        for n in range(config.warmup + config.queries):
            if time.monotonic() > deadline:
                result.complete = False
                break
            kind, text = corpus.query()
            sent = time.perf_counter()
            async with http.get(f"{target.url}/api/kb/search", params={"q": text, "limit": str(config.limit)}) as resp:
                body = await resp.json()
                elapsed = (time.perf_counter() - sent) * 1000
                if resp.status != 200:
                    raise LoadTestError(f"GET /api/kb/search?q={text} answered {resp.status}: {body}")
                timing = _TIMING.search(resp.headers.get("Server-Timing", ""))
            if n < config.warmup:
                continue
            result.round_trip_ms.append(elapsed)
            result.by_kind_ms.setdefault(kind, []).append(elapsed)
            if timing:
                result.server_ms.append(float(timing.group(1)))
            result.results[f"{kind}:{'found' if body['results'] else 'none'}"] += 1
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = KbSearchConfig()
    group = parser.add_argument_group("kb-search")
    group.add_argument("--articles", type=int, default=defaults.articles, help="articles to generate (%(default)s)")
    group.add_argument("--queries", type=int, default=defaults.queries, help="measured searches (%(default)s)")
    group.add_argument("--warmup", type=int, default=defaults.warmup, help="searches before measuring (%(default)s)")
    group.add_argument("--categories", type=int, default=defaults.categories, help="categories (%(default)s)")
    group.add_argument("--vocabulary", type=int, default=defaults.vocabulary,
                       help="distinct words the articles are made of (%(default)s)")
    group.add_argument("--seed-concurrency", type=int, default=defaults.seed_concurrency,
                       help="articles written at once (%(default)s)")
    group.add_argument("--limit", type=int, default=defaults.limit, help="results per search (%(default)s)")
    group.add_argument("--seed", type=int, default=defaults.seed, help="random seed of the corpus (%(default)s)")
    group.add_argument("--target-p99-ms", type=float, default=defaults.target_p99_ms,
                       help="the round trip's p99 must be at most this (%(default)s)")


def config_from(args: argparse.Namespace) -> KbSearchConfig:
    return KbSearchConfig(articles=args.articles, queries=args.queries, warmup=args.warmup,
                          categories=args.categories, vocabulary=args.vocabulary,
                          seed_concurrency=args.seed_concurrency, limit=args.limit, seed=args.seed,
                          target_p99_ms=args.target_p99_ms)


def format_result(result: KbSearchResult) -> str:
    def line(label: str, s: Summary) -> str:
        return (f"  {label:<28} p50 {s.p50:7.2f}  p90 {s.p90:7.2f}  p99 {s.p99:7.2f}  max {s.max:7.2f}"
                f"  (n={s.count}, mean {s.mean:.2f})")

    summaries = result.summaries()
    lines = [result.config.describe(), f"  {result.config.articles} articles written in {result.seed_s:.1f} s",
             "  latency in ms"]
    lines.append(line("round trip (the target)", summaries["round_trip"]))
    if "server_search" in summaries:
        lines.append(line("search in the server", summaries["server_search"]))
    for kind in KINDS:
        if f"round_trip_{kind}" in summaries:
            lines.append(line(f"  {kind}", summaries[f"round_trip_{kind}"]))
    found = ", ".join(f"{k} {v}" for k, v in sorted(result.results.items()))
    lines.append(f"  queries by result: {found}")
    verdict = "PASS" if result.passed else "FAIL"
    complete = "" if result.complete else " (incomplete: --max-duration reached)"
    lines.append(f"{verdict}: round-trip p99 {summaries['round_trip'].p99:.2f} ms, target at most "
                 f"{result.config.target_p99_ms:g} ms{complete}")
    return "\n".join(lines)
