"""Routing latency with a backlog of queued visitors (issue 4: p99 at most 20 ms at 1,000).

``queued`` visitors wait in the queue (started from a separate swarm process) while each sample
times one routing decision, from the event that makes an assignment possible to the agent's
client receiving ``conversation:updated`` with status ``assigned``. Two triggers:

``--trigger close`` (default; works with any server build): every agent is full; an agent sends
``conversation:close`` for one of its chats, its slot opens, and routing gives it the chat at the
head of the queue. A probe visitor's ``chat:start`` before each sample keeps the backlog at
``queued``.

``--trigger start`` (needs departments): the backlog waits for a department no agent serves; an
agent of another department has a free slot; a probe visitor sends ``chat:start`` for that
department, and the time runs until the agent receives the assignment of that very chat: "a
visitor starts a chat until the agent receives the assignment", with ``queued`` chats ahead of it
in the queue.

docs/loadtesting.md has the full account.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import aiohttp

from ..clients import (
    AGENT_NAMESPACE,
    AGENT_PASSWORD,
    Api,
    SocketClient,
    connect_visitor,
    new_http_session,
    prechat,
)
from ..errors import LoadTestError
from ..server import Target
from ..stats import Summary, percentile_interval, summarize
from ..swarm import VisitorSwarm

NAME = "routing"
TARGET_P99_MS = 20.0
# The p99 is reported with this confidence interval, and judged by it.
CONFIDENCE = 0.95
PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"
TRIGGER_CLOSE = "close"
TRIGGER_START = "start"
# --trigger start: the backlog's department has no agent; the agents serve the routed one.
BACKLOG_DEPARTMENT = "loadtest-backlog"
ROUTED_DEPARTMENT = "loadtest-routed"
# Long enough that no backlog chat falls back to "any agent" during a run.
NO_FALLBACK_S = 86400
# 1,000 samples take a quarter to two fifths of a second each: four to seven minutes, over the
# common --max-duration of 300 s.
COMMON_DEFAULTS = {"max_duration": 900.0}


@dataclass(frozen=True)
class RoutingConfig:
    queued: int = 1000
    # The fewest samples whose p99 has a confidence interval a few ranks wide (the 18th- to the
    # 4th-worst sample at 1,000); under 368 the interval has no upper end.
    samples: int = 1000
    warmup: int = 10
    trigger: str = TRIGGER_CLOSE
    agents: int = 2
    capacity: int = 3
    # Mean pause (seconds) between the steps of a sample; each pause is drawn from
    # [interval/2, 3*interval/2] so samples do not fall into step with the server's coalesced
    # queue updates (one flush per queue_update_interval).
    interval: float = 0.1
    concurrency: int = 50
    # The queued visitors disconnect once their chats are started (the chats keep waiting): the
    # server then has nobody to send queue:position updates to, which isolates routing itself.
    idle_backlog: bool = False
    sample_timeout: float = 10.0
    target_p99_ms: float = TARGET_P99_MS
    seed: int | None = None

    def swarm_size(self) -> int:
        """Visitors the swarm starts: the backlog, plus (close trigger) the chats that fill the agents."""
        return self.queued + (self.agents * self.capacity if self.trigger == TRIGGER_CLOSE else 0)

    def clients(self) -> int:
        return self.swarm_size() + self.agents + 1

    def send_rate(self) -> float:
        return 1.0 / self.interval if self.interval > 0 else 0.0  # a sample step about every --interval

    def server_settings(self) -> dict[str, str]:
        if self.trigger == TRIGGER_START:
            return {"departments": f"{BACKLOG_DEPARTMENT},{ROUTED_DEPARTMENT}",
                    "department_fallback_after": str(NO_FALLBACK_S)}
        return {}

    def check(self) -> None:
        if self.queued < 0 or self.samples < 1 or self.warmup < 0:
            raise LoadTestError("--queued must be >= 0, --samples >= 1, --warmup >= 0")
        if self.agents < 1 or not 1 <= self.capacity <= 100:
            raise LoadTestError("--agents must be >= 1 and --capacity between 1 and 100")
        if self.interval < 0 or self.concurrency < 1 or self.sample_timeout <= 0:
            raise LoadTestError("--interval must be >= 0, --concurrency >= 1, --sample-timeout > 0")
        if self.trigger not in (TRIGGER_CLOSE, TRIGGER_START):
            raise LoadTestError(f"--trigger must be {TRIGGER_CLOSE} or {TRIGGER_START}")

    def describe(self) -> str:
        backlog = f"{self.queued} visitors queued"
        if self.idle_backlog:
            backlog += " (disconnected: --idle-backlog)"
        if self.trigger == TRIGGER_START:
            return (f"routing latency with {backlog} for an unstaffed department: a visitor sends chat:start for a "
                    "department whose agent has a free slot -> the agent receives conversation:updated "
                    "status=assigned for that chat")
        return (f"routing latency with {backlog}: an agent's slot opens (conversation:close sent) -> that agent "
                "receives conversation:updated status=assigned for the chat at the head of the queue")


@dataclass
class RoutingResult:
    config: RoutingConfig
    routing_ms: list[float] = field(default_factory=list)
    close_ack_ms: list[float] = field(default_factory=list)
    start_ack_ms: list[float] = field(default_factory=list)
    queue_before_agents: int = 0
    queue_seen: list[int] = field(default_factory=list)
    queue_at_end: int | None = None
    fifo_violations: int = 0
    complete: bool = True
    setup_s: dict[str, float] = field(default_factory=dict)
    swarm_received: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0

    @property
    def routing(self) -> Summary:
        return summarize(self.routing_ms)

    def p99_interval(self) -> tuple[float | None, float | None]:
        """The routing p99's 95% confidence interval (``None``: an end the samples cannot bound)."""
        return percentile_interval(sorted(self.routing_ms), 99.0, CONFIDENCE)

    def verdict(self) -> str:
        """PASS when the whole confidence interval of the p99 is within the target, FAIL when all
        of it is over (or the run was cut short), INCONCLUSIVE when the target lies inside it:
        too few samples to tell."""
        if not self.complete:
            return FAIL
        lower, upper = self.p99_interval()
        if upper is not None and upper <= self.config.target_p99_ms:
            return PASS
        return FAIL if lower is not None and lower > self.config.target_p99_ms else INCONCLUSIVE

    @property
    def passed(self) -> bool:
        return self.verdict() == PASS

    @property
    def inconclusive(self) -> bool:
        return self.verdict() == INCONCLUSIVE

    def summaries(self) -> dict[str, Summary]:
        series = {"routing": self.routing_ms, "close_ack": self.close_ack_ms, "start_ack": self.start_ack_ms}
        return {name: summarize(values) for name, values in series.items() if values}

    def as_report(self) -> dict[str, Any]:
        return {
            "measures": self.config.describe(),
            "config": asdict(self.config),
            "complete": self.complete,
            "target": {"p99_ms_at_most": self.config.target_p99_ms, "verdict": self.verdict(), "passed": self.passed},
            "p99_interval_ms": {"confidence": CONFIDENCE, "samples": len(self.routing_ms),
                                "low": _round_or_none(self.p99_interval()[0]),
                                "high": _round_or_none(self.p99_interval()[1])},
            "summary_ms": {name: s.as_dict() for name, s in self.summaries().items()},
            "queue": {"before_agents": self.queue_before_agents,
                      "seen_by_agents_min": min(self.queue_seen, default=None),
                      "seen_by_agents_max": max(self.queue_seen, default=None), "at_end": self.queue_at_end},
            "fifo_violations": self.fifo_violations,
            "setup_s": self.setup_s,
            "duration_s": round(self.duration_s, 3),
            "swarm_received_events": self.swarm_received,
            "samples_ms": {"routing": _rounded(self.routing_ms), "close_ack": _rounded(self.close_ack_ms),
                           "start_ack": _rounded(self.start_ack_ms)},
        }


