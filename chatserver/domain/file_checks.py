"""What an uploaded file is, decided on its bytes, and images made safe to show.

A file's type is never taken from its name or the client's ``Content-Type``: the first bytes say
what it is (PNG, JPEG, GIF, WebP, PDF), and anything else is plain text only if it is valid UTF-8
with no NUL and does not start with markup (so neither HTML nor SVG nor XML passes as text).
Images are decoded and re-encoded by Pillow from their pixels alone: EXIF (GPS included), XMP,
ICC profiles and comments do not survive, the EXIF orientation is applied to the pixels first, and
a thumbnail is made. An image whose declared size is over a pixel cap is refused before its pixels
are decoded (a decompression bomb). Everything here is CPU-bound: callers run it in a thread.
"""

from __future__ import annotations

import codecs
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, get_args

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from ..errors import FileTooLarge, FileTypeNotAllowed, InvalidPayload

FileKind = Literal["png", "jpeg", "gif", "webp", "pdf", "text"]
ALL_KINDS: frozenset[str] = frozenset(get_args(FileKind))
IMAGE_KINDS: frozenset[str] = frozenset({"png", "jpeg", "gif", "webp"})

CONTENT_TYPES: dict[str, str] = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "pdf": "application/pdf",
    "text": "text/plain; charset=utf-8",
}
# The extensions a file's name may have for each kind; a name with another one lies about the
# content (refused), a name with none is given the first.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "png": (".png",),
    "jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "gif": (".gif",),
    "webp": (".webp",),
    "pdf": (".pdf",),
    "text": (".txt", ".text", ".log", ".csv", ".tsv", ".md", ".json", ".yaml", ".yml", ".ini", ".conf", ".cfg"),
}
MAX_NAME_CHARS = 200
# Pillow's format names, so that a file is decoded only by the decoder its signature named.
_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP"}

# 24 megapixels: a phone's usual 12 MP photo and a 4K screenshot pass, a 48 MP full-size one is
# refused. All frames of an animation count together, since each is decoded. Decoding holds a few
# copies of the pixels (4 bytes each): about 400 MB at the cap, which is why the service checks
# at most CONCURRENT_CHECKS images at once.
DEFAULT_MAX_PIXELS = 24_000_000
THUMBNAIL_SIZE = 320
JPEG_QUALITY = 85
# Animations beyond this many frames are refused: each frame is decoded and encoded again.
MAX_FRAMES = 500


@dataclass(frozen=True, slots=True)
class SanitizedImage:
    """An image re-encoded from its pixels: ``data`` in ``content_type``, its size after the EXIF
    orientation was applied, and a thumbnail at most ``THUMBNAIL_SIZE`` px on its longer side."""

    data: bytes
    content_type: str
    width: int
    height: int
    thumbnail: bytes
    thumbnail_type: str


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """An upload that passed: what it is, and for an image its re-encoded bytes (to store instead
    of the bytes sent), its size and thumbnail; ``data`` is ``None`` when the file is stored as
    sent."""

    data: bytes | None
    kind: FileKind
    content_type: str
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None
    thumbnail_type: str | None = None


# The first bytes of a file say what it is (the longest signature is WebP's 12).
HEAD_BYTES = 16
# A file is read in parts of this size for the plain-text check: never whole in memory.
READ_BYTES = 1024 * 1024
_LEADING_SPACE = "\ufeff \t\r\n\f"


def sniff_kind(head: bytes) -> FileKind | None:
    """The kind of image or document the first bytes of a file show (``HEAD_BYTES`` are enough),
    or None: then only plain text may be accepted (``is_plain_text``)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    return None


def is_plain_text(source: BinaryIO) -> bool:
    """Whether the file read from ``source`` (from where it stands, in parts of ``READ_BYTES``)
    is valid UTF-8 with no NUL that does not start with markup."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    started = False  # a character other than leading space was seen
    try:
        while True:
            part = source.read(READ_BYTES)
            if b"\x00" in part:
                return False
            text = decoder.decode(part, final=not part)
            if not started and text.lstrip(_LEADING_SPACE):
                # Markup (HTML, SVG, XML) is not plain text even when it decodes: refused rather
                # than served as a document a browser could render if a header were ever lost.
                if text.lstrip(_LEADING_SPACE).startswith("<"):
                    return False
                started = True
            if not part:
                return True
    except UnicodeDecodeError:
        return False


# What a file's name may hold: no path separator, no control character (C0, DEL, C1) and no line
# separator, 1 to MAX_NAME_CHARS characters (a JSON Schema pattern too: the upload route states it).
NAME_PATTERN = r"^[^/\\\u0000-\u001f\u007f-\u009f\u2028\u2029]{1," + str(MAX_NAME_CHARS) + r"}$(?!\n)"
_NAME = re.compile(NAME_PATTERN)


def checked_name(name: str) -> str:
    """A file's name as sent, if it may be shown and used as a download's name (``NAME_PATTERN``);
    ``InvalidPayload`` otherwise. It never names a path on the server: files are stored by id."""
    if not _NAME.fullmatch(name):
        raise InvalidPayload(f"the file name must be 1-{MAX_NAME_CHARS} characters, without a path or control "
                             "characters")
    return name


