"""Agents (storage/{sqlite,postgresql}/agents.py) on each database: unique emails whatever their
case, lookups, and the token version that signs everyone out moving exactly when it should."""

from __future__ import annotations

import pytest

from chatserver.domain.models import Agent, Role
from chatserver.domain.ports import AgentStore
from chatserver.errors import Conflict


def _agent(agent_id: str, email: str, created_at: float = 1.0) -> Agent:
    return Agent(id=agent_id, email=email, name=agent_id.upper(), role=Role.AGENT, capacity=3, disabled=False,
                 token_version=0, created_at=created_at, password_hash="x", departments=("billing", "returns"))


async def test_an_agent_is_found_by_id_and_email_and_an_email_is_taken_once(agents: AgentStore) -> None:
    await agents.add_agent(_agent("a2", "bo@example.com", created_at=2.0))
    await agents.add_agent(_agent("a1", "cy@example.com"))
    with pytest.raises(Conflict):
        await agents.add_agent(_agent("a3", "bo@example.com"))
    with pytest.raises(Conflict):  # one account per email whatever its case
        await agents.add_agent(_agent("a3", "Bo@Example.COM"))
    found_any_case = await agents.agent_by_email("BO@example.com")
    assert found_any_case is not None and found_any_case.id == "a2"
    found = await agents.agent_by_email("bo@example.com")
    assert found == _agent("a2", "bo@example.com", created_at=2.0)  # departments come back as stored
    assert await agents.agent_by_id("a1") == _agent("a1", "cy@example.com")
    assert await agents.agent_by_id("a3") is None and await agents.agent_by_email("a3@example.com") is None
    assert [a.id for a in await agents.list_agents()] == ["a1", "a2"]  # oldest first


async def test_the_token_version_moves_on_logout_new_password_and_disabling_only(agents: AgentStore) -> None:
    await agents.add_agent(_agent("a1", "bo@example.com"))
    await agents.bump_token_version("a1")
    changed = await agents.set_password("a1", "new hash")
    assert changed is not None and (changed.password_hash, changed.token_version) == ("new hash", 2)
    kept = await agents.update_agent("a1", disabled=None, capacity=5, departments=("billing",))
    assert kept is not None and (kept.capacity, kept.departments, kept.token_version) == (5, ("billing",), 2)
    disabled = await agents.update_agent("a1", disabled=True, capacity=None, departments=None)
    assert disabled is not None and disabled.disabled and disabled.token_version == 3
    again = await agents.update_agent("a1", disabled=True, capacity=None, departments=None)
    assert again is not None and again.token_version == 3  # already disabled: nothing to sign out
    enabled = await agents.update_agent("a1", disabled=False, capacity=None, departments=None)
    assert enabled is not None and not enabled.disabled and enabled.token_version == 3
    assert await agents.set_password("missing", "x") is None
    assert await agents.update_agent("missing", disabled=True, capacity=None, departments=None) is None
