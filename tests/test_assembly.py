"""The composition root (chatserver/assembly.py): the whole server built from settings without
starting anything (no socket, no database file opened), and complete: every event a client may
send is handled, every part the REST handlers use is there, and the parts that follow each other
were given each other when they were built."""

from __future__ import annotations

import dataclasses
import functools
import re
import types
from collections.abc import Iterable
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
    assert services.chats is server.domain.chats.lifecycle and services.sessions is server.transport.hub.sessions
    assert services.dispatcher is server.domain.chats.dispatcher
    assert services.presence_changes is server.domain.chats.presence_changes
    assert services.presence is server.backend.presence and services.tickets is server.domain.tickets
    assert len(app.router.routes()) > 50


def test_the_parts_that_follow_each_other_were_built_with_each_other(server: Server) -> None:
    domain = server.domain
    # Chats and tickets belong to customers; tickets ask the chat's presence whether agents are in.
    assert domain.chats.lifecycle.prepare_visitor == domain.customers.attach_chat
    assert domain.tickets.customer_for_visitor == domain.customers.attach_visitor
    assert domain.tickets.verified_emails == domain.customers.verified_emails
    assert domain.tickets.agents_available == domain.chats.presence_changes.agents_available
    # Co-browsing hears of every conversation change, and its relay serves the domain's sessions.
    notifier = domain.chats.lifecycle.notifier
    assert isinstance(notifier, ObservedNotifier)
    assert notifier.clients is server.notifications.notifier
    assert notifier.observers == (domain.cobrowse.conversation_changed,)
    assert domain.cobrowse.announce == server.notifications.cobrowse.announce
    assert server.transport.relay.service is domain.cobrowse
    assert domain.tickets.events is server.notifications.tickets
    # Mail is woken when a ticket's answer is queued (smtp_host is set above).
    assert server.outgoing.mail_worker is not None
    assert domain.tickets.mail_queued == server.outgoing.mail_worker.wake


def holders(root: object) -> dict[int, tuple[object, set[str]]]:
    """Every object of chatserver's reachable from ``root`` (through attributes, containers, bound
    methods, partials and closures; never into a third-party object), by id: the object and the
    names of the chatserver classes that hold it."""
    found: dict[int, tuple[object, set[str]]] = {}
    stack: list[tuple[object, str | None]] = [(root, None)]
    while stack:
        obj, holder = stack.pop()
        ours = type(obj).__module__.startswith("chatserver.") and hasattr(obj, "__dict__")
        if ours:
            seen = id(obj) in found
            found.setdefault(id(obj), (obj, set()))[1].update({holder} if holder else set())
            if seen:
                continue
            children: Iterable[object] = vars(obj).values()
            holder = type(obj).__name__
        elif isinstance(obj, dict):
            children = obj.values()
        elif isinstance(obj, (list, tuple, set, frozenset)):
            children = obj
        elif isinstance(obj, types.MethodType):
            children = [obj.__self__]
        elif isinstance(obj, functools.partial):
            children = [obj.func, *obj.args]
        elif isinstance(obj, types.FunctionType):
            children = [cell.cell_contents for cell in obj.__closure__ or ()]
        else:
            continue
        stack.extend((child, holder) for child in children if not isinstance(child, (str, bytes, int, float)))
    return found


def test_each_chat_part_is_built_once_and_each_caller_holds_the_part_it_uses(server: Server) -> None:
    chats = server.domain.chats
    graph = holders(server)
    parts = {f.name: getattr(chats, f.name) for f in dataclasses.fields(chats)}
    for name, part in parts.items():
        built = [obj for obj, _ in graph.values() if type(obj) is type(part)]
        assert built == [part], name  # one of each, shared by everything that uses it

    def held_by(name: str) -> set[str]:
        return graph[id(parts[name])][1]

    # The transport and REST callers hold the parts themselves ...
    assert {"AgentEvents", "ConnectionLifecycle", "VisitorEvents", "HttpServices"} <= held_by("presence_changes")
    assert {"AgentEvents", "AgentSessions", "HttpServices"} <= held_by("dispatcher")
    assert "AgentEvents" in held_by("transfers") and "ChatEvents" in held_by("read_marks")
    assert "QueueViews" in held_by("queue") and "AgentSessions" in held_by("agent_cache")
    assert "ConnectionLifecycle" in held_by("tasks")
    # ... and only those that start, end or change a conversation hold its lifecycle (attachments
    # post their file messages through it, as message:send does).
    assert held_by("lifecycle") == {"ChatParts", "ChatEvents", "VisitorEvents", "ConsoleEvents", "HttpServices",
                                    "AttachmentService"}
