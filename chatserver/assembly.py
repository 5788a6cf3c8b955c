"""The composition root: settings (with a clock and an id generator) in, the whole server out,
each object constructed complete with what it needs, in dependency order:

  storage -> backend (routing state, presence, process bus) -> Socket.IO server -> outgoing mail
  and webhooks -> notifications (what the domain tells clients) -> domain services -> Socket.IO
  events -> what the REST handlers use.

Where two parts would need each other, the part in the middle is split: the domain tells clients
through ``Notifications`` (built before the domain, holding no domain object), and the Socket.IO
events that call the domain are built after it. Nothing is started here: app.py starts what was
built and stops it in reverse (docs/architecture.md, "Wiring").
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import constants as C
from .backend import Backend
from .config import BUILTIN_LOCALES, Settings
from .domain.agent_cache import AgentCache
from .domain.attachments import AttachmentService, LinkSigner
from .domain.avatars import AgentAvatars
from .domain.chat_parts import ChatParts
from .domain.clock import Clock, SystemClock
from .domain.cobrowse import CobrowseService
from .domain.conversations import ChatService
from .domain.customer_webhooks import WebhookCustomers
from .domain.customers import CustomerService
from .domain.grace import GracePeriods
from .domain.hours import parse_opening_hours
from .domain.i18n import Languages, load_languages
from .domain.knowledge import KnowledgeService, parse_page_topics
from .domain.locks import KeyedLocks
from .domain.models import PreChat
from .domain.observers import ObservedNotifier
from .domain.outbox import OutboxKind, OutboxWorker, RetryPolicy
from .domain.passwords import PasswordHashing
from .domain.ports import (
    AgentStore,
    AssignmentObserver,
    ConversationEventLog,
    ConversationStore,
    Notifier,
    Presence,
    RoutingState,
)
from .domain.presence import PresenceChanges
from .domain.proactive import ProactiveService
from .domain.queue import WaitingQueue
from .domain.read_marks import ReadMarks
from .domain.repair import RoutingRepair
from .domain.restore import Restorer
from .domain.routing import Dispatcher, RoutingPolicy
from .domain.tasks import TaskSupervisor
from .domain.tickets import TicketService, TranscriptLimits
from .domain.tokens import TokenSigner
from .domain.transfers import Transfers
from .domain.uploads import UploadSpool
from .domain.visitor_history import VisitorHistory
from .domain.webhooks import ConversationWebhooks, Webhooks
from .http.metrics import MetricsListener
from .http.openapi import body_limits
from .http.services import HttpServices
from .metrics import Metrics, Scraper
from .monitoring import scraper_for
from .outgoing.smtp import SmtpMailer, SmtpSettings
from .outgoing.webhooks import WebhookPoster
from .storage.stores import Stores
from .stores import stores_for
from .transport.addresses import Network, parse_networks
from .transport.attachments import AttachmentEvents
from .transport.cobrowse import CobrowseAnnouncer, CobrowseRelay
from .transport.connections import ConnectionLimits
from .transport.console import ConsoleEvents
from .transport.conversation_views import ConversationViews
from .transport.customers import CustomerEvents
from .transport.delivery import Delivery
from .transport.dispatch import Events
from .transport.engineio_http import EngineIOEndpoint, announce_exact_ping_times
from .transport.history import HistoryEvents
from .transport.hub import SocketHub
from .transport.notifier import SocketNotifier
from .transport.origins import listening_origins, normalized, shop_origin_allowed
from .transport.proactive import ProactiveEvents
from .transport.ratelimit import KeyedLimiter
from .transport.registry import ConnectionRegistry
from .transport.shutdown import Drain
from .transport.socketio_server import ChatSocketServer
from .transport.tickets import TicketAnnouncer, TicketSocketEvents
from .transport.waiting import WaitingVisitors
from .wire.webhooks import WebhookViews


@dataclass(frozen=True)
class Sockets:
    """The Socket.IO server and its HTTP endpoint, before any namespace is bound."""

    sio: ChatSocketServer
    endpoint: EngineIOEndpoint
    # The proxies whose Forwarded / X-Forwarded-For headers are believed (settings trusted_proxies).
    trusted: tuple[Network, ...]
    # A stop's first step: not ready, no new sessions (transport/shutdown.py).
    drain: Drain


@dataclass(frozen=True)
class Outgoing:
    """Webhooks and mail, delivered from the outbox by their workers (docs/offline.md,
    docs/webhooks.md); ``mail_worker`` is ``None`` until ``smtp_host`` is set."""

    poster: WebhookPoster
    webhooks: Webhooks
    webhook_worker: OutboxWorker
    mail_worker: OutboxWorker | None


@dataclass(frozen=True)
class Notifications:
    """What the domain tells connected clients, and the connections it reaches; holds no domain
    object, so the domain is built after it."""

    delivery: Delivery
    connections: ConnectionRegistry
    waiting: WaitingVisitors
    notifier: SocketNotifier
    views: ConversationViews  # conversations as a party sees them (a visitor's with the agent's avatar)
    cobrowse: CobrowseAnnouncer
    tickets: TicketAnnouncer


@dataclass(frozen=True)
class Domain:
    chats: ChatParts
    avatars: AgentAvatars
    customers: CustomerService
    knowledge: KnowledgeService
    languages: Languages
    cobrowse: CobrowseService
    tickets: TicketService
    attachments: AttachmentService
    history: VisitorHistory
    proactive: ProactiveService


@dataclass(frozen=True)
class Transport:
    """The Socket.IO namespaces, every event bound (``hub``), and the co-browse relay."""

    hub: SocketHub
    relay: CobrowseRelay


@dataclass(frozen=True)
class Server:
    """The whole object graph, built and not started."""

    settings: Settings
    clock: Clock
    new_id: Callable[[], str]
    stores: Stores
    backend: Backend
    sockets: Sockets
    outgoing: Outgoing
    notifications: Notifications
    domain: Domain
    transport: Transport
    passwords: PasswordHashing
    metrics: Metrics
    http: HttpServices
    # The metrics page on a port of its own (settings metrics_port), started with the app.
    metrics_listener: MetricsListener | None


def assemble(settings: Settings, *, clock: Clock | None = None, new_id: Callable[[], str] | None = None,
             extra_events: Sequence[Events] = ()) -> Server:
    """Build the server from ``settings`` (a secret key is made if none is set). ``extra_events``
    adds Socket.IO events to the shipped ones (an embedding application's, or a test's)."""
    settings = settings.with_secret()
    assert settings.secret_key is not None
    clock = clock or SystemClock()
    new_id = new_id or (lambda: uuid.uuid4().hex)
    # Storage, the backend, the Socket.IO server, the outbox's workers and routing report to it.
    metrics = Metrics()
    stores = stores_for(settings, metrics)
    backend = Backend(settings, metrics)
    sockets = build_sockets(settings, metrics)
    outgoing = build_outgoing(settings, stores, clock, new_id, metrics)
    # Agents' avatars come before the notifications: the conversations visitors are sent carry them.
    avatars = AgentAvatars(stores.avatars, clock, new_id)
    notifications = build_notifications(sockets.sio, stores, backend, avatars)
    domain = build_domain(settings, stores, backend, outgoing, notifications, clock, new_id, metrics, avatars)
    signer = TokenSigner(settings.secret_key)
    transport = build_transport(settings, sockets.sio, stores, backend, notifications, domain, signer, clock,
                                extra_events)
    passwords = PasswordHashing(settings.password_hash_cost)
    scraper = scraper_for(metrics, sio=sockets.sio, connections=notifications.connections, routing=backend.routing,
                          clock=clock, departments=settings.departments, outbox=stores.tickets,
                          relay=transport.relay, readiness=(stores.conversations.ping, backend.ping))
    http = build_http_services(settings, stores, backend, sockets, outgoing, notifications, domain, transport,
                               signer, passwords, clock, scraper)
    listener = None if settings.metrics_port is None else \
        MetricsListener(scraper, settings.metrics_host, settings.metrics_port)
    return Server(settings=settings, clock=clock, new_id=new_id, stores=stores, backend=backend, sockets=sockets,
                  outgoing=outgoing, notifications=notifications, domain=domain, transport=transport,
                  passwords=passwords, metrics=metrics, http=http, metrics_listener=listener)


# -- the layers, in the order they are built ---------------------------------------------------

def build_sockets(settings: Settings, metrics: Metrics) -> Sockets:
    origin_allowed = _origin_check(settings)
    sio = ChatSocketServer(
        metrics=metrics,
        async_mode="aiohttp",
        async_handlers=False,  # one connection's events are handled in the order they were sent
        cors_allowed_origins=origin_allowed,
        max_http_buffer_size=settings.max_http_buffer_size,
        max_unsent_bytes=settings.max_unsent_bytes,
        max_binary_attachments=settings.max_binary_attachments,
        ping_interval=settings.ping_interval,
        ping_timeout=settings.ping_timeout,
        route_name=settings.route_name,
        logger=False,
        engineio_logger=False,
    )
    announce_exact_ping_times(sio.eio)
    trusted = parse_networks(settings.trusted_proxies)
    drain = Drain(settings.drain_period)
    endpoint = EngineIOEndpoint(sio.eio, max_body=settings.max_http_buffer_size, origin_allowed=origin_allowed,
                                sessions=ConnectionLimits(settings.max_connections_per_address, trusted),
                                trusted=trusted, drain=drain)
    return Sockets(sio=sio, endpoint=endpoint, trusted=trusted, drain=drain)


def _origin_check(settings: Settings) -> Callable[[str | None, dict[str, Any]], bool]:
    """Socket.IO connections are accepted from the server's own pages and the configured shop
    origins (transport/origins.py); a request without ``Origin`` comes from no web page."""
    allowed = frozenset(settings.allowed_origins)
    public = frozenset(normalized(url) for url in settings.public_urls)

    def check(page: str | None, environ: dict[str, Any]) -> bool:
        if page is None or shop_origin_allowed(page, allowed):
            return True
        if public:
            return page in public
        # python-engineio's environ carries the aiohttp request (until a WebSocket trims it).
        request: web.BaseRequest | None = environ.get("aiohttp.request")
        local = request.transport.get_extra_info("sockname") if request and request.transport else None
        if not local:
            return False
        return page in listening_origins(settings.host, str(local[0]), int(local[1]))

    return check


def build_outgoing(settings: Settings, stores: Stores, clock: Clock, new_id: Callable[[], str],
                   metrics: Metrics) -> Outgoing:
    store = stores.tickets
    policy = RetryPolicy(base=settings.outbox_retry_base, maximum=settings.outbox_retry_max,
                         max_attempts=settings.outbox_max_attempts)
    keep = settings.outbox_keep_days * 86400
    poster = WebhookPoster(store, clock, settings.webhook_timeout)
    webhook_worker = OutboxWorker(OutboxKind.WEBHOOK, store, poster.send, clock, policy,
                                  poll_interval=settings.outbox_poll_interval, lease=settings.webhook_timeout * 3,
                                  keep=keep, observer=metrics)
    mail_worker = None
    if settings.smtp_host:
        mailer = SmtpMailer(SmtpSettings(host=settings.smtp_host, port=settings.smtp_port, user=settings.smtp_user,
                                         password=settings.smtp_password, security=settings.smtp_security,
                                         sender=settings.smtp_from, timeout=settings.smtp_timeout))
        mail_worker = OutboxWorker(OutboxKind.MAIL, store, mailer.send, clock, policy,
                                   poll_interval=settings.outbox_poll_interval, lease=settings.smtp_timeout * 3,
                                   keep=keep, observer=metrics)
    webhooks = Webhooks(store, clock.now, new_id, WebhookViews(), wake=webhook_worker.wake)
    # message.created is written by storage in each message's own transaction.
    store.write_with_messages(webhooks.message_created, webhook_worker.wake)
    return Outgoing(poster=poster, webhooks=webhooks, webhook_worker=webhook_worker, mail_worker=mail_worker)


def build_notifications(sio: ChatSocketServer, stores: Stores, backend: Backend,
                        avatars: AgentAvatars) -> Notifications:
    # Several processes (Redis): a connection that starts reading a conversation counts itself in
    # storage, so the process storing its next message asks presence again (notifier.py).
    announce = stores.conversations.reader_joined if backend.redis is not None else None
    delivery = Delivery(stores.conversations, sio.emit_to, announce, emit_now=sio.emit_now)
    connections = ConnectionRegistry()
    waiting = WaitingVisitors()
    views = ConversationViews(avatars)
    notifier = SocketNotifier(sio, delivery, backend.bus, backend.presence, connections, waiting, views)
    return Notifications(delivery=delivery, connections=connections, waiting=waiting, notifier=notifier, views=views,
                         cobrowse=CobrowseAnnouncer(notifier), tickets=TicketAnnouncer(notifier, stores.agents))


def build_domain(settings: Settings, stores: Stores, backend: Backend, outgoing: Outgoing,
                 notifications: Notifications, clock: Clock, new_id: Callable[[], str], metrics: Metrics,
                 avatars: AgentAvatars) -> Domain:
    customers = CustomerService(
        customers=WebhookCustomers(stores.customers, outgoing.webhooks),
        conversations=stores.conversations, clock=clock, new_id=new_id, identity_secret=settings.identity_secret,
        identity_max_age=settings.identity_max_age, retention_days=settings.transcript_retention_days,
        timezone=settings.business_timezone)
    knowledge = KnowledgeService(
        store=stores.knowledge, agents=stores.agents, read_transcript=customers.transcript_for, now=clock.now,
        new_id=new_id, max_body_chars=settings.kb_max_body_chars,
        page_topic_rules=parse_page_topics(settings.kb_page_topics), retention_days=settings.kb_search_retention_days)
    cobrowse = CobrowseService(store=stores.cobrowse, conversations=stores.conversations, clock=clock, new_id=new_id,
                               announce=notifications.cobrowse.announce,
                               request_timeout=settings.cobrowse_request_timeout)
    chats = build_chats(
        agents=stores.agents, conversations=stores.conversations, routing=backend.routing, presence=backend.presence,
        # Co-browsing ends a session when its chat closes or moves to another agent.
        notifier=ObservedNotifier(notifications.notifier, (cobrowse.conversation_changed,)),
        clock=clock, new_id=new_id, grace_period=settings.grace_period,
        policy=RoutingPolicy(departments=settings.departments, checkout_url_patterns=settings.checkout_url_patterns,
                             department_fallback_after=settings.department_fallback_after),
        event_log=ConversationWebhooks(outgoing.webhooks),
        # Every conversation belongs to a customer (an anonymous one until the visitor identifies):
        # linked before the conversation is stored, which then names it.
        prepare_visitor=customers.attach_chat,
        observer=metrics,
    )
    languages = load_languages(BUILTIN_LOCALES, settings.locale_dir, settings.default_locale)
    per_hour = settings.offline_requests_per_hour
    tickets = TicketService(
        store=stores.tickets, events=notifications.tickets, webhooks=outgoing.webhooks, clock=clock, new_id=new_id,
        hours=parse_opening_hours(settings.business_hours, settings.business_timezone),
        order_number_required=settings.ticket_order_number_required,
        agents_available=chats.presence_changes.agents_available, limiter=KeyedLimiter(per_hour / 3600.0, per_hour),
        transcript_limits=TranscriptLimits(per_conversation=settings.transcript_emails_per_conversation,
                                           per_address_per_day=settings.transcript_emails_per_address_per_day),
        sends_mail=outgoing.mail_worker is not None, languages=languages,
        mail_queued=outgoing.mail_worker.wake if outgoing.mail_worker else lambda: None,
        # Every offline ticket belongs to a customer too (made from the form when the visitor has none).
        customer_for_visitor=customers.attach_visitor,
        verified_emails=customers.verified_emails,
    )
    assert settings.secret_key is not None
    uploads = settings.attachment_uploads_per_minute
    history = VisitorHistory(stores.customers, stores.conversations)
    attachments = AttachmentService(
        store=stores.attachments, conversations=stores.conversations, chats=chats.lifecycle,
        signer=LinkSigner(settings.secret_key), clock=clock, new_id=new_id,
        limiter=KeyedLimiter(uploads / 60.0, uploads), allowed=frozenset(settings.attachment_types),
        link_ttl=settings.attachment_link_ttl,
        spool=UploadSpool(settings.data_dir / "uploads", settings.attachment_uploads_in_flight),
        # A returning shopper reads their earlier conversations, their files included.
        visitor_reads=history.may_read)
    proactive = ProactiveService(store=stores.proactive, conversations=stores.conversations, now=clock.now,
                                 new_id=new_id, hours=tickets.hours,
                                 agents_available=chats.presence_changes.agents_available)
    return Domain(chats=chats, avatars=avatars, customers=customers, knowledge=knowledge, cobrowse=cobrowse,
                  tickets=tickets, attachments=attachments, history=history, proactive=proactive,
                  languages=languages)


def build_chats(*, agents: AgentStore, conversations: ConversationStore, routing: RoutingState,
                presence: Presence, notifier: Notifier, clock: Clock, new_id: Callable[[], str], grace_period: float,
                policy: RoutingPolicy, event_log: ConversationEventLog | None = None,
                prepare_visitor: Callable[[str, PreChat], Awaitable[object]] | None = None,
                observer: AssignmentObserver | None = None) -> ChatParts:
    """The conversation domain's parts over the ports, each built once, after the parts it uses."""
    tasks, locks, repair, agent_cache = TaskSupervisor(), KeyedLocks(), RoutingRepair(), AgentCache(agents)
    queue = WaitingQueue(routing=routing, conversations=conversations, presence=presence, clock=clock, locks=locks,
                         repair=repair)
    dispatcher = Dispatcher(conversations=conversations, routing=routing, presence=presence, notifier=notifier,
                            clock=clock, agents=agent_cache, policy=policy, locks=locks, repair=repair, tasks=tasks,
                            event_log=event_log, observer=observer)
    grace = GracePeriods(conversations=conversations, presence=presence, notifier=notifier, clock=clock, queue=queue,
                         dispatcher=dispatcher, tasks=tasks, grace_period=grace_period)
    presence_changes = PresenceChanges(presence=presence, conversations=conversations, notifier=notifier,
                                       agents=agent_cache, grace=grace, dispatcher=dispatcher, repair=repair)
    return ChatParts(
        lifecycle=ChatService(conversations=conversations, routing=routing, notifier=notifier, clock=clock,
                              new_id=new_id, policy=policy, locks=locks, repair=repair, tasks=tasks, queue=queue,
                              dispatcher=dispatcher, grace=grace, presence_changes=presence_changes,
                              event_log=event_log, prepare_visitor=prepare_visitor),
        dispatcher=dispatcher,
        queue=queue,
        grace=grace,
        presence_changes=presence_changes,
        transfers=Transfers(conversations=conversations, agents=agents, routing=routing, presence=presence,
                            notifier=notifier, clock=clock, policy=policy, queue=queue, dispatcher=dispatcher,
                            locks=locks, repair=repair, event_log=event_log),
        read_marks=ReadMarks(conversations=conversations, notifier=notifier, tasks=tasks),
        restorer=Restorer(conversations=conversations, routing=routing, presence=presence, queue=queue, grace=grace,
                          repair=repair),
        repair=repair,
        agent_cache=agent_cache,
        tasks=tasks,
    )


