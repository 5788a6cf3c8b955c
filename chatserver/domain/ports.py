"""Ports: the small interfaces the domain needs from storage, routing state and transport.

The embedded default implements them in memory + SQLite, the production backend with Redis;
both run the same contract tests (tests/contract/).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Protocol

import msgspec

from .models import (
    Agent,
    AgentStatus,
    AssignmentEvent,
    Candidate,
    ClaimOutcome,
    Conversation,
    ConversationFilter,
    ConversationRecord,
    ConversationStatus,
    Customer,
    CustomerData,
    Message,
    PageContext,
    PartyKind,
    QueueEntry,
    Rating,
    RatingsReport,
    RecentAssignment,
    Transcript,
)
from .outbox import OutboxItem

# The outbox items (webhooks) recording a conversation change, made from the conversation as
# stored and the id of the customer it belongs to, inside the transaction that stores the change.
OutboxRecorder = Callable[[Conversation, str | None], list[OutboxItem]]


class NewMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A message before storage gives it its sequence number."""

    conversation_id: str
    kind: str
    sender_kind: PartyKind
    sender_id: str | None
    sender_name: str | None
    body: str
    created_at: float
    client_msg_id: str | None = None
    meta: dict[str, str] | None = None


class Transition(msgspec.Struct, frozen=True, kw_only=True):
    """A guarded change of a conversation's status, recorded in its assignment history."""

    conversation_id: str
    expect: frozenset[ConversationStatus]
    status: ConversationStatus
    agent_id: str | None
    agent_name: str | None
    at: float
    event: str
    reason: str | None = None
    queue_rank: float | None = None
    closed_by: PartyKind | None = None
    department: str | None = None  # a transfer to a department sets it; None keeps it
    system_message: NewMessage | None = None
    record: OutboxRecorder | None = None  # what the change announces, stored with it


class AgentStore(Protocol):
    async def add_agent(self, agent: Agent) -> None:
        """Store a new agent; raises ``Conflict`` if the email is taken."""
        ...

    async def agent_by_id(self, agent_id: str) -> Agent | None: ...

    async def agent_by_email(self, email: str) -> Agent | None: ...

    async def list_agents(self) -> list[Agent]: ...

    async def bump_token_version(self, agent_id: str) -> None:
        """Invalidate every token issued to the agent so far (logout)."""
        ...

    async def set_password(self, agent_id: str, password_hash: str) -> Agent | None:
        """Store a new password hash and invalidate every token issued to the agent so far, in
        one transaction. The agent as stored, or ``None`` if there is none."""
        ...

    async def update_agent(self, agent_id: str, *, disabled: bool | None, capacity: int | None,
                           departments: tuple[str, ...] | None) -> Agent | None:
        """Change the given fields (``None`` keeps one) in one transaction; disabling an enabled
        agent also invalidates their tokens. The agent as stored, or ``None`` if there is none."""
        ...


