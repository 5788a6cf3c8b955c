"""Domain records. Plain msgspec structs: no I/O, cheap to encode."""

from __future__ import annotations

from enum import StrEnum

import msgspec


class ConversationStatus(StrEnum):
    QUEUED = "queued"
    ASSIGNED = "assigned"
    CLOSED = "closed"


class PartyKind(StrEnum):
    VISITOR = "visitor"
    AGENT = "agent"
    SYSTEM = "system"


class AgentStatus(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"


class Agent(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    email: str
    name: str
    role: Role
    capacity: int
    disabled: bool
    token_version: int
    created_at: float
    password_hash: str = ""
    departments: tuple[str, ...] = ()

    def public(self) -> dict[str, object]:
        return {"id": self.id, "email": self.email, "name": self.name, "role": str(self.role),
                "capacity": self.capacity, "disabled": self.disabled, "departments": list(self.departments)}


class PreChat(msgspec.Struct, frozen=True, kw_only=True):
    """What the visitor told us before the chat: kept on the conversation and in the transcript."""

    name: str
    question: str
    email: str | None = None
    order_number: str | None = None
    page_url: str | None = None
    page_title: str | None = None
    checkout: bool = False
    cart_value: float | None = None
    department: str | None = None


class Conversation(msgspec.Struct, kw_only=True):
    id: str
    visitor_id: str
    status: ConversationStatus
    prechat: PreChat
    created_at: float
    queue_rank: float | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    assigned_at: float | None = None
    closed_at: float | None = None
    closed_by: PartyKind | None = None
    last_seq: int = 0
    visitor_read_seq: int = 0
    agent_read_seq: int = 0
    priority: int = 0


class Message(msgspec.Struct, frozen=True, kw_only=True):
    conversation_id: str
    seq: int
    kind: str  # "text" or "system"
    sender_kind: PartyKind
    sender_id: str | None
    sender_name: str | None
    body: str
    created_at: float
    client_msg_id: str | None = None
    meta: dict[str, str] | None = None


class AssignmentEvent(msgspec.Struct, frozen=True, kw_only=True):
    conversation_id: str
    agent_id: str | None
    event: str  # assigned | taken | released | closed
    at: float
    reason: str | None = None


class QueueEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A waiting conversation. Lower ``rank`` is served first: priority chats (checkout) rank
    ``PRIORITY_STEP`` lower than others, and a requeued chat gets a rank below the head."""

    conversation_id: str
    visitor_id: str
    rank: float
    department: str | None = None
    enqueued_at: float = 0.0

    def eligible_for(self, departments: frozenset[str], open_before: float) -> bool:
        """Whether an agent of ``departments`` may take this chat: agents without departments take
        any chat; others take their departments' chats, chats of no department, and any chat
        that has waited since ``open_before`` (the department fallback)."""
        return (
            not departments
            or self.department is None
            or self.department in departments
            or self.enqueued_at <= open_before
        )


# Ranks are seconds since the epoch; a priority step of ~31 years keeps every priority chat ahead.
PRIORITY_STEP = 1e9


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"
    NOT_WAITING = "not_waiting"
    AT_CAPACITY = "at_capacity"


class Rating(msgspec.Struct, frozen=True, kw_only=True):
    conversation_id: str
    rating: int
    comment: str | None
    created_at: float


class Transcript(msgspec.Struct, frozen=True, kw_only=True):
    conversation: Conversation
    messages: list[Message]
    assignments: list[AssignmentEvent]
    rating: Rating | None = None
