"""Tickets, their answers, webhook endpoints and outbox items (SQLite migrations 0006, 0013):
columns, row readers, the outbox INSERT and the transcript limits' verdict."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...domain.outbox import OutboxItem, OutboxKind, OutboxStatus
from ...domain.tickets import Ticket, TicketAnswer, TicketStatus, TranscriptLimits
from ...domain.webhooks import WebhookEndpoint
from ...errors import RateLimited
from . import Mark, Row

TICKET_COLUMNS = ("id, visitor_id, name, email, order_number, description, page_url, status, created_at, "
                  "updated_at, customer_id, locale")
ANSWER_COLUMNS = "ticket_id, agent_id, agent_name, body, created_at"
WEBHOOK_COLUMNS = "id, url, secret, events, created_at"
OUTBOX_COLUMNS = ("id, kind, target, payload, status, attempts, next_attempt_at, last_error, created_at, "
                  "sent_at, visitor_id, customer_id")


def ticket_values(ticket: Ticket) -> tuple[Any, ...]:
    """``ticket`` as the values of ``TICKET_COLUMNS``."""
    return (ticket.id, ticket.visitor_id, ticket.name, ticket.email, ticket.order_number, ticket.description,
            ticket.page_url, str(ticket.status), ticket.created_at, ticket.updated_at, ticket.customer_id,
            ticket.locale)


def answer_values(answer: TicketAnswer) -> tuple[Any, ...]:
    """``answer`` as the values of ``ANSWER_COLUMNS``."""
    return (answer.ticket_id, answer.agent_id, answer.agent_name, answer.body, answer.created_at)


def answer_from_row(row: Row) -> TicketAnswer:
    return TicketAnswer(ticket_id=row[0], agent_id=row[1], agent_name=row[2], body=row[3], created_at=row[4])


def tickets_from_rows(rows: Iterable[Row], answer_rows: Iterable[Row]) -> list[Ticket]:
    """Tickets of ``rows`` (``TICKET_COLUMNS``), each with its answers of ``answer_rows``
    (``ANSWER_COLUMNS``, oldest first)."""
    answers: dict[str, list[TicketAnswer]] = {}
    for row in answer_rows:
        answers.setdefault(row[0], []).append(answer_from_row(row))
    return [Ticket(id=row[0], visitor_id=row[1], name=row[2], email=row[3], order_number=row[4], description=row[5],
                   page_url=row[6], status=TicketStatus(row[7]), created_at=row[8], updated_at=row[9],
                   answers=tuple(answers.get(row[0], ())), customer_id=row[10], locale=row[11]) for row in rows]


def webhook_values(endpoint: WebhookEndpoint) -> tuple[Any, ...]:
    """``endpoint`` as the values of ``WEBHOOK_COLUMNS`` (events comma-separated)."""
    return (endpoint.id, endpoint.url, endpoint.secret, ",".join(endpoint.events), endpoint.created_at)


def webhook_from_row(row: Row) -> WebhookEndpoint:
    return WebhookEndpoint(id=row[0], url=row[1], secret=row[2], events=tuple(e for e in row[3].split(",") if e),
                           created_at=row[4])


def outbox_from_row(row: Row) -> OutboxItem:
    return OutboxItem(id=row[0], kind=OutboxKind(row[1]), target=row[2], payload=row[3],
                      status=OutboxStatus(row[4]), attempts=row[5], next_attempt_at=row[6], last_error=row[7],
                      created_at=row[8], sent_at=row[9], visitor_id=row[10], customer_id=row[11])


def insert_outbox_sql(mark: Mark) -> str:
    """The INSERT of one outbox item, whose parameters are ``outbox_values``.

    An item about a visitor, without a customer of its own, is recorded as the visitor's
    customer's (migration 0007), so deleting that customer deletes it.
    """
    marks = ", ".join(mark(n) for n in range(1, 12))
    return (f"INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES ({marks}, "
            f"coalesce({mark(12)}, (SELECT customer_id FROM customer_visitors WHERE visitor_id = {mark(13)})))")


def outbox_values(items: Iterable[OutboxItem]) -> list[tuple[Any, ...]]:
    """The parameters of ``insert_outbox_sql`` for each of ``items``."""
    return [(i.id, str(i.kind), i.target, i.payload, str(i.status), i.attempts, i.next_attempt_at, i.last_error,
             i.created_at, i.sent_at, i.visitor_id, i.customer_id, i.visitor_id) for i in items]


def check_transcript_limits(for_conversation: int, for_address_today: int, limits: TranscriptLimits) -> None:
    """``RateLimited`` when a transcript after ``for_conversation`` sent for its conversation and
    ``for_address_today`` sent to its address in the past day would be one too many."""
    if for_conversation >= limits.per_conversation:
        raise RateLimited(f"this chat's transcript was already sent {for_conversation} times",
                          details={"limit": "per_conversation"})
    if for_address_today >= limits.per_address_per_day:
        raise RateLimited("this address has had enough transcripts for today; try again tomorrow",
                          details={"limit": "per_address"})
