"""The offline service's Socket.IO events (namespace ``/visitor``; availability on ``/agent``
too): availability, the offline form's tickets, the visitor's tickets with their answers, and
"email me the transcript". Also the ``TicketEvents`` port (``TicketAnnouncer``): tickets
announced to agents and answers to the visitor. The events are registered in the event
dispatcher (dispatch.py) by the composition root (assembly.py); documented in
docs/protocol.md."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from .. import constants as C
from ..domain.models import Agent
from ..domain.ports import AgentStore, ConversationStore
from ..domain.tickets import Ticket, TicketForm, TicketService
from ..wire.views import ticket_view
from . import schemas as S
from .dispatch import Handler
from .notifier import SocketNotifier
from .registry import Connection

Description = Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]


class AvailabilityGet(S.Payload, kw_only=True):
    pass


class TicketCreate(S.Payload, kw_only=True):
    name: S.Name
    email: S.Email
    description: Description
    order_number: S.OrderNumber | None = None
    page_url: S.Url | None = None
    locale: S.Locale | None = None


class TicketList(S.Payload, kw_only=True):
    limit: Annotated[int, msgspec.Meta(ge=1, le=50)] = 20


class TranscriptEmail(S.Payload, kw_only=True):
    conversation_id: S.Id
    email: S.Email | None = None


class TicketSocketEvents:
    """Visitor events of the offline service."""

    def __init__(self, tickets: TicketService, conversations: ConversationStore, timezone: str) -> None:
        self.tickets = tickets
        self.conversations = conversations
        self.timezone = timezone

    def handlers(self) -> dict[str, Handler]:
        return {
            C.EV_AVAILABILITY_GET: self._on_availability,
            C.EV_TICKET_CREATE: self._on_create,
            C.EV_TICKET_LIST: self._on_list,
            C.EV_TRANSCRIPT_EMAIL: self._on_transcript_email,
        }

    def agent_handlers(self) -> dict[str, Handler]:
        """What agents may ask: whether shoppers can chat now (the console says when the shop is
        closed, and when it opens)."""
        return {C.EV_AVAILABILITY_GET: self._on_availability}

    async def _on_availability(self, connection: Connection, data: Any) -> dict[str, Any]:
        S.parse(AvailabilityGet, data)
        availability = await self.tickets.availability()
        return {"chat_open": availability.chat_open, "reason": availability.reason,
                "order_number_required": availability.order_number_required,
                "transcript_email": availability.transcript_email, "opens_at": availability.opens_at}

    async def _on_create(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(TicketCreate, data)
        ticket = await self.tickets.create_ticket(connection.actor.id, TicketForm(
            name=payload.name, email=payload.email, description=payload.description,
            order_number=payload.order_number, page_url=payload.page_url, locale=payload.locale))
        return {"ticket": ticket_view(ticket, for_agent=False)}

    async def _on_list(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(TicketList, data)
        tickets = await self.tickets.visitor_tickets(connection.actor.id, payload.limit)
        return {"tickets": [ticket_view(t, for_agent=False) for t in tickets]}

    async def _on_transcript_email(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(TranscriptEmail, data)
        transcript = await self.conversations.transcript(payload.conversation_id)
        email = await self.tickets.email_transcript(connection.actor.id, transcript, payload.email, self.timezone)
        return {"email": email}

class TicketAnnouncer:
    """The transport side of ``TicketEvents``: tickets announced to agents, answers to the visitor."""

    def __init__(self, notifier: SocketNotifier, agents: AgentStore) -> None:
        self.notifier = notifier
        self.agents = agents

    async def _to_agents(self, event: str, ticket: Ticket) -> None:
        # Each agent's connections, in whichever process they are (offline agents have none).
        data = {"ticket": ticket_view(ticket, for_agent=True)}
        agents: list[Agent] = await self.agents.list_agents()
        for agent in agents:
            if not agent.disabled:
                await self.notifier.to_agent(agent.id, event, data)

    async def ticket_created(self, ticket: Ticket) -> None:
        await self._to_agents(C.EV_TICKET_CREATED, ticket)

    async def ticket_answered(self, ticket: Ticket) -> None:
        await self.notifier.to_visitor(ticket.visitor_id, C.EV_TICKET_UPDATED,
                                      {"ticket": ticket_view(ticket, for_agent=False)})
        await self._to_agents(C.EV_TICKET_UPDATED, ticket)