def build_transport(settings: Settings, sio: ChatSocketServer, stores: Stores, backend: Backend,
                    notifications: Notifications, domain: Domain, signer: TokenSigner, clock: Clock,
                    extra_events: Sequence[Events]) -> Transport:
    n = notifications
    relay = CobrowseRelay(sio, n.notifier, n.connections, settings, domain.cobrowse)
    console = ConsoleEvents(domain.chats.lifecycle, n.notifier, stores.console, settings.max_message_chars)
    tickets = TicketSocketEvents(domain.tickets, stores.conversations, settings.business_timezone)
    attachments = AttachmentEvents(domain.attachments)
    features = [
        Events(C.VISITOR_NAMESPACE, attachments.handlers()),
        Events(C.AGENT_NAMESPACE, attachments.handlers()),
        Events(C.VISITOR_NAMESPACE, CustomerEvents(domain.customers).handlers()),
        Events(C.VISITOR_NAMESPACE, tickets.handlers()),
        Events(C.AGENT_NAMESPACE, tickets.agent_handlers()),
        Events(C.VISITOR_NAMESPACE, HistoryEvents(domain.history, n.views).handlers()),
        Events(C.AGENT_NAMESPACE, console.handlers()),
        Events(C.VISITOR_NAMESPACE, ProactiveEvents(domain.proactive).handlers()),
        Events(C.VISITOR_NAMESPACE, relay.visitor_handlers(), self_limited=frozenset({C.EV_COBROWSE_EVENTS})),
        Events(C.AGENT_NAMESPACE, relay.agent_handlers(), self_limited=frozenset({C.EV_COBROWSE_POINTER})),
        *extra_events,
    ]
    hub = SocketHub(sio, settings, signer, stores.agents, stores.conversations, backend.routing, backend.presence,
                    clock, n.delivery, n.notifier, n.connections, n.waiting, n.views, domain.chats, features=features,
                    on_disconnected=(relay.connection_closed,), check_locale=domain.tickets.check_locale)
    return Transport(hub=hub, relay=relay)


