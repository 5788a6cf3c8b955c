"""Signals to a real ``chatserver serve`` (chatserver/http/serving.py, ``StopSignals``): the first
SIGTERM or SIGINT stops cleanly; a second one during that stop ends the process at once (exit
status 128 + its number), with the database whole: a restart reads every acknowledged message."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import time
from pathlib import Path

import aiohttp
import pytest

from chatserver.http.serving import STOP_NOW_TIMEOUT

from .processes import ServerProcess
from .raw_http import connect
from .support import Client, prechat
from .test_cluster import Remote, _admin, _agent_login


async def _chatter(visitor: Client, conversation_id: str, acknowledged: list[str]) -> None:
    """Send messages one after the other until the server goes away; ``acknowledged`` gets the
    body of each one the server acknowledged (stored)."""
    n = 0
    with contextlib.suppress(Exception):
        while True:
            body = f"message {n}"
            answer = await visitor.call("message:send", {"conversation_id": conversation_id,
                                                         "client_msg_id": f"m-{n}", "body": body})
            if answer.get("ok"):
                acknowledged.append(body)
            n += 1


def _wait_for_line(process: ServerProcess, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in process.log.read_text():
        assert time.monotonic() < deadline, f"{text!r} never logged"
        time.sleep(0.05)


@pytest.mark.parametrize(("first", "second"), [(signal.SIGTERM, signal.SIGTERM), (signal.SIGINT, signal.SIGINT),
                                               (signal.SIGTERM, signal.SIGINT)],
                         ids=["term-term", "int-int", "term-int"])
async def test_a_second_signal_during_the_stop_ends_the_process_and_the_database_is_whole(
        tmp_path: Path, first: signal.Signals, second: signal.Signals) -> None:
    # The clean stop waits up to shutdown_timeout for a request still being handled: far longer
    # than a stop now may take.
    server = ServerProcess(tmp_path, None, CHATSERVER_SHUTDOWN_TIMEOUT="120", CHATSERVER_MESSAGE_RATE="100000",
                           CHATSERVER_MESSAGE_BURST="100000").start()
    assert server.process is not None
    async with aiohttp.ClientSession() as http:
        remote = Remote(server, http)
        await remote.agent((await _agent_login(remote, await _admin(remote), 1, capacity=3))["token"])
        chats: dict[str, list[str]] = {}
        chatting = []
        for n in range(3):
            visitor = await remote.visitor()
            conversation_id = (await visitor.call("chat:start", prechat(n)))["conversation"]["id"]
            chats[conversation_id] = []
            chatting.append(asyncio.create_task(_chatter(visitor, conversation_id, chats[conversation_id])))
        await asyncio.sleep(0.3)  # messages in flight
        assert all(chats.values())
        # A request the clean stop waits for: its body never ends.
        _, writer = await connect(server.port)
        writer.write(f"POST /api/visitor/sessions HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode())
        await writer.drain()
        await asyncio.sleep(0.1)

        server.process.send_signal(first)
        _wait_for_line(server, f"stopping signal={first.name}")
        await asyncio.sleep(0.3)
        assert server.process.poll() is None  # still stopping: waiting for the request
        server.process.send_signal(second)
        status = server.process.wait(timeout=STOP_NOW_TIMEOUT + 15)
        server.process = None
        for task in chatting:
            task.cancel()  # a call sent as the process ended waits for its timeout otherwise
        await asyncio.gather(*chatting, return_exceptions=True)
        writer.close()
    assert status == 128 + second
    log = server.log.read_text()
    assert f"stopping now signal={second.name}" in log and "Traceback" not in log

    database = sqlite3.connect(tmp_path / "chatserver.db")
    try:
        assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        database.close()
    server.start()
    try:
        async with aiohttp.ClientSession() as http:
            remote = Remote(server, http)
            admin = await _admin(remote)
            for conversation_id, acknowledged in chats.items():
                status, transcript = await remote.request("GET", f"/api/conversations/{conversation_id}", token=admin)
                assert status == 200, transcript
                stored = [m["body"] for m in transcript["messages"] if m["body"].startswith("message ")]
                assert stored[:len(acknowledged)] == acknowledged
    finally:
        server.stop()
