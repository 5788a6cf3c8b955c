"""Distributed chat load on Locust: ``locust -f loadtests/cluster/locustfile.py`` on a master and
on each worker (docs/loadtesting.md, "Several machines").

Each Locust user is one visitor/agent pair (pair.py) on one of ``--target-urls``; a round trip,
a resume and a chat's start and end are Locust requests, which Locust merges across workers. The
chat checks' counters (checks.py) and each worker's CPU time ride on the worker's stats report to
the master (Locust's ``report_to_master``/``worker_report`` events; the last report follows the
users' ``on_stop``), where they are summed. The load follows ``--profile`` (profiles.py); when it
ends every pair closes its chat and the run stops once every worker has reported none left.
The master writes ``--chat-report`` (JSON) and serves ``--prometheus-port``.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import uuid
from pathlib import Path
from typing import Any

from locust import LoadTestShape, User, constant_pacing, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from loadtests.cluster.checks import ChatCounters
from loadtests.cluster.exporter import start_exporter
from loadtests.cluster.options import ClusterOptions, add_arguments
from loadtests.cluster.pair import AdminSession, ChatFailure, ChatPair

log = logging.getLogger("loadtests.cluster")
RUN_ID = uuid.uuid4().hex[:8]  # this process's: agents' emails are unique across machines
COUNTERS = ChatCounters()  # this process's pairs, since its last report
# A worker whose last pair has finished sends its counts at once (a custom message), rather than
# with its next stats report up to 3 s later: the run ends as soon as every worker has.
DRAINED = "chat_drained"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Totals:
    """What the master (or a single process) adds up over the run."""

    def __init__(self) -> None:
        self.checks = ChatCounters()
        self.by_worker: dict[str, dict[str, Any]] = {}
        self.active_pairs = 0  # this process's pairs between on_start and the end of on_stop
        self.cpu_from = _cpu_seconds()
        self.cpu_reported = self.cpu_from

    def worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        if "chat_checks" not in data:
            return
        worker = self.by_worker.setdefault(client_id, {"checks": ChatCounters(), "cpu_s": 0.0, "active_pairs": 0})
        self.checks.add(data["chat_checks"])
        worker["checks"].add(data["chat_checks"])
        worker["cpu_s"] += float(data["chat_cpu_s"])
        worker["active_pairs"] = int(data["chat_active_pairs"])

    def take_local(self) -> None:
        """A run without workers: this process's counters are the run's."""
        self.checks.add(COUNTERS.take())

    def current(self, runner: Any) -> ChatCounters:
        """The run's counts so far."""
        if not isinstance(runner, MasterRunner):
            self.take_local()
        return self.checks

    def drained(self, runner: Any) -> bool:
        """Every pair has finished and its counts are in."""
        if isinstance(runner, MasterRunner):
            return runner.user_count == 0 and all(w["active_pairs"] == 0 for w in self.by_worker.values())
        return self.active_pairs == 0


TOTALS = Totals()
SETTINGS: ClusterOptions | None = None
_admins: dict[str, AdminSession] = {}
_users_started = 0


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    add_arguments(parser)


@events.init.add_listener
def _init(environment: Environment, **_: Any) -> None:
    global SETTINGS
    # This process's CPU from here on: a worker that --processes forked has its parent's figures
    # in TOTALS, and its own getrusage starts from zero.
    TOTALS.cpu_from = TOTALS.cpu_reported = _cpu_seconds()
    if isinstance(environment.runner, WorkerRunner):
        environment.events.report_to_master.add_listener(_report_to_master)
        return  # its options come from the master with each spawn message (_settings)
    assert environment.parsed_options is not None
    try:
        SETTINGS = ClusterOptions.from_parsed(environment.parsed_options, os.environ)
    except ValueError as exc:
        log.error("%s", exc)
        raise SystemExit(2) from None
    if isinstance(environment.runner, MasterRunner):
        environment.events.worker_report.add_listener(TOTALS.worker_report)
        environment.runner.register_message(
            DRAINED, lambda environment, msg, **_: TOTALS.worker_report(msg.node_id, msg.data))
    if SETTINGS.prometheus_port:
        start_exporter(SETTINGS.prometheus_host, SETTINGS.prometheus_port, environment, TOTALS)


def _settings(environment: Environment) -> ClusterOptions:
    global SETTINGS
    if SETTINGS is None:  # a worker: the master's options arrived with the first spawn message
        assert environment.parsed_options is not None
        SETTINGS = ClusterOptions.from_parsed(environment.parsed_options, os.environ)
    return SETTINGS


def _report_to_master(client_id: str, data: dict[str, Any]) -> None:
    """Add this worker's counts since its last report to its stats report (every 3 s)."""
    now = _cpu_seconds()
    data["chat_checks"] = COUNTERS.take()
    data["chat_cpu_s"] = now - TOTALS.cpu_reported
    data["chat_active_pairs"] = TOTALS.active_pairs
    TOTALS.cpu_reported = now


@events.test_start.add_listener
def _test_start(environment: Environment, **_: Any) -> None:
    TOTALS.cpu_from = TOTALS.cpu_reported = _cpu_seconds()


