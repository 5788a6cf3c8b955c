"""``python -m loadtests SCENARIO [options]`` (also installed as ``chatserver-load``).

Exit status: 0 the run completed and met its target, 3 it completed and missed the target,
4 it was too short to judge its target, 1 it could not run or finish, 2 bad arguments,
130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from .cleanup import CLEANUP_TIMEOUT, clean_up
from .errors import LoadTestError, UsageError
from .html import render as render_html
from .report import DEFAULT_REPORT_DIR, environment, server_source, write_report
from .scenarios import Scenario, ScenarioConfig, all_scenarios
from .server import ManagedServer, Target, check_target_url, kill_started_processes, read_admin_credentials

EXIT_PASS, EXIT_ERROR, EXIT_USAGE, EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
# Time allowed for stopping clients and the server after --max-duration before giving up.
SHUTDOWN_ALLOWANCE = 90.0


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip().lower().removeprefix("chatserver_"), value


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_argument_group("target")
    target.add_argument("--url", help="load an already running server (loopback only) instead of starting one")
    target.add_argument("--admin-file", type=Path,
                        help="with --url: the server's first-admin.txt (email and password of an admin)")
    target.add_argument("--allow-remote", action="store_true",
                        help="allow a --url that is not a loopback address (your own staging server only)")
    target.add_argument("--server-pid", type=int,
                        help="with --url: the server's process id, to sample its CPU and memory over the run "
                             "(same machine only)")
    target.add_argument("--redis-url", help="start the server with this Redis backend (default: embedded)")
    target.add_argument("--server-setting", type=_setting, action="append", default=[], metavar="NAME=VALUE",
                        help="a chatserver setting for the started server, e.g. queue_update_interval=0.25 "
                             "(repeatable; see docs/configuration.md)")
    target.add_argument("--server-log-level", default="INFO", help="log level of the started server (%(default)s)")
    target.add_argument("--profile-server", type=Path, metavar="FILE",
                        help="run the started server under cProfile and write the profile to FILE "
                             "(slows the server: for finding where time goes, not for the numbers)")
    target.add_argument("--server-fd-limit", type=int, metavar="N",
                        help="start the server with at most N open files (ulimit -n; default: this shell's)")
    target.add_argument("--keep-data", action="store_true",
                        help="keep the started server's data directory and log")
    bounds = parser.add_argument_group("bounds and output")
    bounds.add_argument("--max-clients", type=int, default=5000,
                        help="refuse to run a scenario that opens more connections than this (%(default)s)")
    bounds.add_argument("--max-duration", type=float, default=300.0,
                        help="stop measuring after this many seconds (%(default)s)")
    bounds.add_argument("--max-rate", type=float, default=50_000.0,
                        help="refuse to run a scenario that sends more than this many messages (or co-browse "
                             "batches) per second (%(default)s)")
    bounds.add_argument("--report-dir", type=Path, default=DEFAULT_REPORT_DIR,
                        help="where the JSON report goes (loadtests/reports/)")
    bounds.add_argument("--no-report", action="store_true", help="do not write a JSON report")
    bounds.add_argument("--quiet", action="store_true", help="print only the results")


def build_parser(scenarios: dict[str, Scenario]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m loadtests",
                                     description="Load tests for chatserver (docs/loadtesting.md)")
    commands = parser.add_subparsers(dest="scenario", required=True, metavar="SCENARIO")
    for name, scenario in scenarios.items():
        doc = (getattr(scenario, "__doc__", None) or name).strip()
        summary = " ".join(doc.split("\n\n", 1)[0].split())  # the first paragraph, however wrapped
        sub = commands.add_parser(name, help=summary, description=doc,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        scenario.add_arguments(sub)
        _common_arguments(sub)
        # A scenario whose default run takes longer than the common bounds allow raises them.
        sub.set_defaults(**getattr(scenario, "COMMON_DEFAULTS", {}))
    return parser


@contextlib.asynccontextmanager
async def _target(args: argparse.Namespace, config: ScenarioConfig,
                  cleanup: dict[str, Any]) -> AsyncIterator[Target]:
    """The server to load; a --url one is cleaned up on leaving (what was undone goes in ``cleanup``)."""
    if args.url is not None:
        if args.redis_url or args.server_setting or args.profile_server or args.server_fd_limit:
            raise LoadTestError("--redis-url, --server-setting, --profile-server and --server-fd-limit apply to a "
                                "server the load tester starts, not to --url")
        url = check_target_url(args.url, allow_remote=args.allow_remote)
        if args.admin_file is None:
            raise LoadTestError("--url needs --admin-file (the target's first-admin.txt) to create agents")
        email, password = read_admin_credentials(args.admin_file)
        target = Target(url=url, admin_email=email, admin_password=password, managed=False, pid=args.server_pid)
        try:
            yield target
        finally:
            # However the run ended (an interrupt cancels it: this still runs), the server is left as it was.
            cleanup.update(await _clean_up(target, args.quiet))
        return
    # compare runs the embedded build and, on --redis-url, a second server on Redis beside it.
    redis_url = None if getattr(config, "redis_target", False) else args.redis_url
    server = ManagedServer(redis_url=redis_url, settings={**config.server_settings(), **dict(args.server_setting)},
                           log_level=args.server_log_level, profile_to=args.profile_server, keep_data=args.keep_data,
                           fd_limit=args.server_fd_limit)
    async with server as target:
        if not args.quiet:
            print(f"started chatserver on {target.url} (pid {target.pid}, log {target.log_path})", flush=True)
        yield target


async def _clean_up(target: Target, quiet: bool) -> dict[str, Any]:
    """Undo what the run created on a server it did not start; say so, or what is left."""
    if not target.created:  # attacks, or a run refused before it made anything
        return {}
    try:
        async with asyncio.timeout(CLEANUP_TIMEOUT):
            done = await clean_up(target.url, target.admin_email, target.admin_password, target.created)
    except (LoadTestError, aiohttp.ClientError, TimeoutError) as exc:
        created = target.created
        print(f"loadtests: could not clean up the target ({exc!r}): left {len(created.agents)} agents (ids "
              f"{', '.join(sorted(created.agents)) or '-'}) and up to {len(created.conversations)} chats",
              file=sys.stderr, flush=True)
        return {"failures": [repr(exc)]}
    if done.failures:
        print(f"loadtests: {done.describe()}", file=sys.stderr, flush=True)
    elif not quiet:
        print(done.describe(), flush=True)
    return done.as_report()


async def _run(args: argparse.Namespace, scenario: Scenario) -> int:
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    config = scenario.config_from(args)
    config.check()
    if config.clients() > args.max_clients:
        raise LoadTestError(f"this run opens {config.clients()} connections, over --max-clients {args.max_clients}")
    rate = config.send_rate()
    if rate > args.max_rate:
        raise LoadTestError(f"this run sends {rate:g} messages/s, over --max-rate {args.max_rate:g}")
    started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    env_before = environment()
    deadline = time.monotonic() + args.max_duration
    # The clean-up of a --url target (on leaving _target) has its own time, outside the run's.
    cleanup: dict[str, Any] = {}
    async with _target(args, config, cleanup) as target:
        try:
            async with asyncio.timeout(args.max_duration + SHUTDOWN_ALLOWANCE):
                result = await scenario.run(target, config, deadline, progress=not args.quiet)
        except TimeoutError:
            raise LoadTestError(f"stopped: the run overran --max-duration {args.max_duration:g} s") from None
    print(scenario.format_result(result), flush=True)
    if not args.no_report:
        report: dict[str, Any] = {
            "scenario": scenario.NAME,
            "started_at": started_at,
            "command": ["python", "-m", "loadtests", *args.argv],
            "server": target.describe(),
            "server_source": server_source(),
            "environment": {"before": env_before, "after": environment()},
            **result.as_report(),
            "cleanup": cleanup or None,
        }
        path = write_report(args.report_dir, scenario.NAME, report)
        print(f"report: {path}")
        if "targets" in report:  # the chat scenarios: an HTML page with plots beside the JSON
            html_path = path.with_suffix(".html")
            html_path.write_text(render_html(report))
            print(f"report: {html_path}")
    if result.passed:
        return EXIT_PASS
    return EXIT_INCONCLUSIVE if result.inconclusive else EXIT_FAIL


def _check_target_options(args: argparse.Namespace) -> None:
    if args.server_pid is not None:
        if args.url is None:
            raise LoadTestError("--server-pid goes with --url (a server the load tester starts is sampled anyway)")
        if not os.path.exists(f"/proc/{args.server_pid}/stat"):
            raise LoadTestError(f"--server-pid {args.server_pid}: no such process on this machine")


def main(argv: Sequence[str] | None = None) -> int:
    scenarios = all_scenarios()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(scenarios).parse_args(argv)
    args.argv = argv
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        loop_factory = None
    try:
        _check_target_options(args)
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(_run(args, scenarios[args.scenario]))
    except UsageError as exc:
        print(f"loadtests: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LoadTestError as exc:
        print(f"loadtests: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("loadtests: interrupted; the server and clients it started were stopped (and with --url, what it "
              "created there undone)", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        kill_started_processes()


if __name__ == "__main__":
    raise SystemExit(main())
