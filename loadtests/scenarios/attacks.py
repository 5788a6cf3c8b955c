"""Attacks on the server's resources, and whether it returns to where it was (issue 18).

Each attack is one a hostile client can make with no account: free visitor tokens, or no token
at all. It runs at ``--scale`` times the size that hurt the server before issue 18 (the unit each
attack names), while the server's resident memory and open file descriptors are sampled, and a
well-behaved visitor connected from another loopback address (127.0.0.2) checks that the server
still serves others: a ``session:resume`` round trip on its connection and a new HTTP connection
(``GET /healthz``) every half second. After the attack, the attacker's connections are closed and
the server is given ``--settle`` seconds to return to its baseline (memory within
``--rss-margin-mb``, descriptors within ``--fd-margin``). An attack passes when the server's
memory grew by at most ``--peak-margin-mb`` during it, it returned to its baseline after, the
probe never failed, the server's log gained no traceback, and the attacker saw none of
``UNSERVED`` (a request left unanswered, an acknowledgement never sent, a half-sent request
kept open until the attacker let go).

- ``attachments`` (unit: 512 MB): a binary event declaring 9,999,999,999 attachments, then
  binary frames of 900 KB; reconnecting with a new token whenever the server closes.
- ``oversize-post`` (unit: 300 requests): long-polling POSTs declaring and sending a body over
  ``max_http_buffer_size``, each on a new Engine.IO session, the client closing after 5 s.
- ``slow-headers`` (unit: 1,000 connections): connections that send a request's headers one line
  every 10 s, held for ``--hold`` seconds.
- ``unread-pings`` (unit: 64 MB): WebSocket ping frames from a client that never reads.
- ``bad-placeholders`` (unit: 165 kB): binary events whose placeholders point nowhere (a number
  out of range, a string, null), each followed by an attachment and by an ordinary event asking
  for an acknowledgement; the acknowledgements that come back are counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from ..clients import VISITOR_NAMESPACE, Api
from ..errors import LoadTestError
from ..procmon import read_usage
from ..raw import OP_PING, Closed, RawWebSocket, frame, host_port, open_connection
from ..server import Target
from ..stats import Summary

NAME = "attacks"
ATTACKS = ("attachments", "oversize-post", "slow-headers", "unread-pings", "bad-placeholders")
UNITS = {"attachments": 512 * 2**20, "oversize-post": 300, "slow-headers": 1000, "unread-pings": 64 * 2**20,
         "bad-placeholders": 165 * 1024}
PROBE_ADDRESS = "127.0.0.2"
# What the attacker counts that a server holding up must not let happen: requests never
# answered, acknowledgements never sent, half-sent requests kept open for as long as they last.
UNSERVED = ("unanswered", "closed_unanswered", "unacknowledged", "still_open_at_end")
MAX_HTTP_BUFFER_SIZE = 1_000_000  # the server's default (docs/configuration.md)
STALL = 10.0  # a write that has not drained for this long: the server stopped reading


@dataclass(frozen=True)
class AttacksConfig:
    attacks: tuple[str, ...] = ATTACKS
    scale: float = 10.0
    attack_seconds: float = 90.0
    hold: float = 30.0
    settle: float = 30.0
    rss_margin_mb: float = 16.0
    fd_margin: int = 2
    peak_margin_mb: float = 64.0

    def check(self) -> None:
        unknown = set(self.attacks) - set(ATTACKS)
        if unknown or not self.attacks:
            raise LoadTestError(f"--attack must name some of {', '.join(ATTACKS)}")
        if not 0 < self.scale <= 100 or self.attack_seconds <= 0 or self.hold <= 0 or self.settle < 0:
            raise LoadTestError("--scale must be in (0, 100], --attack-seconds and --hold positive, --settle >= 0")

    def clients(self) -> int:
        return 1  # the probe; the attackers' raw connections are not Socket.IO clients of this tester

    def send_rate(self) -> float:
        return 0.0

    def server_settings(self) -> dict[str, str]:
        # The load tests lift the per-address connection cap (their clients all come from
        # 127.0.0.1); the attacker comes from there and the probe from elsewhere: the default.
        return {"max_connections_per_address": "128"}

    def size(self, attack: str) -> int:
        return int(UNITS[attack] * self.scale)

    def describe(self) -> str:
        return (f"attacks at {self.scale:g} x the size that hurt before issue 18: {', '.join(self.attacks)}; "
                f"server memory and descriptors before, during and {self.settle:g} s after each")


@dataclass
class Reading:
    rss_mb: float
    fds: int

    @classmethod
    def of(cls, pid: int) -> Reading | None:
        usage = read_usage(pid)
        try:
            fds = len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            return None
        return None if usage is None else cls(rss_mb=round(usage[1] / 2**20, 1), fds=fds)


@dataclass
class AttackOutcome:
    name: str
    size: int
    before: Reading
    peak: Reading
    after: Reading | None = None
    settled_in_s: float | None = None
    duration_s: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)
    probe_failures: Counter[str] = field(default_factory=Counter)
    probe_max_ms: float = 0.0
    log_bytes: int | None = None
    log_tracebacks: int | None = None
    passed: bool = False


class _Monitor:
    """The server's memory and descriptors every 0.2 s; the peak of each since ``reset``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = Reading(0.0, 0)
        self._task: asyncio.Task[None] | None = None

    def reset(self, start: Reading) -> None:
        self.peak = start

    def sample(self) -> None:
        reading = Reading.of(self.pid)
        if reading is not None:
            self.peak = Reading(max(self.peak.rss_mb, reading.rss_mb), max(self.peak.fds, reading.fds))

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.2)

    def __enter__(self) -> _Monitor:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()