def build_http_services(settings: Settings, stores: Stores, backend: Backend, sockets: Sockets,
                        outgoing: Outgoing, notifications: Notifications, domain: Domain, transport: Transport,
                        signer: TokenSigner, passwords: PasswordHashing, clock: Clock,
                        scraper: Scraper) -> HttpServices:
    def limiter(per_minute: int) -> KeyedLimiter:
        return KeyedLimiter(per_minute / 60.0, per_minute)

    hub = transport.hub
    return HttpServices(
        settings=settings, clock=clock, signer=signer, passwords=passwords, auth=hub.auth, agents=stores.agents,
        conversations=stores.conversations, console=stores.console, cobrowse=stores.cobrowse,
        presence=backend.presence, chats=domain.chats.lifecycle, presence_changes=domain.chats.presence_changes,
        dispatcher=domain.chats.dispatcher, customers=domain.customers, knowledge=domain.knowledge,
        languages=domain.languages,
        attachments=domain.attachments,
        avatars=domain.avatars, proactive=domain.proactive,
        tickets=domain.tickets, webhooks=outgoing.webhooks, outbox=stores.tickets, sessions=hub.sessions,
        queue=hub.queue, notifier=notifications.notifier,
        login_limiter=limiter(settings.login_attempts_per_minute),
        visitor_limiter=limiter(settings.visitor_sessions_per_minute),
        kb_limiter=limiter(settings.kb_events_per_minute),
        trusted_proxies=sockets.trusted, body_limits=body_limits(settings), readiness=backend.ping, metrics=scraper,
        draining=lambda: sockets.drain.draining,
    )
