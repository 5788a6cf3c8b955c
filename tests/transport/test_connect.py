"""Who may open a connection: tokens and ``auth`` checked by the authenticator alone, over a real
SQLite store (no Socket.IO server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatserver.config import Settings
from chatserver.domain.clock import ManualClock
from chatserver.domain.models import Agent, AgentStatus, PartyKind, Role
from chatserver.domain.tokens import TokenSigner
from chatserver.errors import AuthRequired, ChatError, InvalidPayload, InvalidToken, TokenExpired
from chatserver.storage.sqlite import open_sqlite
from chatserver.storage.sqlite.agents import SQLiteAgents
from chatserver.transport.connect import Authenticator

SIGNER = TokenSigner("a test secret")
ALICE = Agent(id="a1", email="alice@example.com", name="Alice", role=Role.AGENT, capacity=3, disabled=False,
              token_version=0, created_at=0.0)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteAgents]:
    stores = await open_sqlite(tmp_path / "chat.db")
    await stores.agents.add_agent(ALICE)
    try:
        yield stores.agents
    finally:
        await stores.database.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def auth(store: SQLiteAgents, clock: ManualClock) -> Authenticator:
    return Authenticator(SIGNER, store, clock, Settings())


def agent_token(clock: ManualClock, valid_for: float = 3600.0, version: int = 0) -> str:
    return SIGNER.issue("agent", ALICE.id, clock.now() + valid_for, version)


@pytest.mark.parametrize("auth_arg", [None, "a token", {}, {"token": None}])
async def test_a_connection_without_a_token_is_refused(auth: Authenticator, auth_arg: object) -> None:
    with pytest.raises(AuthRequired):
        await auth.connection("s1", "/visitor", auth_arg)


async def test_a_visitors_token_opens_a_visitors_connection_that_does_not_expire(
        auth: Authenticator, clock: ManualClock) -> None:
    token = SIGNER.issue("visitor", "v1", clock.now() + 60)
    connection, expires_at = await auth.connection("s1", "/visitor", {"token": token})
    assert (connection.sid, connection.namespace, connection.actor.kind, connection.actor.id) == (
        "s1", "/visitor", PartyKind.VISITOR, "v1")
    assert connection.agent is None and expires_at is None


async def test_each_namespace_takes_only_its_own_kind_of_token(auth: Authenticator, clock: ManualClock) -> None:
    with pytest.raises(InvalidToken):
        await auth.connection("s1", "/visitor", {"token": agent_token(clock)})
    with pytest.raises(InvalidToken):
        await auth.connection("s1", "/agent", {"token": SIGNER.issue("visitor", "v1", clock.now() + 60)})


async def test_an_agents_connection_carries_the_stored_account_and_its_tokens_expiry(
        auth: Authenticator, clock: ManualClock) -> None:
    token = agent_token(clock, valid_for=600)
    connection, expires_at = await auth.connection("s1", "/agent", {"token": token, "status": "away"})
    assert connection.agent == ALICE
    assert (connection.actor.kind, connection.actor.id, connection.actor.name) == (PartyKind.AGENT, "a1", "Alice")
    assert connection.status == AgentStatus.AWAY
    assert expires_at == clock.now() + 600
    default, _ = await auth.connection("s2", "/agent", {"token": token})
    assert default.status == AgentStatus.ONLINE


@pytest.mark.parametrize("status", ["offline", "busy", 1, None])
async def test_an_agent_may_start_only_online_or_away(auth: Authenticator, clock: ManualClock, status: object) -> None:
    with pytest.raises(InvalidPayload):
        await auth.connection("s1", "/agent", {"token": agent_token(clock), "status": status})


async def test_an_expired_token_is_refused(auth: Authenticator, clock: ManualClock) -> None:
    token = agent_token(clock, valid_for=10)
    clock.advance(10)
    with pytest.raises(TokenExpired):
        await auth.connection("s1", "/agent", {"token": token})


async def test_a_token_stops_holding_once_the_agent_signs_out_or_is_disabled(
        auth: Authenticator, store: SQLiteAgents, clock: ManualClock) -> None:
    token = agent_token(clock)
    assert await auth.verify_agent_token(token) == ALICE
    await store.bump_token_version(ALICE.id)
    with pytest.raises(InvalidToken):
        await auth.verify_agent_token(token)
    fresh = agent_token(clock, version=1)
    await auth.verify_agent_token(fresh)
    await store.update_agent(ALICE.id, disabled=True, capacity=None, departments=None)
    with pytest.raises(InvalidToken):
        await auth.connection("s1", "/agent", {"token": fresh})
    with pytest.raises(ChatError):
        await auth.verify_agent_token(SIGNER.issue("agent", "nobody", clock.now() + 60))
