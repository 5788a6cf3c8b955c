"""Test support: a real server on a loopback port and real Socket.IO clients that record events."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import itertools
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from aiohttp import web

from chatserver.app import app_for
from chatserver.assembly import Server, assemble
from chatserver.config import Settings, env_name
from chatserver.domain.chat_parts import ChatParts
from chatserver.domain.clock import Clock, SystemClock
from chatserver.domain.conversations import ChatService
from chatserver.domain.ports import RoutingState
from chatserver.http import serving
from chatserver.transport.dispatch import Events

PASSWORD = "correct horse battery"
# Agents' password hashes in every server and command the tests start: argon2id at full cost takes
# ~170 ms per agent added and per login, thousands of times over (tests/domain/test_passwords.py
# checks that the default stays full). PASSWORD_HASH_ENV is the same for a server or command run as a process.
PASSWORD_HASH_COST = "minimal"
PASSWORD_HASH_ENV = {env_name("password_hash_cost"): PASSWORD_HASH_COST}
_counter = itertools.count(1)


class SkippingClock(SystemClock):
    """The system's clock, which a test moves forward at once (``skip``) to see an expiry pass
    without waiting for it; timers still run on the real clock."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def now(self) -> float:
        return time.time() + self.skipped

    def skip(self, seconds: float) -> None:
        self.skipped += seconds


