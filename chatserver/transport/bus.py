"""Events between server processes: typed envelopes, msgpack on the wire.

With one process (the embedded default) nothing crosses a process boundary: ``LocalBus`` only
names the process. With Redis, ``storage.redis_backend.RedisBroker`` carries envelopes to the
process(es) that hold the recipients' connections.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import msgspec

from ..domain.cobrowse import CobrowseSession
from ..domain.models import Conversation, Message


class MessageEnvelope(msgspec.Struct, tag="msg"):
    message: Message
    origin: str | None


class ConversationEnvelope(msgspec.Struct, tag="conv"):
    conversation: Conversation
    previous_agent_id: str | None


class EmitEnvelope(msgspec.Struct, tag="emit"):
    namespace: str
    room: str
    event: str
    data: Any


class QueueEnvelope(msgspec.Struct, tag="queue"):
    sender: str


class AgentChangedEnvelope(msgspec.Struct, tag="agent"):
    """An agent's account changed (logout, disabled, capacity, departments): every process
    re-reads it."""

    sender: str
    agent_id: str


class AgentsEnvelope(msgspec.Struct, tag="agents"):
    """An event for every agent's console, in every process (canned responses changed)."""

    sender: str
    event: str
    data: Any


# Sent to every process; each one skips its own (it applied the envelope before publishing).
Broadcast = QueueEnvelope | AgentChangedEnvelope | AgentsEnvelope


class CobrowseStateEnvelope(msgspec.Struct, tag="cb.state"):
    """A co-browse session changed: to the processes of its shopper and its agent."""

    session: CobrowseSession


class CobrowseDataEnvelope(msgspec.Struct, tag="cb.data"):
    """A batch of the shopper's page events, to the processes of the session's agent: for every
    watcher that is ready, or (``to_sid``) a replay for one new watcher, ended by ``replay_end``."""

    session_id: str
    header: dict[str, Any]
    data: bytes
    to_sid: str | None = None
    replay_end: bool = False


class CobrowseReplayEnvelope(msgspec.Struct, tag="cb.replay"):
    """To the shopper's process: send the buffered page to watcher ``sid`` in ``process_id``."""

    session_id: str
    process_id: str
    sid: str


Envelope = (MessageEnvelope | ConversationEnvelope | EmitEnvelope | QueueEnvelope | AgentChangedEnvelope
            | AgentsEnvelope | CobrowseStateEnvelope | CobrowseDataEnvelope | CobrowseReplayEnvelope)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Envelope)


def encode(envelope: Envelope) -> bytes:
    return _encoder.encode(envelope)


def decode(payload: bytes) -> Envelope:
    envelope: Envelope = _decoder.decode(payload)
    return envelope


class Bus(Protocol):
    process_id: str

    async def start(self, on_message: Callable[[bytes], Awaitable[None]],
                    on_reconnect: Callable[[], Awaitable[None]]) -> None:
        """Deliver what other processes publish here to ``on_message``; ``on_reconnect`` runs each
        time the bus is back after a loss (whatever was published meanwhile is lost)."""
        ...

    async def stop(self) -> None: ...

    async def publish(self, process_id: str | None, payload: bytes) -> None:
        """To one process, or to all (``None``)."""
        ...


class LocalBus:
    """The single process of the embedded server: there is nobody else to tell."""

    process_id = "local"

    async def start(self, on_message: Callable[[bytes], Awaitable[None]],
                    on_reconnect: Callable[[], Awaitable[None]]) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, process_id: str | None, payload: bytes) -> None:
        return None
