"""What the REST handlers use: one object, built complete by the composition root (assembly.py)
and stored in the application under ``SERVICES``; a handler reads it with ``services(request)``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from ..config import Settings
from ..domain.attachments import AttachmentService
from ..domain.avatars import AgentAvatars
from ..domain.clock import Clock
from ..domain.cobrowse import CobrowseStore
from ..domain.console import ConsoleStore
from ..domain.conversations import ChatService
from ..domain.customers import CustomerService
from ..domain.i18n import Languages
from ..domain.knowledge import KnowledgeService
from ..domain.outbox import OutboxStore
from ..domain.passwords import PasswordHashing
from ..domain.ports import AgentStore, ConversationStore, Presence
from ..domain.presence import PresenceChanges
from ..domain.proactive import ProactiveService
from ..domain.routing import Dispatcher
from ..domain.tickets import TicketService
from ..domain.tokens import TokenSigner
from ..domain.webhooks import Webhooks
from ..metrics import Scraper
from ..transport.addresses import Network
from ..transport.agent_sessions import AgentSessions
from ..transport.connect import Authenticator
from ..transport.notifier import SocketNotifier
from ..transport.queue_views import QueueViews
from ..transport.ratelimit import KeyedLimiter


@dataclass(frozen=True, kw_only=True)
class HttpServices:
    settings: Settings
    clock: Clock
    signer: TokenSigner
    passwords: PasswordHashing
    # Agents' bearer tokens, checked as the Socket.IO connections' are.
    auth: Authenticator
    agents: AgentStore
    # Conversations, messages, read marks, ratings; its ping is the database readiness check.
    conversations: ConversationStore
    # Notes, canned responses, wrap-ups and failed logins (the agent console).
    console: ConsoleStore
    # Co-browse session metadata (transcripts show who watched, when and for how long).
    cobrowse: CobrowseStore
    presence: Presence
    # Closing a chat whoever holds it (an admin's decision, a deleted customer).
    chats: ChatService
    # Withdrawing a disabled agent, and routing after an agent's capacity or departments changed.
    presence_changes: PresenceChanges
    dispatcher: Dispatcher
    # Customer records, transcripts, exports and reports.
    customers: CustomerService
    knowledge: KnowledgeService
    # The translations of the widget, the console and the server's pages and mails.
    languages: Languages
    # Agents' pictures: set and cleared by each agent, served to shoppers.
    avatars: AgentAvatars
    # Proactive messages' rules (admins) and report.
    proactive: ProactiveService
    tickets: TicketService
    # Files in conversations: uploads, signed links, serving.
    attachments: AttachmentService
    webhooks: Webhooks
    outbox: OutboxStore
    # Agents' connections, ended or updated when an admin changes the agent.
    sessions: AgentSessions
    # The queue as agents see it.
    queue: QueueViews
    notifier: SocketNotifier
    login_limiter: KeyedLimiter
    visitor_limiter: KeyedLimiter
    # Logged searches and outcomes per client address (settings kb_events_per_minute).
    kb_limiter: KeyedLimiter
    # The proxies whose Forwarded / X-Forwarded-For headers are believed (settings trusted_proxies).
    trusted_proxies: tuple[Network, ...]
    # The largest body of each route that takes a larger one than MAX_JSON_BODY, by (method, path):
    # openapi.body_limits.
    body_limits: Mapping[tuple[str, str], int]
    # Raises when the routing state (memory or Redis) is not ready to serve.
    readiness: Callable[[], Awaitable[None]]
    # The Prometheus page (GET /metrics, http/metrics.py).
    metrics: Scraper
    # Whether the server is draining before a stop (/readyz says not ready).
    draining: Callable[[], bool]


SERVICES = web.AppKey("services", HttpServices)


def services(request: web.Request) -> HttpServices:
    """The services of the application serving ``request``."""
    return request.app[SERVICES]
