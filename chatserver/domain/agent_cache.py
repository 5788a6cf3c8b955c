"""The copies of agents' accounts routing works from, so a routing step does not read every
available agent from the database. A copy is dropped when the account changes (``forget``)."""

from __future__ import annotations

from .models import Agent
from .ports import AgentStore


class AgentCache:
    """Agents by id, read from the store once and then held until forgotten."""

    def __init__(self, agents: AgentStore) -> None:
        self._agents = agents
        self._cached: dict[str, Agent] = {}

    async def get(self, agent_id: str) -> Agent | None:
        """The agent (from the copy if there is one); an unknown id is not remembered."""
        cached = self._cached.get(agent_id)
        if cached is not None:
            return cached
        agent = await self._agents.agent_by_id(agent_id)
        if agent is not None:
            self._cached[agent_id] = agent
        return agent

    def remember(self, agent: Agent) -> None:
        """Hold ``agent`` as it is now (an agent who just connected, with the account they proved)."""
        self._cached[agent.id] = agent

    def forget(self, agent_id: str) -> None:
        """Drop the copy of an agent whose account changed: routing reads it afresh."""
        self._cached.pop(agent_id, None)

    def known(self) -> dict[str, Agent]:
        """The agents held, by id (a copy of the mapping)."""
        return dict(self._cached)
