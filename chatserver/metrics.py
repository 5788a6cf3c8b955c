"""What a process tells Prometheus (docs/operations.md, "Metrics"): every metric family, in a
registry of the process's own server, and the text a scrape gets.

Each server built (``assembly.assemble``) has its own ``Metrics``: a process serves one, so what
it shows is that process's; tests that run several servers in one process see each apart.
Labels take a handful of values each (a namespace, a transport, a department, an error code, a
route pattern): never a conversation's, visitor's or agent's id.

Counters and histograms are this module's own (``LoopCounter``, ``LoopHistogram``), exposed
through prometheus-client's collector interface: every part that counts runs on the event
loop's one thread, so a count is a plain addition, with none of the lock, checks and exemplar
handling of prometheus-client's ``Counter`` and ``Histogram`` (measured: 1.0 and 2.9 µs each,
against 0.1 and 0.4 µs here; benchmarks/metrics.md). Never count from another thread. The
parts that count on every message hold the series they use, bound once.

The domain and storage do not import this module: they report through small protocols of their
own (``domain.ports.AssignmentObserver``, ``storage.group_commit.DatabaseObserver``,
``storage.redis_backend.RedisObserver``, ``domain.outbox.OutboxObserver``) that ``Metrics``
implements. What is a state rather than an event (connections, the queue, the outbox's backlog,
co-browse sessions, readiness) is read when scraped (``Scraper``).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Gauge, ProcessCollector
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

log = logging.getLogger("chatserver.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "chatserver_"
# Seconds, for what takes milliseconds normally and seconds when something is wrong.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Seconds a shopper waits for an agent.
WAIT_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
# A label value for "none of these" (a chat without a department, an event nobody handles).
NONE = "none"
# How long a scrape waits for one state reading (a Redis or database round trip) before it
# serves what it has.
REFRESH_TIMEOUT = 2.0


class LoopCounter:
    """One counter series."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class LoopHistogram:
    """One histogram series: a count per bucket (not cumulative: made so when scraped) and the sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last: above every bound (+Inf)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # The first bound at least ``value``: Prometheus's bucket ``le`` holds what is <= le.
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value


S = TypeVar("S", LoopCounter, LoopHistogram)


class Family(Generic[S]):
    """A metric's series, one per set of label values (made on first use)."""

    def __init__(self, name: str, text: str, labels: Sequence[str], make: Callable[[], S]) -> None:
        self.name = name
        self.text = text
        self.label_names = tuple(labels)
        self._make: Callable[[], S] = make
        self.series: dict[tuple[str, ...], S] = {}

    def labels(self, *values: str) -> S:
        """The series of these label values (none for a family without labels)."""
        series = self.series.get(values)
        if series is None:
            if len(values) != len(self.label_names):
                raise ValueError(f"{self.name} takes the labels {self.label_names}")
            series = self.series[values] = self._make()
        return series


class LoopMetrics(Collector):
    """The counters and histograms of one server, as prometheus-client collects them."""

    def __init__(self) -> None:
        self.counters: list[Family[LoopCounter]] = []
        self.histograms: list[Family[LoopHistogram]] = []

    def counter(self, name: str, text: str, labels: Sequence[str] = ()) -> Family[LoopCounter]:
        family = Family(name, text, labels, LoopCounter)
        self.counters.append(family)
        return family

    def histogram(self, name: str, text: str, labels: Sequence[str] = (),
                  buckets: Sequence[float] = LATENCY_BUCKETS) -> Family[LoopHistogram]:
        bounds = tuple(sorted(buckets))
        family = Family(name, text, labels, lambda: LoopHistogram(bounds))
        self.histograms.append(family)
        return family

    def collect(self) -> Iterator[Metric]:
        for counter in self.counters:
            counted = CounterMetricFamily(counter.name, counter.text, labels=counter.label_names)
            for values, series in list(counter.series.items()):
                counted.add_metric(values, series.value)
            yield counted
        for histogram in self.histograms:
            timed = HistogramMetricFamily(histogram.name, histogram.text, labels=histogram.label_names)
            for values, observed in list(histogram.series.items()):
                buckets, total = [], 0
                for bound, count in zip((*observed.bounds, float("inf")), observed.counts, strict=True):
                    total += count
                    buckets.append(("+Inf" if bound == float("inf") else repr(bound), total))
                timed.add_metric(values, buckets, observed.sum)
            yield timed


