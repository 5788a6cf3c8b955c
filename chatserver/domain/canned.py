"""Canned responses: texts agents insert by typing a shortcut (``/refund``), managed by admins."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

import msgspec

from ..errors import InvalidPayload, NotFound
from .patterns import SPACE

# A shortcut as an admin gives it: surrounding whitespace, a leading slash and capitals are
# dropped (what is stored matches ``^[a-z0-9][a-z0-9_-]{0,31}$``).
SHORTCUT_FIELD = rf"^[{SPACE}]*/?[A-Za-z0-9][A-Za-z0-9_-]{{0,31}}[{SPACE}]*$(?!\n)"
SHORTCUT_FIELD_RE = re.compile(SHORTCUT_FIELD)


class CannedResponse(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    shortcut: str  # without the leading slash agents type
    body: str
    created_at: float
    updated_at: float


class CannedStore(Protocol):
    async def canned_responses(self) -> list[CannedResponse]:
        """Every canned response, by shortcut."""
        ...

    async def canned_response(self, canned_id: str) -> CannedResponse | None: ...

    async def save_canned_response(self, canned: CannedResponse) -> None:
        """Insert or replace by id; raises ``Conflict`` when another response has the shortcut."""
        ...

    async def delete_canned_response(self, canned_id: str) -> bool: ...


def check_canned(shortcut: str, body: str, max_chars: int) -> tuple[str, str]:
    """The normalized ``(shortcut, body)``: a leading slash is dropped, the shortcut lower-cased."""
    if not SHORTCUT_FIELD_RE.fullmatch(shortcut):
        raise InvalidPayload("shortcut must be 1-32 characters: a-z, 0-9, _ and - (starting with a letter or digit)")
    shortcut = shortcut.strip().removeprefix("/").lower()
    if not body.strip():
        raise InvalidPayload("body must not be empty")
    if len(body) > max_chars:
        raise InvalidPayload(f"body is limited to {max_chars} characters")
    return shortcut, body


async def do_add_canned(store: CannedStore, shortcut: str, body: str, *, max_chars: int, now: float,
                        new_id: Callable[[], str]) -> CannedResponse:
    shortcut, body = check_canned(shortcut, body, max_chars)
    canned = CannedResponse(id=new_id(), shortcut=shortcut, body=body, created_at=now, updated_at=now)
    await store.save_canned_response(canned)
    return canned


async def do_update_canned(store: CannedStore, canned_id: str, shortcut: str, body: str, *, max_chars: int,
                           now: float) -> CannedResponse:
    shortcut, body = check_canned(shortcut, body, max_chars)
    current = await store.canned_response(canned_id)
    if current is None:
        raise NotFound("no such canned response")
    canned = CannedResponse(id=canned_id, shortcut=shortcut, body=body, created_at=current.created_at,
                            updated_at=now)
    await store.save_canned_response(canned)
    return canned


async def do_delete_canned(store: CannedStore, canned_id: str) -> None:
    if not await store.delete_canned_response(canned_id):
        raise NotFound("no such canned response")