class ConversationStore(Protocol):
    async def create_conversation(self, conversation: Conversation, first: list[NewMessage],
                                  record: OutboxRecorder | None = None) -> list[Message]:
        """Store a new conversation with its first messages and what ``record`` makes of it,
        atomically. The row names the customer the visitor belongs to at that moment."""
        ...

    async def update_page(self, conversation_id: str, page: PageContext) -> Conversation | None:
        """Record where the shopper is now on an open conversation; ``None`` when it is closed
        or unknown."""
        ...

    async def idle_conversations(self, before: float, limit: int) -> list[str]:
        """Up to ``limit`` ids of queued or assigned conversations whose last message is older
        than ``before`` (abandoned chats)."""
        ...

    async def get_conversation(self, conversation_id: str) -> Conversation | None: ...

    async def get_conversations(self, conversation_ids: list[str]) -> dict[str, Conversation]:
        """The conversations that exist among ``conversation_ids``, by id, in one query."""
        ...

    async def active_conversation_for_visitor(self, visitor_id: str) -> Conversation | None: ...

    async def conversations_with_status(
        self, statuses: Collection[ConversationStatus], agent_id: str | None = None
    ) -> list[Conversation]:
        """Conversations in one of ``statuses`` (optionally of one agent), queued ones by rank."""
        ...

    async def list_conversations(
        self, *, status: ConversationStatus | None, agent_id: str | None, limit: int, offset: int
    ) -> list[Conversation]: ...

    async def append_message(self, message: NewMessage) -> tuple[Conversation, Message, bool]:
        """Store a participant's message with the next sequence number, in one transaction, if its
        sender may write to the conversation (``check_writable``: the visitor who owns it or the
        agent it is assigned to, and not closed; else ``NotFound``, ``Forbidden`` or
        ``ConversationClosed``, in that order, and nothing is stored). A visitor's message carries
        the name from their pre-chat form. Returns the conversation as of the message (with its
        ``readers_version``), the message and ``created``; returns only once the message is
        committed.

        Idempotent on ``(conversation, sender, client_msg_id)``: a resend returns the stored
        message with ``created=False`` (after the same checks).
        """
        ...

    async def messages_after(self, conversation_id: str, after_seq: int, limit: int) -> list[Message]: ...

    async def reader_joined(self, conversation_id: str) -> None:
        """Count a connection that starts reading the conversation (``readers_version`` + 1),
        committed before it returns: every message stored after it returns reports the new
        count. Nothing happens for a conversation that does not exist."""
        ...

    async def transition(self, change: Transition) -> tuple[Conversation, Message | None] | None:
        """Apply ``change`` if the conversation's status is in ``change.expect``, with its system
        message and what ``change.record`` makes of it, in one transaction; ``None`` when the
        guard fails (nothing is changed)."""
        ...

    async def mark_read(self, conversation_id: str, party: PartyKind, party_id: str,
                        seq: int) -> tuple[Conversation, int, bool]:
        """Raise the party's read mark to ``seq`` (never lower it, never past the last message) if
        the party may act on the conversation (``check_access``); returns the conversation, the
        read mark now, and whether it moved (a mark that does not move writes nothing)."""
        ...

    async def assignments(self, conversation_id: str) -> list[AssignmentEvent]: ...

    async def recent_assignments(self, since: float, limit: int) -> list[RecentAssignment]:
        """The last ``limit`` assignments from the queue (``QUEUE_ASSIGNMENTS``) made at ``since``
        or later, oldest first: what the routing state's ``recent_assignments`` held, rebuilt
        from the assignment history after a restart."""
        ...

    async def transcript(self, conversation_id: str) -> Transcript | None: ...

    async def visited_by_agent(self, conversation_id: str, agent_id: str) -> bool:
        """Whether the agent ever held the conversation."""
        ...

    async def rate(self, rating: Rating) -> None: ...

    async def rating(self, conversation_id: str) -> Rating | None: ...

    async def ping(self) -> None:
        """Raise if the store cannot be reached."""
        ...


