"""The run's live figures for Prometheus, served by the master (or a single process): read from
Locust's merged statistics and the summed chat checks at each scrape, so nothing is kept twice.

Names follow Prometheus' conventions (base units, counters ending in ``_total``); the one label,
``name``, is the request's name (``round trip``, ``resume``, ``chat start``, ``chat end``, ``agent
reply``): a handful, never a conversation or a user.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .checks import COUNTERS

QUANTILES = (0.5, 0.95, 0.99)


class LocustCollector(Collector):
    """Collects from ``environment.runner`` and ``totals`` (the locustfile's ``Totals``)."""

    def __init__(self, environment: Any, totals: Any) -> None:
        self.environment = environment
        self.totals = totals

    def collect(self) -> Iterator[Any]:
        runner = self.environment.runner
        if runner is None:
            return
        yield GaugeMetricFamily("chatload_users", "Pairs running (Locust users)", value=runner.user_count)
        workers = getattr(runner, "clients", None)
        yield GaugeMetricFamily("chatload_workers", "Workers connected to the master",
                                value=len(workers) if workers is not None else 0)
        requests = CounterMetricFamily("chatload_requests", "Steps done, by name", labels=["name"])
        failures = CounterMetricFamily("chatload_request_failures", "Steps that failed, by name", labels=["name"])
        rate = GaugeMetricFamily("chatload_requests_per_second", "Steps a second now, by name", labels=["name"])
        latency = GaugeMetricFamily("chatload_response_time_seconds",
                                    "Response time over the last 10 s (Locust's window), by name and quantile",
                                    labels=["name", "quantile"])
        for entry in runner.stats.entries.values():
            requests.add_metric([entry.name], entry.num_requests)
            failures.add_metric([entry.name], entry.num_failures)
            rate.add_metric([entry.name], entry.current_rps)
            for q in QUANTILES:
                ms = entry.get_current_response_time_percentile(q) if entry.use_response_times_cache else None
                if ms is None:
                    ms = entry.get_response_time_percentile(q)
                latency.add_metric([entry.name, str(q)], ms / 1000)
        yield from (requests, failures, rate, latency)
        checks = self.totals.current(runner).as_dict()
        for name in COUNTERS:
            yield CounterMetricFamily(f"chatload_{name}", f"Chat checks: {name.replace('_', ' ')}",
                                      value=checks[name])


def start_exporter(host: str, port: int, environment: Any, totals: Any) -> None:
    """Serve ``/metrics`` on ``host:port`` from a registry of its own (the master's process
    metrics come with it)."""
    registry = CollectorRegistry()
    registry.register(LocustCollector(environment, totals))
    ProcessCollector(registry=registry)
    start_http_server(port, addr=host, registry=registry)


__all__ = ["LocustCollector", "start_exporter"]
