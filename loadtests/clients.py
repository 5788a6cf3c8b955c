"""Real clients of the chat server: REST calls over aiohttp and python-socketio connections that
timestamp every event they receive (``time.perf_counter()``, taken before anything else runs)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp
import socketio

from .cleanup import Created
from .errors import LoadTestError

VISITOR_NAMESPACE = "/visitor"
AGENT_NAMESPACE = "/agent"
AGENT_PASSWORD = "load-test-agent-password"  # of every agent a load test creates

Listener = Callable[[float, Any], None]


def new_http_session() -> aiohttp.ClientSession:
    """One session for many clients: no connection limit (each WebSocket holds a connection)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                 timeout=aiohttp.ClientTimeout(total=30))


class Api:
    """The REST calls a load test needs; the agents it adds are recorded in ``created``."""

    def __init__(self, http: aiohttp.ClientSession, url: str, created: Created | None = None) -> None:
        self.http = http
        self.url = url
        self.created = created if created is not None else Created()

    async def _request(self, method: str, path: str, *, token: str | None = None,
                       json: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.url + path, json=json, headers=headers) as response:
            body = await response.json() if response.content_type == "application/json" else await response.text()
            return response.status, body

    async def visitor_token(self) -> str:
        status, body = await self._request("POST", "/api/visitor/sessions")
        if status == 429:
            raise LoadTestError("the server refused new visitor sessions (rate_limited): raise "
                                "visitor_sessions_per_minute on the target (CHATSERVER_VISITOR_SESSIONS_PER_MINUTE)")
        if status != 201:
            raise LoadTestError(f"POST /api/visitor/sessions answered {status}: {body}")
        return str(body["token"])

    async def login(self, email: str, password: str) -> dict[str, Any]:
        """``{"token", "expires_at", "agent": {"id", ...}}``."""
        status, body = await self._request("POST", "/api/auth/login", json={"email": email, "password": password})
        if status != 200:
            raise LoadTestError(f"login as {email} answered {status}: {body}")
        return dict(body)

    async def queue_total(self, token: str) -> int:
        """How many chats wait, from ``GET /api/queue``."""
        status, body = await self._request("GET", "/api/queue?limit=1", token=token)
        if status != 200:
            raise LoadTestError(f"GET /api/queue answered {status}: {body}")
        return int(body["total"])

    async def add_agent(self, admin_token: str, *, name: str, email: str, password: str, capacity: int,
                        departments: list[str] | None = None) -> None:
        body: dict[str, Any] = {"name": name, "email": email, "password": password, "role": "agent",
                                "capacity": capacity}
        if departments is not None:
            body["departments"] = departments
        status, answer = await self._request("POST", "/api/agents", token=admin_token, json=body)
        if status != 201:
            raise LoadTestError(f"adding agent {email} answered {status}: {answer}")
        self.created.agents.add(str(answer["agent"]["id"]))

    async def new_agent(self, admin_token: str, *, name: str, email: str, capacity: int) -> dict[str, Any]:
        """Add an agent (password ``AGENT_PASSWORD``) and log in as them: what ``login`` returns."""
        await self.add_agent(admin_token, name=name, email=email, password=AGENT_PASSWORD, capacity=capacity)
        return await self.login(email, AGENT_PASSWORD)


class SocketClient:
    """A python-socketio client on one namespace. Listeners get ``(received_at, data)``, with
    ``received_at`` from ``time.perf_counter()``; every event is counted."""

    def __init__(self, url: str, namespace: str, token: str, http: aiohttp.ClientSession | None = None) -> None:
        self.url = url
        self.namespace = namespace
        self.token = token
        # No reconnection (a drop is a failure to report, not to hide) and no SIGINT handler of
        # its own: the load tester stops its clients itself.
        self.sio = socketio.AsyncClient(reconnection=False, handle_sigint=False, http_session=http)
        self.counts: Counter[str] = Counter()
        self._listeners: dict[str, list[Listener]] = {}
        self.sio.on("*", self._received, namespace=namespace)

    async def _received(self, event: str, data: Any = None) -> None:
        received_at = time.perf_counter()
        self.counts[event] += 1
        for listener in self._listeners.get(event, ()):
            listener(received_at, data)

    def on(self, event: str, listener: Listener) -> None:
        self._listeners.setdefault(event, []).append(listener)

    async def connect(self, wait_timeout: float = 10.0) -> None:
        try:
            await self.sio.connect(self.url, namespaces=[self.namespace], auth={"token": self.token},
                                   transports=["websocket"], wait_timeout=wait_timeout)
        except socketio.exceptions.ConnectionError as exc:
            raise LoadTestError(f"could not connect to {self.namespace}: {exc}") from None

    async def call(self, event: str, data: Any = None, ack_timeout: float = 10.0) -> dict[str, Any]:
        """Send with an acknowledgement; an ``{"error": ...}`` ack raises."""
        try:
            ack = await self.sio.call(event, data, namespace=self.namespace, timeout=ack_timeout)
        except socketio.exceptions.TimeoutError:
            raise LoadTestError(f"{event} was not acknowledged within {ack_timeout:.0f} s") from None
        if not isinstance(ack, dict) or not ack.get("ok"):
            raise LoadTestError(f"{event} was refused: {ack}")
        return ack

    async def disconnect(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


async def connect_visitor(api: Api, http: aiohttp.ClientSession | None = None) -> SocketClient:
    """A new visitor: a fresh token from ``POST /api/visitor/sessions``, connected to ``/visitor``."""
    client = SocketClient(api.url, VISITOR_NAMESPACE, await api.visitor_token(), http)
    await client.connect()
    return client


def prechat(n: int, department: str | None = None) -> dict[str, Any]:
    """A ``chat:start`` payload for load-test visitor ``n``."""
    payload: dict[str, Any] = {"name": f"Load visitor {n}", "question": f"Load test question {n}"}
    if department is not None:
        payload["department"] = department
    return payload


__all__ = [
    "AGENT_NAMESPACE",
    "AGENT_PASSWORD",
    "VISITOR_NAMESPACE",
    "Api",
    "SocketClient",
    "connect_visitor",
    "new_http_session",
    "prechat",
]