class LiveServer:
    """The chat server on 127.0.0.1, started and stopped in the test's event loop."""

    def __init__(self, settings: Settings, clock: Clock | None = None,
                 prepare: Callable[[web.Application], None] | None = None, events: Sequence[Events] = ()) -> None:
        self.settings = settings
        self.clock = clock
        self.prepare = prepare  # called with the app before it starts (a test's extra route)
        self.events = events  # Socket.IO events besides the shipped ones (a test's)
        self._parts: Server | None = None
        self.listener: serving.Listener | None = None
        self.runner: web.AppRunner | None = None
        self.port = settings.port
        self.http: aiohttp.ClientSession | None = None
        self._admin_token: str | None = None
        self.clients: list[Client] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def app(self) -> web.Application:
        assert self.runner is not None
        return self.runner.app

    @property
    def parts(self) -> Server:
        """The running server's object graph, as the composition root built it (assembly.py)."""
        assert self._parts is not None
        return self._parts

    @property
    def chats(self) -> ChatParts:
        """The conversation domain's parts (routing, the queue, presence changes, background work...)."""
        return self.parts.domain.chats

    @property
    def routing(self) -> RoutingState:
        """The routing state (the queue, what each agent holds), in memory or Redis."""
        return self.parts.backend.routing

    @property
    def service(self) -> ChatService:
        """The conversation lifecycle."""
        return self.chats.lifecycle

    async def start(self) -> None:
        settings = dataclasses.replace(self.settings, host="127.0.0.1", port=self.port)
        self._parts = assemble(settings, clock=self.clock, extra_events=self.events)
        app = app_for(self._parts)
        if self.prepare is not None:
            self.prepare(app)
        self.listener = await serving.start(app, settings)
        self.runner = self.listener.runner
        self.port = self.listener.port
        if self.http is None:
            self.http = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self.listener is not None:
            await self.listener.stop()
            self.listener = self.runner = None

    async def close(self) -> None:
        """Clients leave first, as browsers would (a server stopping under open sockets waits for
        aiohttp's shutdown timeout; the restart tests cover that case), then the server stops and
        the HTTP session closes, whatever went wrong before."""
        try:
            leaving = [asyncio.wait_for(c.disconnect(), 10) for c in self.clients if c.sio.connected]
            results = await asyncio.gather(*leaving, return_exceptions=True)
            # A client that could not say goodbye is cut off when the server stops below; that is
            # the test client's trouble, not the server's, so it does not fail the test.
            stuck = [r for r in results if isinstance(r, BaseException)]
            if stuck:
                print(f"LiveServer.close: {len(stuck)} client(s) did not disconnect cleanly: {stuck[0]!r}")
        finally:
            try:
                await self.stop()
            finally:
                if self.http is not None:
                    await self.http.close()
                    self.http = None

    async def request(self, method: str, path: str, *, token: str | None = None, json: Any = None,
                      data: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        assert self.http is not None
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.request(method, self.url + path, json=json, data=data, headers=headers) as resp:
            body = await resp.json() if resp.content_type == "application/json" else await resp.text()
            return resp.status, body

    async def add_agent(self, name: str | None = None, *, capacity: int = 3, role: str = "agent") -> dict[str, Any]:
        """Create an agent through the admin API and log in; returns ``{agent, token, email}``."""
        n = next(_counter)
        email = f"agent{n}@example.com"
        admin = await self.admin_token()
        status, body = await self.request("POST", "/api/agents", token=admin, json={
            "name": name or f"Agent {n}", "email": email, "password": PASSWORD, "role": role, "capacity": capacity})
        assert status == 201, body
        return await self.login(email)

    async def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        status, body = await self.request("POST", "/api/auth/login", json={"email": email, "password": password})
        assert status == 200, body
        return {**body, "email": email}

    async def admin_token(self) -> str:
        if self._admin_token is None:
            text = (self.settings.data_dir / "first-admin.txt").read_text()
            creds = dict(line.split(": ", 1) for line in text.strip().splitlines())
            self._admin_token = str((await self.login(creds["email"], creds["password"]))["token"])
        return self._admin_token

    async def visitor_token(self) -> str:
        status, body = await self.request("POST", "/api/visitor/sessions")
        assert status == 201, body
        return str(body["token"])


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    defaults: dict[str, Any] = {
        "port": 0, "data_dir": tmp_path / "data", "grace_period": 60.0, "visitor_sessions_per_minute": 10_000,
        "login_attempts_per_minute": 10_000, "queue_update_interval": 0.05, "shutdown_timeout": 1.0,
        "drain_period": 0.0, "password_hash_cost": PASSWORD_HASH_COST,
    }
    defaults.update(overrides)
    return Settings(**defaults)


class Client:
    """A python-socketio client on one namespace that keeps every event it receives."""

    def __init__(self, server: LiveServer, namespace: str, token: str | None, *,
                 http: aiohttp.ClientSession | None = None, **auth: Any) -> None:
        """``http``: the session to connect with (its own address, TLS); else one of its own."""
        self.server = server
        self.namespace = namespace
        self.token = token
        self.auth = auth  # sent in the connect auth besides the token (an agent's wanted status)
        self.sio = socketio.AsyncClient(reconnection=False, **({"http_session": http} if http else {}))
        self.events: dict[str, list[Any]] = defaultdict(list)
        self._waiters: list[tuple[str, Callable[[Any], bool], asyncio.Future[Any]]] = []
        self.sio.on("*", self._record, namespace=namespace)
        self.closed = asyncio.Event()  # set when the connection ends, whichever side ended it
        self.sio.on("disconnect", lambda *_: self.closed.set(), namespace=namespace)

    async def _record(self, event: str, data: Any = None) -> None:
        self.events[event].append(data)
        for waiter in list(self._waiters):
            name, predicate, future = waiter
            if name == event and not future.done() and predicate(data):
                future.set_result(data)
                self._waiters.remove(waiter)

    async def connect(self) -> Client:
        auth = {"token": self.token, **self.auth} if self.token is not None else None
        await self.sio.connect(self.server.url, namespaces=[self.namespace], auth=auth, transports=["websocket"],
                               wait_timeout=5)
        self.server.clients.append(self)
        return self

    async def disconnect(self) -> None:
        await self.sio.disconnect()

    async def call(self, event: str, data: Any = None, timeout: float = 5.0) -> Any:
        return await self.sio.call(event, data, namespace=self.namespace, timeout=timeout)

    async def emit(self, event: str, data: Any = None) -> None:
        await self.sio.emit(event, data, namespace=self.namespace)

    async def wait_for(self, event: str, predicate: Callable[[Any], bool] = lambda _: True,
                       timeout: float = 5.0, seen: bool = True) -> Any:
        """The first event named ``event`` matching ``predicate``, already received (``seen``) or next."""
        if seen:
            for data in self.events[event]:
                if predicate(data):
                    return data
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append((event, predicate, future))
        return await asyncio.wait_for(future, timeout)

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        return [m for m in self.events["message:new"] if m["conversation_id"] == conversation_id]

    async def wait_for_seq(self, conversation_id: str, seq: int, timeout: float = 5.0) -> dict[str, Any]:
        return await self.wait_for(  # type: ignore[no-any-return]
            "message:new", lambda m: m["conversation_id"] == conversation_id and m["seq"] == seq, timeout)


async def wait_until(condition: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0,
                     what: str = "condition") -> None:
    """Wait for ``condition`` (a check, or a coroutine function) to hold, polling; fail after
    ``timeout`` seconds. For state that changes behind the test's back: a fixed sleep before an
    assert is too short under load and wastes time otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def visitor(server: LiveServer, token: str | None = None) -> Client:
    return await Client(server, "/visitor", token or await server.visitor_token()).connect()


async def agent(server: LiveServer, login: dict[str, Any], **auth: Any) -> Client:
    return await Client(server, "/agent", login["token"], **auth).connect()


def prechat(n: int = 1, **extra: Any) -> dict[str, Any]:
    return {"name": f"Shopper {n}", "question": f"Where is my order {n}?", **extra}
