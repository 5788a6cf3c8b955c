"""Chat churn: many whole chats one after another, and whether the server's memory stays flat.

Agents stay connected all through the run, as consoles do all day. Each chat is a new visitor:
a session token (``POST /api/visitor/sessions``), a ``/visitor`` connection, ``chat:start``,
routing assigns it, the agent joins it, the visitor writes and the agent answers, one of them
closes it (visitor and agent in turn), and the visitor leaves. ``--concurrency`` chats run at a
time. The server's resident memory is sampled every ``--sample-every`` chats; what counts is its
growth over the second half of the run (the first half fills SQLite's page caches and Python's
allocator pools): a server that keeps something per chat it served grows there without end (a
console's subscription to every chat it had ever joined did, about 0.6 KB a chat, until
1 December 2026). docs/loadtesting.md has the account.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ..clients import AGENT_NAMESPACE, Api, SocketClient, connect_visitor, new_http_session, prechat
from ..errors import LoadTestError
from ..procmon import read_usage
from ..server import Target
from ..stats import Summary, summarize
from .chat import CHAT_SETTINGS

NAME = "churn"
PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"


@dataclass(frozen=True)
class ChurnConfig:
    chats: int = 20_000
    concurrency: int = 20
    agents: int = 2
    sample_every: int = 1_000
    max_growth_kb_per_1000: float = 200.0
    # How far apart two RSS readings may be with nothing kept: memory is taken from the system in
    # steps (CPython's allocator in arenas of 1 MiB, SQLite's page cache a page at a time).
    rss_resolution_kb: float = 1024.0

    def check(self) -> None:
        if self.chats < 2 or not 1 <= self.concurrency <= 200 or not 1 <= self.agents <= 50:
            raise LoadTestError("--chats must be >= 2, --concurrency 1-200, --agents 1-50")
        if self.sample_every < 1 or self.max_growth_kb_per_1000 < 0 or self.rss_resolution_kb < 0:
            raise LoadTestError("--sample-every must be >= 1, --max-growth-kb-per-1000 and --rss-resolution-kb >= 0")

    def chats_to_judge(self) -> int:
        """The fewest chats a run needs for its verdict on memory: its second half must span
        enough chats that the RSS resolution, spread over them, is within the bound."""
        return 2 * math.ceil(self.rss_resolution_kb / max(self.max_growth_kb_per_1000, 1e-3) * 1000)

    def capacity(self) -> int:
        """Each agent's capacity: room for every chat that runs at once."""
        return -(-self.concurrency // self.agents)

    def clients(self) -> int:
        return self.agents + self.concurrency

    def send_rate(self) -> float:
        return 0.0  # each chat's next step follows the server's answer to the last

    def server_settings(self) -> dict[str, str]:
        return dict(CHAT_SETTINGS)  # its few agents send events for every chat

    def describe(self) -> str:
        return (f"churn: {self.chats} whole chats ({self.concurrency} at a time) served by {self.agents} agents who "
                f"stay connected; server memory sampled every {self.sample_every} chats")


@dataclass
class ChurnResult:
    config: ChurnConfig
    chat_ms: list[float] = field(default_factory=list)
    rss_samples: list[tuple[int, float, int]] = field(default_factory=list)  # chats done, seconds, RSS bytes
    errors: Counter[str] = field(default_factory=Counter)
    duration_s: float = 0.0
    complete: bool = True

    def _second_half(self) -> tuple[tuple[int, float, int], tuple[int, float, int]] | None:
        if len(self.rss_samples) < 3:
            return None
        half = self.rss_samples[-1][0] / 2
        first = next(s for s in self.rss_samples if s[0] >= half)
        last = self.rss_samples[-1]
        return None if last[0] <= first[0] else (first, last)

    def growth_kb_per_1000(self) -> float | None:
        """RSS growth over the second half of the run, per 1,000 chats (None without samples)."""
        span = self._second_half()
        if span is None:
            return None
        first, last = span
        return (last[2] - first[2]) / 1024 / (last[0] - first[0]) * 1000

    def growth_range_kb_per_1000(self) -> tuple[float, float] | None:
        """The growth per 1,000 chats the second half's two readings allow, each reading being
        exact only to within ``rss_resolution_kb``: (lowest, highest)."""
        span = self._second_half()
        if span is None:
            return None
        first, last = span
        chats, grown_kb = last[0] - first[0], (last[2] - first[2]) / 1024
        slack = self.config.rss_resolution_kb
        return (grown_kb - slack) / chats * 1000, (grown_kb + slack) / chats * 1000

    def verdict(self) -> str:
        """FAIL on a failed chat or a run cut short; on memory, PASS when even the highest growth
        the readings allow is within the bound, FAIL when even the lowest is over it, and
        INCONCLUSIVE between (a run too short for its readings to tell), or when the run was
        sampled too few times. Unsampled memory (no ``--server-pid``): judged on errors alone."""
        if not self.complete or self.errors:
            return FAIL
        if not self.rss_samples:
            return PASS
        growth = self.growth_range_kb_per_1000()
        if growth is None:
            return INCONCLUSIVE
        lowest, highest = growth
        if highest <= self.config.max_growth_kb_per_1000:
            return PASS
        return FAIL if lowest > self.config.max_growth_kb_per_1000 else INCONCLUSIVE

    @property
    def passed(self) -> bool:
        return self.verdict() == PASS

    @property
    def inconclusive(self) -> bool:
        return self.verdict() == INCONCLUSIVE

    def summaries(self) -> dict[str, Summary]:
        return {"chat": summarize(self.chat_ms)} if self.chat_ms else {}

    def as_report(self) -> dict[str, Any]:
        growth = self.growth_kb_per_1000()
        growth_range = self.growth_range_kb_per_1000()
        return {
            "measures": self.config.describe(),
            "config": asdict(self.config),
            "complete": self.complete,
            "chats_done": len(self.chat_ms),
            "chats_per_s": round(len(self.chat_ms) / self.duration_s, 1) if self.duration_s else None,
            "errors": dict(self.errors),
            "rss_growth_kb_per_1000_chats": None if growth is None else round(growth, 1),
            "rss_growth_range_kb_per_1000_chats": None if growth_range is None else [round(g, 1) for g in growth_range],
            "target": {"rss_growth_kb_per_1000_chats_at_most": self.config.max_growth_kb_per_1000,
                       "chats_to_judge": self.config.chats_to_judge(), "verdict": self.verdict(),
                       "passed": self.passed},
            "summary_ms": {name: s.as_dict() for name, s in self.summaries().items()},
            "rss_samples": [{"chats": n, "s": round(t, 2), "rss_kb": rss // 1024} for n, t, rss in self.rss_samples],
        }


class _Desk:
    """The connected agents, and the chats routing assigned to each."""

    def __init__(self) -> None:
        self.clients: list[SocketClient] = []
        self._assigned: dict[str, asyncio.Future[SocketClient]] = {}

    def assigned(self, conversation_id: str) -> asyncio.Future[SocketClient]:
        future = self._assigned.get(conversation_id)
        if future is None:
            future = self._assigned[conversation_id] = asyncio.get_running_loop().create_future()
        return future

    def listen(self, client: SocketClient) -> None:
        def on_updated(_: float, data: Any) -> None:
            conversation = data.get("conversation", {}) if isinstance(data, dict) else {}
            if conversation.get("status") == "assigned":
                future = self.assigned(conversation["id"])
                if not future.done():
                    future.set_result(client)

        client.on("conversation:updated", on_updated)

    def done(self, conversation_id: str) -> None:
        self._assigned.pop(conversation_id, None)


async def _chat(api: Api, desk: _Desk, n: int, http: Any) -> None:
    shopper = await connect_visitor(api, http)
    cid: str | None = None
    try:
        started = await shopper.call("chat:start", prechat(n))
        cid = str(started["conversation"]["id"])
        api.created.conversations.add(cid)
        console = await asyncio.wait_for(desk.assigned(cid), 15)
        await console.call("conversation:join", {"conversation_id": cid})
        await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "q", "body": f"question {n}"})
        await console.call("message:send", {"conversation_id": cid, "client_msg_id": "a", "body": f"answer {n}"})
        closer = shopper if n % 2 else console
        await closer.call("conversation:close", {"conversation_id": cid})
    finally:
        if cid is not None:
            desk.done(cid)
        await shopper.disconnect()


async def run(target: Target, config: ChurnConfig, deadline: float, progress: bool = True) -> ChurnResult:
    result = ChurnResult(config=config)
    desk = _Desk()
    async with new_http_session() as http:
        api = Api(http, target.url, target.created)
        admin = await api.login(target.admin_email, target.admin_password)
        stamp = int(time.time())
        for i in range(config.agents):
            email = f"churn-{stamp}-{i}@load.test"
            login = await api.new_agent(admin["token"], name=f"Churn agent {i + 1}", email=email,
                                        capacity=config.capacity())
            client = SocketClient(target.url, AGENT_NAMESPACE, login["token"], http)
            desk.listen(client)
            await client.connect()
            desk.clients.append(client)
        started = time.perf_counter()

        def sample(done: int) -> None:
            usage = read_usage(target.pid) if target.pid is not None else None
            if usage is not None:
                result.rss_samples.append((done, time.perf_counter() - started, usage[1]))
                if progress:
                    print(f"  {done:7d} chats  {done / max(time.perf_counter() - started, 1e-9):6.0f} chats/s  "
                          f"server RSS {usage[1] // 1024:,} KB  errors {sum(result.errors.values())}", flush=True)

        async def one(n: int) -> None:
            began = time.perf_counter()
            try:
                await _chat(api, desk, n, http)
            except (LoadTestError, TimeoutError) as exc:
                result.errors[type(exc).__name__ if isinstance(exc, TimeoutError) else str(exc)[:80]] += 1
            else:
                result.chat_ms.append((time.perf_counter() - began) * 1000)

        try:
            sample(0)
            done = 0
            while done < config.chats:
                if time.monotonic() > deadline:
                    result.complete = False
                    break
                batch = min(config.concurrency, config.chats - done)
                await asyncio.gather(*(one(done + i) for i in range(batch)))
                before, done = done, done + batch
                if done // config.sample_every > before // config.sample_every or done == config.chats:
                    sample(done)
        finally:
            result.duration_s = time.perf_counter() - started
            for client in desk.clients:
                await client.disconnect()
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = ChurnConfig()
    group = parser.add_argument_group("churn")
    group.add_argument("--chats", type=int, default=defaults.chats, help="whole chats to run (%(default)s)")
    group.add_argument("--concurrency", type=int, default=defaults.concurrency,
                       help="chats running at once (%(default)s)")
    group.add_argument("--agents", type=int, default=defaults.agents,
                       help="agents serving them, connected all through the run (%(default)s)")
    group.add_argument("--sample-every", type=int, default=defaults.sample_every,
                       help="sample the server's memory every this many chats (%(default)s)")
    group.add_argument("--max-growth-kb-per-1000", type=float, default=defaults.max_growth_kb_per_1000,
                       help="the server's RSS may grow at most this many KB per 1,000 chats over the second half "
                            "of the run (%(default)s)")
    group.add_argument("--rss-resolution-kb", type=float, default=defaults.rss_resolution_kb,
                       help="how far apart two readings of the server's RSS may be with nothing kept; a run whose "
                            "second half is too short for this to be within the bound is INCONCLUSIVE "
                            "(%(default)s)")


def config_from(args: argparse.Namespace) -> ChurnConfig:
    return ChurnConfig(chats=args.chats, concurrency=args.concurrency, agents=args.agents,
                       sample_every=args.sample_every, max_growth_kb_per_1000=args.max_growth_kb_per_1000,
                       rss_resolution_kb=args.rss_resolution_kb)


def format_result(result: ChurnResult) -> str:
    lines = [result.config.describe()]
    done = len(result.chat_ms)
    rate = done / result.duration_s if result.duration_s else 0.0
    lines.append(f"  {done} chats in {result.duration_s:.1f} s ({rate:.0f} chats/s)")
    if result.chat_ms:
        s = summarize(result.chat_ms)
        lines.append(f"  whole chat (connect to visitor gone) ms: p50 {s.p50:.1f}  p90 {s.p90:.1f}  p99 {s.p99:.1f}"
                     f"  max {s.max:.1f}")
    if result.rss_samples:
        first, last = result.rss_samples[0], result.rss_samples[-1]
        lines.append(f"  server RSS {first[2] // 1024:,} KB at the start, {last[2] // 1024:,} KB after {last[0]} chats")
    growth = result.growth_kb_per_1000()
    errors = ", ".join(f"{k}: {v}" for k, v in result.errors.most_common()) or "none"
    lines.append(f"  errors: {errors}")
    complete = "" if result.complete else " (incomplete: --max-duration reached)"
    verdict = result.verdict()
    growth_range = result.growth_range_kb_per_1000()
    config = result.config
    if not result.rss_samples:
        lines.append(f"{verdict}: memory not sampled (a --url target needs --server-pid){complete}")
    elif growth is None or growth_range is None:
        lines.append(f"{verdict}: too few memory samples to judge (--sample-every {config.sample_every}){complete}")
    else:
        lines.append(f"{verdict}: RSS growth over the second half {growth:.1f} KB per 1,000 chats "
                     f"({growth_range[0]:.1f} to {growth_range[1]:.1f} within the RSS resolution of "
                     f"{config.rss_resolution_kb:g} KB), at most {config.max_growth_kb_per_1000:g} allowed{complete}")
        if verdict == INCONCLUSIVE:
            lines.append(f"  the run was too short to judge: give it at least --chats {config.chats_to_judge()}")
    return "\n".join(lines)
