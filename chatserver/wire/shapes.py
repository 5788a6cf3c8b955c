"""The JSON shapes the REST routes answer with, as msgspec structs: the OpenAPI document's
response schemas are generated from them (a struct's name is its schema's name). They forbid
unknown fields (``additionalProperties: false``), so a field a view sends but no struct declares
fails the schemathesis run (tests/http/test_schemathesis.py, which checks every answer against
the document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from ..domain.knowledge import ArticleStatus
from ..domain.models import AgentStatus, ConversationStatus, PartyKind, Role
from ..domain.outbox import OutboxStatus
from ..domain.tickets import TicketStatus
from ..domain.webhooks import EVENT_TYPES
from ..errors import ALL_ERRORS


def _about(description: str) -> msgspec.Meta:
    return msgspec.Meta(description=description)


class Shape(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


# Codes answered by the error middleware for aiohttp's own HTTP errors (views._HTTP_CODES).
_HTTP_ERROR_CODES = {"bad_request", "not_found", "method_not_allowed", "payload_too_large", "http_error"}
ErrorCode = Annotated[str, msgspec.Meta(extra_json_schema={
    "enum": sorted({e.code for e in ALL_ERRORS} | _HTTP_ERROR_CODES)})]


class ErrorDetail(Shape):
    code: ErrorCode
    message: str
    details: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET


class Error(Shape):
    """A structured error."""

    error: ErrorDetail


# -- the service ---------------------------------------------------------------------------------

class Health(Shape):
    status: Literal["ok"]


class Readiness(Shape):
    status: Literal["ready", "not_ready"]
    checks: Annotated[dict[str, str], _about("each check: ok, or error: and the exception's type; "
                                             "process: draining while the server stops")]


class SocketIOLink(Shape):
    path: str
    namespaces: list[str]


class Index(Shape):
    name: str
    health: str
    ready: str
    openapi: str
    socketio: SocketIOLink


# -- agents --------------------------------------------------------------------------------------

class Agent(Shape):
    id: str
    email: str
    name: str
    role: Role
    capacity: int
    disabled: bool
    departments: list[str]
    status: AgentStatus | msgspec.UnsetType = msgspec.UNSET


class AgentAnswer(Shape):
    agent: Agent


class AvatarAnswer(Shape):
    avatar_url: str | None


class Agents(Shape):
    agents: list[Agent]


class SignedIn(Shape):
    token: str
    expires_at: float
    agent: Agent


class VisitorSession(Shape):
    visitor_id: str
    token: str
    expires_at: float


class SettingValue(Shape):
    name: str
    env: str
    value: Any


class SecretSetting(Shape):
    name: str
    env: str
    configured: bool


class ServerSettings(Shape):
    email_configured: bool  # smtp_host is set: without it, mail (transcripts, ticket answers) waits in the outbox
    settings: list[SettingValue]
    secrets: list[SecretSetting]


class TransferAgent(Shape):
    id: str
    name: str
    status: AgentStatus
    departments: list[str]


class TransferTargets(Shape):
    agents: list[TransferAgent]
    departments: list[str]


# -- conversations -------------------------------------------------------------------------------

class PreChat(Shape):
    name: str
    email: str | None
    question: str
    order_number: str | None
    page_url: str | None
    page_title: str | None
    checkout: bool
    cart_value: float | None
    department: str | None


class AgentName(Shape):
    name: str
    # In the views visitors get (Socket.IO): the agent's picture (/avatars/{id}), null without one.
    avatar_url: str | msgspec.UnsetType | None = msgspec.UNSET


class ReadMarks(Shape):
    visitor: int
    agent: int


class Conversation(Shape):
    id: str
    status: ConversationStatus
    visitor_id: str
    agent_id: str | None
    agent: AgentName | None
    prechat: PreChat
    created_at: float
    assigned_at: float | None
    closed_at: float | None
    closed_by: PartyKind | None
    last_seq: int
    read: ReadMarks
    priority: Annotated[int, _about("served before lower ones (a department's priority)")]


class QueueEntry(Conversation):
    position: int
    waited_s: float


class Queue(Shape):
    total: int
    entries: list[QueueEntry]


class Sender(Shape):
    kind: PartyKind
    name: str | None


class Message(Shape):
    conversation_id: str
    seq: int
    kind: Literal["text", "system", "file"]
    sender: Sender
    body: str
    meta: dict[str, Any] | None
    client_msg_id: str | None
    created_at: float


class Uploaded(Shape):
    """A file posted to the conversation: its message (kind file), and whether this was a resend
    of a client_msg_id already stored (nothing new was kept then)"""

    message: Message
    duplicate: bool


class AttachmentView(Shape):
    """A file attached to the conversation (fetch it through attachment:link)"""

    id: str
    name: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    sender: Sender
    created_at: float


class NoteAuthor(Shape):
    id: str
    name: str


class Note(Shape):
    """An internal note: agents only, never sent to the visitor"""

    id: int
    conversation_id: str
    agent: NoteAuthor
    body: str
    client_note_id: str | None
    created_at: float


class CobrowseViewer(Shape):
    agent_id: str
    agent_name: str
    joined_at: float
    left_at: Annotated[float | None, _about("null while still watching")]
    seconds: Annotated[float | None, _about("null while still watching")]


class CobrowseRecord(Shape):
    """One co-browse session on a conversation: never any page content."""

    id: str
    conversation_id: str
    status: Literal["requested", "active", "paused", "declined", "ended"]
    control: Literal["none", "requested", "granted", "declined", "revoked"]
    reason: Annotated[str | None, _about("why it paused, was declined or ended (docs/protocol.md), e.g. "
                                         "stopped_by_visitor, page_too_large")]
    agent: AgentName
    agent_id: str
    requested_at: float
    started_at: Annotated[float | None, _about("when the shopper accepted")]
    ended_at: float | None
    pages: Annotated[int, msgspec.Meta(ge=0, description="pages shared after the first")]
    control_granted_at: Annotated[float | None, _about("when the shopper last let the agent act")]
    bytes_relayed: Annotated[int, msgspec.Meta(ge=0)]
    watched: Annotated[list[CobrowseViewer], _about("each agent connection that watched, from when to when")]


class ConversationRecord(Conversation):
    customer_id: str | None
    tags: list[str]


class Assignment(Shape):
    agent_id: str | None
    event: str
    reason: str | None
    at: float


class Rating(Shape):
    rating: Annotated[int, msgspec.Meta(ge=1, le=5)]
    comment: str | None
    created_at: float


class ProactiveOrigin(Shape):
    rule_id: str
    name: Annotated[str | None, _about("the rule's name; null once the rule was deleted")]


class Transcript(Shape):
    conversation: ConversationRecord
    messages: list[Message]
    assignments: list[Assignment]
    rating: Rating | None
    notes: Annotated[list[Note], _about("internal notes (agents only)")]
    tags: Annotated[list[str], _about("the agent's wrap-up tags")]
    resolution_note: str | None
    cobrowse: Annotated[list[CobrowseRecord], _about("the conversation's co-browse sessions, oldest first "
                                                     "(agents only)")]
    attachments: Annotated[list[AttachmentView], _about("files posted in the conversation, oldest first (each also "
                                                        "a message of kind file)")]
    proactive: Annotated[ProactiveOrigin | None, _about("the proactive message whose answer started the "
                                                        "conversation (agents only)")] = None


class Conversations(Shape):
    conversations: list[ConversationRecord]
    total: Annotated[int, _about("how many match in all")]


class ClosedConversation(Shape):
    conversation: Annotated[ConversationRecord | None, _about("null if its record is gone")]


class AgentRating(Shape):
    agent_id: str | None
    agent_name: str | None
    count: int
    average: float


class DayRating(Shape):
    day: Annotated[str, msgspec.Meta(extra_json_schema={"format": "date"})]
    count: int
    average: float


class RatingsReport(Shape):
    count: int
    average: float | None
    per_agent: list[AgentRating]
    per_day: list[DayRating]


# -- the console ---------------------------------------------------------------------------------

class CannedResponse(Shape):
    id: str
    shortcut: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$(?!\n)",
                                          description="typed as /shortcut in the console")]
    body: str
    created_at: float
    updated_at: float


class CannedResponses(Shape):
    canned_responses: Annotated[list[CannedResponse], _about("by shortcut")]


class CannedAnswer(Shape):
    canned_response: CannedResponse


# -- proactive messages --------------------------------------------------------------------------

class ProactiveRule(Shape):
    id: str
    name: str
    url_pattern: Annotated[str, _about("fnmatch pattern of the page URL (as checkout_url_patterns); * for any page")]
    seconds: Annotated[int, _about("time on the page before the message shows")]
    min_cart_value: Annotated[float | None, _about("the page's data-cart-value must be at least this")]
    checkout_step: Annotated[str | None, _about("the page's data-checkout-step must be this")]
    business_hours_only: bool
    agent_available_only: bool
    text: Annotated[str, _about("the message, for shoppers whose locale has no text of its own")]
    texts: Annotated[dict[str, str], _about("the message per locale (lower-cased BCP 47 tag: de, pt-br)")]
    enabled: bool
    position: Annotated[int, _about("rules are tried in this order (then by name)")]
    created_at: float
    updated_at: float


class ProactiveRules(Shape):
    rules: Annotated[list[ProactiveRule], _about("by position, then name")]


class ProactiveRuleAnswer(Shape):
    rule: ProactiveRule


class ProactiveCounts(Shape):
    rule_id: str
    name: str
    enabled: bool
    shown: Annotated[int, _about("visitors who were shown the message")]
    answered: Annotated[int, _about("visitors who answered it")]
    chats: Annotated[int, _about("conversations it started")]


class ProactiveReport(Shape):
    rules: Annotated[list[ProactiveCounts], _about("every rule, by position")]


# -- customers -----------------------------------------------------------------------------------

class Customer(Shape):
    id: str
    external_id: Annotated[str | None, _about("the shop's own id; null for an anonymous visitor")]
    identified: Annotated[bool, _about("whether a signed identity (or staff) set external_id")]
    name: str | None
    emails: list[str]
    phone: str | None
    notes: str | None
    tags: list[str]
    created_at: float
    last_seen_at: float


class Customers(Shape):
    customers: list[Customer]
    total: int


class CustomerAnswer(Shape):
    customer: Customer


class ExportedFile(Shape):
    attachment: AttachmentView
    conversation_id: str
    data: Annotated[str, _about("the file's bytes, base64")]


class CustomerExport(Shape):
    customer: Customer
    visitor_ids: list[str]
    conversations: list[dict[str, Any]]
    files: Annotated[list[ExportedFile], _about("the files posted in those conversations, with their bytes")]
    related: Annotated[dict[str, Any], _about("rows other features keep about these conversations and "
                                              "visitors, by table")]


# -- offline: tickets, webhooks, the outbox ------------------------------------------------------

class TicketAnswer(Shape):
    agent: AgentName
    agent_id: str | None
    body: str
    created_at: float


class Ticket(Shape):
    id: str
    reference: Annotated[str, _about("what the visitor is told, e.g. T-1A2B3C4D")]
    status: TicketStatus
    visitor_id: str
    customer_id: str | None
    name: str
    email: str
    order_number: str | None
    description: str
    page_url: str | None
    created_at: float
    updated_at: float
    answers: list[TicketAnswer]


class Tickets(Shape):
    tickets: list[Ticket]


class OneTicket(Shape):
    ticket: Ticket


class AnsweredTicket(Shape):
    ticket: Ticket
    emailed: bool  # the answer goes out by mail too; false without smtp_host (the widget still shows it)


EventType = Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(EVENT_TYPES)})]


class Webhook(Shape):
    id: str
    url: str
    events: Annotated[list[EventType], _about("empty: every event")]
    created_at: float
    secret: Annotated[str, _about("only in the answer to POST")] | msgspec.UnsetType = msgspec.UNSET


class Webhooks(Shape):
    webhooks: list[Webhook]
    event_types: list[str]


class WebhookAnswer(Shape):
    webhook: Webhook


class OutboxItem(Shape):
    id: str
    kind: str
    target: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: float
    last_error: str | None
    created_at: float
    sent_at: float | None


class Outbox(Shape):
    items: list[OutboxItem]


# -- the knowledge base --------------------------------------------------------------------------

class KbCategory(Shape):
    id: str
    slug: str
    name: str
    description: str
    position: int
    articles: Annotated[int, _about("published articles in it (in the list only)")] | msgspec.UnsetType = (
        msgspec.UNSET)


class KbRef(Shape):
    id: str
    name: str
    slug: str | msgspec.UnsetType = msgspec.UNSET


class KbArticle(Shape):
    id: str
    slug: str
    url: Annotated[str, _about("its page in the help centre, e.g. /help/articles/refunds")]
    title: str
    summary: Annotated[str, _about("the start of the body as plain text")]
    status: ArticleStatus
    locale: str | None
    category: KbRef | None
    tags: list[str]
    faq_position: Annotated[int | None, _about("its place in its category's FAQ")]
    updated_at: float
    published_at: float | None
    body_html: Annotated[str, _about("the body rendered to sanitized HTML (single articles)")] | msgspec.UnsetType = (
        msgspec.UNSET)
    body: Annotated[str, _about("the Markdown source (agents only)")] | msgspec.UnsetType = msgspec.UNSET
    assignee: Annotated[KbRef | None, _about("who works on it (agents only)")] | msgspec.UnsetType = msgspec.UNSET
    created_by: str | msgspec.UnsetType = msgspec.UNSET
    created_at: float | msgspec.UnsetType = msgspec.UNSET
    source_conversation_id: Annotated[str | None, _about("the conversation it was drafted from")] | (
        msgspec.UnsetType) = msgspec.UNSET
    snippet: Annotated[str, _about("search results: the text around the first match")] | msgspec.UnsetType = (
        msgspec.UNSET)
    score: Annotated[float, _about("search results: relevance (higher is better)")] | msgspec.UnsetType = (
        msgspec.UNSET)


class KbCategories(Shape):
    categories: list[KbCategory]


class KbCategoryAnswer(Shape):
    category: KbCategory


class KbFaqEntries(Shape):
    category: KbCategory
    entries: list[KbArticle]


class KbFaq(Shape):
    categories: list[KbFaqEntries]


class KbArticles(Shape):
    articles: list[KbArticle]
    total: int


class KbArticleAnswer(Shape):
    article: KbArticle


class KbSearchResults(Shape):
    query: str
    corrected: bool
    did_you_mean: Annotated[str | None, _about("the words searched instead of unknown ones")]
    results: list[KbArticle]


class KbSuggestions(Shape):
    available: Annotated[bool, _about("whether any article is published")]
    topics: list[str]
    articles: list[KbArticle]


class KbQueryCount(Shape):
    query: str
    count: int


class KbTopSearch(KbQueryCount):
    results: Annotated[int, _about("results of its latest search")]


class KbOutcomes(Shape):
    answered: int
    chat_started: int
    ticket_created: int


class KbArticleCount(Shape):
    article_id: str
    title: str | None
    count: int


class KbReport(Shape):
    searches: int
    searches_without_results: int
    top_searches: list[KbTopSearch]
    no_result_searches: list[KbQueryCount]
    outcomes: KbOutcomes
    deflection_rate: Annotated[float | None, _about("answered / (answered + chat_started)")]
    top_articles: list[KbArticleCount]
