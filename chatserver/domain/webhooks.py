"""Webhooks: events POSTed as signed JSON to the endpoints admins register (docs/webhooks.md).

An event is written to the outbox, one item per subscribed endpoint, with the exact body that
will be sent; the webhook worker POSTs it with an HMAC-SHA256 signature and retries with
exponential backoff. Conversation created/assigned/closed are stored in the transaction of the
change itself (``ConversationWebhooks``, the chat service's ``ConversationEventLog``);
``message.created`` in the message's own transaction, by storage (``Webhooks.message_created``).
What an event says of a conversation, a message, a ticket or a customer is rendered by the
``WebhookPayloads`` given to ``Webhooks``: the views of chatserver/wire, as the REST API shows
them to agents; the domain writes no wire shape of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

import msgspec

from ..errors import InvalidPayload, NotFound
from .changes import CONVERSATION_ASSIGNED, CONVERSATION_CLOSED, CONVERSATION_CREATED
from .models import Conversation, Customer, Message
from .outbox import OutboxItem, OutboxKind
from .ports import OutboxRecorder

if TYPE_CHECKING:  # tickets.py queues its webhook through Webhooks, so it imports this module
    from .tickets import Ticket

log = logging.getLogger("chatserver.webhooks")

MESSAGE_CREATED: Final = "message.created"
TICKET_CREATED: Final = "ticket.created"
CUSTOMER_UPDATED: Final = "customer.updated"
EVENT_TYPES: Final = (CONVERSATION_CREATED, CONVERSATION_ASSIGNED, CONVERSATION_CLOSED, MESSAGE_CREATED,
                      TICKET_CREATED, CUSTOMER_UPDATED)

SIGNATURE_HEADER: Final = "X-Chatserver-Signature"
TIMESTAMP_HEADER: Final = "X-Chatserver-Timestamp"
EVENT_HEADER: Final = "X-Chatserver-Event"
DELIVERY_HEADER: Final = "X-Chatserver-Delivery"


class WebhookEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    url: str
    secret: str
    events: tuple[str, ...]  # empty: every event
    created_at: float

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


# The outbox items of a participant's message, made from the webhook endpoints as of the message's
# transaction, the conversation and the message as stored: storage writes them in that transaction.
MessageItems = Callable[[Sequence[WebhookEndpoint], Conversation, Message], list[OutboxItem]]


class WebhookStore(Protocol):
    async def add_webhook(self, endpoint: WebhookEndpoint) -> None: ...

    async def remove_webhook(self, endpoint_id: str) -> bool: ...

    async def webhook(self, endpoint_id: str) -> WebhookEndpoint | None: ...

    async def webhooks(self) -> list[WebhookEndpoint]: ...

    async def enqueue(self, items: list[OutboxItem]) -> None: ...


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` + hex HMAC-SHA256 of ``"<timestamp>.<body>"``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookPayloads(Protocol):
    """How the objects an event is about appear in its ``data`` (docs/webhooks.md): as the REST
    API shows them to agents. Implemented by chatserver/wire (``WebhookViews``) and passed in, so
    that a webhook and a REST answer cannot disagree on a shape."""

    def conversation(self, conversation: Conversation, customer_id: str | None) -> dict[str, Any]: ...

    def message(self, message: Message) -> dict[str, Any]: ...

    def ticket(self, ticket: Ticket) -> dict[str, Any]: ...

    def customer(self, customer: Customer) -> dict[str, Any]: ...


class WebhookEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The JSON body every endpoint receives."""

    id: str
    type: str
    created_at: float
    data: dict[str, Any]


_encoder = msgspec.json.Encoder()


