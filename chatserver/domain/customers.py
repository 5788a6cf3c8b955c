"""Customer records: the contact directory, identified and anonymous visitors, who may read
which transcripts, exports and deletions, retention and the ratings report.

Rules:
- every conversation belongs to a customer: a visitor who starts a chat without identifying gets
  an anonymous record made from the pre-chat name and email;
- a visitor identified by a signed identity belongs to the customer with that ``external_id``;
  if the visitor had an anonymous record, it is merged into that customer (its conversations
  follow). A bad identity is refused and changes nothing;
- who may do what (docs/customers.md, "Who sees what"): every agent reads the directory (a
  customer's contact details, notes and tags: what anyone answering the shop's customers needs
  to find them) and edits those fields; the shop's ``external_id``, which decides which signed-in
  shopper a record (and its history) belongs to, is set and changed by admins alone. Agents read
  the conversations and transcripts of chats they held and of customers they served, never
  others'; admins read everything, and alone export or delete a customer or force-close a chat.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Annotated

import msgspec

from ..errors import Conflict, Forbidden, InvalidIdentity, InvalidPayload, NotFound
from .clock import Clock
from .identity import IdentityClaims, verify_identity
from .models import (
    Agent,
    ConversationFilter,
    ConversationRecord,
    ConversationStatus,
    Customer,
    CustomerData,
    PreChat,
    RatingsReport,
    Role,
    Transcript,
)
from .patterns import EMAIL, EMAIL_RE, SPACE, checked
from .ports import ConversationStore, CustomerStore

# A phone number as given, whitespace around it included (it is stored stripped).
PHONE = rf"^[{SPACE}]*(\+?[0-9][0-9 ()./-]{{0,29}}[0-9()./-])?[{SPACE}]*$(?!\n)"
PHONE_RE = re.compile(PHONE)
TAG = r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,31}$(?!\n)"
TAG_RE = re.compile(TAG)
MAX_EMAILS = 10
MAX_TAGS = 20
MAX_NOTES = 4000
RETENTION_BATCH = 500

log = logging.getLogger("chatserver.customers")


_Text = Annotated[str, msgspec.Meta(max_length=MAX_NOTES)]
# Decoding bounds every text at 254 characters; check_customer_fields checks the tighter rules
# stated here (``checked``: after who may change what, so that an agent's external_id is
# forbidden before it is too long).
_ExternalId = Annotated[str, msgspec.Meta(max_length=254, extra_json_schema=checked(
    maxLength=128, pattern=r"^[^\u0000-\u001f\u007f]*$(?!\n)"))]
_Name = Annotated[str, msgspec.Meta(max_length=254, extra_json_schema=checked(maxLength=100))]
_Email = Annotated[str, msgspec.Meta(max_length=254, extra_json_schema=checked(pattern=EMAIL))]
_Phone = Annotated[str, msgspec.Meta(max_length=254, extra_json_schema=checked(maxLength=32, pattern=PHONE))]
_Tag = Annotated[str, msgspec.Meta(max_length=254, extra_json_schema=checked(maxLength=32, pattern=TAG,
                                                                            description="stored in lower case"))]


class CustomerFields(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fields left out are unchanged (on update) or empty (on create); null clears one."""

    # The REST body; msgspec.UNSET: left out. check_customer_fields validates and normalizes them.
    external_id: _ExternalId | msgspec.UnsetType | None = msgspec.UNSET
    name: _Name | msgspec.UnsetType | None = msgspec.UNSET
    emails: Annotated[list[_Email], msgspec.Meta(max_length=MAX_EMAILS)] | msgspec.UnsetType = msgspec.UNSET
    phone: _Phone | msgspec.UnsetType | None = msgspec.UNSET
    notes: _Text | msgspec.UnsetType | None = msgspec.UNSET
    tags: Annotated[list[_Tag], msgspec.Meta(max_length=MAX_TAGS)] | msgspec.UnsetType = msgspec.UNSET


def _clean_text(value: str | None, what: str, limit: int) -> str | None:
    if value is None:
        return None
    if len(value) > limit:
        raise InvalidPayload(f"{what} is limited to {limit} characters")
    return value.strip() or None