class RoutingState(Protocol):
    """The waiting queue and agents' loads: shared, and atomic where it claims."""

    async def enqueue(self, entry: QueueEntry) -> None: ...

    async def remove(self, conversation_id: str) -> bool: ...

    async def position(self, conversation_id: str) -> int | None:
        """1-based place in the queue, or ``None`` when not waiting."""
        ...

    async def waiting(self, limit: int) -> list[QueueEntry]: ...

    async def waiting_count(self) -> int: ...

    async def head_rank(self) -> float | None: ...

    async def claim(self, conversation_id: str, agent_id: str, capacity: int) -> ClaimOutcome:
        """Atomically: take this waiting conversation for the agent if they are below capacity.
        A granted claim is in flight (``claims_in_flight``) until ``record_assignment``,
        ``settle`` or ``release`` of the conversation."""
        ...

    async def positions(self, conversation_ids: list[str]) -> list[int | None]:
        """``position`` of each conversation, in one round trip."""
        ...

    async def assign_next(self, candidates: Sequence[Candidate],
                          open_before: float) -> tuple[str, QueueEntry] | None:
        """Atomically, in one step: of the ``candidates`` below capacity, the one holding the
        fewest chats (ties: the earlier in ``candidates``) that may take a waiting chat
        (``QueueEntry.eligible_for``) takes the first such chat in queue order. Returns the
        agent's id and the chat, or ``None`` when nobody can take anything that waits. The claim
        is in flight as with ``claim``."""
        ...

    async def move(self, conversation_id: str, from_agent: str, to_agent: str, capacity: int) -> bool:
        """Atomically: hand a held chat to another agent below capacity (a transfer); in flight
        as with ``claim`` until ``settle``."""
        ...

    async def record_assignment(self, conversation_id: str, at: float, waited: float) -> None:
        """The claim of ``conversation_id`` is stored: an assignment at ``at`` of a chat that had
        waited ``waited`` seconds (for wait estimates). Settles the claim, and remembers it a while
        (until ``release``; in Redis a minute): a ``restore`` given the chat as waiting, from a
        database read made before the claim was stored, does not queue it again."""
        ...

    async def settle(self, conversation_id: str) -> None:
        """The database has what the last claim or move of the conversation decided (or it was
        undone): it is no longer in flight."""
        ...

    async def claims_in_flight(self, conversation_ids: list[str]) -> set[str]:
        """Which of these conversations have a claim or move the database may not show yet (a
        repair must not take their holds for stale). In Redis a mark lasts at most a minute, so
        a process that died between its claim and its write holds nothing back for long."""
        ...

    async def recent_assignments(self) -> list[tuple[float, float]]:
        """``(at, waited)`` of the most recent assignments, oldest first (for wait estimates)."""
        ...

    async def restore_assignments(self, assignments: list[RecentAssignment]) -> None:
        """Merge the database's recent assignments in (after a process start, or Redis lost its
        data): each kept once however many processes restore it, the most recent
        ``RECENT_ASSIGNMENTS`` kept."""
        ...

    async def release(self, agent_id: str, conversation_id: str) -> None:
        """The agent no longer holds the conversation (closed, requeued); settles any claim."""
        ...

    async def load(self, agent_id: str) -> int: ...

    async def restore(self, entries: list[QueueEntry], held: dict[str, list[str]]) -> None:
        """Merge durable storage's view after a restart: missing entries are added (existing ones
        keep their place; a conversation whose claim is in flight is not added back), and what
        each agent holds."""
        ...

    async def held(self) -> dict[str, list[str]]:
        """What each agent holds, by agent id (agents holding nothing left out)."""
        ...

    async def ping(self) -> None: ...


class Presence(Protocol):
    async def agent_connected(self, agent_id: str, connection_id: str, status: AgentStatus = AgentStatus.ONLINE) -> int:
        """Record a connection; returns the agent's number of live connections. ``status`` (what the
        client asked for) becomes the agent's status if they had no live connection; otherwise the
        status they have stands. The agent is back: their grace deadline, if any, is forgotten."""
        ...

    async def agent_disconnected(self, agent_id: str, connection_id: str) -> int: ...

    async def set_status(self, agent_id: str, status: AgentStatus) -> None: ...

    async def status(self, agent_id: str) -> AgentStatus:
        """``offline`` whenever the agent has no live connection."""
        ...

    async def available_agents(self) -> list[str]:
        """Agents online (not away) with at least one live connection."""
        ...

    async def visitor_connected(self, visitor_id: str, connection_id: str) -> int: ...

    async def visitor_disconnected(self, visitor_id: str, connection_id: str) -> int: ...

    async def processes_of(self, parties: Sequence[tuple[str, str]]) -> set[str]:
        """Ids of the processes holding connections of any of ``parties`` (``(kind, id)``:
        agents and visitors), in one round trip."""
        ...

    async def expire_dead_connections(self) -> list[tuple[str, str, int]]:
        """Remove connections of processes that stopped heartbeating; ``(kind, party_id,
        remaining connections)`` for each one removed, and ``("process", process_id, 0)`` for
        each such process (only one caller is told of each)."""
        ...

    async def release_process(self) -> list[tuple[str, str, int]]:
        """A clean stop: remove this process's connections at once (other processes must not
        route to agents who are gone), ``(kind, party_id, remaining)`` for each one removed."""
        ...

    # Grace periods are kept with presence, not only in the process that saw the agent leave: if
    # that process dies during the grace period, another one requeues the agent's chats.

    async def grace_started(self, agent_id: str, deadline: float) -> float:
        """Record that the agent's chats are requeued at ``deadline`` unless they come back; a
        deadline already recorded stands. Returns the deadline in force."""
        ...

    async def claim_grace(self, agent_id: str, deadline: float) -> bool:
        """Take the agent's deadline if it is still ``deadline``: ``True`` to one caller only."""
        ...

    async def claim_due_graces(self, now: float) -> list[str]:
        """Take every deadline at or before ``now``: each agent goes to one caller only."""
        ...


