"""Offline tickets: when no agent can chat, a visitor leaves a question through a form; agents
answer it later; the answer goes to the visitor by email (through the outbox) and is shown in
the widget when they return. Also the visitor's "email me the transcript" after a chat: only to
an address the shopper gave before the chat or one the shop vouched for (the identified
customer's), so the server cannot be made to send a visitor's text to anyone else, and at most
so many times per conversation and per address.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Protocol

import msgspec

from ..errors import ConversationNotClosed, EmailNotConfigured, Forbidden, InvalidPayload, NotFound, RateLimited
from .clock import Clock
from .hours import OpeningHours
from .i18n import Languages
from .mail import mail_item, ticket_answer_mail, transcript_mail
from .models import Agent, ConversationStatus, Customer, Transcript
from .outbox import OutboxItem
from .webhooks import TICKET_CREATED, Webhooks

log = logging.getLogger("chatserver.tickets")


class TicketStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"


class TicketAnswer(msgspec.Struct, frozen=True, kw_only=True):
    ticket_id: str
    agent_id: str | None
    agent_name: str
    body: str
    created_at: float


class Ticket(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    visitor_id: str
    name: str
    email: str
    description: str
    status: TicketStatus
    created_at: float
    updated_at: float
    order_number: str | None = None
    page_url: str | None = None
    answers: tuple[TicketAnswer, ...] = ()
    # the customer record the ticket belongs to (as a conversation does)
    customer_id: str | None = None
    # the shopper's language (one of the widget's): the language of the answer's mail
    locale: str | None = None

    @property
    def reference(self) -> str:
        """What the visitor and agents call the ticket (in emails, in the widget)."""
        return f"T-{self.id[:8].upper()}"


class TicketForm(msgspec.Struct, frozen=True, kw_only=True):
    """What the visitor filled in (already validated for shape by the transport)."""

    name: str
    email: str
    description: str
    order_number: str | None = None
    page_url: str | None = None
    locale: str | None = None


class TranscriptLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Transcripts sent per conversation, ever, and per address in a day (whoever asks)."""

    per_conversation: int
    per_address_per_day: int


class TranscriptEmail(msgspec.Struct, frozen=True, kw_only=True):
    """A transcript sent at a visitor's request, as counted against the limits."""

    conversation_id: str
    visitor_id: str
    address: str  # lower case
    sent_at: float


DAY = 86400.0


class TicketStore(Protocol):
    async def create_ticket(self, ticket: Ticket, outbox: list[OutboxItem]) -> None:
        """Store a new ticket and the outbox items announcing it, in one transaction."""
        ...

    async def add_ticket_answer(self, answer: TicketAnswer, now: float, outbox: list[OutboxItem]) -> Ticket | None:
        """Store an answer, mark the ticket answered and queue ``outbox``, in one transaction;
        ``None`` when there is no such ticket."""
        ...

    async def ticket(self, ticket_id: str) -> Ticket | None: ...

    async def list_tickets(self, *, status: TicketStatus | None, limit: int, offset: int) -> list[Ticket]:
        """Newest first, with their answers."""
        ...

    async def tickets_for_visitor(self, visitor_id: str, limit: int) -> list[Ticket]: ...

    async def enqueue(self, items: list[OutboxItem]) -> None: ...

    async def enqueue_transcript(self, sent: TranscriptEmail, item: OutboxItem, limits: TranscriptLimits) -> None:
        """Record ``sent`` and queue ``item`` in one transaction, unless the conversation already
        had ``limits.per_conversation`` transcripts sent or the address
        ``limits.per_address_per_day`` in the day before ``sent.sent_at`` (``RateLimited``, and
        nothing is stored), so every process sharing the database counts alike."""
        ...


class TicketEvents(Protocol):
    """What connected clients are told; implemented by the transport."""

    async def ticket_created(self, ticket: Ticket) -> None:
        """Tell agents a ticket is waiting."""
        ...

    async def ticket_answered(self, ticket: Ticket) -> None:
        """Tell the visitor's open widgets, and agents, that the ticket has an answer."""
        ...


class Availability(msgspec.Struct, frozen=True, kw_only=True):
    """Whether a visitor can chat now; if not, why, and what the offline form requires."""

    chat_open: bool
    reason: str | None  # "no_agents" | "closed" (outside business hours) | None
    order_number_required: bool
    transcript_email: bool  # whether "email me the transcript" can be offered (the server sends mail)
    opens_at: float | None = None  # when closed: the next opening (seconds since the epoch)