class _Probe:
    """A well-behaved visitor from another address: its round trips and new connections."""

    def __init__(self, target: Target, token: str) -> None:
        self.target = target
        self.token = token
        self.failures: Counter[str] = Counter()
        self.max_ms = 0.0
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(PROBE_ADDRESS, 0), limit=0),
            timeout=aiohttp.ClientTimeout(total=5))
        self._sio = socketio.AsyncClient(reconnection=False, handle_sigint=False, http_session=self._http)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._sio.connect(self.target.url, namespaces=[VISITOR_NAMESPACE], auth={"token": self.token},
                                transports=["websocket"], wait_timeout=10)
        self._task = asyncio.get_running_loop().create_task(self._run())

    def reset(self) -> None:
        self.failures = Counter()
        self.max_ms = 0.0

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            try:
                if not self._sio.connected:
                    await self._sio.connect(self.target.url, namespaces=[VISITOR_NAMESPACE],
                                            auth={"token": self.token}, transports=["websocket"], wait_timeout=5)
                    self.failures["reconnected"] += 1
                ack = await self._sio.call("session:resume", {}, namespace=VISITOR_NAMESPACE, timeout=5)
                if not (isinstance(ack, dict) and ack.get("ok")):
                    self.failures["resume_refused"] += 1
            except Exception as exc:
                self.failures[f"resume_{type(exc).__name__}"] += 1
            try:
                # A new connection each time (no keep-alive): what a new shopper's first request needs.
                async with self._http.get(self.target.url + "/healthz", headers={"Connection": "close"}) as resp:
                    if resp.status != 200:
                        self.failures[f"healthz_{resp.status}"] += 1
            except Exception as exc:
                self.failures[f"healthz_{type(exc).__name__}"] += 1
            self.max_ms = max(self.max_ms, (time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.5)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self._sio.disconnect()
        await self._http.close()


# -- the attacks --------------------------------------------------------------------------------


async def _visitor_socket(api: Api, url: str) -> RawWebSocket:
    ws = await RawWebSocket.open(url)
    await ws.join(VISITOR_NAMESPACE, await api.visitor_token())
    return ws


async def _drain(ws: RawWebSocket, counts: Counter[str]) -> bool:
    """Wait for the writes to go out; ``False`` (counted) when the server stopped reading."""
    try:
        await asyncio.wait_for(ws.drain(), STALL)
        return True
    except TimeoutError:
        counts["server_stopped_reading"] += 1
        return False


async def attack_attachments(api: Api, url: str, size: int, deadline: float, counts: Counter[str]) -> None:
    chunk = b"\x00" * 900_000
    header = '459999999999-/visitor,["cobrowse:events",{"session_id":"s","data":{"_placeholder":true,"num":0}}]'
    while counts["bytes_sent"] < size and time.monotonic() < deadline:
        try:
            ws = await _visitor_socket(api, url)
        except Closed:
            counts["refused"] += 1
            await asyncio.sleep(0.1)  # refused (the address's sessions at the cap, say): not a busy loop
            continue
        counts["connections"] += 1
        try:
            ws.send_text(header)
            while counts["bytes_sent"] < size and time.monotonic() < deadline:
                ws.send_binary(chunk)
                counts["bytes_sent"] += len(chunk)
                if not await _drain(ws, counts):
                    break
        except Closed:
            counts["closed_by_server"] += 1
        finally:
            ws.close()


async def _http_response(reader: asyncio.StreamReader, within: float) -> tuple[int, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), within)
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await asyncio.wait_for(reader.readexactly(length), within) if length else b""
    return status, body


