"""Files in a conversation: an upload becomes a stored attachment and a ``kind: "file"`` message,
and a file is fetched only through a short-lived link signed with the server's secret.

An upload is checked in this order, and nothing is stored when any step refuses it: the sender
may write to the conversation (its visitor while it is open, the agent it is assigned to), is
within the upload rate, and the file's content is of an allowed type (``file_checks``, in a
thread: Pillow's work is CPU-bound). Then the bytes are stored, and the message is posted through
the chat's own path (``ChatService.send_message``: idempotent on ``client_msg_id``, delivered as
``message:new`` once to each connection); a message that cannot be stored takes its attachment
away with it. The message's ``meta`` names the attachment, never holds its bytes.

The body is never held whole in memory: it is written to a temporary file as it arrives
(``uploads.UploadSpool``, which also bounds the uploads in flight), checked and stored from there,
and a download is read in parts (``FileChunks``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Literal, Protocol

import msgspec

from ..errors import Forbidden, NotFound, RateLimited
from .access import check_access, check_writable
from .actor import Actor
from .clock import Clock
from .conversations import ChatService
from .file_checks import DEFAULT_MAX_PIXELS, CheckedFile, check_upload, checked_name, name_for
from .models import Attachment, Conversation, Message, PartyKind, Role, StoredFile
from .ports import ConversationStore
from .tickets import RateLimiter
from .uploads import SpooledUpload, UploadSpool

__all__ = ["Attachment", "AttachmentService", "AttachmentStore", "FileChunks", "FileLink", "LinkSigner",
           "StoredFile"]

log = logging.getLogger("chatserver.attachments")
# A temporary file not written for this long is one a stopped process left.
ORPHAN_AGE = 3600.0
# Files checked at once per process (the others wait their turn; the machine has few cores anyway).
CONCURRENT_CHECKS = 2
FILE_MESSAGE = "file"
Variant = Literal["file", "thumbnail"]
# A file on disk is read (to be stored or sent) in parts of this many bytes.
CHUNK_BYTES = 256 * 1024


class FileChunks(Protocol):
    """A stored file being read in parts (at most 1 MiB each) and its size in bytes;
    ``aclose`` frees what reading holds, whether or not every part was read."""

    size: int

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class AttachmentStore(Protocol):
    async def save_attachment(self, attachment: Attachment, source: Path, thumbnail: bytes | None) -> None:
        """Store the record, the bytes of the file ``source`` (read in parts, or moved: the path
        may be gone afterwards) and the thumbnail; once this returns they are durable.
        ``NotFound`` when the conversation does not exist (nothing is kept)."""
        ...

    async def attachment(self, attachment_id: str) -> Attachment | None: ...

    async def attachment_data(self, attachment_id: str, variant: Variant = "file") -> bytes | None:
        """The file's bytes, or its thumbnail's; ``None`` when there is none (or no such file)."""
        ...

    async def open_attachment(self, attachment_id: str, variant: Variant = "file") -> FileChunks | None:
        """The file's bytes, or its thumbnail's, to be read in parts; ``None`` as ``attachment_data``."""
        ...

    async def attachments_of(self, conversation_ids: list[str]) -> list[Attachment]:
        """The attachments of these conversations, oldest first."""
        ...

    async def delete_attachment(self, attachment_id: str) -> None:
        """Delete the record and the bytes (nothing for an unknown id)."""
        ...

    async def remove_orphans(self) -> int:
        """Remove bytes no record names any more (left by a process that stopped part-way);
        how many files were removed."""
        ...


class LinkSigner:
    """Signs ``/files/`` links: HMAC-SHA256 of the attachment, the variant and the expiry, with a
    key of its own derived from the server's secret (a link is no token, nor a token a link)."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"chatserver-file-link:" + secret.encode()).digest()

    def signature(self, attachment_id: str, variant: Variant, expires: int) -> str:
        digest = hmac.new(self._key, f"{attachment_id}\n{variant}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def path(self, attachment_id: str, variant: Variant, expires: int) -> str:
        size = "&size=thumb" if variant == "thumbnail" else ""
        return f"/files/{attachment_id}?exp={expires}{size}&sig={self.signature(attachment_id, variant, expires)}"

    def verify(self, attachment_id: str, variant: Variant, expires: str, signature: str, now: float) -> None:
        """``Forbidden`` unless ``signature`` is this server's for these values and ``expires``
        (unix seconds, digits) is still ahead."""
        if not (expires.isascii() and expires.isdigit() and len(expires) <= 12) or not signature.isascii() \
                or not hmac.compare_digest(self.signature(attachment_id, variant, int(expires)), signature):
            raise Forbidden("this link is not valid")
        if int(expires) <= now:
            raise Forbidden("this link has expired: ask for a new one", details={"expired": True})


class FileLink(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    thumbnail_url: str | None
    expires_at: int


class AttachmentService:
    """Uploads, links and serving, over the store and the chat lifecycle."""

    def __init__(self, *, store: AttachmentStore, conversations: ConversationStore, chats: ChatService,
                 signer: LinkSigner, clock: Clock, new_id: Callable[[], str], limiter: RateLimiter,
                 allowed: frozenset[str], link_ttl: float, spool: UploadSpool,
                 visitor_reads: Callable[[str, str], Awaitable[bool]] | None = None,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self.store = store
        # (visitor id, conversation id) -> whether it is a conversation of theirs they read
        # (visitor_history: their customer's, from another browser too); None: their own only.
        self.visitor_reads = visitor_reads
        self.spool = spool
        self.conversations = conversations
        self.chats = chats
        self.signer = signer
        self.clock = clock
        self.new_id = new_id
        self.limiter = limiter
        self.allowed = allowed
        self.link_ttl = link_ttl
        self.max_pixels = max_pixels
        # Decoding an image holds its pixels several times over: a few at once bound the memory.
        self._checking = asyncio.Semaphore(CONCURRENT_CHECKS)

    async def check_sender(self, actor: Actor, conversation_id: str, name: str) -> Conversation:
        """Before any byte of an upload is read: the name is one a file may have, the sender may
        write to the conversation, and is within the upload rate (a refused upload spends none)."""
        checked_name(name)
        conversation = check_writable(await self.conversations.get_conversation(conversation_id), actor.kind,
                                      actor.id)
        if not self.limiter.take(f"{actor.kind}:{actor.id}"):
            raise RateLimited("too many uploads: wait a minute")
        return conversation

    def receive(self) -> SpooledUpload:
        """A temporary file for an upload's body (``UploadSpool.open``: ``Busy`` when too many
        uploads are in flight); use it as ``async with``, which removes it however the upload ends."""
        return self.spool.open()

    async def upload(self, actor: Actor, conversation_id: str, client_msg_id: str, name: str,
                     received: SpooledUpload, origin: str | None = None) -> tuple[Message, bool]:
        """Check the file ``received`` (``file_checks.check_upload``, in a thread, read from the
        file), store it and post its file message; ``(message, created)``, the stored message and
        ``False`` for a resent ``client_msg_id`` (nothing new is kept). Call ``check_sender``
        first, and ``received.finish()`` once the whole body was written."""
        async with self._checking:
            checked: CheckedFile = await asyncio.to_thread(check_upload, received.path, self.allowed,
                                                           max_pixels=self.max_pixels)
        stored_name = name_for(name, checked.kind)
        if checked.data is not None:  # an image: its re-encoded bytes are what is kept
            await asyncio.to_thread(received.replace, checked.data)
        attachment = Attachment(
            id=self.new_id(), conversation_id=conversation_id, sender_kind=actor.kind, sender_id=actor.id,
            name=stored_name, content_type=checked.content_type, size=received.size,
            created_at=self.clock.now(), width=checked.width, height=checked.height,
            thumbnail_type=checked.thumbnail_type)
        await self.store.save_attachment(attachment, received.path, checked.thumbnail)
        try:
            message, created = await self.chats.send_message(
                actor, conversation_id, client_msg_id, attachment.name, origin, kind=FILE_MESSAGE,
                meta=attachment.meta())
        except BaseException:
            await self.store.delete_attachment(attachment.id)
            raise
        if not created:  # a resend: the first upload's file stands
            await self.store.delete_attachment(attachment.id)
        else:  # never the name: it may say more about the shopper than the type and size do
            log.info("file posted conversation=%s %s=%s attachment=%s type=%s bytes=%d", conversation_id,
                     actor.kind, actor.id, attachment.id, attachment.content_type, attachment.size)
        return message, created

    async def of_conversation(self, conversation_id: str) -> list[Attachment]:
        """The conversation's files, oldest first (for transcripts: call after checking the reader)."""
        return await self.store.attachments_of([conversation_id])

    async def thumbnails(self, actor: Actor, conversation_id: str) -> dict[str, tuple[str, bytes]]:
        """The conversation's images' thumbnails (type and bytes) by attachment id, for a
        transcript that embeds them: none for a reader who may not fetch its files (an agent who
        reads a customer's history but never held this conversation sees the files named only)."""
        try:
            await self._check_reader(actor, await self.conversations.get_conversation(conversation_id),
                                     conversation_id)
        except (NotFound, Forbidden):
            return {}
        found = {}
        for attachment in await self.of_conversation(conversation_id):
            if attachment.thumbnail_type is not None:
                data = await self.store.attachment_data(attachment.id, "thumbnail")
                if data is not None:
                    found[attachment.id] = (attachment.thumbnail_type, data)
        return found

    async def remove_orphans(self) -> None:
        """The periodic clean-up: bytes that no record names (a process stopped part-way through
        an upload or a deletion) are removed; says how many (no names)."""
        removed = await self.store.remove_orphans()
        removed += await asyncio.to_thread(self.spool.remove_stale, ORPHAN_AGE)
        if removed:
            log.info("attachment files without a record removed files=%d", removed)

    async def link(self, actor: Actor, conversation_id: str, attachment_id: str) -> FileLink:
        """Signed links to a file of the conversation, for its visitor (in an ended conversation
        too, and in one of their customer's they read from another browser: ``visitor_reads``),
        an agent who holds or held it, or an admin; others are refused as for the conversation
        itself."""
        conversation = await self.conversations.get_conversation(conversation_id)
        await self._check_reader(actor, conversation, conversation_id)
        attachment = await self.store.attachment(attachment_id)
        if attachment is None or attachment.conversation_id != conversation_id:
            raise NotFound("no such file in this conversation")
        expires = math.ceil(self.clock.now() + self.link_ttl)
        thumbnail = self.signer.path(attachment.id, "thumbnail", expires) if attachment.thumbnail_type else None
        return FileLink(url=self.signer.path(attachment.id, "file", expires), thumbnail_url=thumbnail,
                        expires_at=expires)

    async def _check_reader(self, actor: Actor, conversation: Conversation | None, conversation_id: str) -> None:
        if actor.kind == PartyKind.AGENT and conversation is not None and (
                actor.role == Role.ADMIN or conversation.agent_id == actor.id
                or await self.conversations.visited_by_agent(conversation_id, actor.id)):
            return
        if actor.kind == PartyKind.VISITOR and conversation is not None and conversation.visitor_id != actor.id \
                and self.visitor_reads is not None and await self.visitor_reads(actor.id, conversation_id):
            return
        check_access(conversation, actor.kind, actor.id)

    async def fetch(self, attachment_id: str, variant: Variant, expires: str,
                    signature: str) -> tuple[Attachment, FileChunks]:
        """The file a signed link names, opened to be read in parts (the caller closes it), while
        the link holds and the file exists: ``Forbidden`` for a tampered or expired link,
        ``NotFound`` for a file deleted since."""
        self.signer.verify(attachment_id, variant, expires, signature, self.clock.now())
        attachment = await self.store.attachment(attachment_id)
        chunks = await self.store.open_attachment(attachment_id, variant) if attachment is not None else None
        if attachment is None or chunks is None:
            raise NotFound("this file no longer exists")
        return attachment, chunks
