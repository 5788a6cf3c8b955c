"""Chat scenarios driven by the Node.js load generator (``loadtests/generator/loadgen.mjs``):
``steady``, ``storm``, ``reconnect``, ``idle``, ``mix``, ``cobrowse`` and ``compare`` (with
``--cobrowse``, co-browse batches against the plain Node relay). docs/loadtesting.md
explains each and how to read its report.

One scenario is one ``ChatScenario`` with its own defaults; they share the run: agents are
created through the admin API (capacity ``--capacity``) and logged in here, the generator
connects them and the visitors, visitors start chats (routing assigns them), pairs exchange
messages, and the server process (``/proc/PID``) and the generator are sampled throughout.
``--compare`` (always on for ``compare``) runs the same job, with the same generator, against
the reference relays too: Node.js socket.io 4.8, the same relay storing every message in SQLite
before relaying it (what chatserver's store does for each one), and a raw aiohttp WebSocket.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..clients import Api, new_http_session
from ..errors import LoadTestError
from ..histogram import PERCENTILES, LogHistogram
from ..loadgen import Generator, ReferenceRelay
from ..procmon import ProcessSampler
from ..server import ManagedRedis, ManagedServer, Target, new_postgresql_database
from ..slo import Objective, check_known_metrics, check_objectives, load_objectives
from ..stats import Summary

# A load test sends far more than a person types: lift the per-connection limits.
CHAT_SETTINGS = {"message_rate": "1000000", "message_burst": "1000000", "event_rate": "1000000",
                 "event_burst": "1000000"}
CHATSERVER = "chatserver"
CHATSERVER_PG = "chatserver_pg"  # the same server storing in PostgreSQL (--postgresql)
CHATSERVER_REDIS = "chatserver_redis"  # the same server on the Redis backend (compare)
# compare's figures of the Redis build as ratios to the embedded build's of the same run.
REDIS_RATIOS = {f"{CHATSERVER_REDIS}_{key}_ratio_to_{CHATSERVER}": key
                for key in ("messages_per_s", "messages_per_s_per_core")}
REFERENCES = {"node": "node socket.io 4.8", "node_sqlite": "node + SQLite", "aiohttp": "raw aiohttp ws"}
# compare --cobrowse: the plain Node relay relays the same batches (it stores nothing, as chatserver
# stores no batch; the raw aiohttp relay speaks no binary packets).
COBROWSE_REFERENCES = {"node": REFERENCES["node"]}
# A closed loop of co-browse batches goes far past a page's rates: lift the per-session limits
# (each batch is still checked against them).
COBROWSE_CLOSED_LOOP_SETTINGS = {"cobrowse_batches_per_second": "1000000", "cobrowse_batch_burst": "1000000",
                                 "cobrowse_bytes_per_second": "1000000000", "cobrowse_burst_bytes": "1000000000"}
HISTOGRAMS = ("rtt", "start_ack", "assignment", "resume", "relay", "cobrowse_start")
# Held to by every run, --slo or not: one error in a thousand operations, one unanswered round
# trip in ten thousand (a server that drops messages under load must not pass a release script).
DEFAULT_MAX_ERROR_PERCENT = 0.1
DEFAULT_MAX_NO_REPLY_PERCENT = 0.01
# The metrics compared with the references' as ``KEY_ratio_to_TARGET``.
RATIO_METRICS = ("messages_per_s", "messages_per_s_per_core", "rss_per_connection_kb", "rtt_p99_ms", "rtt_p50_ms")
COBROWSE_RATIO_METRICS = ("batches_per_s", "batches_per_s_per_core", "relay_p50_ms", "relay_p99_ms")
# What the agent's client checks of the batches it receives (the generator's error kinds): each
# batch once, whole, in the order sent. compare --cobrowse holds every target to 0 of each.
BATCH_CHECKS = {"batches_lost": "lost", "batches_duplicated": "duplicate", "batches_out_of_order": "out_of_order",
                "batches_incomplete": "incomplete"}


def latency_metric(histogram: str, key: str) -> str:
    """The metric name of one figure of a latency histogram's summary (``rtt``, ``p99.9``: ``rtt_p99_9_ms``)."""
    return f"{histogram}_{key.replace('.', '_')}_ms"


