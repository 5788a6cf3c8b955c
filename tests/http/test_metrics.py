"""GET /metrics (docs/operations.md, "Metrics") on a real server with real clients: who may read
it where, that a chat moves what it should (values read from the scrape itself), refused events
counted by code, HTTP requests labelled by route pattern, and that every metric the shipped
Grafana dashboard and Prometheus alert rules use is on the page."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from chatserver.http.access import NO_ROUTE

from ..offline_support import WebhookReceiver
from ..redis_server import RedisServer
from ..support import LiveServer, agent, make_settings, prechat, visitor, wait_until
from ..transport.cobrowse_support import active_session, assigned_chat, encode_batch, send_batch, snapshot_events

TOKEN = "metrics-token-of-the-test-0123456789"
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "chatserver.json"
RULES = DEPLOY / "prometheus" / "chatserver-alerts.yml"
# Series Prometheus makes itself for every target (not on any page).
PROMETHEUS_OWN = {"up"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(page: str) -> Samples:
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(page) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 for a labelled series not made yet (as Prometheus reads an absent one)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(server: LiveServer, token: str = TOKEN) -> Samples:
    status, body = await server.request("GET", "/metrics", token=token)
    assert status == 200, body
    return parse(body)


@pytest.fixture
async def metered(tmp_path: Path, backend_settings: dict[str, str]) -> AsyncIterator[LiveServer]:
    """A server with the metrics token set, small message budgets (a refusal is quick to cause)
    and a department."""
    live = LiveServer(make_settings(tmp_path, metrics_token=TOKEN, message_burst=3, message_rate=0.01,
                                    departments=("billing",), **backend_settings))
    await live.start()
    try:
        yield live
    finally:
        await live.close()


# -- who may read it, where -------------------------------------------------------------------

async def test_without_a_token_setting_the_main_port_has_no_metrics(server: LiveServer) -> None:
    for token in (None, TOKEN):
        status, body = await server.request("GET", "/metrics", token=token)
        assert status == 404 and body["error"]["code"] == "not_found"


async def test_the_main_port_serves_metrics_to_the_token_only(metered: LiveServer) -> None:
    status, body = await metered.request("GET", "/metrics")
    assert status == 401 and body["error"]["code"] == "auth_required"
    for wrong in ("nope", TOKEN[:-1], TOKEN + "x"):
        status, body = await metered.request("GET", "/metrics", token=wrong)
        assert status == 401 and body["error"]["code"] == "invalid_token"
    status, body = await metered.request("GET", "/metrics", headers={"Authorization": TOKEN})  # not "Bearer ..."
    assert status == 401
    samples = await scrape(metered)
    assert value(samples, "chatserver_ready") == 1
    assert value(samples, "process_open_fds") > 0 and value(samples, "process_resident_memory_bytes") > 0


async def test_the_metrics_port_serves_the_page_without_a_token_and_nothing_else(tmp_path: Path) -> None:
    live = LiveServer(make_settings(tmp_path, metrics_port=0))
    await live.start()
    try:
        listener = live.parts.metrics_listener
        assert listener is not None and listener.port not in (0, live.port)
        base = f"http://127.0.0.1:{listener.port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/metrics") as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                assert value(parse(await response.text()), "chatserver_ready") == 1
            for path in ("/", "/healthz", "/api/openapi.json"):
                async with http.get(base + path) as response:
                    assert response.status == 404, path
        # The main port still shows nothing: no token is set.
        status, _ = await live.request("GET", "/metrics")
        assert status == 404
    finally:
        await live.close()
    # Stopped with the server.
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(base + "/metrics")


async def test_bad_metrics_settings_are_refused() -> None:
    from chatserver.config import load_settings

    for overrides, word in (({"metrics_port": 70000}, "metrics_port"), ({"metrics_token": "short"}, "metrics_token")):
        with pytest.raises(ValueError, match=word):
            load_settings(overrides, environ={})
    assert load_settings(environ={"CHATSERVER_METRICS_PORT": "9464"}).metrics_port == 9464


# -- what a chat moves ------------------------------------------------------------------------

@pytest.mark.both_backends  # the queue, presence, the bus and both databases: tests/conftest.py
async def test_a_chat_moves_the_connection_queue_message_and_storage_metrics(metered: LiveServer,
                                                                             backend: str) -> None:
    before = await scrape(metered)
    shopper = await visitor(metered)
    started = await shopper.call("chat:start", prechat(1, department="billing"))
    cid = started["conversation"]["id"]
    waiting = await scrape(metered)
    assert value(waiting, "chatserver_chats_waiting", department="billing") == 1
    assert value(waiting, "chatserver_chats_waiting", department="none") == 0
    assert value(waiting, "chatserver_chats_oldest_wait_seconds", department="billing") >= 0
    assert value(waiting, "chatserver_connections", namespace="/visitor", transport="websocket") == 1

    alice = await metered.add_agent("Alice")
    console = await agent(metered, alice)
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    await console.call("conversation:join", {"conversation_id": cid, "after_seq": 0})
    for n in range(2):
        ack = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": f"v-{n}", "body": "Hi"})
        assert ack["ok"]
    ack = await console.call("message:send", {"conversation_id": cid, "client_msg_id": "a-1", "body": "Hello"})
    assert ack["ok"]
    await shopper.wait_for_seq(cid, ack["seq"])

    after = await scrape(metered)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert value(after, "chatserver_chats_waiting", department="billing") == 0
    assert value(after, "chatserver_connections", namespace="/visitor", transport="websocket") == 1
    assert value(after, "chatserver_connections", namespace="/agent", transport="websocket") == 1
    assert value(after, "chatserver_connections", namespace="/agent", transport="polling") == 0
    assert moved("chatserver_messages_total") == 3
    assert moved("chatserver_message_ack_seconds_count") == 3
    assert moved("chatserver_message_commit_seconds_count") == 3
    assert moved("chatserver_message_ack_seconds_bucket", le="+Inf") == 3
    assert moved("chatserver_events_total", namespace="/visitor", event="message:send") == 2
    assert moved("chatserver_events_total", namespace="/agent", event="message:send") == 1
    assert moved("chatserver_events_total", namespace="/visitor", event="chat:start") == 1
    assert moved("chatserver_queue_wait_seconds_count", how="assigned") == 1
    assert moved("chatserver_assignment_seconds_count", how="assigned") == 1
    assert moved("chatserver_db_commit_seconds_count") >= 4  # the chat, its assignment, three messages
    assert moved("chatserver_db_query_seconds_count") >= 1
    assert value(after, "chatserver_db_errors_total", operation="commit") == 0
    if backend == "memory":
        assert value(after, "chatserver_redis_command_seconds_count") == 0
        assert value(after, "chatserver_bus_published_total") == 0
    else:  # the queue, presence and the bus are in Redis; one process hears its own broadcasts too
        assert moved("chatserver_redis_command_seconds_count") > 10
        assert moved("chatserver_bus_published_total") >= 1 and moved("chatserver_bus_received_total") >= 1
    assert value(after, "chatserver_redis_errors_total") == 0
    # Sums of latencies are positive and never exceed what a count of 10-second buckets holds.
    assert 0 < moved("chatserver_message_ack_seconds_sum") < 30
    # The message path never labels by conversation: no id of this chat is anywhere on the page.
    status, page = await metered.request("GET", "/metrics", token=TOKEN)
    assert status == 200 and cid not in page and alice["agent"]["id"] not in page

    await shopper.disconnect()
    gone = await scrape(metered)
    assert value(gone, "chatserver_connections", namespace="/visitor", transport="websocket") == 0


async def test_refused_events_are_counted_by_their_error_code(metered: LiveServer) -> None:
    shopper = await visitor(metered)
    cid = (await shopper.call("chat:start", prechat(1)))["conversation"]["id"]
    before = await scrape(metered)
    assert (await shopper.call("message:send", {"conversation_id": cid}))["error"]["code"] == "invalid_payload"
    assert (await shopper.call("no:such-event", {}))["error"]["code"] == "unknown_event"
    too_long = {"conversation_id": cid, "client_msg_id": "long", "body": "x" * 5000}
    assert (await shopper.call("message:send", too_long))["error"]["code"] == "message_too_long"
    codes = []
    for n in range(5):  # a burst of 3, then refused (message_rate is tiny)
        ack = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": f"m{n}", "body": "hi"})
        codes.append(ack["error"]["code"] if "error" in ack else "ok")
    assert codes == ["ok", "ok", "ok", "rate_limited", "rate_limited"]
    after = await scrape(metered)

    def refused(code: str) -> float:
        return value(after, "chatserver_events_refused_total", code=code) - \
            value(before, "chatserver_events_refused_total", code=code)

    assert (refused("invalid_payload"), refused("unknown_event"), refused("message_too_long"),
            refused("rate_limited")) == (1, 1, 1, 2)
    # The unknown event's name labels nothing: it is counted as "none".
    assert value(after, "chatserver_events_total", namespace="/visitor", event="none") == 1
    assert not any("no:such-event" in dict(labels).values() for _, labels in after)
    assert value(after, "chatserver_messages_total") - value(before, "chatserver_messages_total") == 3


async def test_http_requests_are_labelled_by_route_pattern_and_status(metered: LiveServer) -> None:
    alice = await metered.add_agent("Alice")
    for _ in range(2):
        status, _ = await metered.request("GET", "/api/conversations/c0ffee0123", token=alice["token"])
        assert status == 404
    status, _ = await metered.request("GET", "/no/such/page")
    assert status == 404
    samples = await scrape(metered)
    route = "/api/conversations/{conversation_id}"
    assert value(samples, "chatserver_http_requests_total", route=route, method="GET", status="404") == 2
    assert value(samples, "chatserver_http_request_duration_seconds_count", route=route, method="GET") == 2
    assert value(samples, "chatserver_http_requests_total", route="/api/auth/login", method="POST",
                 status="200") >= 1
    assert value(samples, "chatserver_http_requests_total", route=NO_ROUTE, method="GET", status="404") == 1
    labels = {dict(labels).get("route") for _, labels in samples} - {None}
    assert not any("c0ffee0123" in r or r == "/no/such/page" for r in labels)


async def test_co_browsing_shows_its_session_and_the_bytes_relayed(metered: LiveServer) -> None:
    shopper, console, _, cid = await assigned_chat(metered)
    session_id = await active_session(shopper, console, cid)
    batches = [snapshot_events("page", size=3000), [{"type": 3, "data": {"source": 1}, "timestamp": 3}]]
    for seq, events in enumerate(batches, start=1):
        acks = await send_batch(shopper, session_id, seq, events, snapshot=seq == 1)
        assert all(ack["ok"] for ack in acks), acks
    await console.wait_for("cobrowse:events", lambda d: d["session_id"] == session_id and d["seq"] == 2)
    samples = await scrape(metered)
    assert value(samples, "chatserver_cobrowse_sessions") == 1
    assert value(samples, "chatserver_cobrowse_relayed_bytes_total") == sum(len(encode_batch(b)) for b in batches)

    assert (await console.call("cobrowse:stop", {"session_id": session_id}))["ok"]
    await shopper.wait_for("cobrowse:updated", lambda d: d["session"]["status"] == "ended")
    assert value(await scrape(metered), "chatserver_cobrowse_sessions") == 0


async def test_outbox_backlog_and_delivery_outcomes(tmp_path: Path) -> None:
    receiver = WebhookReceiver(fail_first=1)
    await receiver.start()
    # The first delivery fails and waits a minute for its retry; the next goes through.
    live = LiveServer(make_settings(tmp_path, metrics_token=TOKEN, outbox_retry_base=60, outbox_poll_interval=0.2))
    await live.start()
    try:
        status, _ = await live.request("POST", "/api/webhooks", token=await live.admin_token(), json={
            "url": receiver.url, "secret": receiver.secret, "events": ["conversation.created"]})
        assert status == 201
        for n in (1, 2):
            shopper = await visitor(live)
            assert (await shopper.call("chat:start", prechat(n)))["ok"]
            await wait_until(lambda n=n: len(receiver.requests) == n, what=f"delivery attempt {n}")
        samples = await scrape(live)

        def deliveries(outcome: str) -> float:
            return value(samples, "chatserver_outbox_deliveries_total", kind="webhook", outcome=outcome)

        assert (deliveries("retry"), deliveries("sent"), deliveries("failed")) == (1, 1, 0)
        assert value(samples, "chatserver_outbox_pending", kind="webhook") == 1
        assert value(samples, "chatserver_outbox_pending", kind="mail") == 0
    finally:
        await live.close()
        await receiver.stop()


async def test_with_redis_down_the_page_is_served_not_ready_with_the_errors_counted(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    live = LiveServer(make_settings(tmp_path, metrics_token=TOKEN, redis_url=redis.url))
    await live.start()
    try:
        shopper = await visitor(live)
        assert (await shopper.call("chat:start", prechat(1)))["ok"]
        up = await scrape(live)
        assert value(up, "chatserver_ready") == 1 and value(up, "chatserver_redis_errors_total") == 0
        assert value(up, "chatserver_chats_waiting", department="none") == 1

        await asyncio.to_thread(redis.stop)
        try:
            down = await scrape(live)  # answered all the same
            assert value(down, "chatserver_ready") == 0
            assert value(down, "chatserver_redis_errors_total") >= 1  # the read of the queue
            # The queue could not be read: the last figure stands, and the log says which state.
            assert value(down, "chatserver_chats_waiting", department="none") == 1
            assert "metrics state not read refresher=waiting_chats" in caplog.text
        finally:
            await asyncio.to_thread(redis.start)

        async def ready_again() -> bool:
            return value(await scrape(live), "chatserver_ready") == 1

        await wait_until(ready_again, timeout=20, what="ready once Redis is back")
    finally:
        await live.close()
        redis.stop()


# -- what the dashboard and the alert rules use exists -----------------------------------------

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
             "offset", "inf", "nan"}


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression reads: what is left once strings, label matchers,
    ranges, grouping clauses, function calls' names, keywords and numbers are taken out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expression)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end():].lstrip()
        if following.startswith("(") or match.group() in _KEYWORDS:
            continue
        if match.start() > 0 and (text[match.start() - 1].isdigit() or text[match.start() - 1] == "$"):
            continue  # 5m, 1e3; a Grafana variable
        names.add(match.group())
    return names


def test_the_expression_reader_finds_metric_names_only() -> None:
    expression = ('histogram_quantile(0.99, sum by (le) (rate(chatserver_message_ack_seconds_bucket'
                  '{instance=~"$instance", code!="x"}[$__rate_interval]))) > 0.5 and on (instance) up == 1 '
                  'or max without (department) (chatserver_chats_oldest_wait_seconds offset 5m) > 3e2')
    assert metric_names(expression) == {"chatserver_message_ack_seconds_bucket", "up",
                                        "chatserver_chats_oldest_wait_seconds"}


def _dashboard_expressions() -> list[str]:
    def walk(node: Any) -> Iterable[str]:
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                yield node["expr"]
            if node.get("type") == "query":  # a variable: label_values(METRIC, LABEL) reads METRIC
                yield re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", node["query"])
            for child in node.values():
                yield from walk(child)
        elif isinstance(node, list):
            for child in node:
                yield from walk(child)

    return list(walk(json.loads(DASHBOARD.read_text())))


def _rule_expressions() -> list[str]:
    rules = yaml.safe_load(RULES.read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


async def test_every_metric_of_the_dashboard_and_the_alert_rules_is_on_the_page(metered: LiveServer) -> None:
    # A chat first, so that the labelled series exist.
    shopper = await visitor(metered)
    cid = (await shopper.call("chat:start", prechat(1)))["conversation"]["id"]
    console = await agent(metered, await metered.add_agent("Alice"))
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "v-1", "body": "Hi"})
    await shopper.call("message:send", {"conversation_id": cid})  # refused: invalid_payload
    on_page = {name for name, _ in await scrape(metered)}

    dashboard, rules = _dashboard_expressions(), _rule_expressions()
    assert len(dashboard) >= 12 and len(rules) >= 4
    used = {name for expression in dashboard + rules for name in metric_names(expression)}
    assert len(used) >= 15
    assert sorted(used - on_page - PROMETHEUS_OWN) == []
    # The alerts the docs promise: queue wait, error rate, readiness, outbox failures.
    alerts = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}
    assert {"ChatQueueWaitHigh", "ChatErrorRateHigh", "ChatServerNotReady", "ChatOutboxFailures"} <= alerts
