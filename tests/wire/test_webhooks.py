"""Webhook payloads (chatserver/wire/webhooks.py) are the REST shapes agents see, as
docs/webhooks.md says: a conversation event's Conversation with its ``customer_id``, a Message, a
Ticket with internal ids, a Customer."""

from __future__ import annotations

import msgspec
import pytest

from chatserver.wire import shapes
from chatserver.wire.webhooks import WebhookViews

from .samples import BARE, FULL, conversation, customer, message, ticket

payloads = WebhookViews()


class ConversationEvent(shapes.Conversation):
    """A conversation event's Conversation: the REST one and the customer it belongs to."""

    customer_id: str | None


@pytest.mark.parametrize("full", [FULL, BARE], ids=["full", "bare"])
def test_each_payload_is_the_shape_the_rest_api_shows_agents(full: bool) -> None:
    event = payloads.conversation(conversation(full), "cu1" if full else None)
    assert event["customer_id"] == ("cu1" if full else None) and event["visitor_id"] == "v1"
    msgspec.convert(event, ConversationEvent, strict=True)
    msgspec.convert(payloads.message(message(full)), shapes.Message, strict=True)
    msgspec.convert(payloads.ticket(ticket(full)), shapes.Ticket, strict=True)
    msgspec.convert(payloads.customer(customer(full)), shapes.Customer, strict=True)