class Webhooks:
    """Registers endpoints and turns events into outbox items for the endpoints that want them."""

    def __init__(self, store: WebhookStore, clock_now: Callable[[], float], new_id: Callable[[], str],
                 payloads: WebhookPayloads, wake: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.payloads = payloads
        self.now = clock_now
        self.new_id = new_id
        self.wake = wake

    async def add_endpoint(self, url: str, events: list[str], secret: str | None) -> WebhookEndpoint:
        """Register an endpoint; ``secret`` is generated when not given (returned once, by the caller)."""
        unknown = sorted(set(events) - set(EVENT_TYPES))
        if unknown:
            raise InvalidPayload(f"unknown event types {unknown}; known: {list(EVENT_TYPES)}")
        endpoint = WebhookEndpoint(id=self.new_id(), url=url, secret=secret or secrets.token_urlsafe(32),
                                   events=tuple(dict.fromkeys(events)), created_at=self.now())
        await self.store.add_webhook(endpoint)
        log.info("webhook endpoint added endpoint=%s", endpoint.id)
        return endpoint

    async def remove_endpoint(self, endpoint_id: str) -> None:
        if not await self.store.remove_webhook(endpoint_id):
            raise NotFound("no such webhook endpoint")
        log.info("webhook endpoint removed endpoint=%s", endpoint_id)

    async def endpoints_for(self, event_type: str) -> list[WebhookEndpoint]:
        return [e for e in await self.store.webhooks() if e.wants(event_type)]

    def items(self, endpoints: list[WebhookEndpoint], event_type: str, data: Mapping[str, Any], *,
              visitor_id: str | None = None, customer_id: str | None = None) -> list[OutboxItem]:
        """The outbox items that deliver one event to each of ``endpoints``."""
        if not endpoints:
            return []
        now = self.now()
        body = _encoder.encode(WebhookEvent(id=self.new_id(), type=event_type, created_at=now, data=dict(data)))
        return [OutboxItem(id=self.new_id(), kind=OutboxKind.WEBHOOK, target=e.id, payload=body.decode(),
                           created_at=now, next_attempt_at=now, visitor_id=visitor_id, customer_id=customer_id)
                for e in endpoints]

    def message_created(self, endpoints: Sequence[WebhookEndpoint], conversation: Conversation,
                        message: Message) -> list[OutboxItem]:
        """The ``message.created`` items for a participant's message, of ``endpoints`` (every
        endpoint as of the message's transaction), which storage writes in that transaction: a
        message is never stored without its event, nor the event without the message."""
        wanted = [e for e in endpoints if e.wants(MESSAGE_CREATED)]
        # A file message names its file, never its bytes; and with nobody to tell, the event's
        # body is not even built (this runs for every message).
        if not wanted or message.kind not in ("text", "file"):
            return []
        return self.items(wanted, MESSAGE_CREATED, {"message": self.payloads.message(message)},
                          visitor_id=conversation.visitor_id)

    async def items_for(self, event_type: str, data: Mapping[str, Any], *,
                        visitor_id: str | None = None, customer_id: str | None = None) -> list[OutboxItem]:
        """The outbox items that deliver one event to every endpoint subscribed to it (for callers
        that store them in the same transaction as the change they report)."""
        return self.items(await self.endpoints_for(event_type), event_type, data, visitor_id=visitor_id,
                          customer_id=customer_id)

    async def emit(self, event_type: str, data: Mapping[str, Any], *, visitor_id: str | None = None,
                   customer_id: str | None = None) -> None:
        """Queue an event for every subscribed endpoint (``visitor_id``, ``customer_id``: whom it
        is about, so that deleting their data deletes undelivered events too)."""
        items = await self.items_for(event_type, data, visitor_id=visitor_id, customer_id=customer_id)
        if items:
            await self.store.enqueue(items)
            self.wake()


async def customer_updated(webhooks: Webhooks, customer: Customer) -> None:
    """Emit ``customer.updated`` with the customer record as the API shows it (call it after the
    change is committed; it never raises for a delivery problem: delivery is the outbox's job)."""
    await webhooks.emit(CUSTOMER_UPDATED, {"customer": webhooks.payloads.customer(customer)}, customer_id=customer.id)


class ConversationWebhooks:
    """The chat service's ``ConversationEventLog``: ``conversation.created``, ``.assigned`` and
    ``.closed`` with the conversation's ``customer_id``, stored in the change's own transaction."""

    def __init__(self, webhooks: Webhooks) -> None:
        self.webhooks = webhooks

    async def recorder(self, event_type: str, previous_agent_id: str | None = None) -> OutboxRecorder | None:
        endpoints = await self.webhooks.endpoints_for(event_type)
        if not endpoints:
            return None
        loop = asyncio.get_running_loop()

        def record(conversation: Conversation, customer_id: str | None) -> list[OutboxItem]:
            data: dict[str, Any] = {"conversation": self.webhooks.payloads.conversation(conversation, customer_id)}
            if event_type == CONVERSATION_ASSIGNED:
                data["previous_agent_id"] = previous_agent_id
            # The worker's claim waits for the write lock, so it sees these rows once committed.
            # (Called inside the transaction, which may run on the writer's thread.)
            loop.call_soon_threadsafe(self.webhooks.wake)
            return self.webhooks.items(endpoints, event_type, data, visitor_id=conversation.visitor_id,
                                       customer_id=customer_id)

        return record
