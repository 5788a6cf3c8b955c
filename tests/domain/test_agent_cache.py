"""The agent cache: read once, held until forgotten, an unknown id never held."""

from __future__ import annotations

from chatserver.domain.agent_cache import AgentCache
from chatserver.domain.clock import ManualClock
from chatserver.storage.sqlite import SQLiteStores

from .conftest import add_agent


async def test_an_agent_is_read_once_and_read_afresh_once_forgotten(
        stores: SQLiteStores, clock: ManualClock, agent_cache: AgentCache) -> None:
    ann = await add_agent(stores.agents, clock, "ann", capacity=2)
    assert await agent_cache.get(ann.id) == ann
    await stores.agents.update_agent(ann.id, disabled=None, capacity=5, departments=None)
    cached = await agent_cache.get(ann.id)
    assert cached is not None and cached.capacity == 2  # the copy routing holds
    agent_cache.forget(ann.id)
    fresh = await agent_cache.get(ann.id)
    assert fresh is not None and fresh.capacity == 5


async def test_unknown_ids_are_not_held_and_known_is_a_copy(
        stores: SQLiteStores, clock: ManualClock, agent_cache: AgentCache) -> None:
    assert await agent_cache.get("agent-nobody") is None
    ann = await add_agent(stores.agents, clock, "ann")
    agent_cache.remember(ann)
    known = agent_cache.known()
    known.clear()
    assert agent_cache.known() == {ann.id: ann}