@dataclass(frozen=True)
class ChatConfig:
    scenario: str
    pairs: int = 0  # visitor/agent pairs that exchange messages
    visitors: int = 0  # visitors that start chats (>= pairs); the rest are not paired
    agents: int = 0
    capacity: int = 1
    idle: int = 0  # idle visitor connections
    rate: float = 0.0  # messages/s over all pairs; 0: closed loop, as fast as replies come
    duration: float = 10.0
    warmup: float = 2.0
    ramp_up: float = 0.0
    concurrency: int = 100
    hold: float = 0.0  # seconds to hold every connection before messages (idle memory settles)
    reconnect: bool = False
    missed_messages: int = 3
    compare: bool = False
    # A PostgreSQL server's URL: the same job also runs against chatserver on a new database there.
    postgresql: str | None = None
    # compare: the same job against chatserver on the Redis backend too, on ``redis_url`` (None: a
    # redis-server the run starts), before the embedded build with ``redis_first``.
    redis_target: bool = False
    redis_url: str | None = None
    redis_first: bool = False
    # Co-browse streaming: instead of messages, each pair's visitor streams page events to its agent.
    cobrowse: bool = False
    batch_rate: float = 10.0  # batches per second per session
    snapshot_kb: float = 120.0  # the first full snapshot of each session
    batch_bytes: int = 300  # about this many bytes per incremental batch
    events_per_batch: int = 1
    # > 0: a closed loop, each session's next batch as soon as the agent has received one of the
    # ``in_flight`` before it (batch_rate unused); 0: open loop at batch_rate.
    in_flight: int = 0
    # compare: the reference relays before chatserver (alternate runs with and without it).
    references_first: bool = False
    objectives: tuple[Objective, ...] = ()
    # The thresholds every run is held to, --slo or not (exit status 3 past either).
    max_error_percent: float = DEFAULT_MAX_ERROR_PERCENT
    max_no_reply_percent: float = DEFAULT_MAX_NO_REPLY_PERCENT

    def clients(self) -> int:
        per_target = self.visitors + self.agents + self.idle
        return per_target if self.pairs == 0 else max(per_target, 2 * self.pairs + self.idle)

    def send_rate(self) -> float:
        if self.cobrowse:
            return 0.0 if self.in_flight else self.batch_rate * self.pairs
        return self.rate

    def server_settings(self) -> dict[str, str]:
        if self.cobrowse and self.in_flight:
            return {**CHAT_SETTINGS, **COBROWSE_CLOSED_LOOP_SETTINGS}
        return dict(CHAT_SETTINGS)

    def references(self) -> dict[str, str]:
        """The reference relays of a comparison (kind: label)."""
        if not self.compare:
            return {}
        return dict(COBROWSE_REFERENCES) if self.cobrowse else dict(REFERENCES)

    def ratio_metrics(self) -> tuple[str, ...]:
        """The metrics compared with the references' as ``KEY_ratio_to_TARGET``."""
        return COBROWSE_RATIO_METRICS if self.cobrowse else RATIO_METRICS

    def unit(self) -> str:
        """What is counted per second: messages, or co-browse batches."""
        return "batches" if self.cobrowse else "messages"

    def check(self) -> None:
        if min(self.pairs, self.visitors, self.agents, self.idle) < 0 or self.capacity < 1 or self.capacity > 100:
            raise LoadTestError("counts must be >= 0 and --capacity between 1 and 100")
        if self.pairs > self.visitors or (self.visitors and self.agents * self.capacity < self.pairs):
            raise LoadTestError("--visitors must be >= --pairs, and --agents x --capacity must cover the pairs")
        if self.rate < 0 or self.duration < 0 or self.warmup < 0 or self.ramp_up < 0 or self.concurrency < 1:
            raise LoadTestError("--rate, --duration, --warmup, --ramp-up must be >= 0, --concurrency >= 1")
        if self.visitors + self.idle == 0:
            raise LoadTestError("nothing to do: no visitors and no idle connections")
        if self.cobrowse and not (0 < self.batch_rate <= 100 and 0 < self.snapshot_kb <= 4096
                                  and 0 < self.batch_bytes <= 64 * 1024 and 1 <= self.events_per_batch <= 100):
            raise LoadTestError("--batch-rate must be in (0, 100], --snapshot-kb in (0, 4096], --batch-bytes in "
                                "(0, 65536], --events-per-batch in [1, 100]")
        if self.cobrowse and self.compare:
            if self.postgresql or self.redis_url or self.redis_first:
                raise LoadTestError("compare --cobrowse runs chatserver (embedded) and the Node relay only: "
                                    "--postgresql, --redis-url and --redis-first do not apply")
            if self.rate:
                raise LoadTestError("compare --cobrowse is a closed loop (--in-flight batches per session): "
                                    "--rate does not apply")
            if not 1 <= self.in_flight <= 100:
                raise LoadTestError("--in-flight must be between 1 and 100")
        if not 0 <= self.max_error_percent <= 100 or not 0 <= self.max_no_reply_percent <= 100:
            raise LoadTestError("--max-error-percent and --max-no-reply-percent must be between 0 and 100")
        check_known_metrics(self.objectives, self.metric_names())

    def thresholds(self) -> tuple[Objective, ...]:
        """The default bounds on errors and unanswered round trips (the latter only where pairs
        exchange messages)."""
        bounds = [Objective("error_percent", "<=", self.max_error_percent)]
        if self.pairs and not self.cobrowse:
            bounds.append(Objective("no_reply_percent", "<=", self.max_no_reply_percent))
        return tuple(bounds)

    def metric_names(self) -> set[str]:
        """Every metric a run with this configuration can report (``TargetRun.metrics`` and the
        ratios of ``ChatResult.metrics``): what an objective may name."""
        names = {"connections", "pairs", "errors", "error_percent", "not_assigned", "server_cpu_percent_mean",
                 "server_rss_mb_max", "generator_cpu_percent_mean", "generator_rss_mb_max"}
        names |= ({"batches_per_s", "batches_per_s_per_core", "events_per_s", "events_per_s_per_core",
                   *BATCH_CHECKS} if self.cobrowse
                  else {"messages_per_s", "messages_per_s_per_core"})
        histograms = []
        if self.pairs and not self.cobrowse:
            histograms.append("rtt")
            names.add("no_reply_percent")
        if self.visitors:
            histograms += ["start_ack", "assignment"]
        if self.reconnect:
            histograms.append("resume")
            names |= {"duplicates", "lost", "resumed"}
        if self.cobrowse:
            histograms += ["relay", "cobrowse_start"]
        for histogram in histograms:
            names |= {latency_metric(histogram, f"p{q:g}") for q in PERCENTILES}
            names |= {latency_metric(histogram, "min"), latency_metric(histogram, "max")}
        if self.idle:
            names |= {"rss_per_connection_kb", "server_rss_mb"}
        others = [*self.references(), *([CHATSERVER_PG] if self.postgresql else []),
                  *([CHATSERVER_REDIS] if self.redis_target else [])]
        names |= {f"{key}_ratio_to_{other}" for key in self.ratio_metrics() for other in others}
        if self.redis_target:
            names |= set(REDIS_RATIOS) | {"redis_cpu_percent_mean"}
        return names

    def job(self, target: str, url: str, agent_tokens: list[str]) -> dict[str, Any]:
        chat = target == CHATSERVER
        return {
            "target": CHATSERVER if chat else "relay", "url": url, "agentTokens": agent_tokens,
            "slots": self.agents * self.capacity,
            "visitors": self.visitors if chat else self.pairs, "pairs": self.pairs, "idle": self.idle,
            "rampMs": self.ramp_up * 1000, "concurrency": self.concurrency,
            # Two messages per round trip (the ping and its reply) in each pair.
            "roundsPerSecond": self.rate / 2 / self.pairs if self.rate and self.pairs else 0,
            "warmupS": self.warmup if self.pairs else 0, "durationS": self.duration if self.pairs else 0,
            "holdS": self.hold, "reconnect": self.reconnect and chat, "missedMessages": self.missed_messages,
            "cobrowse": {"batchesPerSecond": self.batch_rate, "snapshotBytes": int(self.snapshot_kb * 1024),
                         "batchBytes": self.batch_bytes, "eventsPerBatch": self.events_per_batch,
                         "inFlight": self.in_flight}
            if self.cobrowse else None,
        }


