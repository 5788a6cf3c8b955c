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
    # The shopper's language (one of the widget's, docs/widget.md): the mails' language.
    locale: str | None = None


class PageContext(msgspec.Struct, frozen=True, kw_only=True):
    """Where the shopper is now (the page fields of ``PreChat``, updated as they browse)."""

    page_url: str | None = None
    page_title: str | None = None
    checkout: bool = False
    cart_value: float | None = None


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
    # How many times a connection started reading the conversation, as the append that stored a
    # message read it (None wherever it was not read): the notifier's reason to look up again
    # which processes hold its participants (transport/notifier.py).
    readers_version: int | None = None


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


# The ``AssignmentEvent.event`` of a chat that left the queue for an agent (routing.py): by itself
# ("assigned") or taken by the agent ("taken"). Wait estimates go by these.
QUEUE_ASSIGNMENTS = ("assigned", "taken")


class RecentAssignment(msgspec.Struct, frozen=True, kw_only=True):
    """A chat assigned from the queue at ``at`` after it had waited ``waited`` seconds since it
    started (for wait estimates, ``queue.WaitingQueue.seconds_per_place``)."""

    conversation_id: str
    at: float
    waited: float

    @classmethod
    def of(cls, conversation_id: str, at: float, created_at: float) -> RecentAssignment:
        return cls(conversation_id=conversation_id, at=at, waited=max(0.0, at - created_at))


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


class Candidate(msgspec.Struct, frozen=True):
    """An available agent routing may hand a chat to, with what limits what they take."""

    agent_id: str
    capacity: int
    departments: frozenset[str] = frozenset()


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


class Customer(msgspec.Struct, frozen=True, kw_only=True):
    """A contact-directory record. ``external_id`` is the shop's own id once the customer was
    identified (a signed identity); anonymous visitors' records have none."""

    id: str
    created_at: float
    last_seen_at: float
    external_id: str | None = None
    name: str | None = None
    emails: tuple[str, ...] = ()
    phone: str | None = None
    notes: str | None = None
    tags: tuple[str, ...] = ()


class ConversationRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A conversation with what the records add to it: its customer and the agent's tags."""

    conversation: Conversation
    customer_id: str | None = None
    tags: tuple[str, ...] = ()


class ConversationFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which conversations to list; ``None`` matches anything. Times are seconds since the epoch
    and bound ``created_at`` (``since`` inclusive, ``until`` exclusive)."""

    status: ConversationStatus | None = None
    agent_id: str | None = None
    department: str | None = None
    customer_id: str | None = None
    tag: str | None = None
    since: float | None = None
    until: float | None = None


class RatingAverage(msgspec.Struct, frozen=True, kw_only=True):
    key: str  # an agent id, or a day (YYYY-MM-DD, UTC)
    label: str | None  # the agent's name
    count: int
    average: float


class RatingsReport(msgspec.Struct, frozen=True, kw_only=True):
    count: int
    average: float | None
    per_agent: list[RatingAverage]
    per_day: list[RatingAverage]


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    """A stored file's record (its bytes are kept apart: ``AttachmentStore.attachment_data``)."""

    id: str
    conversation_id: str
    sender_kind: PartyKind
    sender_id: str
    name: str
    content_type: str
    size: int
    created_at: float
    width: int | None = None
    height: int | None = None
    thumbnail_type: str | None = None

    def meta(self) -> dict[str, str]:
        """What the file message's ``meta`` says of it (strings, as every message's meta)."""
        meta = {"attachment_id": self.id, "name": self.name, "size": str(self.size),
                "content_type": self.content_type}
        if self.width is not None and self.height is not None:
            meta |= {"width": str(self.width), "height": str(self.height)}
        return meta


class StoredFile(msgspec.Struct, frozen=True, kw_only=True):
    """An attachment with its bytes (a customer's export)."""

    attachment: Attachment
    data: bytes


class CustomerData(msgspec.Struct, frozen=True, kw_only=True):
    """Everything held about a customer: the record, the visitors (browsers) linked to it, the
    transcripts of its conversations, and rows of other tables that belong to those (internal
    notes, tickets, ...) by table name."""

    customer: Customer
    visitor_ids: list[str]
    transcripts: list[Transcript]
    related: dict[str, list[dict[str, object]]]
    # The files attached to those conversations, with their bytes (domain/attachments.py).
    files: list[StoredFile] = msgspec.field(default_factory=list)