class ConversationEventLog(Protocol):
    """Records the conversation changes shops subscribe to (webhooks), in the transaction that
    stores each change, so a change is never stored without them nor they without it."""

    async def recorder(self, event_type: str, previous_agent_id: str | None = None) -> OutboxRecorder | None:
        """What to store with a change announced as ``event_type`` (``conversation.created``,
        ``.assigned`` or ``.closed``); ``None`` when nobody subscribes to it."""
        ...


class AssignmentObserver(Protocol):
    """Told of every chat handed to an agent (the composition root wires it to the metrics)."""

    def assigned(self, how: str, waited: float, took: float) -> None:
        """A chat went to an agent (``how``: ``assigned`` by routing or ``taken`` by the agent)
        after ``waited`` seconds in the queue; claiming, storing and announcing it took ``took``."""
        ...


class Notifier(Protocol):
    """What the domain tells connected clients; implemented by the transport."""

    async def message_stored(self, conversation: Conversation, message: Message, origin: str | None) -> None:
        """Deliver a stored message to both parties' subscribed connections, in order, once each
        (``origin``, the sending connection, already has it from its acknowledgement)."""
        ...

    async def conversation_changed(self, conversation: Conversation, previous_agent_id: str | None) -> None: ...

    async def queue_changed(self) -> None: ...

    async def peer_presence(self, conversation: Conversation, party: PartyKind, online: bool) -> None: ...

    async def typing(self, conversation: Conversation, party: PartyKind, typing: bool) -> None: ...

    async def read_updated(self, conversation: Conversation, party: PartyKind, seq: int) -> None: ...


class CustomerStore(Protocol):
    """Customer records, which visitors belong to them, and the records' views of conversations."""

    async def add_customer(self, customer: Customer) -> None:
        """Store a new customer; ``Conflict`` if its ``external_id`` is taken."""
        ...

    async def save_customer(self, customer: Customer) -> None:
        """Overwrite a stored customer's fields; ``Conflict`` if its ``external_id`` is taken,
        ``NotFound`` if it does not exist."""
        ...

    async def get_customer(self, customer_id: str) -> Customer | None: ...

    async def customer_by_external_id(self, external_id: str) -> Customer | None: ...

    async def customer_of_visitor(self, visitor_id: str) -> Customer | None: ...

    async def link_visitor(self, visitor_id: str, customer_id: str, at: float) -> None:
        """The visitor (a browser) belongs to the customer from now on; the visitor's conversations
        that belong to no customer yet are attached to it."""
        ...

    async def merge_customers(self, source_id: str, target: Customer) -> None:
        """In one transaction: save ``target``, move the source's conversations and visitors to it
        and delete the source."""
        ...

    async def search_customers(self, query: str | None, limit: int, offset: int) -> tuple[list[Customer], int]:
        """Customers whose name, an email, phone, external id or an order number of one of their
        conversations contains ``query`` (case-insensitive), most recently seen first, and how many
        match in all."""
        ...

    async def find_conversations(
        self, where: ConversationFilter, limit: int, offset: int
    ) -> tuple[list[ConversationRecord], int]:
        """Conversations matching ``where``, newest first, and how many match in all."""
        ...

    async def conversation_record(self, conversation_id: str) -> ConversationRecord | None: ...

    async def agent_served_customer(self, agent_id: str, customer_id: str) -> bool:
        """Whether the agent ever held one of the customer's conversations."""
        ...

    async def customer_data(self, customer_id: str) -> CustomerData | None: ...

    async def delete_customer(self, customer_id: str, force: bool = False) -> bool:
        """Delete the customer and everything held about it (``CustomerData``), in one transaction;
        ``False`` for an unknown customer. ``Conflict`` while one of its chats is queued or
        assigned, unless ``force`` (those chats are deleted too)."""
        ...

    async def delete_closed_before(self, before: float, limit: int) -> int:
        """Delete up to ``limit`` conversations closed before ``before`` with everything belonging
        to them; returns how many were deleted."""
        ...

    async def delete_tickets_before(self, before: float, limit: int) -> int:
        """Delete up to ``limit`` offline tickets last changed before ``before``, with their
        answers; returns how many were deleted."""
        ...

    async def ratings_report(self, since: float | None, until: float | None, timezone: str) -> RatingsReport:
        """Average ratings of conversations rated in ``[since, until)``, overall, per agent who
        held the conversation last, and per day in ``timezone`` (an IANA name)."""
        ...
