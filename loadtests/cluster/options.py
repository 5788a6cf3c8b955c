"""The command-line options a distributed run adds to Locust's, checked in one place."""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import LoadTestError
from ..server import check_target_url, read_admin_credentials
from .profiles import PROFILES, Profile

ADMIN_EMAIL_ENV = "CHATLOAD_ADMIN_EMAIL"
ADMIN_PASSWORD_ENV = "CHATLOAD_ADMIN_PASSWORD"
CLIENTS = ("lean", "python-socketio")


def add_arguments(parser: Any) -> None:
    """Add the options to Locust's parser (``init_command_line_parser``). A worker gets their
    values from the master; ``--admin-file`` is read on each machine."""
    group = parser.add_argument_group("chatserver", "the chat load (docs/loadtesting.md)")
    group.add_argument("--target-urls", default="",
                       help="comma-separated chat server URLs, each pair on one in turn (default: --host)")
    group.add_argument("--allow-remote", action="store_true", default=False,
                       help="allow targets that are not loopback addresses (a staging cluster of your own)")
    group.add_argument("--admin-file", default="",
                       help=f"an admin's first-admin.txt (email/password lines); or set {ADMIN_EMAIL_ENV} "
                            f"and {ADMIN_PASSWORD_ENV}")
    group.add_argument("--load-profile", choices=PROFILES, default="ramp", help="load profile (default ramp)")
    group.add_argument("--pairs", type=int, default=10, help="visitor/agent pairs at the plateau (10)")
    group.add_argument("--ramp-up", type=float, default=10.0, help="seconds to reach --pairs (10)")
    group.add_argument("--duration", type=float, default=60.0,
                       help="seconds: ramp: at --pairs after the ramp-up; steps, spike: the whole run (60)")
    group.add_argument("--step-pairs", type=int, default=10, help="steps: pairs added per step (10)")
    group.add_argument("--step-seconds", type=float, default=30.0, help="steps: seconds per step (30)")
    group.add_argument("--spike-pairs", type=int, default=100, help="spike: pairs during the spike (100)")
    group.add_argument("--spike-at", type=float, default=30.0, help="spike: seconds before the spike (30)")
    group.add_argument("--spike-seconds", type=float, default=10.0, help="spike: its length in seconds (10)")
    group.add_argument("--hours", type=float, default=1.0, help="soak: hours at --pairs after the ramp-up (1)")
    group.add_argument("--pace", type=float, default=1.0,
                       help="round trips a second per pair (1); 0: the next as soon as the answer is back")
    group.add_argument("--reconnect-every", type=int, default=20,
                       help="every Nth round drops the visitor and resumes (20); 0: never")
    group.add_argument("--client", choices=CLIENTS, default="lean",
                       help="the Socket.IO client: lean (lean.py, the default: the least CPU per message) or "
                            "python-socketio (its synchronous client)")
    group.add_argument("--chat-timeout", type=float, default=10.0,
                       help="seconds to wait for an acknowledgement, an answer or a catch-up (10)")
    group.add_argument("--drain-timeout", type=float, default=30.0,
                       help="seconds the pairs have to finish after the profile ends (30)")
    group.add_argument("--chat-report", default="", help="write the merged figures to this JSON file (master)")
    group.add_argument("--prometheus-port", type=int, default=0,
                       help="serve the run's metrics for Prometheus on this port of the master (0: off)")
    group.add_argument("--prometheus-host", default="127.0.0.1", help="address of --prometheus-port (127.0.0.1)")


@dataclass(frozen=True)
class ClusterOptions:
    target_urls: tuple[str, ...]
    admin_email: str
    admin_password: str
    profile: Profile
    pace: float
    client: str
    reconnect_every: int
    timeout: float
    drain_timeout: float
    chat_report: str | None
    prometheus_host: str
    prometheus_port: int

    @classmethod
    def from_parsed(cls, options: argparse.Namespace, env: Mapping[str, str]) -> ClusterOptions:
        """Check the options; a ``ValueError`` says every problem found."""
        problems: list[str] = []
        urls = [u.strip() for u in (options.target_urls or options.host or "").split(",") if u.strip()]
        if not urls:
            problems.append("give --target-urls (or --host): the chat servers to load")
        targets = []
        for url in urls:
            try:
                targets.append(check_target_url(url, allow_remote=options.allow_remote))
            except LoadTestError as exc:
                problems.append(str(exc))
        email, password = env.get(ADMIN_EMAIL_ENV, ""), env.get(ADMIN_PASSWORD_ENV, "")
        if options.admin_file:
            try:
                email, password = read_admin_credentials(Path(options.admin_file))
            except LoadTestError as exc:
                problems.append(str(exc))
        elif not (email and password):
            problems.append(f"give --admin-file or {ADMIN_EMAIL_ENV} and {ADMIN_PASSWORD_ENV}: pairs' agents "
                            "are created through the admin API")
        profile = None
        try:
            profile = Profile(kind=options.load_profile, pairs=options.pairs, ramp_up=options.ramp_up,
                              duration=options.duration, step_pairs=options.step_pairs,
                              step_seconds=options.step_seconds, spike_pairs=options.spike_pairs,
                              spike_at=options.spike_at, spike_seconds=options.spike_seconds, hours=options.hours)
        except ValueError as exc:
            problems.append(str(exc))
        if not (options.pace >= 0 and math.isfinite(options.pace)):
            problems.append("--pace must be 0 or more round trips a second")
        if options.reconnect_every < 0:
            problems.append("--reconnect-every must be 0 (never) or more")
        for name in ("chat_timeout", "drain_timeout"):
            value = getattr(options, name)
            if not (value > 0 and math.isfinite(value)):
                problems.append(f"--{name.replace('_', '-')} must be a positive number of seconds")
        if not 0 <= options.prometheus_port <= 65535:
            problems.append("--prometheus-port must be a TCP port (0: off)")
        if problems:
            raise ValueError("; ".join(problems))
        assert profile is not None
        return cls(target_urls=tuple(targets), admin_email=email, admin_password=password, profile=profile,
                   pace=options.pace, client=options.client, reconnect_every=options.reconnect_every,
                   timeout=options.chat_timeout,
                   drain_timeout=options.drain_timeout, chat_report=options.chat_report or None,
                   prometheus_host=options.prometheus_host, prometheus_port=options.prometheus_port)


__all__ = ["ADMIN_EMAIL_ENV", "ADMIN_PASSWORD_ENV", "ClusterOptions", "add_arguments"]