@dataclass
class TargetRun:
    """One target's run: what the generator and the samplers saw."""

    target: str
    label: str
    url: str
    complete: bool = True
    ready_s: float | None = None
    result: dict[str, Any] = field(default_factory=dict)
    # One row a second: [t, phase, connected, msg/s, p50, p99, errors, latencies]; p50 and p99 of
    # the latencies (round trips, or co-browse relays) timed in that second alone.
    timeline: list[list[Any]] = field(default_factory=list)
    second_histograms: list[list[Any]] = field(default_factory=list)  # [t, that second's histogram counts]
    phases: list[list[Any]] = field(default_factory=list)
    server: ProcessSampler | None = None
    generator: ProcessSampler | None = None
    redis: ProcessSampler | None = None  # a redis-server the run started for this target
    redis_url: str | None = None  # the Redis of a chatserver on the Redis backend
    rss_before: int | None = None
    rss_loaded: int | None = None
    memory_per_connection: bool = False  # idle connections: report the server's KB per connection
    measure_window: list[float] = field(default_factory=list)  # [start, end] s from the run's start
    job_cobrowse: dict[str, Any] | None = None  # the co-browse job, when the pairs streamed page events

    def histogram(self, name: str) -> LogHistogram:
        data = self.result.get("hist", {}).get(name)
        return LogHistogram.from_generator(data) if data else LogHistogram()

    def metrics(self) -> dict[str, Any]:
        r = self.result
        errors = r.get("errors", {})
        out: dict[str, Any] = {
            "connections": r.get("connected"), "pairs": r.get("pairs"),
            "errors": sum(errors.values()),
            "messages_per_s": round(r["delivered"] / r["measured_s"], 1) if r.get("measured_s") else None,
        }
        # Shares of what was attempted: any error of the operations, unanswered round trips of those started.
        if r.get("operations"):
            out["error_percent"] = round(100 * out["errors"] / r["operations"], 4)
        if r.get("rounds"):
            out["no_reply_percent"] = round(100 * errors.get("no_reply", 0) / r["rounds"], 4)
        for name in HISTOGRAMS:
            hist = self.histogram(name)
            if hist.count:
                for key, value in hist.summary().items():
                    if key != "count":
                        out[latency_metric(name, key)] = value
        reconnect = r.get("reconnect")
        if reconnect:
            out.update({"duplicates": reconnect["duplicates"], "lost": reconnect["lost"],
                        "resumed": reconnect["resumed"]})
        out["not_assigned"] = errors.get("not_assigned", 0)
        if self.memory_per_connection and self.rss_before is not None and self.rss_loaded is not None \
                and r.get("connected"):
            out["rss_per_connection_kb"] = round((self.rss_loaded - self.rss_before) / r["connected"] / 1024, 1)
            out["server_rss_mb"] = round(self.rss_loaded / 2**20, 1)
        cobrowse = self.job_cobrowse
        # CPU while messages are measured (or over the whole run when none are).
        for name, sampler in (("server", self.server), ("generator", self.generator), ("redis", self.redis)):
            if sampler is not None and sampler.samples:
                rows = sampler.samples
                if len(self.measure_window) == 2:
                    start, end = self.measure_window
                    rows = [row for row in rows if start < row[0] <= end] or rows
                out[f"{name}_cpu_percent_mean"] = round(sum(row[1] for row in rows) / len(rows), 1)
                if name != "redis":
                    out[f"{name}_rss_mb_max"] = max(row[2] for row in sampler.samples)
        cpu = out.get("server_cpu_percent_mean")
        if out.get("messages_per_s") is not None and cpu:
            # What one core of the server delivers: the figure that compares servers on a shared machine.
            out["messages_per_s_per_core"] = round(out["messages_per_s"] / (cpu / 100), 1)
        if cobrowse and out.get("messages_per_s") is not None:
            # Each delivered "message" was a batch of page events relayed to the agent.
            out["batches_per_s"] = out.pop("messages_per_s")
            out["events_per_s"] = round(out["batches_per_s"] * cobrowse["eventsPerBatch"], 1)
            out.pop("messages_per_s_per_core", None)
            if cpu:
                out["batches_per_s_per_core"] = round(out["batches_per_s"] / (cpu / 100), 1)
                out["events_per_s_per_core"] = round(out["events_per_s"] / (cpu / 100), 1)
        if cobrowse:
            out.update({name: errors.get(kind, 0) for name, kind in BATCH_CHECKS.items()})
        return out

    def cpu_share_problem(self) -> str | None:
        """Why this run's server CPU share (and so its messages/s per core) cannot be read, or None."""
        if self.server is None:
            return "no server process was sampled (with --url, give --server-pid)"
        if not self.server.samples:
            return f"process {self.server.pid} gave no CPU sample (it exited, or /proc/{self.server.pid} is unreadable)"
        if not self.metrics().get("server_cpu_percent_mean"):
            return f"process {self.server.pid} used no CPU while measured (did any message go through?)"
        return None

    def as_report(self) -> dict[str, Any]:
        return {
            "target": self.target, "label": self.label, "url": self.url, "redis_url": self.redis_url,
            "complete": self.complete,
            "ready_s": self.ready_s, "metrics": self.metrics(),
            "errors": self.result.get("errors", {}), "reconnect": self.result.get("reconnect"),
            "reconnections": self.result.get("reconnections"),
            "no_reply": self.result.get("no_reply", []),
            "latency_ms": {name: self.histogram(name).summary() for name in HISTOGRAMS
                           if self.histogram(name).count},
            "histograms": {name: self.histogram(name).as_dict() for name in HISTOGRAMS if self.histogram(name).count},
            "timeline": {"columns": ["t", "phase", "connected", "messages_per_s", "p50_ms", "p99_ms", "errors",
                                     "latencies"],
                         "rows": self.timeline},
            "second_histograms": {"columns": ["t", "counts"], "rows": self.second_histograms},
            "phases": self.phases,
            "server_process": {"columns": ["t", "cpu_percent", "rss_mb"],
                               "rows": self.server.samples if self.server else [],
                               "summary": self.server.summary() if self.server else None},
            "generator_process": {"columns": ["t", "cpu_percent", "rss_mb"],
                                  "rows": self.generator.samples if self.generator else [],
                                  "summary": self.generator.summary() if self.generator else None},
        }


