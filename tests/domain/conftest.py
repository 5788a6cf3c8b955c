"""The parts of the conversation domain over real ports without a server: a SQLite store in
``tmp_path``, the in-memory routing state and presence, a manual clock, and a notifier that
records what clients would be told (a test double of the ``Notifier`` port)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatserver.domain.agent_cache import AgentCache
from chatserver.domain.clock import ManualClock
from chatserver.domain.grace import GracePeriods
from chatserver.domain.locks import KeyedLocks
from chatserver.domain.models import (
    PRIORITY_STEP,
    Agent,
    AgentStatus,
    Conversation,
    ConversationStatus,
    Message,
    PartyKind,
    PreChat,
    Role,
)
from chatserver.domain.ports import AgentStore, ConversationStore
from chatserver.domain.presence import PresenceChanges
from chatserver.domain.queue import WaitingQueue
from chatserver.domain.repair import RoutingRepair
from chatserver.domain.routing import Dispatcher, RoutingPolicy
from chatserver.domain.tasks import TaskSupervisor
from chatserver.storage.memory import MemoryPresence, MemoryRoutingState
from chatserver.storage.sqlite import SQLiteStores, open_sqlite

GRACE_PERIOD = 60.0
_ids = itertools.count(1)


class RecordingNotifier:
    """Implements the ``Notifier`` port by recording each call as a tuple of plain values."""

    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []

    def of(self, kind: str) -> list[tuple[object, ...]]:
        """The calls of one kind (``message``, ``changed``, ``queue``, ``presence``, ``typing``,
        ``read``), each without its kind."""
        return [event[1:] for event in self.events if event[0] == kind]

    async def message_stored(self, conversation: Conversation, message: Message, origin: str | None) -> None:
        self.events.append(("message", conversation.id, message.kind, message.body, origin))

    async def conversation_changed(self, conversation: Conversation, previous_agent_id: str | None) -> None:
        self.events.append(("changed", conversation.id, str(conversation.status), conversation.agent_id,
                            previous_agent_id))

    async def queue_changed(self) -> None:
        self.events.append(("queue",))

    async def peer_presence(self, conversation: Conversation, party: PartyKind, online: bool) -> None:
        self.events.append(("presence", conversation.id, str(party), online))

    async def typing(self, conversation: Conversation, party: PartyKind, typing: bool) -> None:
        self.events.append(("typing", conversation.id, str(party), typing))

    async def read_updated(self, conversation: Conversation, party: PartyKind, seq: int) -> None:
        self.events.append(("read", conversation.id, str(party), seq))


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[SQLiteStores]:
    sqlite = await open_sqlite(tmp_path / "chat.db")
    try:
        yield sqlite
    finally:
        await sqlite.database.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def routing() -> MemoryRoutingState:
    return MemoryRoutingState()


@pytest.fixture
def presence() -> MemoryPresence:
    return MemoryPresence()


@pytest.fixture
async def tasks(stores: SQLiteStores) -> AsyncIterator[TaskSupervisor]:
    supervisor = TaskSupervisor()
    try:
        yield supervisor
    finally:
        await supervisor.cancel_all()  # before the store closes: nothing outlives it


@pytest.fixture
def locks() -> KeyedLocks:
    return KeyedLocks()


@pytest.fixture
def repair() -> RoutingRepair:
    return RoutingRepair()


@pytest.fixture
def policy() -> RoutingPolicy:
    return RoutingPolicy(departments=("billing", "returns"), checkout_url_patterns=("*/checkout*",),
                         department_fallback_after=120.0)


@pytest.fixture
def agent_cache(stores: SQLiteStores) -> AgentCache:
    return AgentCache(stores.agents)


@pytest.fixture
def queue(routing: MemoryRoutingState, stores: SQLiteStores, presence: MemoryPresence, clock: ManualClock,
          locks: KeyedLocks, repair: RoutingRepair) -> WaitingQueue:
    return WaitingQueue(routing=routing, conversations=stores.conversations, presence=presence, clock=clock,
                        locks=locks,
                        repair=repair)


@pytest.fixture
def dispatcher(stores: SQLiteStores, routing: MemoryRoutingState, presence: MemoryPresence,
               notifier: RecordingNotifier, clock: ManualClock, agent_cache: AgentCache, policy: RoutingPolicy,
               locks: KeyedLocks, repair: RoutingRepair, tasks: TaskSupervisor) -> Dispatcher:
    return Dispatcher(conversations=stores.conversations, routing=routing, presence=presence, notifier=notifier,
                      clock=clock,
                      agents=agent_cache, policy=policy, locks=locks, repair=repair, tasks=tasks, event_log=None)


@pytest.fixture
def grace(stores: SQLiteStores, presence: MemoryPresence, notifier: RecordingNotifier, clock: ManualClock,
          queue: WaitingQueue, dispatcher: Dispatcher, tasks: TaskSupervisor) -> GracePeriods:
    return GracePeriods(conversations=stores.conversations, presence=presence, notifier=notifier, clock=clock,
                        queue=queue,
                        dispatcher=dispatcher, tasks=tasks, grace_period=GRACE_PERIOD)


@pytest.fixture
def changes(stores: SQLiteStores, presence: MemoryPresence, notifier: RecordingNotifier, agent_cache: AgentCache,
            grace: GracePeriods, dispatcher: Dispatcher, repair: RoutingRepair) -> PresenceChanges:
    return PresenceChanges(presence=presence, conversations=stores.conversations, notifier=notifier, agents=agent_cache,
                           grace=grace, dispatcher=dispatcher, repair=repair)


async def add_agent(agents: AgentStore, clock: ManualClock, name: str, *, capacity: int = 2,
                    departments: tuple[str, ...] = (), disabled: bool = False) -> Agent:
    """Store an agent (no password: these tests never log in)."""
    agent = Agent(id=f"agent-{name}", email=f"{name}@example.com", name=name, role=Role.AGENT, capacity=capacity,
                  disabled=disabled, token_version=0, created_at=clock.now() + next(_ids) * 1e-3,
                  departments=departments)
    await agents.add_agent(agent)
    return agent


async def online(presence: MemoryPresence, agent: Agent, status: AgentStatus = AgentStatus.ONLINE) -> None:
    """The agent has one live connection."""
    await presence.agent_connected(agent.id, f"conn-{agent.id}", status)


async def waiting_chat(conversations: ConversationStore, queue: WaitingQueue, clock: ManualClock, visitor: str, *,
                       department: str | None = None, priority: int = 0) -> Conversation:
    """A chat stored as waiting and queued at the next rank, as ``ChatService.start_chat`` leaves
    one (without its first messages: these tests are about where it waits)."""
    rank = queue.next_rank() - priority * PRIORITY_STEP
    conversation = Conversation(id=f"conv-{visitor}", visitor_id=visitor, status=ConversationStatus.QUEUED,
                                prechat=PreChat(name=visitor, question="where is my order?", department=department),
                                created_at=clock.now(), queue_rank=rank, priority=priority)
    await conversations.create_conversation(conversation, [])
    await queue.enqueue_stored(conversation)
    return conversation