class RateLimiter(Protocol):
    def take(self, key: str) -> bool: ...


class TicketService:
    def __init__(self, *, store: TicketStore, events: TicketEvents, webhooks: Webhooks, clock: Clock,
                 new_id: Callable[[], str], hours: OpeningHours, order_number_required: bool,
                 agents_available: Callable[[], Awaitable[bool]], limiter: RateLimiter,
                 transcript_limits: TranscriptLimits, sends_mail: bool, languages: Languages,
                 mail_queued: Callable[[], None] = lambda: None,
                 customer_for_visitor: Callable[[str, str, str], Awaitable[Customer]] | None = None,
                 verified_emails: Callable[[str], Awaitable[tuple[str, ...]]] | None = None) -> None:
        self.store = store
        self.events = events
        self.webhooks = webhooks
        self.clock = clock
        self.new_id = new_id
        self.hours = hours
        self.order_number_required = order_number_required
        self.agents_available = agents_available
        self.limiter = limiter
        self.transcript_limits = transcript_limits
        # Without outgoing mail (no smtp_host) a transcript would only wait in the outbox: the
        # visitor is not offered it, and asking for it is refused.
        self.sends_mail = sends_mail
        # The shoppers' languages: the one a ticket or chat names writes its mails.
        self.languages = languages
        self.mail_queued = mail_queued
        # Given (visitor id, name, email) before a ticket is stored, returns the customer it
        # belongs to (customer records: the visitor's, or a new anonymous one).
        self.customer_for_visitor = customer_for_visitor
        # Given a visitor id, the emails of the customer the shop identified them as (customer
        # records: none for an anonymous visitor), where their transcripts may go too.
        self.verified_emails = verified_emails

    async def availability(self) -> Availability:
        """Closed outside business hours (with when the shop opens next); else open when an agent
        is online and taking chats."""
        opens_at = self.hours.opens_at(self.clock.now())
        if opens_at is not None:
            reason: str | None = "closed"
        elif not await self.agents_available():
            reason = "no_agents"
        else:
            reason = None
        return Availability(chat_open=reason is None, reason=reason, opens_at=opens_at,
                            order_number_required=self.order_number_required, transcript_email=self.sends_mail)

    def check_form(self, form: TicketForm) -> TicketForm:
        """Trim the form and refuse one without its required fields (``invalid_payload`` with the
        failing fields in ``details``)."""
        cleaned = TicketForm(name=form.name.strip(), email=form.email.strip(), description=form.description.strip(),
                             order_number=(form.order_number or "").strip() or None, page_url=form.page_url,
                             locale=self.check_locale(form.locale))
        missing = [f for f in ("name", "email", "description") if not getattr(cleaned, f)]
        if self.order_number_required and cleaned.order_number is None:
            missing.append("order_number")
        if missing:
            raise InvalidPayload(f"required: {', '.join(missing)}", details={"fields": missing})
        return cleaned

    def check_locale(self, locale: str | None) -> str | None:
        """The shopper's language as the widget's catalog names it (de-AT -> de); one it does not
        have is ``invalid_payload``."""
        if locale is None:
            return None
        supported = self.languages.supported(locale)
        if supported is None:
            raise InvalidPayload(f"locale must be one of {', '.join(self.languages.catalogs['widget'].languages)}",
                                 details={"fields": ["locale"]})
        return supported

    def _limit(self, visitor_id: str) -> None:
        if not self.limiter.take(visitor_id):
            raise RateLimited("too many requests from this visitor; try again later")

    async def create_ticket(self, visitor_id: str, form: TicketForm) -> Ticket:
        """Store the visitor's question as an open ticket, tell agents, and queue the
        ``ticket.created`` webhook with it."""
        form = self.check_form(form)
        self._limit(visitor_id)
        customer_id = None
        if self.customer_for_visitor is not None:
            customer_id = (await self.customer_for_visitor(visitor_id, form.name, form.email)).id
        now = self.clock.now()
        ticket = Ticket(id=self.new_id(), visitor_id=visitor_id, name=form.name, email=form.email,
                        description=form.description, order_number=form.order_number, page_url=form.page_url,
                        status=TicketStatus.OPEN, created_at=now, updated_at=now, customer_id=customer_id,
                        locale=form.locale)
        hooks = await self.webhooks.items_for(TICKET_CREATED, {"ticket": self.webhooks.payloads.ticket(ticket)},
                                              visitor_id=visitor_id, customer_id=customer_id)
        await self.store.create_ticket(ticket, hooks)
        if hooks:
            self.webhooks.wake()
        log.info("ticket created ticket=%s visitor=%s", ticket.id, visitor_id)
        await self.events.ticket_created(ticket)
        return ticket

    async def answer(self, agent: Agent, ticket_id: str, body: str) -> Ticket:
        """Record an agent's answer, email it to the visitor (through the outbox) and show it in
        their widget."""
        ticket = await self.store.ticket(ticket_id)
        if ticket is None:
            raise NotFound("ticket not found")
        now = self.clock.now()
        answer = TicketAnswer(ticket_id=ticket_id, agent_id=agent.id, agent_name=agent.name, body=body, created_at=now)
        mail = ticket_answer_mail(self.languages.server(ticket.locale), reference=ticket.reference, name=ticket.name,
                                  description=ticket.description, agent_name=agent.name, answer=body)
        updated = await self.store.add_ticket_answer(
            answer, now, [mail_item(ticket.email, mail, new_id=self.new_id, now=now, visitor_id=ticket.visitor_id)])
        if updated is None:
            raise NotFound("ticket not found")
        self.mail_queued()
        log.info("ticket answered ticket=%s agent=%s", ticket_id, agent.id)
        await self.events.ticket_answered(updated)
        return updated

    async def ticket(self, ticket_id: str) -> Ticket:
        ticket = await self.store.ticket(ticket_id)
        if ticket is None:
            raise NotFound("ticket not found")
        return ticket

    async def tickets(self, status: TicketStatus | None, limit: int, offset: int) -> list[Ticket]:
        return await self.store.list_tickets(status=status, limit=limit, offset=offset)

    async def visitor_tickets(self, visitor_id: str, limit: int = 20) -> list[Ticket]:
        """The visitor's own tickets with their answers, newest first."""
        return await self.store.tickets_for_visitor(visitor_id, limit)

    async def transcript_addresses(self, visitor_id: str, transcript: Transcript) -> tuple[str, ...]:
        """Where the visitor may have the transcript sent, the default first: the email given
        before the chat, then the identified customer's."""
        verified = await self.verified_emails(visitor_id) if self.verified_emails is not None else ()
        given = transcript.conversation.prechat.email
        unique: dict[str, str] = {}  # each address once, whatever its case
        for address in ((given.strip(),) if given and given.strip() else ()) + verified:
            unique.setdefault(address.lower(), address)
        return tuple(unique.values())

    async def email_transcript(self, visitor_id: str, transcript: Transcript | None, to: str | None,
                               timezone: str) -> str:
        """Queue the transcript of the visitor's ended chat for ``to``, one of
        ``transcript_addresses`` (by default the first); returns the address. Another visitor's
        chat is ``not_found``, another address ``forbidden``; past the limits ``rate_limited``; on
        a server that sends no mail ``email_not_configured``."""
        if transcript is None or transcript.conversation.visitor_id != visitor_id:
            raise NotFound("conversation not found")
        if not self.sends_mail:
            raise EmailNotConfigured("this chat server sends no email: the transcript cannot be sent")
        if transcript.conversation.status != ConversationStatus.CLOSED:
            raise ConversationNotClosed("the transcript can be emailed once the chat has ended")
        allowed = await self.transcript_addresses(visitor_id, transcript)
        if to is not None:
            address = next((a for a in allowed if a.lower() == to.strip().lower()), None)
            if address is None:
                raise Forbidden("the transcript goes only to the email given before the chat (or your account's)",
                                details={"fields": ["email"]})
        elif allowed:
            address = allowed[0]
        else:
            raise InvalidPayload("no email address was given before this chat to send the transcript to",
                                 details={"fields": ["email"]})
        self._limit(visitor_id)
        now = self.clock.now()
        mail = transcript_mail(transcript, timezone, self.languages.server(transcript.conversation.prechat.locale))
        item = mail_item(address, mail, new_id=self.new_id, now=now,
                         visitor_id=visitor_id)
        await self.store.enqueue_transcript(
            TranscriptEmail(conversation_id=transcript.conversation.id, visitor_id=visitor_id, address=address.lower(),
                            sent_at=now), item, self.transcript_limits)
        self.mail_queued()
        log.info("transcript email queued conversation=%s visitor=%s", transcript.conversation.id, visitor_id)
        return address
