"""The checks every client event passes and the structured errors it is answered with, on the
event dispatcher alone (no server, no socket)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from chatserver.config import Settings
from chatserver.domain.actor import Actor
from chatserver.domain.models import PartyKind
from chatserver.errors import ChatError, NotFound
from chatserver.logs import ThrottledLog
from chatserver.transport.dispatch import EventDispatcher, Events
from chatserver.transport.registry import Connection, ConnectionRegistry

SETTINGS = Settings(event_rate=1.0, event_burst=3)


def dispatcher_with_visitor() -> tuple[EventDispatcher, list[tuple[Connection, Any]]]:
    connections = ConnectionRegistry()
    connections.add(Connection("s1", "/visitor", Actor(kind=PartyKind.VISITOR, id="v1"), None, SETTINGS))
    calls: list[tuple[Connection, Any]] = []

    async def echo(connection: Connection, data: Any) -> dict[str, Any]:
        calls.append((connection, data))
        return {"echo": data}

    async def pointer(connection: Connection, data: Any) -> dict[str, Any]:
        return {}

    async def missing(connection: Connection, data: Any) -> dict[str, Any]:
        raise NotFound("no such conversation")

    async def broken(connection: Connection, data: Any) -> dict[str, Any]:
        raise ValueError(f"quoting the payload {data['card']}")

    dispatcher = EventDispatcher(connections, ThrottledLog(logging.getLogger("test.refusals")), [
        Events("/visitor", {"test:echo": echo, "test:missing": missing, "test:broken": broken}),
        Events("/visitor", {"test:pointer": pointer}, self_limited=frozenset({"test:pointer"})),
    ])
    return dispatcher, calls


def code(answer: dict[str, Any] | ChatError) -> str:
    assert isinstance(answer, ChatError), answer
    return answer.code


async def test_the_handlers_answer_is_the_acknowledgement() -> None:
    dispatcher, calls = dispatcher_with_visitor()
    assert await dispatcher.dispatch("/visitor", "test:echo", "s1", {"a": 1}) == {"ok": True, "echo": {"a": 1}}
    assert await dispatcher.dispatch("/visitor", "test:echo", "s1") == {"ok": True, "echo": None}
    assert [(c.sid, data) for c, data in calls] == [("s1", {"a": 1}), ("s1", None)]


async def test_an_event_from_a_connection_not_authenticated_here_is_refused() -> None:
    dispatcher, calls = dispatcher_with_visitor()
    assert code(await dispatcher.dispatch("/visitor", "test:echo", "s-unknown", {})) == "auth_required"
    assert calls == []


async def test_events_are_per_namespace() -> None:
    dispatcher, calls = dispatcher_with_visitor()
    answer = await dispatcher.dispatch("/agent", "test:echo", "s1", {})
    assert code(answer) == "unknown_event"
    assert calls == []


async def test_an_unknown_events_name_is_quoted_cut_to_64_characters() -> None:
    dispatcher, _ = dispatcher_with_visitor()
    answer = await dispatcher.dispatch("/visitor", "x" * 500, "s1", {})
    assert code(answer) == "unknown_event"
    assert isinstance(answer, ChatError) and answer.message == f"unknown event {'x' * 64!r}"


async def test_more_than_one_payload_is_refused_before_the_handler_runs() -> None:
    dispatcher, calls = dispatcher_with_visitor()
    assert code(await dispatcher.dispatch("/visitor", "test:echo", "s1", {}, {})) == "invalid_payload"
    assert calls == []


async def test_a_connection_past_its_event_budget_is_refused_unless_the_event_limits_itself() -> None:
    dispatcher, calls = dispatcher_with_visitor()
    answers = [await dispatcher.dispatch("/visitor", "test:echo", "s1", {}) for _ in range(SETTINGS.event_burst + 1)]
    assert [a == {"ok": True, "echo": {}} for a in answers] == [True] * SETTINGS.event_burst + [False]
    assert code(answers[-1]) == "rate_limited"
    assert len(calls) == SETTINGS.event_burst
    # An event that limits itself goes through on the spent budget.
    for _ in range(10):
        assert await dispatcher.dispatch("/visitor", "test:pointer", "s1", {}) == {"ok": True}


async def test_a_refusal_by_the_handler_is_the_answer_and_is_logged_with_its_code(
        caplog: pytest.LogCaptureFixture) -> None:
    dispatcher, _ = dispatcher_with_visitor()
    with caplog.at_level(logging.INFO, logger="test.refusals"):
        answer = await dispatcher.dispatch("/visitor", "test:missing", "s1", {})
    assert isinstance(answer, NotFound) and answer.message == "no such conversation"
    assert "event refused event=test:missing sid=s1 code=not_found" in caplog.text


async def test_a_bug_in_a_handler_is_answered_without_its_text(caplog: pytest.LogCaptureFixture) -> None:
    dispatcher, _ = dispatcher_with_visitor()
    with caplog.at_level(logging.INFO):
        answer = await dispatcher.dispatch("/visitor", "test:broken", "s1", {"card": "4111-1111"})
    assert isinstance(answer, ChatError) and answer.to_payload()["error"] == {
        "code": ChatError.code, "message": "the server could not handle this event"}
    assert "event failed event=test:broken sid=s1 exception=ValueError" in caplog.text
    assert "4111" not in caplog.text


def test_an_event_handled_twice_in_a_namespace_is_refused_when_the_dispatcher_is_built() -> None:
    async def echo(connection: Connection, data: Any) -> dict[str, Any]:
        return {}

    with pytest.raises(ValueError, match="test:echo"):
        EventDispatcher(ConnectionRegistry(), logging.getLogger("test.refusals"),
                        [Events("/visitor", {"test:echo": echo}), Events("/visitor", {"test:echo": echo})])
    # The same name in another namespace is another event.
    EventDispatcher(ConnectionRegistry(), logging.getLogger("test.refusals"),
                    [Events("/visitor", {"test:echo": echo}), Events("/agent", {"test:echo": echo})])