@dataclass
class ChatResult:
    config: ChatConfig
    measures: str
    runs: list[TargetRun] = field(default_factory=list)
    duration_s: float = 0.0
    inconclusive = False  # its objectives are checked as they are given

    @property
    def complete(self) -> bool:
        return all(run.complete for run in self.runs)

    def primary(self) -> TargetRun:
        return self.runs[0]

    def metrics(self) -> dict[str, Any]:
        """The chatserver run's metrics, and with a comparison the ratios to the references."""
        metrics = dict(self.primary().metrics())
        for run in self.runs[1:]:
            other = run.metrics()
            for key in self.config.ratio_metrics():
                mine, theirs = metrics.get(key), other.get(key)
                if isinstance(mine, int | float) and isinstance(theirs, int | float) and theirs:
                    metrics[f"{key}_ratio_to_{run.target}"] = round(mine / theirs, 3)
            if run.target == CHATSERVER_REDIS:
                for name, key in REDIS_RATIOS.items():
                    mine, theirs = other.get(key), metrics.get(key)
                    if isinstance(mine, int | float) and isinstance(theirs, int | float) and theirs:
                        metrics[name] = round(mine / theirs, 3)
        return metrics

    def slo_results(self) -> list[dict[str, Any]]:
        return check_objectives(self.config.objectives, self.metrics())

    def threshold_results(self) -> list[dict[str, Any]]:
        """The default bounds on errors and unanswered round trips, checked like objectives; for
        compare --cobrowse, every target's batches each received once, whole and in order (a
        reference that loses batches compares nothing), named ``TARGET: METRIC <= 0``."""
        results = check_objectives(self.config.thresholds(), self.metrics())
        if self.config.cobrowse and self.config.compare:
            checks = [Objective(name, "<=", 0) for name in BATCH_CHECKS]
            for run in self.runs:
                for check in check_objectives(checks, run.metrics()):
                    results.append({**check, "objective": f"{run.target}: {check['objective']}"})
        return results

    @property
    def passed(self) -> bool:
        return self.complete and all(check["passed"] for check in [*self.slo_results(), *self.threshold_results()])

    def summaries(self) -> dict[str, Summary]:
        return {}

    def as_report(self) -> dict[str, Any]:
        return {
            "measures": self.measures,
            "config": {k: v for k, v in asdict(self.config).items() if k != "objectives"},
            "complete": self.complete,
            "metrics": self.metrics(),
            "slo": {"objectives": [str(o) for o in self.config.objectives], "results": self.slo_results(),
                    "passed": all(c["passed"] for c in self.slo_results())},
            "thresholds": {"results": self.threshold_results(),
                           "passed": all(c["passed"] for c in self.threshold_results())},
            "targets": [run.as_report() for run in self.runs],
            "duration_s": round(self.duration_s, 2),
        }


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


