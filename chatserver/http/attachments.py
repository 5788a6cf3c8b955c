"""Files in conversations over HTTP: the upload (the body streamed as it arrives, never through a
Socket.IO message) and the signed links' route that serves a file (``attachment:link`` makes the
links: transport/attachments.py).

A file is served so that no browser runs it: an image inline with its own type (re-encoded, its
metadata gone), anything else as a download; always ``nosniff`` and a Content-Security-Policy
that forbids everything and sandboxes the response, should it ever be rendered as a document."""

from __future__ import annotations

import math
import re
import urllib.parse
from typing import Annotated

import msgspec
from aiohttp import web

from ..domain.actor import Actor
from ..domain.attachments import Attachment, FileChunks, Variant
from ..domain.file_checks import NAME_PATTERN
from ..domain.uploads import SpooledUpload
from ..errors import AuthRequired, FileTooLarge, InvalidPayload
from ..wire.shapes import Uploaded
from ..wire.views import message_view
from ._records import path_id
from .route import Answer, Auth, Query, RawBody, Route, json_answer
from .services import services

# The body is read in chunks of this size, each written to the upload's temporary file at once.
CHUNK_BYTES = 64 * 1024
CLIENT_ID = r"^[A-Za-z0-9_\-:.]{1,64}$(?!\n)"
_CLIENT_ID = re.compile(CLIENT_ID)
# The query's name: the domain checks it further (file_checks.checked_name: 1-200 characters).
_MAX_NAME_QUERY = 1000
# Shown in the page (an <img>); everything else is a download, whatever it is.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Referrer-Policy": "no-referrer",
    # The widget shows images on the shop's own pages: another origin.
    "Cross-Origin-Resource-Policy": "cross-origin",
}


async def current_party(request: web.Request) -> Actor:
    """The visitor or agent the request's bearer token stands for."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise AuthRequired("send Authorization: Bearer <visitor or agent token>")
    return await services(request).auth.party(header[len("Bearer "):].strip())


def _one(request: web.Request, name: str, longest: int) -> str:
    values = request.query.getall(name, [])
    if len(values) != 1 or not 1 <= len(values[0]) <= longest:
        raise InvalidPayload(f"give {name} once, 1-{longest} characters")
    return values[0]


def _too_large(limit: int) -> FileTooLarge:
    return FileTooLarge(f"the file is larger than {limit} bytes", details={"limit": limit})


async def _receive(request: web.Request, received: SpooledUpload, limit: int) -> None:
    """The body written to ``received`` as it arrives, refused (``FileTooLarge``) once more than
    ``limit`` bytes came: the rest is never read. A client gone mid-body raises here."""
    async for chunk in request.content.iter_chunked(CHUNK_BYTES):
        if received.size + len(chunk) > limit:
            raise _too_large(limit)
        received.write(chunk)
    await received.finish()


async def upload_attachment(request: web.Request) -> web.Response:
    s = services(request)
    limit = s.settings.attachment_max_bytes
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)  # what the request says of itself is refused first, reading nothing
    conversation_id = path_id(request, "conversation_id", "conversation")
    name = _one(request, "name", _MAX_NAME_QUERY)
    client_msg_id = _one(request, "client_msg_id", 64)
    if not _CLIENT_ID.fullmatch(client_msg_id):
        raise InvalidPayload("client_msg_id must be 1-64 letters, digits or _-:.")
    actor = await current_party(request)
    # One more upload in flight (or Busy), then who and how often, before a byte of the body is
    # read: a stranger's upload costs nothing. The temporary file goes when the block ends.
    async with s.attachments.receive() as received:
        await s.attachments.check_sender(actor, conversation_id, name)
        await _receive(request, received, limit)
        message, created = await s.attachments.upload(actor, conversation_id, client_msg_id, name, received)
    return web.json_response({"message": message_view(message), "duplicate": not created},
                             status=201 if created else 200)


def _disposition(kind: str, name: str) -> str:
    """``kind; filename=...`` with an ASCII stand-in and the name itself (RFC 6266, 5987)."""
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name)
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(name, safe='')}"


async def serve_file(request: web.Request) -> web.StreamResponse:
    attachment_id = path_id(request, "attachment_id", "file")
    size = request.query.get("size")
    if size not in (None, "thumb"):
        raise InvalidPayload("size must be thumb or left out")
    s = services(request)
    variant: Variant = "thumbnail" if size == "thumb" else "file"
    attachment, chunks = await s.attachments.fetch(attachment_id, variant, request.query.get("exp", ""),
                                                   request.query.get("sig", ""))
    try:
        return await _send(request, attachment, variant, chunks)
    finally:
        await chunks.aclose()


async def _send(request: web.Request, attachment: Attachment, variant: Variant,
                chunks: FileChunks) -> web.StreamResponse:
    """The file's headers, then its parts as they are read: never the whole file in memory."""
    if variant == "thumbnail":
        content_type = attachment.thumbnail_type or "application/octet-stream"
    else:
        content_type = attachment.content_type
    inline = content_type in INLINE_TYPES
    left = max(0, int(request.query["exp"]) - math.ceil(services(request).clock.now()))
    headers = {**FILE_HEADERS, "Content-Type": content_type,
               "Content-Disposition": _disposition("inline" if inline else "attachment", attachment.name),
               "Cache-Control": f"private, max-age={left}"}
    response = web.StreamResponse(headers=headers)
    response.content_length = chunks.size
    await response.prepare(request)
    async for chunk in chunks:
        await response.write(chunk)
    await response.write_eof()
    return response


