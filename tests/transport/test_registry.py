"""This process's connections and the per-party counts behind "connected here" (no server)."""

from __future__ import annotations

import pytest

from chatserver.config import Settings
from chatserver.domain.actor import Actor
from chatserver.domain.models import Agent, PartyKind, Role
from chatserver.errors import Forbidden
from chatserver.transport.registry import Connection, ConnectionRegistry, agent_of

SETTINGS = Settings()
ALICE = Agent(id="a1", email="alice@example.com", name="Alice", role=Role.AGENT, capacity=3, disabled=False,
              token_version=0, created_at=0.0)


def visitor(sid: str, visitor_id: str = "v1") -> Connection:
    return Connection(sid, "/visitor", Actor(kind=PartyKind.VISITOR, id=visitor_id), None, SETTINGS)


def agent(sid: str, account: Agent = ALICE) -> Connection:
    return Connection(sid, "/agent", Actor(kind=PartyKind.AGENT, id=account.id, name=account.name), account,
                      SETTINGS)


def test_a_party_is_here_until_its_last_connection_leaves() -> None:
    connections = ConnectionRegistry()
    connections.add(visitor("s1"))
    connections.add(visitor("s2"))  # a second tab
    assert connections.is_local("visitor", "v1") and len(connections) == 2
    assert connections.remove("s1") is not None
    assert connections.is_local("visitor", "v1")
    assert connections.remove("s2") is not None
    assert not connections.is_local("visitor", "v1") and not connections


def test_removing_an_unknown_or_removed_sid_changes_no_count() -> None:
    connections = ConnectionRegistry()
    connections.add(visitor("s1"))
    connections.remove("s1")
    assert connections.remove("s1") is None
    assert connections.remove("never") is None
    connections.add(visitor("s2"))
    assert connections.is_local("visitor", "v1")


def test_the_same_id_as_visitor_and_as_agent_are_different_parties() -> None:
    connections = ConnectionRegistry()
    connections.add(visitor("s1", visitor_id="a1"))
    assert connections.is_local("visitor", "a1")
    assert not connections.is_local("agent", "a1")
    assert not connections.has_local_agents()
    assert connections.of_agent("a1") == []


def test_an_agents_connections_are_found_by_the_agent() -> None:
    connections = ConnectionRegistry()
    tabs = [agent("s1"), agent("s2")]
    for tab in tabs:
        connections.add(tab)
    connections.add(visitor("s3"))
    assert connections.has_local_agents()
    assert connections.of_agent("a1") == tabs
    assert connections.get("s2") is tabs[1] and connections.get("s9") is None


def test_only_an_agents_connection_has_an_agent() -> None:
    assert agent_of(agent("s1")) is ALICE
    with pytest.raises(Forbidden):
        agent_of(visitor("s2"))
