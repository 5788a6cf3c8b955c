"""Agents' avatars: the picture a shopper sees beside an agent's messages (initials without one).

An upload is never stored or served as it came (stored XSS through avatars is a known class of
bug, Chatwoot CVE-2021-3741): it must be a PNG, JPEG, GIF or WebP by its bytes, is decoded and
encoded again from its pixels by ``file_checks.sanitize_image`` (metadata gone, pixel cap checked
before decoding), then cropped to a square and scaled to ``AVATAR_PX``, and stored as a PNG (when
it has transparency) or a JPEG this server made. Each avatar has a new random id, which names it
in its public URL (``/avatars/{id}``): a changed avatar has a new URL, so the old one may be
cached for good. Views read an agent's avatar id through ``AgentAvatars.avatar_id``, which keeps
it for ``CACHE_SECONDS`` (another process learns of a change within that time).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Protocol

import msgspec
from PIL import Image, ImageOps

from ..errors import FileTooLarge, FileTypeNotAllowed, InvalidPayload, NotFound
from .clock import Clock
from .file_checks import IMAGE_KINDS, JPEG_QUALITY, sanitize_image, sniff_kind

AVATAR_PX = 128
# What an upload may weigh (the console scales a photo down before sending it).
MAX_AVATAR_BYTES = 512 * 1024
# An avatar's source is small (the console scales a photo down first): a picture with more pixels
# than this is refused before decoding, which holds them several times over.
MAX_AVATAR_PIXELS = 16_000_000
# Pictures decoded at once per process (the others wait their turn).
CONCURRENT_DECODES = 1
CACHE_SECONDS = 30.0


class AgentAvatar(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    agent_id: str
    content_type: str  # image/png or image/jpeg: always an image this server encoded
    data: bytes
    created_at: float


class AvatarStore(Protocol):
    async def save_avatar(self, avatar: AgentAvatar) -> None:
        """Store ``avatar`` as its agent's, in place of the one they had; ``NotFound`` for an
        unknown agent."""
        ...

    async def delete_avatar(self, agent_id: str) -> bool:
        """Remove the agent's avatar; whether they had one."""
        ...

    async def avatar_id_of(self, agent_id: str) -> str | None: ...

    async def avatar(self, avatar_id: str) -> AgentAvatar | None: ...


def make_avatar(data: bytes) -> tuple[bytes, str]:
    """The avatar made of the uploaded image ``data``: its bytes and content type. Raises
    ``InvalidPayload`` when empty, ``FileTooLarge`` over ``MAX_AVATAR_BYTES`` or the pixel cap,
    ``FileTypeNotAllowed`` for anything but a PNG, JPEG, GIF or WebP image that decodes (SVG,
    HTML and the rest included). CPU-bound: ``AgentAvatars`` runs it in a thread."""
    if not data:
        raise InvalidPayload("the picture is empty")
    if len(data) > MAX_AVATAR_BYTES:
        raise FileTooLarge(f"a picture may have at most {MAX_AVATAR_BYTES} bytes", details={"limit": MAX_AVATAR_BYTES})
    kind = sniff_kind(data)
    if kind not in IMAGE_KINDS:
        raise FileTypeNotAllowed("the picture must be a PNG, JPEG, GIF or WebP image",
                                 details={"allowed": sorted(IMAGE_KINDS)})
    clean = sanitize_image(data, max_pixels=MAX_AVATAR_PIXELS, kind=kind, thumbnail_size=AVATAR_PX)
    with Image.open(io.BytesIO(clean.data)) as image:
        image.seek(0)  # an animation's first frame
        alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        pixels = image.convert("RGBA" if alpha else "RGB")
    square = ImageOps.fit(pixels, (AVATAR_PX, AVATAR_PX), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if alpha:
        square.save(out, format="PNG", optimize=True)
        return out.getvalue(), "image/png"
    square.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue(), "image/jpeg"


class AgentAvatars:
    """Setting, clearing and finding agents' avatars."""

    def __init__(self, store: AvatarStore, clock: Clock, new_id: Callable[[], str]) -> None:
        self.store = store
        self.clock = clock
        self.new_id = new_id
        self._ids: dict[str, tuple[str | None, float]] = {}  # agent id -> (avatar id, read at)
        self._decoding = asyncio.Semaphore(CONCURRENT_DECODES)

    async def do_set_avatar(self, agent_id: str, data: bytes) -> str:
        """Make the agent's avatar from the uploaded ``data`` (``make_avatar``; refused input
        changes nothing); the new avatar's id."""
        async with self._decoding:
            image, content_type = await asyncio.to_thread(make_avatar, data)
        avatar = AgentAvatar(id=self.new_id(), agent_id=agent_id, content_type=content_type, data=image,
                             created_at=self.clock.now())
        await self.store.save_avatar(avatar)
        self._ids[agent_id] = (avatar.id, self.clock.now())
        return avatar.id

    async def do_clear_avatar(self, agent_id: str) -> None:
        """Remove the agent's avatar (shoppers see their initials again); no error without one."""
        await self.store.delete_avatar(agent_id)
        self._ids[agent_id] = (None, self.clock.now())

    async def avatar_id(self, agent_id: str) -> str | None:
        """The id of the agent's avatar, or None; read from the store at most every ``CACHE_SECONDS``."""
        cached = self._ids.get(agent_id)
        now = self.clock.now()
        if cached is not None and now - cached[1] < CACHE_SECONDS:
            return cached[0]
        found = await self.store.avatar_id_of(agent_id)
        self._ids[agent_id] = (found, now)
        return found

    async def image(self, avatar_id: str) -> AgentAvatar:
        """The avatar with this id (``NotFound`` for an unknown or replaced one)."""
        avatar = await self.store.avatar(avatar_id)
        if avatar is None:
            raise NotFound("no such avatar")
        return avatar
