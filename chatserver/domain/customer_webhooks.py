"""Customer records that emit ``customer.updated`` (docs/webhooks.md): a ``CustomerStore`` over
another, emitting once a customer is created, changed (including when last seen) or merged into.
The event carries the record as the API shows it (the webhooks' payloads). A webhook that cannot be queued is
logged and never fails the change, which is already committed."""

from __future__ import annotations

import logging

from .models import ConversationFilter, ConversationRecord, Customer, CustomerData, RatingsReport
from .ports import CustomerStore
from .webhooks import Webhooks, customer_updated

log = logging.getLogger("chatserver.webhooks")


class WebhookCustomers:
    def __init__(self, store: CustomerStore, webhooks: Webhooks) -> None:
        self.store = store
        self.webhooks = webhooks

    async def _updated(self, customer: Customer) -> None:
        try:
            await customer_updated(self.webhooks, customer)
        except Exception:
            log.exception("could not queue webhook event=customer.updated customer=%s", customer.id)

    # -- the changes that emit --------------------------------------------------------------------

    async def add_customer(self, customer: Customer) -> None:
        await self.store.add_customer(customer)
        await self._updated(customer)

    async def save_customer(self, customer: Customer) -> None:
        await self.store.save_customer(customer)
        await self._updated(customer)

    async def merge_customers(self, source_id: str, target: Customer) -> None:
        await self.store.merge_customers(source_id, target)
        await self._updated(target)

    # -- the rest, as the store does it ----------------------------------------------------------

    async def get_customer(self, customer_id: str) -> Customer | None:
        return await self.store.get_customer(customer_id)

    async def customer_by_external_id(self, external_id: str) -> Customer | None:
        return await self.store.customer_by_external_id(external_id)

    async def customer_of_visitor(self, visitor_id: str) -> Customer | None:
        return await self.store.customer_of_visitor(visitor_id)

    async def link_visitor(self, visitor_id: str, customer_id: str, at: float) -> None:
        await self.store.link_visitor(visitor_id, customer_id, at)

    async def search_customers(self, query: str | None, limit: int, offset: int) -> tuple[list[Customer], int]:
        return await self.store.search_customers(query, limit, offset)

    async def find_conversations(
        self, where: ConversationFilter, limit: int, offset: int
    ) -> tuple[list[ConversationRecord], int]:
        return await self.store.find_conversations(where, limit, offset)

    async def conversation_record(self, conversation_id: str) -> ConversationRecord | None:
        return await self.store.conversation_record(conversation_id)

    async def agent_served_customer(self, agent_id: str, customer_id: str) -> bool:
        return await self.store.agent_served_customer(agent_id, customer_id)

    async def customer_data(self, customer_id: str) -> CustomerData | None:
        return await self.store.customer_data(customer_id)

    async def delete_customer(self, customer_id: str, force: bool = False) -> bool:
        return await self.store.delete_customer(customer_id, force)

    async def delete_closed_before(self, before: float, limit: int) -> int:
        return await self.store.delete_closed_before(before, limit)

    async def delete_tickets_before(self, before: float, limit: int) -> int:
        return await self.store.delete_tickets_before(before, limit)

    async def ratings_report(self, since: float | None, until: float | None, timezone: str) -> RatingsReport:
        return await self.store.ratings_report(since, until, timezone)
