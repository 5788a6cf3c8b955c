"""What webhook receivers are told of an event's objects (docs/webhooks.md): the REST API's views as
agents see them, the domain's ``WebhookPayloads``."""

from __future__ import annotations

from typing import Any

from ..domain.models import Conversation, Customer, Message, PartyKind
from ..domain.tickets import Ticket
from .views import conversation_view, customer_view, message_view, ticket_view


class WebhookViews:
    """The domain's ``WebhookPayloads`` over the views: a webhook shows what the REST API shows."""

    def conversation(self, conversation: Conversation, customer_id: str | None) -> dict[str, Any]:
        return {**conversation_view(conversation, PartyKind.AGENT), "customer_id": customer_id}

    def message(self, message: Message) -> dict[str, Any]:
        return message_view(message)

    def ticket(self, ticket: Ticket) -> dict[str, Any]:
        return ticket_view(ticket, for_agent=True)

    def customer(self, customer: Customer) -> dict[str, Any]:
        return customer_view(customer)