def name_for(name: str, kind: FileKind) -> str:
    """``name`` (``checked_name``) with an extension that says what its content is: the one it has
    when it fits ``kind``, the kind's own added when it has none; ``FileTypeNotAllowed`` when the
    name claims another type (a PNG named ``.pdf``, a text named ``.html``)."""
    name = checked_name(name)
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or not extension:  # no extension (".profile" is a name without one)
        return name + EXTENSIONS[kind][0]
    if f".{extension.lower()}" not in EXTENSIONS[kind]:
        raise FileTypeNotAllowed(f"the name says .{extension} but the content is {kind}",
                                 details={"content": kind})
    return name


def check_upload(source: bytes | Path, allowed: frozenset[str] = ALL_KINDS, *,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> CheckedFile:
    """The file ``source`` (its bytes, or a file read in parts, never whole unless it is an image)
    as it may be stored: its kind decided on its content and in ``allowed``, an image re-encoded
    (``sanitize_image``). Raises ``InvalidPayload`` for an empty file, ``FileTypeNotAllowed`` for
    any other kind or an image that does not decode, ``FileTooLarge`` for an image over
    ``max_pixels``."""
    with (io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")) as file:
        head = file.read(HEAD_BYTES)
        if not head:
            raise InvalidPayload("the file is empty")
        file.seek(0)
        kind = sniff_kind(head) or ("text" if is_plain_text(file) else None)
        if kind is None or kind not in allowed:
            raise FileTypeNotAllowed("this type of file is not accepted",
                                     details={"allowed": sorted(allowed)})
        if kind in IMAGE_KINDS:
            file.seek(0)
            image = sanitize_image(file, max_pixels=max_pixels, kind=kind)
            return CheckedFile(data=image.data, kind=kind, content_type=image.content_type,
                               width=image.width, height=image.height,
                               thumbnail=image.thumbnail, thumbnail_type=image.thumbnail_type)
    return CheckedFile(data=None, kind=kind, content_type=CONTENT_TYPES[kind])


def sanitize_image(data: bytes | BinaryIO, *, max_pixels: int = DEFAULT_MAX_PIXELS, kind: FileKind | None = None,
                   thumbnail_size: int = THUMBNAIL_SIZE) -> SanitizedImage:
    """Decode the PNG, JPEG, GIF or WebP image ``data`` and encode its pixels again in the same
    format, with nothing of the original's metadata: the EXIF orientation applied, then EXIF,
    XMP, ICC profile and comments left behind. Raises ``FileTypeNotAllowed`` when ``data`` is not
    such an image (or is broken), ``FileTooLarge`` when its frames hold over ``max_pixels``
    pixels, checked on the header before any pixel is decoded."""
    if isinstance(data, bytes):
        kind = kind or sniff_kind(data)
        data = io.BytesIO(data)
    if kind not in IMAGE_KINDS:
        raise FileTypeNotAllowed("not an image of an accepted type")
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb warning becomes an error; our cap (below) is the one that counts.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(data, formats=[_PIL_FORMATS[kind]]) as source:
                frames = getattr(source, "n_frames", 1)
                width, height = source.size
                if frames > MAX_FRAMES or width * height * frames > max_pixels:
                    raise FileTooLarge("the image has too many pixels",
                                       details={"max_pixels": max_pixels})
                return _reencode(source, kind, thumbnail_size)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise FileTooLarge("the image has too many pixels", details={"max_pixels": max_pixels}) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        # Pillow's decoders report broken data with any of these.
        raise FileTypeNotAllowed("the image cannot be read") from None


def _clean_copy(frame: Image.Image, alpha: bool) -> Image.Image:
    """The pixels of ``frame`` in a new image (RGB or RGBA) that has no ``info`` at all."""
    pixels = frame.convert("RGBA" if alpha else "RGB")
    clean = Image.new(pixels.mode, pixels.size)
    clean.paste(pixels)
    return clean


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info) \
        or (image.mode in ("RGB", "L") and "transparency" in image.info)


def _reencode(source: Image.Image, kind: FileKind, thumbnail_size: int) -> SanitizedImage:
    alpha = kind != "jpeg" and _has_alpha(source)
    animated = kind in ("gif", "webp") and getattr(source, "n_frames", 1) > 1
    out = io.BytesIO()
    if animated:
        frames, durations = [], []
        for frame in ImageSequence.Iterator(source):
            durations.append(int(frame.info.get("duration", 100)))
            frames.append(_clean_copy(frame, alpha=True))
        first = frames[0]
        first.save(out, format=_PIL_FORMATS[kind], save_all=True, append_images=frames[1:],
                   duration=durations, loop=0, **({"disposal": 2} if kind == "gif" else {}))
    else:
        source.load()
        first = _clean_copy(ImageOps.exif_transpose(source), alpha=alpha)
        options: dict[str, object] = {"quality": JPEG_QUALITY} if kind in ("jpeg", "webp") else {}
        first.save(out, format=_PIL_FORMATS[kind], **options)
    thumb = first.copy()
    thumb.thumbnail((thumbnail_size, thumbnail_size))
    thumb_out = io.BytesIO()
    if thumb.mode == "RGBA":
        thumb.save(thumb_out, format="PNG")
        thumb_type = "image/png"
    else:
        thumb.save(thumb_out, format="JPEG", quality=JPEG_QUALITY)
        thumb_type = "image/jpeg"
    return SanitizedImage(data=out.getvalue(), content_type=CONTENT_TYPES[kind],
                          width=first.width, height=first.height,
                          thumbnail=thumb_out.getvalue(), thumbnail_type=thumb_type)