class ChatScenario:
    """A chat scenario: its name, what it measures, and defaults for the shared options."""

    def __init__(self, name: str, doc: str, defaults: dict[str, Any], options: tuple[str, ...]) -> None:
        self.NAME = name
        self.__doc__ = doc
        self.defaults = defaults
        self.options = options

    # -- arguments ---------------------------------------------------------------------------------

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        d = self.defaults
        g = parser.add_argument_group(f"{self.NAME} scenario")
        add = g.add_argument
        if "pairs" in self.options:
            add("--pairs", type=int, default=d.get("pairs", 50), help="visitor/agent pairs (%(default)s)")
            add("--rate", type=float, default=d.get("rate", 1000.0),
                help="messages/s over all pairs, both directions; 0: closed loop, as fast as replies come "
                     "(%(default)s)")
            add("--duration", type=float, default=d.get("duration", 20.0), help="measured seconds (%(default)s)")
            add("--warmup", type=float, default=d.get("warmup", 2.0),
                help="seconds of messages before measuring (%(default)s)")
        if "visitors" in self.options:
            add("--visitors", type=int, default=d.get("visitors", 500),
                help="visitors that start chats at once (%(default)s)")
            add("--agents", type=int, default=d.get("agents", 10), help="agents online (%(default)s)")
            add("--capacity", type=int, default=d.get("capacity", 50),
                help="chats each agent takes (1-100; %(default)s)")
        if "idle" in self.options:
            add("--idle", type=int, default=d.get("idle", 1000),
                help="idle visitor connections (%(default)s)")
            add("--hold", type=float, default=d.get("hold", 3.0),
                help="seconds to hold the connections before the server's memory is read (%(default)s)")
        if "reconnect" in self.options:
            add("--missed", type=int, default=3,
                help="messages each agent sends while its visitor is away (%(default)s)")
        if "cobrowse" in self.options:
            add("--sessions", type=int, default=d.get("pairs", 100), dest="pairs",
                help="co-browse sessions streaming at once, one per visitor/agent pair (%(default)s)")
            add("--agents", type=int, default=d.get("agents", 25), help="agents online (%(default)s)")
            add("--capacity", type=int, default=d.get("capacity", 4),
                help="chats (and sessions) each agent holds (1-100; %(default)s)")
            add("--duration", type=float, default=d.get("duration", 20.0), help="measured seconds (%(default)s)")
            add("--warmup", type=float, default=d.get("warmup", 2.0),
                help="seconds of streaming before measuring (%(default)s)")
            add("--batch-rate", type=float, default=10.0, help="batches per second per session (%(default)s)")
            add("--snapshot-kb", type=float, default=120.0,
                help="KB of each session's first full snapshot (%(default)s)")
            add("--batch-bytes", type=int, default=300, help="bytes per incremental batch (%(default)s)")
            add("--events-per-batch", type=int, default=1, help="rrweb events per batch (%(default)s)")
        add("--ramp-up", type=float, default=d.get("ramp_up", 2.0),
            help="seconds over which connections are opened (%(default)s)")
        add("--concurrency", type=int, default=100, help="connection attempts at once (%(default)s)")
        if "compare" in self.options:
            add("--compare", action="store_true",
                help="run the same job against the reference relays too (Node socket.io 4.8, the same storing "
                     "every message in SQLite, raw aiohttp)")
        if "compare" in self.options or self.NAME == "compare":
            if "redis_target" in self.options:
                add("--redis-first", action="store_true",
                    help="run chatserver on Redis before the embedded build (alternate runs with and without "
                         "it: the order on a shared machine)")
                add("--references-first", action="store_true",
                    help="run the reference relays before chatserver (alternate runs with and without it)")
            add("--postgresql", metavar="URL",
                help="also run the same job against chatserver storing in PostgreSQL: a new database on the "
                     "server at URL (postgresql://user@host:port/db, a user who may create databases), "
                     "dropped after the run")
        if "cobrowse_compare" in self.options:
            cb = parser.add_argument_group("co-browse batches instead of messages (compare --cobrowse)")
            cb.add_argument("--cobrowse", action="store_true",
                            help="compare co-browse batches, not messages: each pair a co-browse session on "
                                 "chatserver (request, accept, join, snapshot) and a room on the plain Node "
                                 "relay, the visitor streaming binary cobrowse:events to its agent in a closed "
                                 "loop; batches/s, per server core and relay latency of each")
            cb.add_argument("--in-flight", type=int, default=1,
                            help="with --cobrowse: batches each session has on their way at once; the next goes "
                                 "as soon as the agent has one (%(default)s)")
            cb.add_argument("--batch-bytes", type=int, default=300,
                            help="with --cobrowse: bytes per batch (%(default)s)")
            cb.add_argument("--events-per-batch", type=int, default=1,
                            help="with --cobrowse: rrweb events per batch (%(default)s)")
            cb.add_argument("--snapshot-kb", type=float, default=120.0,
                            help="with --cobrowse: KB of each session's first full snapshot (%(default)s)")
        slo = parser.add_argument_group("service-level objectives (exit status 3 when one is missed)")
        slo.add_argument("--slo", action="append", default=[], metavar="'METRIC<=VALUE'",
                         help="e.g. --slo 'rtt_p99_ms<=50' --slo 'messages_per_s>=1000' (repeatable; metrics are "
                              "listed in the report and docs/loadtesting.md)")
        slo.add_argument("--slo-file", type=Path, action="append", default=[],
                         help="a file of objectives, one a line")
        slo.add_argument("--max-error-percent", type=float, default=DEFAULT_MAX_ERROR_PERCENT,
                         help="errors (of every kind) may be at most this share of the operations attempted: "
                              "connections, calls, messages and co-browse batches (%(default)s%%)")
        slo.add_argument("--max-no-reply-percent", type=float, default=DEFAULT_MAX_NO_REPLY_PERCENT,
                         help="unanswered round trips may be at most this share of those started (%(default)s%%)")

    def config_from(self, args: argparse.Namespace) -> ChatConfig:
        pairs = getattr(args, "pairs", 0)
        visitors = getattr(args, "visitors", pairs)
        agents = getattr(args, "agents", pairs)
        capacity = getattr(args, "capacity", 1)
        if "cobrowse" in self.options:
            visitors = pairs
        elif "visitors" not in self.options:
            visitors, agents, capacity = pairs, pairs, 1
        # compare --cobrowse: co-browse batches in a closed loop instead of messages.
        cobrowse_compare = "cobrowse_compare" in self.options and args.cobrowse
        return ChatConfig(
            scenario=self.NAME, pairs=pairs if self.defaults.get("pair_up", True) else 0, visitors=visitors,
            agents=agents, capacity=capacity, idle=getattr(args, "idle", 0), rate=getattr(args, "rate", 0.0),
            duration=getattr(args, "duration", 0.0), warmup=getattr(args, "warmup", 0.0), ramp_up=args.ramp_up,
            concurrency=args.concurrency, hold=getattr(args, "hold", 0.0), reconnect=self.NAME == "reconnect",
            missed_messages=getattr(args, "missed", 3),
            compare=self.NAME == "compare" or getattr(args, "compare", False),
            postgresql=getattr(args, "postgresql", None),
            redis_target="redis_target" in self.options and not cobrowse_compare,
            redis_url=args.redis_url if "redis_target" in self.options else None,
            redis_first=getattr(args, "redis_first", False),
            references_first=getattr(args, "references_first", False),
            cobrowse="cobrowse" in self.options or cobrowse_compare, batch_rate=getattr(args, "batch_rate", 10.0),
            in_flight=args.in_flight if cobrowse_compare else 0,
            snapshot_kb=getattr(args, "snapshot_kb", 120.0), batch_bytes=getattr(args, "batch_bytes", 300),
            events_per_batch=getattr(args, "events_per_batch", 1),
            objectives=tuple(load_objectives(args.slo, args.slo_file)),
            max_error_percent=args.max_error_percent, max_no_reply_percent=args.max_no_reply_percent,
        )

    # -- the run -----------------------------------------------------------------------------------

    def describe(self, config: ChatConfig) -> str:
        parts = []
        if config.cobrowse and config.in_flight:
            return (f"{self.NAME} --cobrowse: {config.pairs} co-browse sessions, each a {config.snapshot_kb:g} KB "
                    f"snapshot then a closed loop of batches ({config.in_flight} in flight) of "
                    f"{config.events_per_batch} event(s), about {config.batch_bytes} bytes each; "
                    f"{config.duration:g} s measured after {config.warmup:g} s; against chatserver and "
                    + ", ".join(config.references().values()))
        if config.cobrowse:
            return (f"{self.NAME}: {config.pairs} co-browse sessions ({config.agents} agents x {config.capacity}), "
                    f"each a {config.snapshot_kb:g} KB snapshot then {config.batch_rate:g} batches/s of "
                    f"{config.events_per_batch} event(s), about {config.batch_bytes} bytes each; {config.duration:g} s "
                    f"measured after {config.warmup:g} s")
        if config.pairs:
            pace = f"{config.rate:g} messages/s" if config.rate else "closed loop (next message on each reply)"
            parts.append(f"{config.pairs} visitor/agent pairs exchanging messages, {pace}, "
                         f"{config.duration:g} s measured after {config.warmup:g} s")
        if config.visitors > config.pairs:
            parts.append(f"{config.visitors} visitors starting chats at once with {config.agents} agents "
                         f"x {config.capacity} chats")
        if config.reconnect:
            parts.append(f"then every client drops and reconnects ({config.missed_messages} messages missed "
                         "by each visitor)")
        if config.idle:
            parts.append(f"{config.idle} idle visitor connections")
        return f"{self.NAME}: " + "; ".join(parts)

    async def run(self, target: Target, config: ChatConfig, deadline: float, progress: bool = True) -> ChatResult:
        config.check()
        started = time.monotonic()
        result = ChatResult(config=config, measures=self.describe(config))
        say = (lambda text: print(text, flush=True)) if progress else (lambda text: None)
        say(result.measures)
        per_core = config.compare and config.pairs > 0  # messages/s per server core, for every target
        unit = config.unit()
        if per_core and target.pid is None:
            raise LoadTestError(f"chatserver: its CPU share cannot be read, so neither its {unit}/s per core: "
                                "with --url, give --server-pid")
        agent_tokens = await _agents(target, config) if config.visitors else []
        run = TargetRun(CHATSERVER, "chatserver", target.url, memory_per_connection=config.idle > 0)
        result.runs.append(run)
        job = config.job(CHATSERVER, target.url, agent_tokens)
        run.job_cobrowse = job["cobrowse"]
        on_redis = config.redis_target and config.pairs > 0
        if on_redis and not target.managed:
            on_redis = False
            say("chatserver on Redis: not run (it needs a server the load tester starts, not --url)")
        with_references = config.compare and config.pairs + config.idle > 0
        if with_references and config.references_first:
            await _run_references(result, config, deadline, say)
        if on_redis and config.redis_first:
            result.runs.append(await _run_on_redis(target, config, deadline, say))
        await _run_target(run, job, target, deadline, say)
        if on_redis and not config.redis_first:
            result.runs.append(await _run_on_redis(target, config, deadline, say))
        if config.postgresql:
            result.runs.append(await _run_on_postgresql(target, config, deadline, say))
        if with_references and not config.references_first:
            await _run_references(result, config, deadline, say)
        # The report lists the targets in one order whichever ran first (ratios are to chatserver's).
        order = [CHATSERVER, CHATSERVER_REDIS, CHATSERVER_PG, *config.references()]
        result.runs.sort(key=lambda done: order.index(done.target))
        if per_core:
            for done in result.runs:
                problem = done.cpu_share_problem() if done.complete else None
                if problem:
                    raise LoadTestError(f"{done.label}: its CPU share cannot be read, so neither its {unit}/s "
                                        f"per core: {problem}")
        result.duration_s = time.monotonic() - started
        return result

    def format_result(self, result: ChatResult) -> str:
        lines = [result.measures]
        for run in result.runs:
            m = run.metrics()
            lines.append(f"  {run.label}:{'' if run.complete else ' (INCOMPLETE)'}")
            if "messages_per_s" in m and m["messages_per_s"] is not None:
                lines.append(f"    messages/s {_fmt(m['messages_per_s'], 0)}   round trip p50 "
                             f"{_fmt(m.get('rtt_p50_ms'))} ms  p90 {_fmt(m.get('rtt_p90_ms'))}  p99 "
                             f"{_fmt(m.get('rtt_p99_ms'))}  p99.9 {_fmt(m.get('rtt_p99_9_ms'))}  max "
                             f"{_fmt(m.get('rtt_max_ms'))} ms")
            if m.get("messages_per_s_per_core") is not None:
                lines.append(f"    messages/s per server core {_fmt(m['messages_per_s_per_core'], 0)} "
                             f"(messages/s / the server's mean CPU share)")
            if m.get("batches_per_s") is not None:
                lines.append(f"    co-browse relay (visitor emits a batch -> agent receives it) p50 "
                             f"{_fmt(m.get('relay_p50_ms'))} ms  p90 {_fmt(m.get('relay_p90_ms'))}  p99 "
                             f"{_fmt(m.get('relay_p99_ms'))}  max {_fmt(m.get('relay_max_ms'))} ms "
                             f"(n={run.histogram('relay').count})")
                lines.append(f"    batches/s {_fmt(m['batches_per_s'], 0)}  per server core "
                             f"{_fmt(m.get('batches_per_s_per_core'), 0)}  events/s {_fmt(m['events_per_s'], 0)}  "
                             f"events/s per server core {_fmt(m.get('events_per_s_per_core'), 0)}")
                lines.append("    batches received by the agents: "
                             + ", ".join(f"{name.removeprefix('batches_').replace('_', ' ')} {_fmt(m.get(name))}"
                                         for name in BATCH_CHECKS))
            for name, label in (("start_ack", "chat:start ack"), ("assignment", "chat:start -> assigned"),
                                ("resume", "reconnect -> caught up"),
                                ("cobrowse_start", "co-browse request -> joined")):
                if f"{name}_p50_ms" in m:
                    lines.append(f"    {label:<24} p50 {_fmt(m[f'{name}_p50_ms'])} ms  p99 "
                                 f"{_fmt(m[f'{name}_p99_ms'])}  max {_fmt(m[f'{name}_max_ms'])} ms  "
                                 f"(n={run.histogram(name).count})")
            if run.result.get("reconnect"):
                rc = run.result["reconnect"]
                lines.append(f"    reconnect: {rc['resumed']}/{rc['parties']} caught up, {rc['failed']} failed, "
                             f"{rc['duplicates']} duplicates, {rc['lost']} lost")
            if "rss_per_connection_kb" in m:
                lines.append(f"    server memory: {_fmt(m['rss_per_connection_kb'], 1)} KB per connection "
                             f"({_fmt(m['connections'])} connections, RSS {_fmt(m['server_rss_mb'], 1)} MB)")
            if "server_cpu_percent_mean" in m:
                window = " while measured" if len(run.measure_window) == 2 else ""
                lines.append(f"    server CPU mean{window} {_fmt(m['server_cpu_percent_mean'], 0)}% of a core, RSS "
                             f"max {_fmt(m['server_rss_mb_max'], 1)} MB; generator CPU mean "
                             f"{_fmt(m.get('generator_cpu_percent_mean'), 0)}%")
            if "redis_cpu_percent_mean" in m:
                lines.append(f"    redis-server CPU mean {_fmt(m['redis_cpu_percent_mean'], 0)}% of a core (not in the "
                             "server's share above)")
            drops = (run.result.get("reconnections") or {}).get("dropped") or {}
            if drops:
                back = run.result["reconnections"]
                lines.append(f"    connections dropped by the server or the network: "
                             f"{', '.join(f'{reason} {n}' for reason, n in sorted(drops.items()))}; {back['back']} "
                             f"came back, {back['not_back']} did not ({back['refused']} refused)")
            errors = run.result.get("errors", {})
            lines.append("    errors: " + (", ".join(f"{k} {v}" for k, v in sorted(errors.items())) or "none"))
        if len(result.runs) > 1 and result.config.cobrowse:
            lines.append(_cobrowse_comparison_table(result.runs))
        elif len(result.runs) > 1:
            lines.append(_comparison_table(result.runs))
            metrics = result.metrics()
            names = list(REDIS_RATIOS)
            if names[0] in metrics:
                lines.append(f"  chatserver + Redis / chatserver (embedded), same run: messages/s "
                             f"{_fmt(metrics[names[0]])}, per server core {_fmt(metrics.get(names[1]))}")
        for kind, checks in (("threshold", result.threshold_results()), ("SLO", result.slo_results())):
            for check in checks:
                lines.append(f"  {kind} {check['objective']}: {_fmt(check['value'])} "
                             f"{'PASS' if check['passed'] else 'FAIL'}")
        if not result.complete:
            lines.append("  the run did not complete (see errors above)")
        return "\n".join(lines)