@events.quitting.add_listener
def _quitting(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or SETTINGS is None:
        return
    if not isinstance(environment.runner, MasterRunner):
        TOTALS.take_local()
    report = chat_report(environment)
    if SETTINGS.chat_report is not None:
        Path(SETTINGS.chat_report).write_text(json.dumps(report, indent=2) + "\n")
    checks = report["chat_checks"]
    log.info("chat checks: %s delivered, %s duplicates, %s out of order, %s lost, %s resumes (%s incomplete); "
             "generator CPU %s us per message", checks["delivered"], checks["duplicates"], checks["out_of_order"],
             checks["lost"], checks["resumes"], checks["resumes_incomplete"],
             report["cpu"]["generator_us_per_message"])
    if not report["passed"]:
        assert environment.parsed_options is not None
        environment.process_exit_code = environment.parsed_options.exit_code_on_error


def chat_report(environment: Environment) -> dict[str, Any]:
    """The merged figures of the run."""
    assert SETTINGS is not None and environment.runner is not None
    stats = environment.runner.stats
    requests = {}
    for entry in sorted(stats.entries.values(), key=lambda e: e.name):
        requests[entry.name] = {
            "count": entry.num_requests, "failures": entry.num_failures,
            "p50_ms": entry.get_response_time_percentile(0.5), "p99_ms": entry.get_response_time_percentile(0.99),
            "max_ms": round(entry.max_response_time or 0, 3), "per_s": round(entry.total_rps, 2),
        }
    own_cpu = _cpu_seconds() - TOTALS.cpu_from
    workers_cpu = sum(w["cpu_s"] for w in TOTALS.by_worker.values())
    generator_cpu = workers_cpu + own_cpu
    delivered = TOTALS.checks.delivered
    return {
        "profile": SETTINGS.profile.__dict__, "targets": list(SETTINGS.target_urls),
        "pace_per_pair": SETTINGS.pace, "reconnect_every": SETTINGS.reconnect_every,
        "workers": {client_id: {**w["checks"].as_dict(), "cpu_s": round(w["cpu_s"], 3)}
                    for client_id, w in sorted(TOTALS.by_worker.items())},
        "requests": requests,
        "failures": {f"{e.name}: {e.error}": e.occurrences for e in stats.errors.values()},
        "chat_checks": TOTALS.checks.as_dict(),
        "cpu": {"master_s": round(own_cpu, 3), "workers_s": round(workers_cpu, 3),
                "generator_us_per_message": round(generator_cpu / delivered * 1e6, 1) if delivered else None},
        "passed": delivered > 0 and TOTALS.checks.failures == 0 and stats.total.num_failures == 0,
    }


def _admin(environment: Environment, url: str) -> AdminSession:
    settings = _settings(environment)
    if url not in _admins:
        _admins[url] = AdminSession(url, settings.admin_email, settings.admin_password)
    return _admins[url]


class ChatPairUser(User):
    """A visitor and its agent exchanging messages (pair.py), every ``--reconnect-every``-th round
    across a reconnect of the visitor."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        global _users_started
        settings = _settings(environment)
        self.settings = settings
        self._pacing = constant_pacing(1 / settings.pace) if settings.pace > 0 else None
        index = (getattr(environment.runner, "worker_index", 0) or 0) + _users_started
        _users_started += 1
        self.url = settings.target_urls[index % len(settings.target_urls)]
        self.pair: ChatPair | None = None
        self.rounds = 0

    def wait_time(self) -> float:
        return float(self._pacing(self)) if self._pacing is not None else 0.0

    def on_start(self) -> None:
        TOTALS.active_pairs += 1
        pair = ChatPair(self.url, _admin(self.environment, self.url), COUNTERS, self.environment.events.request.fire,
                        RUN_ID, timeout=self.settings.timeout, lean=self.settings.client == "lean")
        self.pair = pair
        try:
            pair.start()
        except ChatFailure:
            pass  # reported as a failed "chat start"; the pair stops (on_stop cleans up)
        except Exception:
            log.exception("a pair failed to start")  # a bug here: the pair stops, on_stop cleans up

    @task
    def exchange(self) -> None:
        if self.pair is None or self.pair.cid is None:
            raise StopUser
        self.rounds += 1
        if self.settings.reconnect_every and self.rounds % self.settings.reconnect_every == 0:
            self.pair.resume()
        else:
            self.pair.round_trip()

    def on_stop(self) -> None:
        try:
            if self.pair is not None:
                self.pair.finish()
        finally:
            TOTALS.active_pairs -= 1
            runner = self.environment.runner
            if TOTALS.active_pairs == 0 and isinstance(runner, WorkerRunner):
                counts: dict[str, Any] = {}
                _report_to_master(runner.client_id, counts)
                runner.send_message(DRAINED, counts)


class ChatLoadShape(LoadTestShape):
    """``--profile``; then every pair stops and the run ends when all their counts are in (or
    ``--drain-timeout`` later)."""

    def tick(self) -> tuple[int, float] | None:
        assert SETTINGS is not None
        t = self.get_run_time()
        stage = SETTINGS.profile.at(t)
        if stage is not None:
            return stage
        if not isinstance(self.runner, MasterRunner) and self.runner is not None and self.runner.user_count == 0:
            TOTALS.take_local()
        if self.runner is not None and TOTALS.drained(self.runner):
            return None
        if t > SETTINGS.profile.total_seconds + SETTINGS.drain_timeout:
            log.warning("pairs still running %.0f s after the profile ended: stopping", SETTINGS.drain_timeout)
            return None
        return 0, float(max(SETTINGS.profile.peak_pairs, 1))


__all__ = ["ChatLoadShape", "ChatPairUser", "chat_report"]