async def _one_oversize_post(url: str, counts: Counter[str]) -> None:
    host, port = host_port(url)
    reader, writer = await open_connection(url)
    try:
        writer.write(f"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        status, body = await _http_response(reader, 10)
        if status != 200:
            counts[f"handshake_refused_{status}"] += 1
            return
        sid = body.decode().split('"sid":"', 1)[1].split('"', 1)[0]
        length = MAX_HTTP_BUFFER_SIZE + 1
        writer.write(f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                     f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {length}\r\n\r\n".encode())
        writer.write(b"4" + b"a" * (length - 1))
        started = time.perf_counter()
        try:
            await asyncio.wait_for(writer.drain(), 5)
            status, _ = await _http_response(reader, 5)
            counts[f"answered_{status}"] += 1
            counts["answer_ms_max"] = max(counts["answer_ms_max"], int((time.perf_counter() - started) * 1000))
        except TimeoutError:
            counts["unanswered"] += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            counts["closed_unanswered"] += 1
    except (OSError, asyncio.IncompleteReadError, TimeoutError, IndexError, ValueError):
        counts["handshake_failed"] += 1
    finally:
        writer.close()


async def attack_oversize_post(api: Api, url: str, size: int, deadline: float, counts: Counter[str]) -> None:
    remaining = size
    while remaining > 0 and time.monotonic() < deadline:
        batch = min(remaining, 100)
        await asyncio.gather(*(_one_oversize_post(url, counts) for _ in range(batch)))
        remaining -= batch


async def attack_slow_headers(api: Api, url: str, size: int, deadline: float, counts: Counter[str],
                              hold: float) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < size + 256 <= hard or (hard == resource.RLIM_INFINITY and soft < size + 256):
        resource.setrlimit(resource.RLIMIT_NOFILE, (size + 256, hard))
    host, port = host_port(url)
    held_until = min(deadline, time.monotonic() + hold)
    opened_at: list[float] = []

    async def one() -> None:
        try:
            reader, writer = await asyncio.wait_for(open_connection(url), 10)
        except (OSError, TimeoutError):
            counts["connect_failed"] += 1
            return
        counts["opened"] += 1
        started = time.monotonic()
        opened_at.append(started)
        try:
            writer.write(f"GET /healthz HTTP/1.1\r\nHost: {host}:{port}\r\n".encode())
            line = 0
            while time.monotonic() < held_until:
                try:
                    data = await asyncio.wait_for(reader.read(1024), min(10.0, max(0.1, held_until - time.monotonic())))
                except TimeoutError:
                    line += 1
                    writer.write(f"X-Slow-{line}: x\r\n".encode())
                    continue
                except ConnectionError:
                    data = b""
                counts["closed_by_server" if not data else
                       "refused_429" if data.startswith(b"HTTP/1.1 429") else "answered_early"] += 1
                counts["closed_after_s_max"] = max(counts["closed_after_s_max"], int(time.monotonic() - started))
                return
            counts["still_open_at_end"] += 1
        finally:
            writer.close()

    tasks = []
    for _ in range(size):
        if time.monotonic() >= held_until:
            break
        tasks.append(asyncio.ensure_future(one()))
        if len(tasks) % 200 == 0:
            await asyncio.sleep(0.05)
    await asyncio.gather(*tasks)


async def attack_unread_pings(api: Api, url: str, size: int, deadline: float, counts: Counter[str]) -> None:
    import socket as _socket

    batch = frame(OP_PING, b"p" * 125) * 8000  # about 1 MB of pings per write
    while counts["bytes_sent"] < size and time.monotonic() < deadline:
        try:
            ws = await RawWebSocket.open(url)
        except Closed:
            counts["refused"] += 1
            await asyncio.sleep(0.1)  # refused (the address's sessions at the cap, say): not a busy loop
            continue
        counts["connections"] += 1
        sock = ws.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVBUF, 4096)
        try:
            while counts["bytes_sent"] < size and time.monotonic() < deadline:
                ws.writer.write(batch)
                counts["bytes_sent"] += len(batch)
                if not await _drain(ws, counts):
                    return  # the server stopped reading: this attacker can do no more
        except Closed:
            counts["closed_by_server"] += 1
        finally:
            ws.close()


async def attack_bad_placeholders(api: Api, url: str, size: int, deadline: float, counts: Counter[str]) -> None:
    """Rounds of (a bad binary event, its attachment, an event asking for an ack) sent 100 at a
    time; then the acks that came back within 5 s are counted."""
    placeholders = ["7", '"0"', "null"]
    ws: RawWebSocket | None = None
    n = 0
    while counts["bytes_sent"] < size and time.monotonic() < deadline:
        if ws is None:
            try:
                ws = await _visitor_socket(api, url)
            except Closed:
                counts["refused"] += 1
                await asyncio.sleep(0.1)
                continue
            counts["connections"] += 1
        first = n + 1
        for _ in range(100):
            n += 1
            num = placeholders[n % len(placeholders)]
            bad = f'451-/visitor,["cobrowse:events",{{"session_id":"s","data":{{"_placeholder":true,"num":{num}}}}}]'
            ask = f'42/visitor,{n}["session:resume",{{}}]'
            ws.send_text(bad)
            ws.send_binary(b"\x01" * 16)
            ws.send_text(ask)
            counts["bytes_sent"] += len(bad) + 16 + len(ask)
        try:
            await ws.drain()
            acks: set[str] = set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    while len(acks) < n - first + 1:
                        answer = await ws.read_text(5)
                        if answer.startswith("43/visitor,"):
                            acks.add(answer[len("43/visitor,"):].split("[", 1)[0])
            counts["acknowledged"] += len(acks)
            counts["unacknowledged"] += n - first + 1 - len(acks)
        except Closed:
            counts["closed_by_server"] += 1
            ws.close()
            ws = None
    if ws is not None:
        ws.close()


# -- the run ------------------------------------------------------------------------------------


def _log_size(path: Path | None) -> int | None:
    try:
        return path.stat().st_size if path is not None else None
    except OSError:
        return None


def _log_tracebacks(path: Path | None, offset: int | None) -> int | None:
    if path is None or offset is None:
        return None
    with path.open("rb") as fh:
        fh.seek(offset)
        return fh.read().count(b"Traceback (most recent call last)")


async def _settle(pid: int, before: Reading, config: AttacksConfig) -> tuple[Reading | None, float | None]:
    started = time.monotonic()
    reading = Reading.of(pid)
    while reading is not None:
        if reading.rss_mb <= before.rss_mb + config.rss_margin_mb and reading.fds <= before.fds + config.fd_margin:
            return reading, round(time.monotonic() - started, 1)
        if time.monotonic() - started >= config.settle:
            return reading, None
        await asyncio.sleep(0.5)
        reading = Reading.of(pid)
    return None, None


@dataclass
class AttacksResult:
    config: AttacksConfig
    outcomes: list[AttackOutcome] = field(default_factory=list)
    complete: bool = True
    inconclusive = False  # a miss is a miss: no run is too small to judge

    @property
    def passed(self) -> bool:
        return self.complete and all(o.passed for o in self.outcomes)

    def summaries(self) -> dict[str, Summary]:
        return {}

    def as_report(self) -> dict[str, Any]:
        return {"measures": self.config.describe(), "config": asdict(self.config), "complete": self.complete,
                "attacks": [{**asdict(o), "counts": dict(o.counts), "probe_failures": dict(o.probe_failures)}
                            for o in self.outcomes],
                "target": {"passed": self.passed}}


async def run(target: Target, config: AttacksConfig, deadline: float, progress: bool = True) -> AttacksResult:
    if target.pid is None:
        raise LoadTestError("the attacks read the server's memory and descriptors: start the server here, or give "
                            "--server-pid with --url")
    result = AttacksResult(config=config)
    runners = {"attachments": attack_attachments, "oversize-post": attack_oversize_post,
               "unread-pings": attack_unread_pings, "bad-placeholders": attack_bad_placeholders}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        api = Api(http, target.url)
        probe = _Probe(target, await api.visitor_token())
        await probe.start()
        try:
            with _Monitor(target.pid) as monitor:
                await asyncio.sleep(1.0)  # the probe's first rounds: its connection is part of the baseline
                for name in config.attacks:
                    if time.monotonic() >= deadline:
                        result.complete = False
                        break
                    before = Reading.of(target.pid)
                    if before is None:
                        raise LoadTestError("the server is gone")
                    monitor.reset(before)
                    probe.reset()
                    log_offset = _log_size(target.log_path)
                    outcome = AttackOutcome(name=name, size=config.size(name), before=before, peak=before)
                    if progress:
                        print(f"{name}: {outcome.size:,} (RSS {before.rss_mb} MB, {before.fds} fds before)", flush=True)
                    started = time.monotonic()
                    attack_deadline = min(deadline, started + config.attack_seconds)
                    if name == "slow-headers":
                        await attack_slow_headers(api, target.url, outcome.size, attack_deadline, outcome.counts,
                                                  config.hold)
                    else:
                        await runners[name](api, target.url, outcome.size, attack_deadline, outcome.counts)
                    outcome.duration_s = round(time.monotonic() - started, 1)
                    monitor.sample()  # an attack shorter than the sampling interval
                    outcome.peak = monitor.peak
                    outcome.probe_failures = probe.failures
                    outcome.probe_max_ms = round(probe.max_ms, 1)
                    outcome.after, outcome.settled_in_s = await _settle(target.pid, before, config)
                    end = _log_size(target.log_path)
                    outcome.log_bytes = None if end is None or log_offset is None else end - log_offset
                    outcome.log_tracebacks = _log_tracebacks(target.log_path, log_offset)
                    outcome.passed = (outcome.settled_in_s is not None and not outcome.probe_failures
                                      and not outcome.log_tracebacks
                                      and outcome.peak.rss_mb <= before.rss_mb + config.peak_margin_mb
                                      and not any(outcome.counts[c] for c in UNSERVED))
                    result.outcomes.append(outcome)
                    if progress:
                        print(format_outcome(outcome), flush=True)
        finally:
            await probe.close()
    return result


def format_outcome(o: AttackOutcome) -> str:
    after = f"{o.after.rss_mb} MB, {o.after.fds} fds" if o.after else "server gone"
    settled = f"back within {o.settled_in_s} s" if o.settled_in_s is not None else "NOT back to baseline"
    probe = ", ".join(f"{k} {v}" for k, v in sorted(o.probe_failures.items())) or "none"
    counts = ", ".join(f"{k} {v:,}" for k, v in sorted(o.counts.items()))
    log = "" if o.log_bytes is None else f"; log +{o.log_bytes:,} bytes, {o.log_tracebacks} tracebacks"
    return (f"  {o.name} ({o.duration_s} s): RSS {o.before.rss_mb} -> peak {o.peak.rss_mb} -> {after.split(',')[0]}; "
            f"fds {o.before.fds} -> peak {o.peak.fds} -> {o.after.fds if o.after else '?'}; {settled}\n"
            f"    attacker: {counts}\n    probe failures: {probe} (slowest round {o.probe_max_ms} ms){log}\n"
            f"    {'PASS' if o.passed else 'FAIL'}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = AttacksConfig()
    group = parser.add_argument_group("attacks")
    group.add_argument("--attack", action="append", choices=ATTACKS, dest="attacks",
                       help="run this attack (repeatable; default: all, in the order listed)")
    group.add_argument("--scale", type=float, default=defaults.scale,
                       help="times the size that hurt the server before issue 18 (%(default)s)")
    group.add_argument("--attack-seconds", type=float, default=defaults.attack_seconds,
                       help="stop each attack after this long, done or not (%(default)s)")
    group.add_argument("--hold", type=float, default=defaults.hold,
                       help="slow-headers: how long the attacker holds its connections (%(default)s)")
    group.add_argument("--settle", type=float, default=defaults.settle,
                       help="seconds the server has after an attack to return to its baseline (%(default)s)")
    group.add_argument("--rss-margin-mb", type=float, default=defaults.rss_margin_mb,
                       help="memory above the baseline still counted as back (%(default)s)")
    group.add_argument("--fd-margin", type=int, default=defaults.fd_margin,
                       help="descriptors above the baseline still counted as back (%(default)s)")
    group.add_argument("--peak-margin-mb", type=float, default=defaults.peak_margin_mb,
                       help="the most the server's memory may grow during an attack (%(default)s)")


def config_from(args: argparse.Namespace) -> AttacksConfig:
    return AttacksConfig(attacks=tuple(args.attacks or ATTACKS), scale=args.scale, attack_seconds=args.attack_seconds,
                         hold=args.hold, settle=args.settle, rss_margin_mb=args.rss_margin_mb,
                         fd_margin=args.fd_margin, peak_margin_mb=args.peak_margin_mb)


def format_result(result: AttacksResult) -> str:
    lines = [result.config.describe()]
    lines += [format_outcome(o) for o in result.outcomes]
    if not result.complete:
        lines.append("  INCOMPLETE: --max-duration ended the run")
    lines.append("PASS" if result.passed else "FAIL")
    return "\n".join(lines)
