"""How long stock clients take to be back after a process behind nginx restarts.

Two ``chatserver serve`` processes (route names a and b) on one Redis, on loopback, behind nginx
running the configuration docs/operations.md shows (tests/hosts.py renders it). CLIENTS
python-socketio clients (reconnection on, its default; half long-polling, half WebSocket) each
start a chat; process a gets SIGTERM and is started again at once. For the clients that were on
a, it prints the seconds from the SIGTERM until each was connected again and had a message
acknowledged, and how many were back within 5 s.

    sudo PYTHONPATH=$PWD .venv/bin/python scripts/restart_behind_nginx.py [--clients 20]

(nginx runs as root here, as in tests/test_nginx.py.)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import socketio

from chatserver.config import env_name
from tests.hosts import ROUTE_NAMES, Nginx
from tests.processes import ServerProcess
from tests.redis_server import RedisServer
from tests.stock_clients import StockVisitor


async def _back(shopper: StockVisitor, since: float) -> float:
    """Seconds from ``since`` until the client is back and a message of it is acknowledged."""
    while True:
        if shopper.back:
            try:
                if (await shopper.send(f"after-{time.monotonic()}"))["ok"]:
                    return time.monotonic() - since
            except (TimeoutError, ConnectionError, OSError, socketio.exceptions.SocketIOError):
                pass
        await asyncio.sleep(0.05)


async def measure(clients: int, directory: Path) -> None:
    redis = RedisServer(directory / "redis")
    redis.start()
    data = directory / "data"
    data.mkdir()
    env = {env_name("drain_period"): "1", env_name("trusted_proxies"): "127.0.0.1"}
    processes = {name: ServerProcess(data, redis.url, **env, **{env_name("route_name"): name}).start()
                 for name in ROUTE_NAMES}
    nginx = Nginx("127.0.0.1", [f"127.0.0.1:{p.port}" for p in processes.values()])
    nginx.start()
    sessions: list[aiohttp.ClientSession] = []
    shoppers: list[StockVisitor] = []
    try:
        for n in range(clients):
            http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=nginx.tls()))
            sessions.append(http)
            async with http.post(f"{nginx.url}/api/visitor/sessions") as resp:
                token = (await resp.json())["token"]
            shopper = await StockVisitor(nginx.url, token, ["polling"] if n % 2 else ["websocket"], http).connect()
            await shopper.start_chat(n)
            shoppers.append(shopper)
        on_a = [s for s in shoppers if s.sids[0].startswith("a-")]
        print(f"{len(on_a)} of {clients} clients on process a "
              f"({sum(1 for s in on_a if s.transports == ['polling'])} long-polling)")
        since = time.monotonic()
        stopped = asyncio.get_running_loop().run_in_executor(None, lambda: (processes["a"].stop(),
                                                                           processes["a"].start()))
        waits = [asyncio.ensure_future(_back(s, since)) for s in on_a]
        done, pending = await asyncio.wait(waits, timeout=60)
        await stopped
        times = sorted(w.result() for w in done)
        restart = time.monotonic() - since
        print(f"back: {len(times)} of {len(on_a)} within 60 s; within 5 s: {sum(t <= 5 for t in times)}")
        if times:
            print(f"seconds from SIGTERM: median {statistics.median(times):.2f}, max {max(times):.2f} "
                  f"(drain_period 1 s; stop + start took {restart:.2f} s in all)")
        for w in pending:
            w.cancel()
    finally:
        for shopper in shoppers:
            await shopper.sio.disconnect()
        for http in sessions:
            await http.close()
        nginx.remove()
        for process in processes.values():
            process.kill()
        redis.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chatserver-restart-") as directory:
        asyncio.run(measure(args.clients, Path(directory)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
