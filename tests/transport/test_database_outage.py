"""PostgreSQL stopped under a running server: readiness says so, a message sent meanwhile is
refused with ``unavailable`` and not stored, and once PostgreSQL is back (the pool reconnects by
itself) the shopper's resend of that message is stored once and the chat goes on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ..postgres_server import PostgresServer
from ..support import LiveServer, agent, make_settings, prechat, visitor, wait_until


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A cluster of this test's own: it is stopped and started again."""
    cluster = PostgresServer()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
async def pg_server(tmp_path: Path, own_postgres: PostgresServer) -> AsyncIterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path, database_url=own_postgres.new_database(), database_pool_min=1))
    await live.start()
    try:
        yield live
    finally:
        await live.close()


async def test_a_message_sent_while_postgresql_is_down_is_refused_then_stored_once(
    pg_server: LiveServer, own_postgres: PostgresServer,
) -> None:
    console = await agent(pg_server, await pg_server.add_agent())
    shopper = await visitor(pg_server)
    cid = (await shopper.call("chat:start", prechat()))["conversation"]["id"]
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    await console.call("conversation:join", {"conversation_id": cid})
    sent = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "before", "body": "hello"})
    assert sent["ok"], sent

    await asyncio.to_thread(own_postgres.stop)
    try:
        status, body = await pg_server.request("GET", "/readyz")
        assert status == 503 and body["checks"]["database"].startswith("error"), body
        refused = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "during",
                                                      "body": "are you there?"}, timeout=40)
        assert refused["error"]["code"] == "unavailable", refused
    finally:
        await asyncio.to_thread(own_postgres.start)

    async def ready() -> bool:
        return (await pg_server.request("GET", "/readyz"))[0] == 200

    await wait_until(ready, timeout=20, what="ready again once PostgreSQL is back")
    resent = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "during",
                                                 "body": "are you there?"})
    assert resent["ok"], resent
    again = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "during",
                                                "body": "are you there?"})
    assert again["ok"] and again["duplicate"] and again["seq"] == resent["seq"], (resent, again)
    messages = await pg_server.parts.stores.conversations.messages_after(cid, 0, 100)
    texts = [(m.seq, m.client_msg_id) for m in messages if m.client_msg_id is not None]
    assert [client_id for _, client_id in texts] == ["before", "during"], texts
    assert [seq for seq, _ in texts] == sorted(seq for seq, _ in texts)
    await console.wait_for("message:new", lambda d: d["seq"] == resent["seq"])