def _ratio(mine: dict[str, Any], theirs: dict[str, Any], key: str) -> str:
    """``mine[key] / theirs[key]`` for a table, or "-" when either is missing or theirs is 0."""
    a, b = mine.get(key), theirs.get(key)
    if isinstance(a, int | float) and isinstance(b, int | float) and b:
        return f"{a / b:.2f}"
    return "-"


def _comparison_table(runs: list[TargetRun]) -> str:
    """The targets side by side, with ratios to the Node relay and, for messages/s and messages/s
    per server core, to the Node relay that stores every message as chatserver does."""
    reference = next((r for r in runs if r.target == "node"), runs[0]).metrics()
    storing = next((r.metrics() for r in runs if r.target == "node_sqlite"), {})
    head = (f"  {'target':<24} {'msg/s':>9} {'per core':>9} {'p50 ms':>8} {'p99 ms':>8} {'KB/conn':>8}"
            "   vs node: msg/s  p99  KB/conn   vs node + SQLite: msg/s  per core")
    lines = ["  comparison (same generator, same run; per core: messages/s / the server's mean CPU share):", head]
    for run in runs:
        m = run.metrics()
        lines.append(f"  {run.label:<24} {_fmt(m.get('messages_per_s'), 0):>9} "
                     f"{_fmt(m.get('messages_per_s_per_core'), 0):>9} {_fmt(m.get('rtt_p50_ms')):>8} "
                     f"{_fmt(m.get('rtt_p99_ms')):>8} {_fmt(m.get('rss_per_connection_kb'), 1):>8}   "
                     f"{_ratio(m, reference, 'messages_per_s'):>14} {_ratio(m, reference, 'rtt_p99_ms'):>4} "
                     f"{_ratio(m, reference, 'rss_per_connection_kb'):>8}   "
                     f"{_ratio(m, storing, 'messages_per_s'):>23} {_ratio(m, storing, 'messages_per_s_per_core'):>9}")
    return "\n".join(lines)


