"""The composition root (chatserver/assembly.py): the whole server built from settings without
starting anything (no socket, no database file opened), and complete: every event a client may
send is handled, every part the REST handlers use is there, and the parts that follow each other
were given each other when they were built."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from chatserver import constants as C
from chatserver.app import app_for
from chatserver.assembly import Server, assemble
from chatserver.config import Settings
from chatserver.domain.clock import ManualClock
from chatserver.domain.observers import ObservedNotifier
from chatserver.http.services import SERVICES

_SECTION = re.compile(r"#.*(Client -> server, (both namespaces|visitor only|agent only)|Server -> client)")
_EVENT = re.compile(r'^EV_\w+: Final = "([^"]+)"')


def client_events() -> dict[str, set[str]]:
    """The events clients send, by namespace, as constants.py declares them (its section comments)."""
    wanted: dict[str, set[str]] = {C.VISITOR_NAMESPACE: set(), C.AGENT_NAMESPACE: set()}
    namespaces: tuple[str, ...] = ()
    for line in Path(C.__file__).read_text().splitlines():
        section = _SECTION.search(line)
        if section:
            namespaces = {"both namespaces": (C.VISITOR_NAMESPACE, C.AGENT_NAMESPACE),
                          "visitor only": (C.VISITOR_NAMESPACE,), "agent only": (C.AGENT_NAMESPACE,)
                          }.get(section.group(2) or "", ())
            continue
        event = _EVENT.match(line)
        if event:
            for namespace in namespaces:
                wanted[namespace].add(event.group(1))
    return wanted


@pytest.fixture
def server(tmp_path: Path) -> Server:
    return assemble(Settings(data_dir=tmp_path, smtp_host="mail.example.com"), clock=ManualClock())


def test_the_section_comments_of_constants_name_the_events_clients_send() -> None:
    events = client_events()
    assert {C.EV_CHAT_START, C.EV_VISITOR_IDENTIFY, C.EV_TICKET_CREATE, C.EV_COBROWSE_EVENTS,
            C.EV_MESSAGE_SEND} <= events[C.VISITOR_NAMESPACE]
    assert {C.EV_QUEUE_TAKE, C.EV_NOTE_ADD, C.EV_COBROWSE_POINTER, C.EV_MESSAGE_SEND} <= events[C.AGENT_NAMESPACE]
    assert C.EV_MESSAGE_NEW not in events[C.VISITOR_NAMESPACE] | events[C.AGENT_NAMESPACE]  # server -> client


def test_every_event_a_client_sends_has_its_handler_and_nothing_else_is_answered(server: Server) -> None:
    dispatcher = server.transport.hub.events
    for namespace, events in client_events().items():
        assert dispatcher.events_of(namespace) == events, namespace


def test_building_opens_no_database(tmp_path: Path, server: Server) -> None:
    # Only the secret key a server without one makes for itself (Settings.with_secret).
    assert list(tmp_path.iterdir()) == [tmp_path / "secret.key"]


def test_every_part_the_rest_handlers_use_is_there(server: Server) -> None:
    app = app_for(server)
    services = app[SERVICES]
    assert services is server.http
    missing = [f.name for f in dataclasses.fields(services) if getattr(services, f.name) is None]
    assert missing == []
    # The HTTP side holds the very parts the Socket.IO side and the domain hold, not copies.
    assert services.chats is server.domain.chats and services.sessions is server.transport.hub.sessions
    assert services.presence is server.backend.presence and services.tickets is server.domain.tickets
    assert len(app.router.routes()) > 50


def test_the_parts_that_follow_each_other_were_built_with_each_other(server: Server) -> None:
    domain = server.domain
    # Chats and tickets belong to customers; tickets ask the chat's presence whether agents are in.
    assert domain.chats.prepare_visitor == domain.customers.attach_chat
    assert domain.tickets.customer_for_visitor == domain.customers.attach_visitor
    assert domain.tickets.verified_emails == domain.customers.verified_emails
    assert domain.tickets.agents_available == domain.chats.presence_changes.agents_available
    # Co-browsing hears of every conversation change, and its relay serves the domain's sessions.
    notifier = domain.chats.notifier
    assert isinstance(notifier, ObservedNotifier)
    assert notifier.clients is server.notifications.notifier
    assert notifier.observers == (domain.cobrowse.conversation_changed,)
    assert domain.cobrowse.announce == server.notifications.cobrowse.announce
    assert server.transport.relay.service is domain.cobrowse
    assert domain.tickets.events is server.notifications.tickets
    # Mail is woken when a ticket's answer is queued (smtp_host is set above).
    assert server.outgoing.mail_worker is not None
    assert domain.tickets.mail_queued == server.outgoing.mail_worker.wake
