"""Real counterparts for the offline service's tests: an SMTP server (aiosmtpd) and a webhook
receiver (aiohttp), each on a free loopback port."""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller

from .redis_server import free_port


async def outbox_when(server: Any, kind: str, condition: Callable[[list[dict[str, Any]]], bool],
                      timeout: float = 10.0, what: str = "the outbox") -> list[dict[str, Any]]:
    """The outbox items of ``kind`` (through the admin API) once ``condition`` holds for them. (A
    receiver has an email or a webhook a moment before the worker marks its row sent.)"""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        _, outbox = await server.request("GET", f"/api/outbox?kind={kind}", token=await server.admin_token())
        items: list[dict[str, Any]] = outbox["items"]
        if condition(items):
            return items
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {[i['status'] for i in items]}")
        await asyncio.sleep(0.05)


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: EmailMessage


class _Collector:
    def __init__(self) -> None:
        self.mails: list[ReceivedMail] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.mails.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd in its own thread on 127.0.0.1; ``mails`` holds what it accepted."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._collector = _Collector()
        self._controller: Controller | None = None

    @property
    def mails(self) -> list[ReceivedMail]:
        with self._collector.lock:
            return list(self._collector.mails)

    def start(self) -> None:
        self._controller = Controller(self._collector, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def settings(self) -> dict[str, Any]:
        return {"smtp_host": "127.0.0.1", "smtp_port": self.port, "smtp_security": "none",
                "smtp_from": "shop@example.com"}


def verify_signature(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a shop's receiver does (the example in docs/webhooks.md)."""
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


@dataclass
class Delivery:
    delivery_id: str
    event: dict[str, Any]
    signature_ok: bool
    status: int


@dataclass
class WebhookReceiver:
    """An aiohttp server that answers 500 to the first ``fail_first`` requests (and to every one
    while ``failing``), then 204; it records every request and whether its signature held."""

    secret: str = "a-shared-secret-of-some-length"
    fail_first: int = 0
    failing: bool = False
    requests: list[Delivery] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    @property
    def delivered(self) -> list[Delivery]:
        return [d for d in self.requests if 200 <= d.status < 300]

    def delivered_types(self) -> list[str]:
        return [d.event["type"] for d in self.delivered]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        ok = verify_signature(self.secret, request.headers.get("X-Chatserver-Timestamp", ""), body,
                              request.headers.get("X-Chatserver-Signature", ""))
        status = 500 if self.failing or len(self.requests) < self.fail_first else 204
        self.requests.append(Delivery(request.headers.get("X-Chatserver-Delivery", ""), json.loads(body), ok, status))
        return web.Response(status=status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        self.port = self.port or free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
