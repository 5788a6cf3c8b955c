"""The Socket.IO side put together from real parts, without starting anything: which events each
namespace answers, and that the server's handlers are bound."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatserver import constants as C
from chatserver.assembly import build_chats
from chatserver.config import Settings
from chatserver.domain.actor import Actor
from chatserver.domain.avatars import AgentAvatars
from chatserver.domain.clock import ManualClock
from chatserver.domain.models import Agent, PartyKind, Role
from chatserver.domain.routing import RoutingPolicy
from chatserver.domain.tokens import TokenSigner
from chatserver.errors import ChatError
from chatserver.storage.memory import MemoryPresence, MemoryRoutingState
from chatserver.storage.sqlite import SQLiteStores
from chatserver.transport.bus import LocalBus
from chatserver.transport.conversation_views import ConversationViews
from chatserver.transport.delivery import Delivery
from chatserver.transport.dispatch import NAMESPACES
from chatserver.transport.hub import SocketHub
from chatserver.transport.notifier import SocketNotifier
from chatserver.transport.registry import Connection, ConnectionRegistry
from chatserver.transport.socketio_server import ChatSocketServer
from chatserver.transport.waiting import WaitingVisitors

SHARED = {C.EV_CONVERSATION_JOIN, C.EV_MESSAGE_SEND, C.EV_MESSAGE_READ, C.EV_TYPING, C.EV_CONVERSATION_CLOSE,
          C.EV_SESSION_RESUME}
VISITOR_ONLY = {C.EV_CHAT_START, C.EV_CONVERSATION_RATE, C.EV_PAGE_UPDATE}
AGENT_ONLY = {C.EV_QUEUE_LIST, C.EV_QUEUE_TAKE, C.EV_PRESENCE_SET, C.EV_CONVERSATION_TRANSFER}
ALICE = Agent(id="a1", email="alice@example.com", name="Alice", role=Role.AGENT, capacity=3, disabled=False,
              token_version=0, created_at=0.0)


@pytest.fixture
def hub(tmp_path: Path) -> SocketHub:
    """Built as build_app builds it; the store is never opened (nothing here reaches it)."""
    settings = Settings(data_dir=tmp_path)
    sio = ChatSocketServer(async_mode="aiohttp", max_unsent_bytes=1 << 20, max_binary_attachments=1)
    stores = SQLiteStores.at(tmp_path / "chat.db")
    routing, presence = MemoryRoutingState(), MemoryPresence()

    async def emit_to(event: str, data: Any, sid: str, namespace: str) -> None:
        await sio.lean_emit(event, data, room=sid, namespace=namespace)

    delivery = Delivery(stores.conversations, emit_to)
    connections, waiting = ConnectionRegistry(), WaitingVisitors()
    clock = ManualClock()
    views = ConversationViews(AgentAvatars(stores.avatars, clock, lambda: "id"))
    notifier = SocketNotifier(sio, delivery, LocalBus(), presence, connections, waiting, views)
    chats = build_chats(agents=stores.agents, conversations=stores.conversations, routing=routing, presence=presence,
                        notifier=notifier, clock=clock, new_id=lambda: "id", grace_period=60.0, policy=RoutingPolicy())
    built = SocketHub(sio, settings, TokenSigner("secret"), stores.agents, stores.conversations, routing, presence,
                      clock, delivery, notifier, connections, waiting, views, chats, check_locale=lambda tag: tag)
    connections.add(Connection("vs", C.VISITOR_NAMESPACE, Actor(kind=PartyKind.VISITOR, id="v1"), None, settings))
    connections.add(Connection("as", C.AGENT_NAMESPACE, Actor(kind=PartyKind.AGENT, id="a1"), ALICE, settings))
    return built


async def answer_code(hub: SocketHub, namespace: str, event: str) -> str:
    # A field no payload has: a registered event's handler refuses it before any domain call.
    answer = await hub.events.dispatch(namespace, event, "vs" if namespace == C.VISITOR_NAMESPACE else "as",
                                       {"no_such_field": 1})
    assert isinstance(answer, ChatError), answer
    return answer.code


async def test_visitors_have_the_shared_and_the_visitor_events_only(hub: SocketHub) -> None:
    for event in SHARED | VISITOR_ONLY:
        assert await answer_code(hub, C.VISITOR_NAMESPACE, event) == "invalid_payload", event
    for event in AGENT_ONLY:
        assert await answer_code(hub, C.VISITOR_NAMESPACE, event) == "unknown_event", event


async def test_agents_have_the_shared_and_the_agent_events_only(hub: SocketHub) -> None:
    for event in SHARED | AGENT_ONLY:
        assert await answer_code(hub, C.AGENT_NAMESPACE, event) == "invalid_payload", event
    for event in VISITOR_ONLY:
        assert await answer_code(hub, C.AGENT_NAMESPACE, event) == "unknown_event", event


def test_each_namespace_has_connect_disconnect_and_a_catch_all_bound(hub: SocketHub) -> None:
    for namespace in NAMESPACES:
        assert {"connect", "disconnect", "*"} <= set(hub.sio.handlers[namespace]), namespace
