"""Agents' avatars (storage/{sqlite,postgresql}/avatars.py) on each database: one per agent,
replaced with a new id, found by agent and by id, removed; an unknown agent's refused."""

from __future__ import annotations

import pytest

from chatserver.domain.avatars import AgentAvatar
from chatserver.domain.models import Agent, Role
from chatserver.errors import NotFound

from .backends import AllStores


def _agent(agent_id: str) -> Agent:
    return Agent(id=agent_id, email=f"{agent_id}@example.com", name=agent_id.upper(), role=Role.AGENT, capacity=3,
                 disabled=False, token_version=0, created_at=1.0, password_hash="x")


def _avatar(avatar_id: str, agent_id: str = "a1", data: bytes = b"\x89PNG\x00\xff") -> AgentAvatar:
    return AgentAvatar(id=avatar_id, agent_id=agent_id, content_type="image/png", data=data, created_at=2.0)


async def test_an_agent_has_one_avatar_replaced_and_removed(stores: AllStores) -> None:
    await stores.agents.add_agent(_agent("a1"))
    await stores.agents.add_agent(_agent("a2"))
    avatars = stores.avatars
    assert await avatars.avatar_id_of("a1") is None
    await avatars.save_avatar(_avatar("av-1"))
    await avatars.save_avatar(_avatar("av-2", "a2", data=bytes(range(256)) * 40))
    assert await avatars.avatar_id_of("a1") == "av-1"
    assert await avatars.avatar("av-1") == _avatar("av-1")
    assert await avatars.avatar("av-2") == _avatar("av-2", "a2", data=bytes(range(256)) * 40)

    # A new picture replaces the old one under a new id: the old id is gone.
    await avatars.save_avatar(_avatar("av-3", data=b"\xff\xd8\xffnew"))
    assert await avatars.avatar_id_of("a1") == "av-3"
    assert await avatars.avatar("av-1") is None
    assert (await avatars.avatar("av-3")) == _avatar("av-3", data=b"\xff\xd8\xffnew")

    assert await avatars.delete_avatar("a1") is True
    assert await avatars.delete_avatar("a1") is False
    assert await avatars.avatar_id_of("a1") is None and await avatars.avatar("av-3") is None
    assert await avatars.avatar_id_of("a2") == "av-2"  # the other agent's stays


async def test_an_unknown_agent_gets_no_avatar(stores: AllStores) -> None:
    with pytest.raises(NotFound):
        await stores.avatars.save_avatar(_avatar("av-1", "nobody"))
    assert await stores.avatars.avatar("av-1") is None