def _rounded(values: list[float]) -> list[float]:
    return [round(v, 3) for v in values]


def _round_or_none(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class Assignment(NamedTuple):
    received_at: float  # time.perf_counter() in the agent's client
    agent: MeasuringAgent
    conversation: dict[str, Any]


class MeasuringAgent:
    """An agent's console connection: puts each new assignment, with its arrival time, on the
    scenario's queue of assignments."""

    def __init__(self, client: SocketClient, agent_id: str, assignments: asyncio.Queue[Assignment]) -> None:
        self.client = client
        self.agent_id = agent_id
        self.held: list[str] = []  # oldest assignment first
        self.assignments = assignments
        self.queue_totals: list[int] = []
        self._seen: set[str] = set()
        client.on("conversation:updated", self._conversation_updated)
        client.on("queue:updated", self._queue_updated)

    def _conversation_updated(self, received_at: float, data: Any) -> None:
        conversation = data["conversation"]
        if (conversation["status"] == "assigned" and conversation.get("agent_id") == self.agent_id
                and conversation["id"] not in self._seen):
            self._seen.add(conversation["id"])
            self.held.append(conversation["id"])
            self.assignments.put_nowait(Assignment(received_at, self, conversation))

    def _queue_updated(self, received_at: float, data: Any) -> None:
        self.queue_totals.append(int(data["total"]))

    async def close(self, conversation_id: str, ack_timeout: float) -> None:
        self.held.remove(conversation_id)
        await self.client.call("conversation:close", {"conversation_id": conversation_id}, ack_timeout=ack_timeout)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = RoutingConfig()
    parser.add_argument("--queued", type=int, default=defaults.queued,
                        help="visitors kept waiting in the queue while measuring (%(default)s)")
    parser.add_argument("--samples", type=int, default=defaults.samples,
                        help="assignments measured (%(default)s)")
    parser.add_argument("--warmup", type=int, default=defaults.warmup,
                        help="assignments made first and not counted (%(default)s)")
    parser.add_argument("--trigger", choices=[TRIGGER_CLOSE, TRIGGER_START], default=defaults.trigger,
                        help="what makes each assignment possible: an agent closing a chat while the queue waits "
                             "(close), or a visitor starting a chat for a staffed department while the backlog "
                             "waits for an unstaffed one (start; needs departments) (%(default)s)")
    parser.add_argument("--agents", type=int, default=defaults.agents, help="agents online (%(default)s)")
    parser.add_argument("--capacity", type=int, default=defaults.capacity,
                        help="chats each agent holds at once (%(default)s)")
    parser.add_argument("--interval", type=float, default=defaults.interval,
                        help="mean pause in seconds between the steps of a sample (%(default)s)")
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency,
                        help="visitors connecting at once while the queue fills (%(default)s)")
    parser.add_argument("--idle-backlog", action="store_true",
                        help="queued visitors disconnect after starting their chats (the chats keep waiting), so "
                             "no queue:position updates go out: separates routing from that fan-out")
    parser.add_argument("--target-p99-ms", type=float, default=defaults.target_p99_ms,
                        help="PASS when p99 routing latency is at most this (%(default)s ms)")
    parser.add_argument("--sample-timeout", type=float, default=defaults.sample_timeout,
                        help="seconds a sample may wait for its assignment or acknowledgement (%(default)s)")
    parser.add_argument("--seed", type=int, help="seed for the random pauses")


