"""The servers the tests start take a "free" port that another process may take first: each must
notice, and move to another port, rather than let the tests talk to a stranger."""

from __future__ import annotations

import socket
from pathlib import Path

import redis

from .processes import ServerProcess
from .redis_server import RedisServer


def test_a_redis_server_whose_port_was_taken_moves_and_answers_as_itself(tmp_path: Path) -> None:
    stranger = RedisServer(tmp_path / "stranger")
    stranger.start()
    ours = RedisServer(tmp_path / "ours")
    ours.port = stranger.port  # taken between choosing it and binding it
    try:
        ours.start()
        assert ours.port != stranger.port and ours.process is not None
        client = redis.Redis(port=ours.port)
        assert int(client.info("server")["process_id"]) == ours.process.pid
        client.close()
    finally:
        ours.stop()
        stranger.stop()


def test_a_chat_server_whose_port_was_taken_moves(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        server = ServerProcess(tmp_path, None)
        server.port = squatter.getsockname()[1]
        server.log = tmp_path / f"server-{server.port}.log"
        try:
            server.start()
            assert server.port != squatter.getsockname()[1] and server.ready()
        finally:
            server.stop()
