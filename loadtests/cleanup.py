"""What a run made on a server it did not start (``--url``), and undoing it afterwards.

A server the load tester starts is thrown away with its data directory; a server given by
``--url`` is someone's (a staging server), and a run leaves it as it found it: the chats its
visitors started are closed, the agents it added are disabled (the REST API has no way to delete
an agent; a disabled one cannot sign in or be routed a chat), and the knowledge-base articles and
categories it wrote are deleted. This runs however the run ended: completed, failed or
interrupted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .errors import LoadTestError

# Requests at once while cleaning up, and how long the whole of it may take.
CLEANUP_CONCURRENCY = 8
CLEANUP_TIMEOUT = 120.0
_PAGE = 500  # GET /api/conversations?limit= at most


@dataclass
class Created:
    """The ids of what a run created on its target, recorded as it creates them."""

    agents: set[str] = field(default_factory=set)
    conversations: set[str] = field(default_factory=set)
    kb_articles: set[str] = field(default_factory=set)
    kb_categories: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.agents or self.conversations or self.kb_articles or self.kb_categories)


@dataclass
class CleanupResult:
    """What the clean-up undid, and what it could not (``failures``: one line each)."""

    chats_closed: int = 0
    agents_disabled: int = 0
    kb_articles_deleted: int = 0
    kb_categories_deleted: int = 0
    failures: list[str] = field(default_factory=list)

    def as_report(self) -> dict[str, Any]:
        return {"chats_closed": self.chats_closed, "agents_disabled": self.agents_disabled,
                "kb_articles_deleted": self.kb_articles_deleted, "kb_categories_deleted": self.kb_categories_deleted,
                "failures": self.failures}

    def describe(self) -> str:
        done = (f"cleaned up the target: {self.chats_closed} chats closed, {self.agents_disabled} agents disabled"
                + (f", {self.kb_articles_deleted} articles and {self.kb_categories_deleted} categories deleted"
                   if self.kb_articles_deleted or self.kb_categories_deleted else ""))
        if self.failures:
            done += f"; NOT undone ({len(self.failures)}): " + "; ".join(self.failures[:5])
        return done


class _Admin:
    """The admin REST calls of the clean-up, each answered or recorded as a failure."""

    def __init__(self, http: aiohttp.ClientSession, url: str, token: str, result: CleanupResult) -> None:
        self.http = http
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.result = result
        self.gate = asyncio.Semaphore(CLEANUP_CONCURRENCY)

    async def call(self, method: str, path: str, json: Any = None) -> tuple[int, Any]:
        async with self.gate, self.http.request(method, self.url + path, json=json, headers=self.headers) as response:
            body = await response.json() if response.content_type == "application/json" else await response.text()
            return response.status, body

    async def each(self, what: str, ids: Iterable[str], act: Callable[[str], Awaitable[tuple[int, Any]]],
                   ok: tuple[int, ...]) -> int:
        """``act`` on every id at once (``CLEANUP_CONCURRENCY`` at a time); how many succeeded."""
        async def one(item: str) -> bool:
            try:
                status, body = await act(item)
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.result.failures.append(f"{what} {item}: {exc!r}")
                return False
            if status not in ok:
                self.result.failures.append(f"{what} {item}: {status} {body}")
                return False
            return True

        return sum(await asyncio.gather(*(one(item) for item in sorted(ids))))

    async def open_conversations(self) -> list[dict[str, Any]]:
        """Every queued or assigned conversation on the server."""
        found: list[dict[str, Any]] = []
        for status in ("queued", "assigned"):
            offset = 0
            while True:
                code, body = await self.call("GET", f"/api/conversations?status={status}&limit={_PAGE}&offset={offset}")
                if code != 200:
                    raise LoadTestError(f"GET /api/conversations answered {code}: {body}")
                page = body["conversations"]
                found += page
                if len(page) < _PAGE:
                    break
                offset += _PAGE
        return found


async def clean_up(url: str, admin_email: str, admin_password: str, created: Created) -> CleanupResult:
    """Close the open chats ``created`` names or its agents hold, then disable its agents (a
    disabled agent's chats would go back to the queue), then delete its articles and categories."""
    result = CleanupResult()
    if not created:
        return result
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        async with http.post(url + "/api/auth/login", json={"email": admin_email, "password": admin_password}) as r:
            if r.status != 200:
                raise LoadTestError(f"cleaning up: the admin login answered {r.status}")
            token = (await r.json())["token"]
        admin = _Admin(http, url, token, result)
        ours = {c["id"] for c in await admin.open_conversations()
                if c["id"] in created.conversations or c.get("agent_id") in created.agents}
        result.chats_closed = await admin.each(
            "closing chat", ours, lambda cid: admin.call("POST", f"/api/conversations/{cid}/close"), (200,))
        result.agents_disabled = await admin.each(
            "disabling agent", created.agents,
            lambda aid: admin.call("PATCH", f"/api/agents/{aid}", {"disabled": True}), (200,))
        result.kb_articles_deleted = await admin.each(
            "deleting article", created.kb_articles,
            lambda aid: admin.call("DELETE", f"/api/kb/articles/{aid}"), (200, 204, 404))
        result.kb_categories_deleted = await admin.each(
            "deleting category", created.kb_categories,
            lambda cid: admin.call("DELETE", f"/api/kb/categories/{cid}"), (200, 204, 404))
    return result


__all__ = ["CLEANUP_TIMEOUT", "CleanupResult", "Created", "clean_up"]