def _cobrowse_comparison_table(runs: list[TargetRun]) -> str:
    """compare --cobrowse: the targets side by side, with chatserver's batches/s and batches/s per
    server core as ratios to the plain Node relay's."""
    reference = next((r for r in runs if r.target == "node"), runs[0]).metrics()
    lines = ["  co-browse comparison (same generator, same run; per core: batches/s / the server's mean CPU share):",
             f"  {'target':<24} {'batches/s':>10} {'per core':>9} {'relay p50':>10} {'p99 ms':>8}"
             "   vs node: batches/s  per core"]
    for run in runs:
        m = run.metrics()
        lines.append(f"  {run.label:<24} {_fmt(m.get('batches_per_s'), 0):>10} "
                     f"{_fmt(m.get('batches_per_s_per_core'), 0):>9} {_fmt(m.get('relay_p50_ms')):>10} "
                     f"{_fmt(m.get('relay_p99_ms')):>8}   {_ratio(m, reference, 'batches_per_s'):>18} "
                     f"{_ratio(m, reference, 'batches_per_s_per_core'):>9}")
    return "\n".join(lines)


async def _run_references(result: ChatResult, config: ChatConfig, deadline: float,
                          say: Callable[[str], None]) -> None:
    """The same job against each reference relay, one after the other, each on a port of its own."""
    for kind, label in config.references().items():
        async with ReferenceRelay(kind) as relay:
            other = TargetRun(kind, label, relay.url, memory_per_connection=config.idle > 0)
            result.runs.append(other)
            job = config.job(kind, relay.url, [])
            other.job_cobrowse = job["cobrowse"]
            await _run_target(other, job, relay, deadline, say)


async def _run_on_postgresql(target: Target, config: ChatConfig, deadline: float,
                             say: Callable[[str], None]) -> TargetRun:
    """The same job against a second chatserver, started like ``target`` but storing in a new
    PostgreSQL database on ``config.postgresql`` (dropped afterwards)."""
    if not target.managed:
        raise LoadTestError("--postgresql needs a server the load tester starts (not --url)")
    assert config.postgresql is not None
    async with new_postgresql_database(config.postgresql) as database_url, \
            ManagedServer(redis_url=target.redis_url, settings={**target.settings, "database_url": database_url}) \
            as pg_target:
        say(f"started chatserver on PostgreSQL on {pg_target.url} (pid {pg_target.pid})")
        run = TargetRun(CHATSERVER_PG, "chatserver + PostgreSQL", pg_target.url,
                        memory_per_connection=config.idle > 0)
        job = config.job(CHATSERVER, pg_target.url, await _agents(pg_target, config))
        run.job_cobrowse = job["cobrowse"]
        await _run_target(run, job, pg_target, deadline, say)
        return run


async def _run_on_redis(target: Target, config: ChatConfig, deadline: float,
                        say: Callable[[str], None]) -> TargetRun:
    """The same job against a second chatserver, started like the embedded ``target`` but on the
    Redis backend: on ``config.redis_url``, or on a redis-server of its own (sampled too)."""
    async with contextlib.AsyncExitStack() as stack:
        redis_url, redis_pid = config.redis_url, None
        if redis_url is None:
            redis = await stack.enter_async_context(ManagedRedis())
            redis_url, redis_pid = redis.url, redis.pid
            say(f"started redis-server on {redis_url} (pid {redis_pid})")
        redis_target = await stack.enter_async_context(ManagedServer(redis_url=redis_url,
                                                                     settings=dict(target.settings)))
        say(f"started chatserver on Redis on {redis_target.url} (pid {redis_target.pid})")
        run = TargetRun(CHATSERVER_REDIS, "chatserver + Redis", redis_target.url, redis_url=redis_url)
        job = config.job(CHATSERVER, redis_target.url, await _agents(redis_target, config))
        run.job_cobrowse = job["cobrowse"]
        await _run_target(run, job, redis_target, deadline, say, redis_pid=redis_pid)
        return run


async def _agents(target: Target, config: ChatConfig) -> list[str]:
    """Create ``config.agents`` agents through the admin API and log them in; their tokens."""
    run_id = f"{int(time.time() * 1000) % 10**9}"
    async with new_http_session() as http:
        api = Api(http, target.url, target.created)
        admin = await api.login(target.admin_email, target.admin_password)
        gate = asyncio.Semaphore(8)

        async def one(n: int) -> str:
            async with gate:
                email = f"load-agent-{run_id}-{n}@example.com"
                login = await api.new_agent(admin["token"], name=f"Load agent {n}", email=email,
                                            capacity=config.capacity)
                return str(login["token"])

        return list(await asyncio.gather(*(one(n) for n in range(1, config.agents + 1))))


@contextlib.asynccontextmanager
async def _sampling(pid: int | None, t0: float) -> AsyncIterator[ProcessSampler | None]:
    if pid is None:
        yield None
        return
    sampler = ProcessSampler(pid, t0)
    sampler.start()
    try:
        yield sampler
    finally:
        await sampler.stop()