class Metrics:
    """Every metric family of one server, in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, process_open_fds, ...
        families = LoopMetrics()

        def counter(name: str, text: str, labels: Sequence[str] = ()) -> Family[LoopCounter]:
            return families.counter(PREFIX + name, text, labels)

        def gauge(name: str, text: str, labels: Sequence[str] = ()) -> Gauge:
            return Gauge(PREFIX + name, text, labels, registry=self.registry)

        def histogram(name: str, text: str, labels: Sequence[str] = (),
                      buckets: Sequence[float] = LATENCY_BUCKETS) -> Family[LoopHistogram]:
            return families.histogram(PREFIX + name, text, labels, buckets)

        self.ready = gauge("ready", "1 while storage and the routing state answer (as /readyz asks them), else 0")
        # -- Socket.IO (transport/socketio_server.py, notifier.py) ----------------------------------
        self.connections = gauge("connections", "Socket.IO connections held by this process",
                                 ("namespace", "transport"))
        self.events = counter("events_total", "Socket.IO events received from clients", ("namespace", "event"))
        self.refused = counter("events_refused_total",
                               "Client events and packets refused, by the error code they were answered with",
                               ("code",))
        self.messages = counter("messages_total",
                                "Chat messages (message:send) accepted, a resent one too").labels()
        self.message_commit = histogram("message_commit_seconds",
                                        "From a message:send received to the message committed").labels()
        self.message_ack = histogram("message_ack_seconds",
                                     "From a message:send received to its acknowledgement written").labels()
        # -- the process bus (storage/redis_backend.py through RedisObserver; its failures are
        # counted in redis_errors_total) -------------------------------------------------------------
        self.bus_published_total = counter("bus_published_total",
                                           "Envelopes published to other processes (Redis)").labels()
        self.bus_received_total = counter("bus_received_total",
                                          "Envelopes received from other processes (Redis)").labels()
        # -- routing (domain/routing.py through AssignmentObserver) ---------------------------------
        self.waiting = gauge("chats_waiting", "Chats waiting in the queue, by department (the whole cluster's)",
                             ("department",))
        self.oldest_wait = gauge("chats_oldest_wait_seconds",
                                 "How long the longest-waiting chat of a department has waited", ("department",))
        self.assignment = histogram("assignment_seconds",
                                    "From a chat claimed for an agent to its assignment stored and announced",
                                    ("how",))
        self.queue_wait = histogram("queue_wait_seconds", "How long a chat waited in the queue before an agent had it",
                                    ("how",), buckets=WAIT_BUCKETS)
        # -- HTTP (http/metrics.py) ---------------------------------------------------------
        self.http_requests = counter("http_requests_total", "HTTP requests answered, by route pattern and status",
                                     ("route", "method", "status"))
        self.http_duration = histogram("http_request_duration_seconds", "HTTP request handling time, by route pattern",
                                       ("route", "method"))
        # -- storage (storage/group_commit.py, sqlite/, postgresql/ through DatabaseObserver) -------
        self.db_commit = histogram("db_commit_seconds",
                                   "A write transaction, BEGIN to COMMIT (a batch of jobs)").labels()
        self.db_query = histogram("db_query_seconds", "A read (SQLite), or the statements of one pooled connection "
                                  "outside a transaction (PostgreSQL)").labels()
        self.db_errors = counter("db_errors_total", "Database operations that failed", ("operation",))
        # -- Redis (storage/redis_backend.py through RedisObserver) ---------------------------------
        self.redis_command = histogram("redis_command_seconds", "A Redis command, script or pipeline").labels()
        self.redis_errors = counter("redis_errors_total", "Redis operations that failed (a publish too)").labels()
        # -- co-browsing (transport/cobrowse.py) ----------------------------------------------------
        self.cobrowse_sessions = gauge("cobrowse_sessions", "Co-browse sessions whose page this process relays")
        self.cobrowse_bytes = counter("cobrowse_relayed_bytes_total", "Bytes of page events relayed to agents").labels()
        # -- the outbox (domain/outbox.py through OutboxObserver) -----------------------------------
        self.outbox_pending = gauge("outbox_pending", "Outbox items waiting to go out (the whole database's)",
                                    ("kind",))
        self.outbox_deliveries = counter("outbox_deliveries_total", "Outbox delivery attempts, by outcome",
                                         ("kind", "outcome"))

        self.registry.register(families)
        # Series bound once for the paths that run for every message or request.
        self.db_commit_errors = self.db_errors.labels("commit")
        self.db_query_errors = self.db_errors.labels("query")
        self._refused: dict[str, LoopCounter] = {}

    # -- bound children, made on first use ------------------------------------------------------

    def refusal(self, code: str) -> LoopCounter:
        """The counter of one error code (errors.py: a fixed set)."""
        child = self._refused.get(code)
        if child is None:
            child = self._refused[code] = self.refused.labels(code)
        return child

    # -- domain.ports.AssignmentObserver --------------------------------------------------------

    def assigned(self, how: str, waited: float, took: float) -> None:
        self.queue_wait.labels(how).observe(waited)
        self.assignment.labels(how).observe(took)

    # -- domain.outbox.OutboxObserver -----------------------------------------------------------

    def delivered(self, kind: str, outcome: str) -> None:
        self.outbox_deliveries.labels(kind, outcome).inc()

    # -- storage.group_commit.DatabaseObserver --------------------------------------------------

    def committed(self, seconds: float) -> None:
        self.db_commit.observe(seconds)

    def queried(self, seconds: float) -> None:
        self.db_query.observe(seconds)

    def database_failed(self, operation: str) -> None:
        (self.db_commit_errors if operation == "commit" else self.db_query_errors).inc()

    # -- storage.redis_backend.RedisObserver ----------------------------------------------------

    def redis_called(self, seconds: float) -> None:
        self.redis_command.observe(seconds)

    def redis_failed(self) -> None:
        self.redis_errors.inc()

    def bus_published(self) -> None:
        self.bus_published_total.inc()

    def bus_received(self) -> None:
        self.bus_received_total.inc()


Refresh = Callable[[Metrics], Awaitable[None]]


class Scraper:
    """What a scrape answers: the states read first (``refreshers``, each given ``Metrics``, all at
    once), then every family in the text format. A state that cannot be read in time keeps its
    last value (and is logged): the rest of the page is served all the same."""

    def __init__(self, metrics: Metrics, refreshers: Sequence[Refresh]) -> None:
        self.metrics = metrics
        self.refreshers = tuple(refreshers)

    async def page(self) -> bytes:
        # All at once: a scrape waits REFRESH_TIMEOUT at most, well within Prometheus's timeout.
        await asyncio.gather(*(self._refresh(refresh) for refresh in self.refreshers))
        return generate_latest(self.metrics.registry)

    async def _refresh(self, refresh: Refresh) -> None:
        try:
            await asyncio.wait_for(refresh(self.metrics), REFRESH_TIMEOUT)
        except Exception as exc:
            log.warning("metrics state not read refresher=%s exception=%s",
                        getattr(refresh, "__name__", "?"), type(exc).__name__)


def set_gauge(family: Gauge, values: Mapping[tuple[str, ...], float]) -> None:
    """Give a labelled gauge exactly ``values`` (by label values): a label set that is gone is
    dropped, not left at its last value. Nothing awaits in between, so no scrape sees it half set."""
    family.clear()
    for labels, value in values.items():
        family.labels(*labels).set(value)


__all__ = ["CONTENT_TYPE", "NONE", "Family", "LoopCounter", "LoopHistogram", "Metrics", "Refresh", "Scraper",
           "set_gauge"]