def config_from(args: argparse.Namespace) -> RoutingConfig:
    return RoutingConfig(queued=args.queued, samples=args.samples, warmup=args.warmup, trigger=args.trigger,
                         agents=args.agents, capacity=args.capacity, interval=args.interval,
                         concurrency=args.concurrency, idle_backlog=args.idle_backlog,
                         target_p99_ms=args.target_p99_ms,
                         sample_timeout=args.sample_timeout, seed=args.seed)


@dataclass
class _Run:
    """What every sample of one run shares."""

    api: Api
    http: aiohttp.ClientSession
    config: RoutingConfig
    agents: list[MeasuringAgent]
    assignments: asyncio.Queue[Assignment]
    rng: random.Random

    def pause(self) -> float:
        return self.rng.uniform(0.5, 1.5) * self.config.interval

    async def next_assignment(self, after: str) -> Assignment:
        try:
            return await asyncio.wait_for(self.assignments.get(), self.config.sample_timeout)
        except TimeoutError:
            raise LoadTestError(f"no chat was assigned within {self.config.sample_timeout:g} s after {after}") from None

    def queue_seen(self) -> int | None:
        totals = self.agents[0].queue_totals
        return totals[-1] if totals else None


class _Sample(NamedTuple):
    routing_s: float
    start_ack_s: float
    close_ack_s: float | None
    conversation: dict[str, Any]
    queue_seen: int | None


