"""Typed application keys shared by the app factory and the views."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ..config import Settings
from ..domain.clock import Clock
from ..domain.cobrowse import CobrowseStore
from ..domain.console import ConsoleStore
from ..domain.conversations import ChatService
from ..domain.customers import CustomerService
from ..domain.passwords import PasswordHashing
from ..domain.ports import AgentStore, ConversationStore
from ..domain.tokens import TokenSigner
from ..transport.addresses import Network
from ..transport.cobrowse import CobrowseRelay
from ..transport.hub import SocketHub
from ..transport.ratelimit import KeyedLimiter

SETTINGS = web.AppKey("settings", Settings)
AGENTS: web.AppKey[AgentStore] = web.AppKey("agents")
# Conversations, messages, read marks, ratings; its ping is the database readiness check.
CONVERSATIONS: web.AppKey[ConversationStore] = web.AppKey("conversations")
# Notes, canned responses, wrap-ups and failed logins (the agent console).
CONSOLE: web.AppKey[ConsoleStore] = web.AppKey("console")
# Co-browse session metadata (transcripts show who watched, when and for how long).
COBROWSE: web.AppKey[CobrowseStore] = web.AppKey("cobrowse")
COBROWSE_RELAY = web.AppKey("cobrowse_relay", CobrowseRelay)
SERVICE = web.AppKey("service", ChatService)
# Customer records, transcripts, exports and reports.
CUSTOMERS = web.AppKey("customers", CustomerService)
HUB = web.AppKey("hub", SocketHub)
SIGNER = web.AppKey("signer", TokenSigner)
PASSWORDS = web.AppKey("passwords", PasswordHashing)
CLOCK = web.AppKey("clock", Clock)
LOGIN_LIMITER = web.AppKey("login_limiter", KeyedLimiter)
VISITOR_LIMITER = web.AppKey("visitor_limiter", KeyedLimiter)
# The proxies whose Forwarded / X-Forwarded-For headers are believed (settings trusted_proxies).
TRUSTED_PROXIES: web.AppKey[tuple[Network, ...]] = web.AppKey("trusted_proxies")
# The largest body of each route that takes a larger one than MAX_JSON_BODY, by (method, path):
# openapi.body_limits.
BODY_LIMITS: web.AppKey[dict[tuple[str, str], int]] = web.AppKey("body_limits")
# Raises when the routing state (memory or Redis) is not ready to serve.
READINESS: web.AppKey[Callable[[], Awaitable[None]]] = web.AppKey("readiness")