async def _run_target(run: TargetRun, job: dict[str, Any], target: Target | ReferenceRelay, deadline: float,
                      say: Any, redis_pid: int | None = None) -> None:
    """Run the generator with ``job`` against one target, sampling the server, the generator and
    the target's own ``redis_pid``; the chats its visitors start on chatserver are recorded in
    the target's ``created``."""
    t0 = time.monotonic()
    server_pid = target.pid
    created = target.created if isinstance(target, Target) else None
    window: list[LogHistogram] = []

    def on_message(message: dict[str, Any]) -> None:
        event = message.get("event")
        if event == "chat":
            if created is not None:
                created.conversations.add(str(message["conversation_id"]))
        elif event == "phase":
            run.phases.append([message["t"], message["phase"]])
            if message["phase"] in ("measure", "drain"):
                run.measure_window.append(round(time.monotonic() - t0, 2))
        elif event == "progress":
            hist = LogHistogram.from_counts(message["hist"])
            errors = sum(message["errors"].values())
            rate = message["delivered"] / max(job_interval, 1e-9)
            # The report: each second's own percentiles (a window would smear a spike over it).
            second_p50, second_p99 = hist.percentile(50), hist.percentile(99)
            run.timeline.append([message["t"], message["phase"], message["connected"], round(rate, 1),
                                 None if second_p50 is None else round(second_p50, 3),
                                 None if second_p99 is None else round(second_p99, 3), errors, hist.count])
            run.second_histograms.append([message["t"], message["hist"]])
            # The progress line: over the last 5 s, steadier to watch (a second of a slow target holds few).
            window.append(hist)
            del window[:-5]
            merged = LogHistogram()
            for h in window:
                merged.merge(h)
            p50, p99 = merged.percentile(50), merged.percentile(99)
            server_now = run.server.latest() if run.server is not None else None
            gen_now = run.generator.latest() if run.generator is not None else None
            server = f"  server cpu {server_now[0]:.0f}% rss {server_now[1]:.0f} MB" if server_now else ""
            gen = f"  generator cpu {gen_now[0]:.0f}%" if gen_now else ""
            say(f"[{message['t']:6.1f}s] {run.label:<18} {message['phase']:<10} conn {message['connected']:>6}  "
                f"msg/s {rate:>8,.0f}  err {errors:>4}  p50 {_fmt(p50):>7} ms  p99 {_fmt(p99):>7} ms{server}{gen}")

    job_interval = 1.0
    async with _sampling(server_pid, t0) as server_sampler, _sampling(redis_pid, t0) as redis_sampler:
        run.server = server_sampler
        run.redis = redis_sampler
        run.rss_before = server_sampler.rss_bytes() if server_sampler else None
        async with Generator(job, on_message) as generator, _sampling(generator.pid, t0) as gen_sampler:
            run.generator = gen_sampler
            try:
                remaining = max(deadline - time.monotonic(), 1.0)
                ready = await asyncio.wait_for(generator.ready(), remaining)
                run.ready_s = round(time.monotonic() - t0, 2)
                say(f"  {run.label}: {ready['connected']} connections up in {run.ready_s:.1f} s")
                remaining = max(deadline - time.monotonic(), 1.0)
                run.result = await asyncio.wait_for(generator.result(), remaining)
                # Every connection is still open here: the server's memory under this load.
                run.rss_loaded = server_sampler.rss_bytes() if server_sampler else None
            except TimeoutError:
                run.complete = False
                say(f"  {run.label}: --max-duration reached; stopping")


def scenarios() -> list[ChatScenario]:
    return [
        ChatScenario("steady", """Steady chat: N visitor/agent pairs exchange messages at a given rate.

Each pair's visitor sends message:send, its agent receives message:new and replies; the round
trip is timed at the visitor. --rate is messages/s over all pairs (both directions); --rate 0
is a closed loop (the next message as soon as the reply arrives): the throughput ceiling.""",
                     {"pairs": 50, "rate": 1000.0}, ("pairs", "compare")),
        ChatScenario("storm", """Chat storm: many visitors start chats at once; queueing and assignment.

Times each chat:start acknowledgement and the time from chat:start to the agent receiving the
assignment (conversation:updated status=assigned). Chats beyond agents x capacity stay queued
and are counted as not_assigned.""",
                     {"visitors": 500, "agents": 10, "capacity": 50, "pair_up": False, "ramp_up": 0.0},
                     ("visitors",)),
        ChatScenario("reconnect", """Reconnect storm: every client drops and reconnects; resume with history.

Pairs exchange messages, then every visitor drops; each agent sends --missed messages; every agent
drops; then every client reconnects at once and joins its conversation from the last seq it had.
Times connect -> every missed message received; counts duplicates and losses (must be 0).""",
                     {"pairs": 100, "rate": 200.0, "duration": 3.0, "warmup": 1.0}, ("pairs", "reconnect")),
        ChatScenario("idle", """Idle connections: N idle visitor connections; server memory per connection.

Connects --idle visitors (each with its own token) and holds them; the server's resident memory
(/proc) before and with them gives KB per connection. --compare holds the same number on the
reference relays.""",
                     {"idle": 1000, "ramp_up": 5.0}, ("idle", "compare")),
        ChatScenario("mix", """A mix: idle visitors, a storm of new chats and steady pairs at once.

Idle connections first, then --visitors start chats at once; the first --pairs of them go on to
exchange messages at --rate with their agents.""",
                     {"pairs": 20, "rate": 200.0, "visitors": 100, "agents": 5, "capacity": 20, "idle": 500,
                      "hold": 0.0, "ramp_up": 2.0},
                     ("pairs", "visitors", "idle")),
        ChatScenario("cobrowse", """Co-browse streaming: many sessions relay a shopper's page to their agents at once.

Each visitor/agent pair starts a chat; the agent asks to co-browse, the visitor accepts, the agent
joins; the visitor sends a full snapshot (--snapshot-kb, msgpack, split into parts as the widget
does) and then --batch-rate batches a second. Times each batch from the visitor's emit to the
agent's receipt (relay latency) and reports batches and events per second, and per server core.""",
                     {"pairs": 100, "agents": 25, "capacity": 4, "duration": 20.0, "rate": 0.0},
                     ("cobrowse",)),
        ChatScenario("compare", """Side by side: steady-chat ping-pong against chatserver and the reference relays.

The same generator drives chatserver (message:send / message:new, stored), the same chatserver on
the Redis backend (--redis-url, or a redis-server of its own on a free port), a Node.js socket.io
4.8 relay, the same Node relay storing each message in SQLite before relaying it (better-sqlite3,
WAL, a group commit per event-loop turn) and a raw aiohttp WebSocket relay (each started on its
own port); prints messages/s, messages/s per server core and round-trip p50/p99 of each, the
ratios to Node and to the storing Node relay, and the Redis build's to the embedded build's.

--cobrowse: co-browse batches instead of messages, in a closed loop (--in-flight per session),
through real co-browse sessions on chatserver and a room per pair on the plain Node relay:
batches/s, batches/s per server core and relay latency of each, and the ratios to Node.""",
                     {"pairs": 50, "rate": 0.0, "duration": 10.0}, ("pairs", "redis_target", "cobrowse_compare")),
    ]


__all__ = ["ChatConfig", "ChatResult", "ChatScenario", "scenarios"]