async def run(target: Target, config: RoutingConfig, deadline: float, progress: bool = True) -> RoutingResult:
    """Run the scenario against ``target``; sampling stops early (``complete = False``) at
    ``deadline`` (``time.monotonic()``)."""
    config.check()
    result = RoutingResult(config=config)
    started = time.monotonic()
    rng = random.Random(config.seed)
    run_id = f"{int(time.time())}{rng.randrange(1000):03d}"
    start_trigger = config.trigger == TRIGGER_START

    def say(text: str) -> None:
        if progress:
            print(text, flush=True)

    def remaining() -> float:
        return max(1.0, deadline - time.monotonic())

    async with new_http_session() as http:
        api = Api(http, target.url, target.created)
        admin = await api.login(target.admin_email, target.admin_password)
        logins = []
        for n in range(1, config.agents + 1):
            email = f"load-agent-{run_id}-{n}@example.com"
            try:
                await api.add_agent(admin["token"], name=f"Load agent {n}", email=email, password=AGENT_PASSWORD,
                                    capacity=config.capacity,
                                    departments=[ROUTED_DEPARTMENT] if start_trigger else None)
            except LoadTestError as exc:
                hint = " (--trigger start needs a server with departments)" if start_trigger else ""
                raise LoadTestError(f"{exc}{hint}") from None
            logins.append(await api.login(email, AGENT_PASSWORD))

        say(f"filling the queue: {config.swarm_size()} visitors start chats (no agent online)...")
        phase = time.monotonic()
        async with VisitorSwarm(target.url, config.swarm_size(), created=target.created, concurrency=config.concurrency,
                                leave=config.idle_backlog, department=BACKLOG_DEPARTMENT if start_trigger else None,
                                timeout=remaining()) as swarm:
            result.setup_s["fill_queue"] = round(time.monotonic() - phase, 3)
            result.queue_before_agents = await api.queue_total(admin["token"])
            if result.queue_before_agents < config.swarm_size():
                raise LoadTestError(f"{result.queue_before_agents} chats wait, expected {config.swarm_size()}: "
                                    "is another agent online?")

            phase = time.monotonic()
            assignments: asyncio.Queue[Assignment] = asyncio.Queue()
            agents: list[MeasuringAgent] = []
            try:
                for login in logins:
                    client = SocketClient(target.url, AGENT_NAMESPACE, login["token"], http)
                    agents.append(MeasuringAgent(client, str(login["agent"]["id"]), assignments))
                    await client.connect()
                if not start_trigger:
                    await _wait_until_full(agents, config.capacity, min(60.0, remaining()))
                while not assignments.empty():
                    assignments.get_nowait()
                result.setup_s["agents_ready"] = round(time.monotonic() - phase, 3)
                # Let the queue updates that followed the agents' arrival go out first.
                await asyncio.sleep(min(1.0, remaining()))
                say(f"measuring {config.samples} assignments (+{config.warmup} warm-up) "
                    f"with {config.queued} visitors waiting...")
                shared = _Run(api, http, config, agents, assignments, rng)
                await _measure(shared, result, deadline)
                if not result.routing_ms:
                    raise LoadTestError("--max-duration ran out before the first measured sample")
                result.queue_at_end = await api.queue_total(admin["token"])
            finally:
                for agent in agents:
                    await agent.client.disconnect()
        result.swarm_received = swarm.received
    result.duration_s = time.monotonic() - started
    return result


