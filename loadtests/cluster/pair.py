"""A visitor/agent pair against one chat server, for a Locust user under gevent: python-socketio's
synchronous client (websocket-client underneath, made cooperative by gevent's monkeypatching) and
requests for the REST calls.

The pair is self-contained, so that pairs on different workers never depend on each other: its
agent is created for it through the admin API and connects ``away`` (routing gives it nothing),
its visitor starts a chat and the agent takes exactly that chat (``queue:take``). The visitor then
sends ``p:N``; the agent answers every ``p:N`` it receives with ``q:N``; a round trip is from
just before the visitor sends to its receipt of the answer. Every ``message:new`` of either party
goes through a ``SequenceCheck`` (checks.py). ``resume`` drops the visitor with an answer on its
way and joins again from the last seq it holds; ``finish`` closes the chat, waits for the closing
message (a conversation's last) and counts whatever is still missing as lost.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import gevent.lock
import requests
import requests.adapters
import socketio

from ..clients import AGENT_NAMESPACE, AGENT_PASSWORD, VISITOR_NAMESPACE, prechat
from .checks import ChatCounters, SequenceCheck
from .lean import LeanError, LeanSocket

# Locust's request event: fire(request_type=, name=, response_time=ms, response_length=, exception=, context=).
FireRequest = Callable[..., None]
REQUEST_TYPE = "chat"
# REST calls wait longer than events: creating and logging in an agent hashes a password (argon2),
# which takes seconds on a busy target when many pairs start at once.
REST_TIMEOUT = 30.0
log = logging.getLogger("loadtests.cluster")
_pair_numbers = itertools.count(1)


class ChatFailure(Exception):
    """A step of a pair failed; ``str()`` is a short stable kind (``no_reply``,
    ``refused:message:send:rate_limited``) so that Locust groups failures by it."""


class AdminSession:
    """The admin's REST session of one worker process, shared by its pairs: one login."""

    def __init__(self, url: str, email: str, password: str, timeout: float = REST_TIMEOUT) -> None:
        self.url = url
        self._email, self._password = email, password
        self.timeout = timeout
        self.http = requests.Session()
        # one session for every pair of the process: as many pooled connections as pairs at once
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=256)
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)
        self._token: str | None = None
        self._lock = gevent.lock.Semaphore()

    def token(self) -> str:
        with self._lock:
            if self._token is None:
                self._token = str(login(self.http, self.url, self._email, self._password, self.timeout)["token"])
            return self._token

    def add_agent(self, name: str, email: str) -> str:
        """A new agent of capacity 1 with the load-test password; its id."""
        body = {"name": name, "email": email, "password": AGENT_PASSWORD, "role": "agent", "capacity": 1}
        answer = _json(self.http, "POST", self.url + "/api/agents", 201, self.timeout, token=self.token(), json=body)
        return str(answer["agent"]["id"])

    def disable_agent(self, agent_id: str) -> None:
        _json(self.http, "PATCH", f"{self.url}/api/agents/{agent_id}", 200, self.timeout, token=self.token(),
              json={"disabled": True})