def check_emails(emails: list[str]) -> tuple[str, ...]:
    """Lower-case, each once, in the order given."""
    if any(len(e) > 254 or not EMAIL_RE.fullmatch(e) for e in emails):
        raise InvalidPayload("an email is not a valid address")
    normalized = tuple(dict.fromkeys(e.lower() for e in emails))
    if len(normalized) > MAX_EMAILS:
        raise InvalidPayload(f"at most {MAX_EMAILS} emails")
    return normalized


def check_tags(tags: list[str]) -> tuple[str, ...]:
    """Lower-case, each once, in the order given."""
    if any(not TAG_RE.fullmatch(t) for t in tags):
        raise InvalidPayload("a tag is 1-32 characters: letters a-z, digits, space, _ and -")
    normalized = tuple(dict.fromkeys(t.lower() for t in tags))
    if len(normalized) > MAX_TAGS:
        raise InvalidPayload(f"at most {MAX_TAGS} tags")
    return normalized


def check_customer_fields(customer: Customer, fields: CustomerFields) -> Customer:
    """``customer`` with ``fields`` applied, validated and normalized."""
    changes: dict[str, object] = {}
    if fields.external_id is not msgspec.UNSET:
        if fields.external_id is not None and re.search(r"[\x00-\x1f\x7f]", fields.external_id):
            raise InvalidPayload("external_id must not contain control characters")
        changes["external_id"] = _clean_text(fields.external_id, "external_id", 128)
    if fields.name is not msgspec.UNSET:
        changes["name"] = _clean_text(fields.name, "name", 100)
    if fields.emails is not msgspec.UNSET:
        changes["emails"] = check_emails(fields.emails)
    if fields.phone is not msgspec.UNSET:
        if fields.phone is not None and len(fields.phone) <= 32 and not PHONE_RE.fullmatch(fields.phone):
            raise InvalidPayload("phone may hold digits, spaces, + ( ) . / and -")
        changes["phone"] = _clean_text(fields.phone, "phone", 32)
    if fields.notes is not msgspec.UNSET:
        changes["notes"] = _clean_text(fields.notes, "notes", MAX_NOTES)
    if fields.tags is not msgspec.UNSET:
        changes["tags"] = check_tags(fields.tags)
    return msgspec.structs.replace(customer, **changes)


def check_may_change(agent: Agent, fields: CustomerFields) -> None:
    """Agents edit a record's contact details, notes and tags; only admins set ``external_id``
    (it decides whose signed identity, and so whose history, the record gets)."""
    if agent.role != Role.ADMIN and fields.external_id is not msgspec.UNSET:
        raise Forbidden("only admins set or change external_id")


