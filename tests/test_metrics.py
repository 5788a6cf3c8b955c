"""chatserver/metrics.py without a server: its own counters and histograms read back through
prometheus-client's text format as Prometheus reads them (a bucket holds what is at most its
bound, cumulatively), gauges set whole, and label values checked."""

from __future__ import annotations

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from chatserver.metrics import LATENCY_BUCKETS, Metrics, set_gauge


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    page = generate_latest(metrics.registry).decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(page) for s in family.samples}


def test_a_histogram_counts_each_value_in_the_first_bucket_that_holds_it_cumulatively() -> None:
    metrics = Metrics()
    for value in (LATENCY_BUCKETS[0], LATENCY_BUCKETS[0] + 1e-9, 0.003, 20.0):
        metrics.message_ack.observe(value)
    page = samples(metrics)

    def bucket(le: str) -> float:
        return page[("chatserver_message_ack_seconds_bucket", frozenset({("le", le)}))]

    assert bucket("0.0005") == 1  # a value equal to a bound is in that bound's bucket
    assert bucket("0.001") == 2 and bucket("0.0025") == 2 and bucket("0.005") == 3
    assert bucket("10.0") == 3 and bucket("+Inf") == 4
    assert page[("chatserver_message_ack_seconds_count", frozenset())] == 4
    assert page[("chatserver_message_ack_seconds_sum", frozenset())] == pytest.approx(20.004 + 1e-9)


def test_counters_are_exposed_with_their_total_and_labelled_ones_once_used() -> None:
    metrics = Metrics()
    metrics.messages.inc()
    metrics.messages.inc(2)
    metrics.refusal("rate_limited").inc()
    assert metrics.refusal("rate_limited") is metrics.refusal("rate_limited")  # bound once
    page = samples(metrics)
    assert page[("chatserver_messages_total", frozenset())] == 3
    assert page[("chatserver_events_refused_total", frozenset({("code", "rate_limited")}))] == 1
    assert not [key for key in page if key[0] == "chatserver_events_refused_total" and key != (
        "chatserver_events_refused_total", frozenset({("code", "rate_limited")}))]
    # Two servers in one process count apart.
    assert samples(Metrics())[("chatserver_messages_total", frozenset())] == 0


def test_a_series_is_asked_for_with_every_label_of_its_family() -> None:
    metrics = Metrics()
    with pytest.raises(ValueError, match="labels"):
        metrics.events.labels("/visitor")
    with pytest.raises(ValueError, match="labels"):
        metrics.queue_wait.labels()


def test_a_gauge_set_whole_drops_the_label_values_that_are_gone() -> None:
    metrics = Metrics()
    set_gauge(metrics.waiting, {("billing",): 2.0, ("none",): 1.0})
    set_gauge(metrics.waiting, {("none",): 0.0})
    page = samples(metrics)
    assert page[("chatserver_chats_waiting", frozenset({("department", "none")}))] == 0
    assert ("chatserver_chats_waiting", frozenset({("department", "billing")})) not in page