def _json(http: requests.Session, method: str, url: str, expect: int, timeout: float, *,
          token: str | None = None, json: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = http.request(method, url, json=json, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise ChatFailure(f"http:{type(exc).__name__}") from None
    if response.status_code != expect:
        try:
            code = response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = "unknown"
        raise ChatFailure(f"http:{response.status_code}:{code}")
    return response.json()


def login(http: requests.Session, url: str, email: str, password: str, timeout: float) -> dict[str, Any]:
    return dict(_json(http, "POST", url + "/api/auth/login", 200, timeout, json={"email": email, "password": password}))


class Connection:
    """One client on one namespace, without reconnection (a reconnect is the pair's own step,
    checked): the lean client (lean.py) or python-socketio's synchronous one."""

    def __init__(self, url: str, namespace: str, auth: dict[str, str],
                 handlers: dict[str, Callable[[Any], None]], timeout: float, lean: bool = True) -> None:
        self.namespace = namespace
        self.timeout = timeout
        self.lean: LeanSocket | None = None
        self.sio: socketio.Client | None = None
        if lean:
            try:
                self.lean = LeanSocket(url, namespace, auth, handlers, timeout)
            except LeanError as exc:
                raise ChatFailure(str(exc)) from None
            return
        self.sio = socketio.Client(reconnection=False, handle_sigint=False)
        for event, handler in handlers.items():
            self.sio.on(event, handler, namespace=namespace)
        try:
            self.sio.connect(url, auth=auth, namespaces=[namespace], transports=["websocket"], wait_timeout=timeout)
        except socketio.exceptions.ConnectionError:
            raise ChatFailure(f"connect:{namespace}") from None

    @property
    def connected(self) -> bool:
        return self.lean.connected if self.lean is not None else bool(self.sio is not None and self.sio.connected)

    def call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        try:
            if self.lean is not None:
                ack = self.lean.call(event, data)
            else:
                assert self.sio is not None
                ack = self.sio.call(event, data, namespace=self.namespace, timeout=self.timeout)
        except LeanError as exc:
            raise ChatFailure(str(exc)) from None
        except socketio.exceptions.TimeoutError:
            raise ChatFailure(f"ack_timeout:{event}") from None
        except socketio.exceptions.BadNamespaceError:
            raise ChatFailure(f"disconnected:{event}") from None
        if not isinstance(ack, dict) or not ack.get("ok"):
            code = ack.get("error", {}).get("code", "unknown") if isinstance(ack, dict) else "unknown"
            raise ChatFailure(f"refused:{event}:{code}")
        return ack

    def emit(self, event: str, data: dict[str, Any], callback: Callable[[Any], None]) -> None:
        if self.lean is not None:
            try:
                self.lean.emit(event, data, callback)
            except LeanError as exc:
                raise ChatFailure(str(exc)) from None
        else:
            assert self.sio is not None
            self.sio.emit(event, data, namespace=self.namespace, callback=callback)

    def close(self) -> None:
        if self.lean is not None:
            self.lean.close()
        elif self.sio is not None and self.sio.connected:
            self.sio.disconnect()


class ChatPair:
    """One visitor and its own agent on ``url``; see the module's docstring."""

    def __init__(self, url: str, admin: AdminSession, counters: ChatCounters, fire: FireRequest,
                 run_id: str, timeout: float = 10.0, lean: bool = True) -> None:
        self.url = url
        self.lean = lean
        self.admin = admin
        self.counters = counters
        self._fire = fire
        self.run_id = run_id
        self.timeout = timeout
        self.number = next(_pair_numbers)
        self.agent_id: str | None = None
        self.agent: Connection | None = None
        self.visitor: Connection | None = None
        self.visitor_token: str | None = None
        self.cid: str | None = None
        self.visitor_check = SequenceCheck(counters)
        self.agent_check = SequenceCheck(counters)
        self._early: list[dict[str, Any]] = []  # a visitor's messages before chat:start's ack names its chat
        self._answers: dict[str, gevent.event.AsyncResult] = {}
        self._caught_up = gevent.event.Event()
        self._target = 0
        self._rounds = 0
        self._joined = False  # the visitor's current connection has joined its chat
        self._unacknowledged = False  # a ping was sent and its ack (its seq) not received

    # -- steps, each reported to Locust as a request -----------------------------------------------

    def _step(self, name: str, started: float, failure: BaseException | None = None) -> None:
        self._fire(request_type=REQUEST_TYPE, name=name, response_time=(time.perf_counter() - started) * 1000,
                   response_length=0, exception=failure, context={})

    def start(self) -> None:
        """Create and connect the agent, start the visitor's chat, have the agent take it."""
        started = time.perf_counter()
        try:
            email = f"locust-{self.run_id}-{os.getpid()}-{self.number}@example.com"
            self.agent_id = self.admin.add_agent(f"Locust agent {self.number}", email)
            token = str(login(self.admin.http, self.url, email, AGENT_PASSWORD, self.admin.timeout)["token"])
            self.agent = Connection(self.url, AGENT_NAMESPACE, {"token": token, "status": "away"},
                                    {"message:new": self._agent_received}, self.timeout, self.lean)
            self.visitor_token = str(_json(self.admin.http, "POST", self.url + "/api/visitor/sessions", 201,
                                           self.admin.timeout)["token"])
            self.visitor = self._connect_visitor()
            ack = self.visitor.call("chat:start", prechat(self.number))
            self._joined = True
            self.cid = str(ack["conversation"]["id"])
            for message in self._early:
                self._visitor_received(message)
            self._early.clear()
            self.agent.call("queue:take", {"conversation_id": self.cid})
            self.agent_check.rejoin(0)
            self.agent.call("conversation:join", {"conversation_id": self.cid, "after_seq": 0})
        except ChatFailure as failure:
            self._step("chat start", started, failure)
            raise
        self._step("chat start", started)

    def _connect_visitor(self) -> Connection:
        assert self.visitor_token is not None
        return Connection(self.url, VISITOR_NAMESPACE, {"token": self.visitor_token},
                          {"message:new": self._visitor_received}, self.timeout, self.lean)

    def _rejoin_visitor(self) -> None:
        """Join the visitor's new connection from the last seq it holds; sets the catch-up target."""
        assert self.visitor is not None and self.cid is not None
        self._joined = False
        after = self.visitor_check.contiguous()
        self.visitor_check.rejoin(after)
        self._caught_up.clear()
        self._target = 1 << 62  # until the join's ack says how far
        ack = self.visitor.call("conversation:join", {"conversation_id": self.cid, "after_seq": after})
        self._target = int(ack["last_seq"])
        self._joined = True

    def _send_ping(self) -> tuple[str, gevent.event.AsyncResult]:
        assert self.visitor is not None and self.cid is not None
        self._rounds += 1
        n = str(self._rounds)
        answer = gevent.event.AsyncResult()
        self._answers[n] = answer
        self._unacknowledged = True
        ack = self.visitor.call("message:send", {"conversation_id": self.cid, "client_msg_id": f"v-{n}",
                                                 "body": f"p:{n}"})
        self.visitor_check.acknowledged(int(ack["seq"]))
        self._unacknowledged = False
        return n, answer

    def _await_answer(self, n: str, answer: gevent.event.AsyncResult) -> float:
        try:
            return float(answer.get(timeout=self.timeout))
        except gevent.Timeout:
            raise ChatFailure("no_reply") from None
        finally:
            self._answers.pop(n, None)

    def round_trip(self) -> None:
        """``p:N`` from the visitor, ``q:N`` back from the agent."""
        started = time.perf_counter()
        try:
            n, answer = self._send_ping()
            answered = self._await_answer(n, answer)
        except ChatFailure as failure:
            self._step("round trip", started, failure)
            return
        self._fire(request_type=REQUEST_TYPE, name="round trip", response_time=(answered - started) * 1000,
                   response_length=0, exception=None, context={})

    def resume(self) -> None:
        """Send a ping, drop the visitor's connection before the answer, connect again and join
        from the last seq held: timed until every message up to the join's ``last_seq`` is here."""
        assert self.visitor is not None and self.cid is not None
        started = time.perf_counter()
        try:
            n, answer = self._send_ping()
            started = time.perf_counter()
            self.visitor.close()
            self.visitor = self._connect_visitor()
            self._rejoin_visitor()
            if self.visitor_check.contiguous() < self._target and not self._caught_up.wait(self.timeout):
                self.counters.resumes_incomplete += 1
                self.visitor_check.settle(self._target)
                raise ChatFailure("resume_incomplete")
            self.counters.resumes += 1
            self._step("resume", started)
            started = time.perf_counter()
            self._await_answer(n, answer)
        except ChatFailure as failure:
            self._step("resume", started, failure)
            return

    def finish(self) -> None:
        """Close the chat, wait for its closing message, count what is missing as lost; hang up
        and disable the agent."""
        started = time.perf_counter()
        failure: ChatFailure | None = None
        try:
            for answer in list(self._answers.values()):  # a round cut short by the stop: its answer first
                answer.wait(self.timeout)
            if self.cid is None and self.visitor is not None and self.visitor.connected:
                # stopped before chat:start's ack: its chat may wait in the queue; close that too
                waiting = self.visitor.call("session:resume", {}).get("conversation")
                if waiting is not None:
                    self.visitor.call("conversation:close", {"conversation_id": waiting["id"]})
            if self.visitor is not None and self.cid is not None:
                # A resume cut short by the stop, or a ping whose seq the visitor never learnt (its own
                # messages come back only in a replay): join again on a new connection.
                if self._unacknowledged or not (self._joined and self.visitor.connected):
                    self.visitor.close()
                    self.visitor = self._connect_visitor()
                    self._rejoin_visitor()
                ack = self.visitor.call("conversation:close", {"conversation_id": self.cid})
                last = int(ack["conversation"]["last_seq"])
                deadline = time.monotonic() + self.timeout
                while time.monotonic() < deadline and min(self.visitor_check.contiguous(),
                                                          self.agent_check.contiguous()) < last:
                    gevent.sleep(0.01)
                for party, check in (("visitor", self.visitor_check), ("agent", self.agent_check)):
                    if check.missing(last):
                        log.warning("%s of pair %d: %d of seq 1-%d never arrived (from seq %d on)", party,
                                    self.number, check.missing(last), last, check.contiguous() + 1)
                    check.settle(last)
        except ChatFailure as exc:
            failure = exc
        finally:
            for connection in (self.visitor, self.agent):
                if connection is not None:
                    connection.close()
            if self.agent_id is not None:
                try:
                    self.admin.disable_agent(self.agent_id)
                except ChatFailure as exc:
                    failure = failure or exc
        self._step("chat end", started, failure)

    # -- what arrives ------------------------------------------------------------------------------

    def _visitor_received(self, message: dict[str, Any]) -> None:
        received = time.perf_counter()
        if self.cid is None:
            self._early.append(message)
            return
        if message.get("conversation_id") != self.cid:
            return
        self.visitor_check.received(int(message["seq"]))
        if self.visitor_check.contiguous() >= self._target:
            self._caught_up.set()
        body = message.get("body") or ""
        if message.get("kind") == "text" and message.get("sender", {}).get("kind") == "agent" and body[:2] == "q:":
            self.counters.delivered += 1
            answer = self._answers.get(body[2:])
            if answer is not None:
                answer.set(received)

    def _agent_received(self, message: dict[str, Any]) -> None:
        if self.cid is None or message.get("conversation_id") != self.cid or self.agent is None:
            return
        self.agent_check.received(int(message["seq"]))
        body = message.get("body") or ""
        if message.get("kind") == "text" and message.get("sender", {}).get("kind") == "visitor" and body[:2] == "p:":
            self.counters.delivered += 1
            n = body[2:]
            self.agent.emit("message:send", {"conversation_id": self.cid, "client_msg_id": f"a-{n}",
                                             "body": f"q:{n}"}, callback=self._agent_acknowledged)

    def _agent_acknowledged(self, ack: Any) -> None:
        if isinstance(ack, dict) and ack.get("ok"):
            self.agent_check.acknowledged(int(ack["seq"]))
        else:
            code = ack.get("error", {}).get("code", "unknown") if isinstance(ack, dict) else "unknown"
            self._fire(request_type=REQUEST_TYPE, name="agent reply", response_time=0, response_length=0,
                       exception=ChatFailure(f"refused:message:send:{code}"), context={})


__all__ = ["REQUEST_TYPE", "AdminSession", "ChatFailure", "ChatPair", "Connection"]