class CustomerService:
    """Customer records over a ``CustomerStore``; transcripts come from the ``ConversationStore``."""

    def __init__(
        self,
        *,
        customers: CustomerStore,
        conversations: ConversationStore,
        clock: Clock,
        new_id: Callable[[], str],
        identity_secret: str | None = None,
        identity_max_age: float = 3600.0,
        retention_days: float = 0.0,
        timezone: str = "UTC",
    ) -> None:
        self.customers = customers
        self.conversations = conversations
        self.clock = clock
        self.new_id = new_id
        self.identity_secret = identity_secret
        self.identity_max_age = identity_max_age
        self.retention_days = retention_days
        self.timezone = timezone

    # -- visitors -----------------------------------------------------------------------------

    async def attach_chat(self, visitor_id: str, prechat: PreChat) -> Customer:
        """Make sure the visitor's conversations belong to a customer (``attach_visitor`` with
        the pre-chat form's name and email)."""
        return await self.attach_visitor(visitor_id, prechat.name, prechat.email)

    async def attach_visitor(self, visitor_id: str, name: str, email: str | None) -> Customer:
        """The customer the visitor belongs to, linked: the one the visitor is linked to (an
        anonymous record learns the name and email given), or a new anonymous record made from
        them. Called before a conversation or a ticket of the visitor is stored, so it is
        stored with its customer."""
        now = self.clock.now()
        customer = await self.customers.customer_of_visitor(visitor_id)
        if customer is None:
            customer = Customer(id=self.new_id(), created_at=now, last_seen_at=now, name=name,
                                emails=(email.lower(),) if email else ())
            await self.customers.add_customer(customer)
        else:
            changes: dict[str, object] = {"last_seen_at": now}
            if customer.external_id is None:
                changes["name"] = name
                if email and email.lower() not in customer.emails and len(customer.emails) < MAX_EMAILS:
                    changes["emails"] = (*customer.emails, email.lower())
            customer = msgspec.structs.replace(customer, **changes)
            await self.customers.save_customer(customer)
        await self.customers.link_visitor(visitor_id, customer.id, now)
        return customer

    async def verified_emails(self, visitor_id: str) -> tuple[str, ...]:
        """The emails of the customer the shop identified the visitor as (its signed identity's,
        and those staff keep on the record); none for an anonymous visitor, whose record holds only
        what the visitor typed."""
        customer = await self.customers.customer_of_visitor(visitor_id)
        return customer.emails if customer is not None and customer.external_id is not None else ()

    async def identify_visitor(self, visitor_id: str, identity: str) -> Customer:
        """Verify the shop's signed identity and attach the visitor (and the anonymous record it had,
        with its conversations) to the customer it names, creating that customer on first sight."""
        if not self.identity_secret:
            raise InvalidIdentity("this server does not accept signed identities (no identity_secret)")
        claims = verify_identity(identity, self.identity_secret, self.clock.now(), self.identity_max_age)
        target = await self._customer_for_claims(claims)
        previous = await self.customers.customer_of_visitor(visitor_id)
        if previous is not None and previous.id != target.id and previous.external_id is None:
            target = msgspec.structs.replace(
                target,
                emails=tuple(dict.fromkeys(target.emails + previous.emails))[:MAX_EMAILS],
                phone=target.phone or previous.phone,
                notes="\n\n".join(n for n in (target.notes, previous.notes) if n) or None,
                tags=tuple(dict.fromkeys(target.tags + previous.tags))[:MAX_TAGS],
                created_at=min(target.created_at, previous.created_at),
            )
            await self.customers.merge_customers(previous.id, target)
        await self.customers.link_visitor(visitor_id, target.id, self.clock.now())
        return target

    async def _customer_for_claims(self, claims: IdentityClaims) -> Customer:
        """The customer with the claims' external id, created or brought up to date."""
        now = self.clock.now()
        email = (claims.email.lower(),) if claims.email else ()
        customer = await self.customers.customer_by_external_id(claims.external_id)
        if customer is None:
            customer = Customer(id=self.new_id(), external_id=claims.external_id, name=claims.name,
                                emails=email, created_at=now, last_seen_at=now)
            try:
                await self.customers.add_customer(customer)
                return customer
            except Conflict:
                # Another process identified the same customer first: use that record.
                existing = await self.customers.customer_by_external_id(claims.external_id)
                if existing is None:
                    raise
                customer = existing
        updated = msgspec.structs.replace(
            customer, name=claims.name or customer.name, last_seen_at=now,
            emails=tuple(dict.fromkeys(email + customer.emails))[:MAX_EMAILS],
        )
        await self.customers.save_customer(updated)
        return updated

    # -- the directory ------------------------------------------------------------------------

    async def get_customer(self, customer_id: str) -> Customer:
        customer = await self.customers.get_customer(customer_id)
        if customer is None:
            raise NotFound("customer not found")
        return customer

    async def create_customer(self, fields: CustomerFields) -> Customer:
        now = self.clock.now()
        customer = check_customer_fields(Customer(id=self.new_id(), created_at=now, last_seen_at=now), fields)
        if not (customer.name or customer.emails or customer.phone or customer.external_id):
            raise InvalidPayload("a customer needs at least a name, an email, a phone number or an external_id")
        await self.customers.add_customer(customer)
        return customer

    async def update_customer(self, customer_id: str, fields: CustomerFields) -> Customer:
        customer = check_customer_fields(await self.get_customer(customer_id), fields)
        await self.customers.save_customer(customer)
        return customer

    async def search(self, query: str | None, limit: int, offset: int) -> tuple[list[Customer], int]:
        """Customers matching ``query`` in name, email, phone, external id or an order number."""
        return await self.customers.search_customers(query.strip() if query else None, limit, offset)

    # -- conversations and transcripts --------------------------------------------------------

    async def check_may_read_customer_history(self, agent: Agent, customer_id: str) -> None:
        """Admins read every customer's conversations; agents those of customers they served."""
        await self.get_customer(customer_id)
        if agent.role != Role.ADMIN and not await self.customers.agent_served_customer(agent.id, customer_id):
            raise Forbidden("you have not served this customer")

    async def list_conversations(self, agent: Agent, where: ConversationFilter, limit: int,
                                 offset: int) -> tuple[list[ConversationRecord], int]:
        """Conversations matching ``where``: agents list only their own, or a customer's they served.
        An unknown customer is ``NotFound``."""
        if where.customer_id is not None:
            await self.check_may_read_customer_history(agent, where.customer_id)
        elif agent.role != Role.ADMIN:
            if where.agent_id not in (None, agent.id):
                raise Forbidden("agents can list only their own conversations")
            else:
                where = msgspec.structs.replace(where, agent_id=agent.id)
        return await self.customers.find_conversations(where, limit, offset)

    async def transcript_for(self, agent: Agent, conversation_id: str) -> tuple[Transcript, ConversationRecord]:
        """A conversation's transcript, if ``agent`` may read it: admins any; agents one they held
        or one of a customer they served."""
        record = await self.customers.conversation_record(conversation_id)
        transcript = await self.conversations.transcript(conversation_id) if record is not None else None
        if record is None or transcript is None:
            raise NotFound("conversation not found")
        if agent.role != Role.ADMIN and not await self.conversations.visited_by_agent(conversation_id, agent.id) \
                and not (record.customer_id is not None
                         and await self.customers.agent_served_customer(agent.id, record.customer_id)):
            raise Forbidden("this conversation was never assigned to you")
        return transcript, record

    # -- privacy ------------------------------------------------------------------------------

    async def export_customer(self, customer_id: str) -> CustomerData:
        """Everything held about the customer."""
        data = await self.customers.customer_data(customer_id)
        if data is None:
            raise NotFound("customer not found")
        return data

    async def delete_customer(self, customer_id: str, *, close_active: Callable[[str], Awaitable[object]] | None = None,
                              force: bool = False) -> None:
        """Delete the customer and everything held about it. A queued or assigned chat of the
        customer is a ``Conflict``, unless ``close_active`` closes each first (a running server:
        both sides are told), or ``force`` deletes them as they are (the CLI, server stopped)."""
        if close_active is not None:
            await self.get_customer(customer_id)
            for status in (ConversationStatus.QUEUED, ConversationStatus.ASSIGNED):
                records, _ = await self.customers.find_conversations(
                    ConversationFilter(customer_id=customer_id, status=status), 500, 0)
                for record in records:
                    await close_active(record.conversation.id)
        if not await self.customers.delete_customer(customer_id, force=force):
            raise NotFound("customer not found")

    async def purge_expired_transcripts(self) -> int:
        """Delete closed conversations older than the retention period; returns how many."""
        return await self._purge(self.customers.delete_closed_before)

    async def purge_expired_tickets(self) -> int:
        """Delete offline tickets (with their answers) last changed before the retention period;
        returns how many."""
        return await self._purge(self.customers.delete_tickets_before)

    async def _purge(self, delete: Callable[[float, int], Awaitable[int]]) -> int:
        if self.retention_days <= 0:
            return 0
        before = self.clock.now() - self.retention_days * 86400.0
        deleted = 0
        while True:
            batch = await delete(before, RETENTION_BATCH)
            deleted += batch
            if batch < RETENTION_BATCH:
                return deleted

    async def apply_retention(self) -> None:
        """The periodic retention job: delete expired transcripts and tickets and say how many
        (no contents)."""
        conversations = await self.purge_expired_transcripts()
        tickets = await self.purge_expired_tickets()
        if conversations or tickets:
            log.info("retention deleted conversations=%d tickets=%d older_than_days=%s", conversations, tickets,
                     self.retention_days)

    async def ratings_report(self, since: float | None, until: float | None) -> RatingsReport:
        """Averages overall, per agent and per day (days in the business's ``timezone``)."""
        return await self.customers.ratings_report(since, until, self.timezone)