_LINK = (Query("exp", Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,12}$(?!\n)")], "expiry, unix seconds",
               required=True),
         Query("sig", Annotated[str, msgspec.Meta(max_length=64)], "the server's signature", required=True),
         Query("size", Annotated[str, msgspec.Meta(pattern=r"^thumb$(?!\n)")], "thumb: the image's thumbnail"))

ATTACHMENT_ROUTES = [
    Route("POST", "/api/conversations/{conversation_id}/attachments", upload_attachment,
          operation_id="uploadAttachment", auth=Auth.PARTICIPANT,
          summary="Post a file to a conversation (its visitor while open, or the agent it is assigned to)",
          description="The file's type is decided on its content (PNG, JPEG, GIF, WebP, PDF, plain text: setting "
                      "attachment_types), never on its name or Content-Type; a name whose extension claims another "
                      "type is refused. Images are re-encoded without their metadata (EXIF, GPS). The file becomes "
                      "a message of kind file, delivered as message:new; fetch it through attachment:link.",
          query=(Query("name", Annotated[str, msgspec.Meta(pattern=NAME_PATTERN)], "the file's name",
                       required=True),
                 Query("client_msg_id", Annotated[str, msgspec.Meta(pattern=CLIENT_ID)],
                       "the message's client id: the same again stores nothing new", required=True)),
          raw_body=RawBody("application/octet-stream", "The file's bytes", "attachment_max_bytes"),
          answers=(json_answer(Uploaded, "Stored and posted", 201),
                   json_answer(Uploaded, "Stored before (duplicate: true): nothing new was kept")),
          errors=(400, 401, 403, 404, 409, 413, 415, 429, 503)),
    Route("GET", "/files/{attachment_id}", serve_file, operation_id="getFile", auth=Auth.NONE,
          summary="A file, through a signed link from attachment:link (expires)",
          description="Images inline with their type, everything else as a download (Content-Disposition: "
                      "attachment); always X-Content-Type-Options: nosniff and Content-Security-Policy: "
                      "default-src 'none'; sandbox. A tampered or expired link is 403, a deleted file 404.",
          query=_LINK,
          answers=(Answer(200, "The file's bytes", {"application/octet-stream": str}),),
          errors=(400, 403, 404)),
]
