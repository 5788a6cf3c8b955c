"""The files' event on both namespaces: ``attachment:link`` gives the conversation's visitor, an
agent who holds or held it, or an admin short-lived signed links to one of its files (the upload
and the links' route are HTTP: http/attachments.py)."""

from __future__ import annotations

from typing import Any

from .. import constants as C
from ..domain.attachments import AttachmentService
from . import schemas as S
from .dispatch import Handler
from .registry import Connection


class AttachmentEvents:
    def __init__(self, attachments: AttachmentService) -> None:
        self.attachments = attachments

    def handlers(self) -> dict[str, Handler]:
        return {C.EV_ATTACHMENT_LINK: self._on_link}

    async def _on_link(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.AttachmentLink, data)
        link = await self.attachments.link(connection.actor, payload.conversation_id, payload.attachment_id)
        return {"url": link.url, "thumbnail_url": link.thumbnail_url, "expires_at": link.expires_at}
