"""Wires the asynchronous service into the app: tickets, mail and webhooks, their outbox workers,
Socket.IO events and REST routes (docs/offline.md, docs/webhooks.md).

``build_app`` creates one ``OfflineService``; its workers run in the app's lifecycle and stop
with it. Kept out of app.py so the feature's wiring reads in one place.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web

from . import constants as C
from .config import Settings
from .domain.clock import Clock
from .domain.conversations import ChatService
from .domain.hours import parse_opening_hours
from .domain.models import Customer
from .domain.outbox import OutboxKind, OutboxWorker, RetryPolicy
from .domain.tickets import TicketService, TranscriptLimits
from .domain.webhooks import ConversationWebhooks, Webhooks, customer_updated
from .http.tickets import OUTBOX, TICKETS, WEBHOOKS
from .outgoing.smtp import SmtpMailer, SmtpSettings
from .outgoing.webhooks import WebhookPoster
from .storage.sqlite import SQLiteStores
from .storage.sqlite.customers import SQLiteCustomers
from .transport.dispatch import EventDispatcher
from .transport.notifier import SocketNotifier
from .transport.ratelimit import KeyedLimiter
from .transport.tickets import TicketSocketEvents
from .wire.webhooks import WebhookViews

log = logging.getLogger("chatserver.offline")


class OfflineService:
    def __init__(self, app: web.Application, settings: Settings, stores: SQLiteStores, dispatcher: EventDispatcher,
                 notifier: SocketNotifier, clock: Clock, new_id: Callable[[], str]) -> None:
        self.settings = settings
        self.clock = clock
        self.store = stores.tickets
        policy = RetryPolicy(base=settings.outbox_retry_base, maximum=settings.outbox_retry_max,
                             max_attempts=settings.outbox_max_attempts)
        self.poster = WebhookPoster(self.store, clock, settings.webhook_timeout)
        self.webhook_worker = OutboxWorker(OutboxKind.WEBHOOK, self.store, self.poster.send, clock, policy,
                                           poll_interval=settings.outbox_poll_interval,
                                           lease=settings.webhook_timeout * 3, keep=settings.outbox_keep_days * 86400)
        self.mail_worker: OutboxWorker | None = None
        if settings.smtp_host:
            mailer = SmtpMailer(SmtpSettings(host=settings.smtp_host, port=settings.smtp_port, user=settings.smtp_user,
                                             password=settings.smtp_password, security=settings.smtp_security,
                                             sender=settings.smtp_from, timeout=settings.smtp_timeout))
            self.mail_worker = OutboxWorker(OutboxKind.MAIL, self.store, mailer.send, clock, policy,
                                            poll_interval=settings.outbox_poll_interval,
                                            lease=settings.smtp_timeout * 3, keep=settings.outbox_keep_days * 86400)
        self.webhooks = Webhooks(self.store, clock.now, new_id, WebhookViews(), wake=self.webhook_worker.wake)
        self.store.write_with_messages(self.webhooks.message_created, self.webhook_worker.wake)
        self.events = TicketSocketEvents(notifier, stores.agents, stores.conversations, settings.business_timezone)
        self._service: ChatService | None = None
        per_hour = settings.offline_requests_per_hour
        self.tickets = TicketService(
            store=self.store, events=self.events, webhooks=self.webhooks, clock=clock, new_id=new_id,
            hours=parse_opening_hours(settings.business_hours, settings.business_timezone),
            order_number_required=settings.ticket_order_number_required,
            agents_available=self._agents_available, limiter=KeyedLimiter(per_hour / 3600.0, per_hour),
            transcript_limits=TranscriptLimits(per_conversation=settings.transcript_emails_per_conversation,
                                               per_address_per_day=settings.transcript_emails_per_address_per_day),
            mail_queued=self.mail_worker.wake if self.mail_worker else lambda: None,
        )
        self.events.attach(self.tickets)
        dispatcher.add_handlers(C.VISITOR_NAMESPACE, self.events.handlers())
        app[TICKETS] = self.tickets
        app[WEBHOOKS] = self.webhooks
        app[OUTBOX] = self.store

    async def _agents_available(self) -> bool:
        assert self._service is not None, "offline service not attached"
        return await self._service.agents_available()

    def conversation_events(self) -> ConversationWebhooks:
        """The chat service's event log: conversation webhooks stored with each change."""
        return ConversationWebhooks(self.webhooks)

    def customer_store(self, stores: SQLiteStores) -> SQLiteCustomers:
        """Customer records that also emit ``customer.updated`` (webhooks.md)."""
        return WebhookCustomerStore(stores, self.webhooks)

    def attach(self, service: ChatService) -> None:
        self._service = service

    async def start(self, stop: asyncio.Event) -> list[asyncio.Task[None]]:
        """Start the outbox workers; they stop when ``stop`` is set."""
        await self.poster.start()
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(self.webhook_worker.run(stop))]
        if self.mail_worker is not None:
            tasks.append(loop.create_task(self.mail_worker.run(stop)))
        else:
            log.warning("smtp_host is not set: emails wait in the outbox until it is")
        return tasks

    async def close(self) -> None:
        await self.poster.close()


class WebhookCustomerStore(SQLiteCustomers):
    """The customer records' store, emitting ``customer.updated`` once a customer is created,
    changed (including when last seen) or merged into. A webhook that cannot be queued is logged
    and never fails the change."""

    def __init__(self, stores: SQLiteStores, webhooks: Webhooks) -> None:
        super().__init__(stores.database, stores.conversations)
        self._webhooks = webhooks

    async def _updated(self, customer: Customer) -> None:
        try:
            await customer_updated(self._webhooks, customer)
        except Exception:
            log.exception("could not queue webhook event=customer.updated customer=%s", customer.id)

    async def add_customer(self, customer: Customer) -> None:
        await super().add_customer(customer)
        await self._updated(customer)

    async def save_customer(self, customer: Customer) -> None:
        await super().save_customer(customer)
        await self._updated(customer)

    async def merge_customers(self, source_id: str, target: Customer) -> None:
        await super().merge_customers(source_id, target)
        await self._updated(target)