async def _wait_until_full(agents: list[MeasuringAgent], capacity: int, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    for agent in agents:
        while len(agent.held) < capacity:
            if time.monotonic() > deadline:
                raise LoadTestError(f"an agent was given {len(agent.held)} of {capacity} chats within {within_s:.0f} s")
            await asyncio.sleep(0.05)


async def _measure(shared: _Run, result: RoutingResult, deadline: float) -> None:
    config = shared.config
    sample = _sample_after_start if config.trigger == TRIGGER_START else _sample_after_close
    last_created_at = 0.0
    for i in range(config.warmup + config.samples):
        if time.monotonic() > deadline:
            result.complete = False
            return
        taken = await sample(shared, i)
        if config.trigger == TRIGGER_CLOSE:
            created_at = float(taken.conversation["created_at"])
            if created_at < last_created_at:
                result.fifo_violations += 1
            last_created_at = created_at
        if i >= config.warmup:
            result.routing_ms.append(taken.routing_s * 1000.0)
            result.start_ack_ms.append(taken.start_ack_s * 1000.0)
            if taken.close_ack_s is not None:
                result.close_ack_ms.append(taken.close_ack_s * 1000.0)
            if taken.queue_seen is not None:
                result.queue_seen.append(taken.queue_seen)
        await asyncio.sleep(shared.pause())


async def _sample_after_close(shared: _Run, i: int) -> _Sample:
    """A probe visitor joins the tail (keeping the backlog), then an agent frees a slot: timed from
    sending conversation:close to receiving the assignment of the queue head."""
    config = shared.config
    probe = await connect_visitor(shared.api, shared.http)
    try:
        sent = time.perf_counter()
        ack = await probe.call("chat:start", prechat(config.swarm_size() + i + 1), ack_timeout=config.sample_timeout)
        shared.api.created.conversations.add(str(ack["conversation"]["id"]))
        start_ack = time.perf_counter() - sent
        await asyncio.sleep(shared.pause())

        agent = shared.agents[i % len(shared.agents)]
        queue_seen = shared.queue_seen()
        sent = time.perf_counter()
        await agent.close(agent.held[0], config.sample_timeout)
        close_ack = time.perf_counter() - sent
        assignment = await shared.next_assignment("an agent closed a chat")
    finally:
        await probe.disconnect()
    return _Sample(assignment.received_at - sent, start_ack, close_ack, assignment.conversation, queue_seen)


async def _sample_after_start(shared: _Run, i: int) -> _Sample:
    """A probe visitor starts a chat for the agents' department: timed from sending chat:start to
    an agent receiving its assignment; then the agent closes it again (not timed)."""
    config = shared.config
    probe = await connect_visitor(shared.api, shared.http)
    try:
        queue_seen = shared.queue_seen()
        sent = time.perf_counter()
        ack = await probe.call("chat:start", prechat(config.swarm_size() + i + 1, ROUTED_DEPARTMENT),
                               ack_timeout=config.sample_timeout)
        shared.api.created.conversations.add(str(ack["conversation"]["id"]))
        start_ack = time.perf_counter() - sent
        assignment = await shared.next_assignment(f"chat:start with {config.queued} chats ahead")
        conversation_id = ack["conversation"]["id"]
        if assignment.conversation["id"] != conversation_id:
            raise LoadTestError(f"routing assigned {assignment.conversation['id']}, not the new chat {conversation_id}")
        await asyncio.sleep(shared.pause())
        await assignment.agent.close(conversation_id, config.sample_timeout)
    finally:
        await probe.disconnect()
    return _Sample(assignment.received_at - sent, start_ack, None, assignment.conversation, queue_seen)


def format_result(result: RoutingResult) -> str:
    config = result.config
    summaries = result.summaries()
    routing = summaries["routing"]

    def line(label: str, s: Summary) -> str:
        return (f"  {label:<32} p50 {s.p50:7.2f}  p90 {s.p90:7.2f}  p99 {s.p99:7.2f}  max {s.max:7.2f}"
                f"  (n={s.count}, mean {s.mean:.2f})")

    verdict = result.verdict()
    lower, upper = result.p99_interval()
    interval = (f"{'below the smallest sample' if lower is None else f'{lower:.2f}'} to "
                f"{'above the largest sample' if upper is None else f'{upper:.2f} ms'}")
    queue = (f"{min(result.queue_seen)}-{max(result.queue_seen)} waiting as agents saw it"
             if result.queue_seen else "not reported")
    lines = [config.describe(), "  latency in ms", line("routing (the measured latency)", routing)]
    if "close_ack" in summaries:
        lines.append(line("conversation:close ack", summaries["close_ack"]))
    lines += [
        line("chat:start ack (probe visitor)", summaries["start_ack"]),
        f"  target: p99 {routing.p99:.2f} ms <= {config.target_p99_ms:g} ms: {verdict} (the p99's "
        f"{CONFIDENCE:.0%} confidence interval from {routing.count} samples: {interval})",
        f"  queue during measurement: {queue}; at end {result.queue_at_end}"
        + ("" if config.trigger == TRIGGER_START else
           f"; FIFO order {'held' if result.fifo_violations == 0 else f'broken {result.fifo_violations} times'}"),
        f"  setup: {result.setup_s}; total {result.duration_s:.1f} s",
    ]
    if verdict == INCONCLUSIVE:
        lines.append("  the target lies inside that interval: too few samples to tell; run more (--samples, "
                     f"{RoutingConfig.samples} by default)")
    if not result.complete:
        lines.append(f"  INCOMPLETE: stopped at --max-duration after {routing.count} of {config.samples} samples")
    return "\n".join(lines)


__all__ = ["COMMON_DEFAULTS", "NAME", "MeasuringAgent", "RoutingConfig", "RoutingResult", "add_arguments",
           "config_from", "format_result", "run"]
