"""What an upload is (chatserver/domain/file_checks.py): decided on its bytes with real files made by
Pillow, images re-encoded without their metadata, bombs and markup refused."""

from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageSequence

from chatserver.domain.file_checks import (
    ALL_KINDS,
    MAX_NAME_CHARS,
    NAME_PATTERN,
    READ_BYTES,
    THUMBNAIL_SIZE,
    check_upload,
    checked_name,
    name_for,
    sanitize_image,
    sniff_kind,
)
from chatserver.errors import FileTooLarge, FileTypeNotAllowed, InvalidPayload

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg_with_gps(size: tuple[int, int] = (64, 32), orientation: int = 1) -> bytes:
    """A photo as a phone takes it: EXIF with GPS coordinates, a camera model, an orientation, a
    comment, an ICC profile."""
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, size[0] // 2, size[1]))  # left half blue: shows a rotation
    exif = Image.Exif()
    exif[0x0110] = "Shopper's Phone"  # Model
    exif[ORIENTATION] = orientation
    exif[GPS_IFD] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, comment=b"home sweet home", icc_profile=b"\0" * 200)
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (10, 10), mode: str = "RGB", **options: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 0 if mode in ("L", "P") else (0, 128, 0) if mode == "RGB" else (0, 128, 0, 100)) \
        .save(out, format="PNG", **options)
    return out.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header says ``width`` x ``height`` grey pixels, all zero, so it compresses to a few
    KB: made by hand, since making it with Pillow would need the pixels in memory."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    row = b"\0" * (width + 1)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(min(height, 64))) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def test_a_jpeg_loses_its_exif_gps_comment_and_icc_profile() -> None:
    original = jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(GPS_IFD)  # the test file does carry GPS data
        assert "icc_profile" in before.info and "comment" in before.info
    checked = check_upload(original)
    assert (checked.kind, checked.content_type, checked.width, checked.height) == ("jpeg", "image/jpeg", 64, 32)
    assert b"home sweet home" not in checked.data and b"Shopper" not in checked.data
    with Image.open(io.BytesIO(checked.data)) as after:
        assert after.format == "JPEG"
        assert dict(after.getexif()) == {}
        assert not after.getexif().get_ifd(GPS_IFD)
        assert not {"exif", "icc_profile", "comment", "xmp"} & set(after.info)


def test_the_exif_orientation_is_applied_to_the_pixels() -> None:
    # 6: the camera was turned; the picture is shown rotated 90 degrees clockwise.
    checked = check_upload(jpeg_with_gps(size=(64, 32), orientation=6))
    assert (checked.width, checked.height) == (32, 64)
    with Image.open(io.BytesIO(checked.data)) as after:
        assert after.size == (32, 64)
        top = after.convert("RGB").getpixel((16, 4))
        assert isinstance(top, tuple) and top[2] > top[0]  # the blue half is on top now


def test_png_metadata_chunks_are_gone() -> None:
    from PIL import PngImagePlugin
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "taken at 12 Main Street")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>secret</x:xmpmeta>")
    original = png_bytes((20, 10), "RGBA", pnginfo=info, icc_profile=b"\0" * 100)
    checked = check_upload(original)
    assert checked.kind == "png" and (checked.width, checked.height) == (20, 10)
    assert b"Main Street" not in checked.data and b"xmpmeta" not in checked.data
    with Image.open(io.BytesIO(checked.data)) as after:
        assert after.mode == "RGBA"  # transparency kept
        assert not {"Comment", "XML:com.adobe.xmp", "icc_profile"} & set(after.info)


def test_gif_and_webp_are_reencoded_animations_kept() -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    for fmt, kind in (("GIF", "gif"), ("WEBP", "webp")):
        out = io.BytesIO()
        frames[0].save(out, format=fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
        checked = check_upload(out.getvalue())
        assert checked.kind == kind and checked.content_type == f"image/{kind}"
        with Image.open(io.BytesIO(checked.data)) as after:
            assert after.format == fmt
            assert len(list(ImageSequence.Iterator(after))) == 3


def test_a_thumbnail_fits_the_box_and_keeps_the_aspect() -> None:
    checked = check_upload(jpeg_with_gps(size=(1280, 640)))
    assert checked.thumbnail is not None and checked.thumbnail_type == "image/jpeg"
    with Image.open(io.BytesIO(checked.thumbnail)) as thumb:
        assert thumb.size == (THUMBNAIL_SIZE, THUMBNAIL_SIZE // 2)
        assert dict(thumb.getexif()) == {}
    transparent = check_upload(png_bytes((400, 400), "RGBA"))
    assert transparent.thumbnail_type == "image/png"


def test_a_pdf_and_plain_text_pass_as_sent() -> None:
    pdf = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
    checked = check_upload(pdf)
    assert (checked.kind, checked.content_type, checked.data, checked.thumbnail) == \
        ("pdf", "application/pdf", None, None)  # stored as sent
    text = "Order 1234: the coupon \u00e9t\u00e9 failed \U0001f600\n".encode()
    assert check_upload(text).content_type == "text/plain; charset=utf-8"


def test_a_file_on_disk_is_checked_in_parts(tmp_path: Path) -> None:
    # A character cut in two by the parts' boundary is still UTF-8; a NUL or bad byte far from
    # the start is still found; blank parts before markup do not hide it.
    name = tmp_path / "upload"
    name.write_bytes(b"a" * (READ_BYTES - 1) + "\u00e9".encode() + b"tail\n")
    assert check_upload(name).kind == "text"
    for bad in (b"a" * (READ_BYTES + 10) + b"\x00", b"a" * (READ_BYTES * 2) + b"\xe9 latin-1",
                b" " * (READ_BYTES + 3) + b"<svg/>"):
        name.write_bytes(bad)
        with pytest.raises(FileTypeNotAllowed):
            check_upload(name)
    name.write_bytes(b"\n" * (READ_BYTES + 1))
    assert check_upload(name).kind == "text"  # blank, as before: text
    name.write_bytes(png_bytes((40, 30)))
    checked = check_upload(name)
    assert (checked.kind, checked.width, checked.height) == ("png", 40, 30) and checked.data is not None


@pytest.mark.parametrize(("data", "why"), [
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "SVG named .png"),
    (b'\xef\xbb\xbf  <?xml version="1.0"?><svg/>', "SVG behind a BOM and an XML declaration"),
    (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "HTML"),
    (b"\n\n<html><body>hi</body></html>", "HTML after blank lines"),
    (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "a Windows executable"),
    (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8, "an ELF executable"),
    (b"PK\x03\x04\x14\x00\x00\x00", "a ZIP archive"),
    (b"caf\xe9 latin-1", "text that is not UTF-8"),
    (b"text with a \x00 NUL", "text with NUL"),
])
def test_anything_else_is_refused(data: bytes, why: str) -> None:
    assert sniff_kind(data) is None, why
    with pytest.raises(FileTypeNotAllowed):
        check_upload(data)


def test_the_content_alone_decides_the_kind() -> None:
    # No name is given: a PNG is a PNG whatever it is called (a name that says otherwise is refused
    # by name_for, below).
    assert check_upload(png_bytes()).kind == "png"


def test_a_kind_not_allowed_is_refused() -> None:
    with pytest.raises(FileTypeNotAllowed) as refused:
        check_upload(b"%PDF-1.4\n", frozenset({"png", "jpeg"}))
    assert refused.value.details == {"allowed": ["jpeg", "png"]}
    assert check_upload(b"%PDF-1.4\n", ALL_KINDS).kind == "pdf"


def test_a_broken_image_is_refused_not_a_crash() -> None:
    truncated = png_bytes((50, 50))[:40]
    with pytest.raises(FileTypeNotAllowed):
        check_upload(truncated)
    with pytest.raises(FileTypeNotAllowed):
        check_upload(b"\xff\xd8\xff\xe0 not really a jpeg")


def test_a_decompression_bomb_is_refused_on_its_header() -> None:
    bomb = bomb_png(30_000, 30_000)  # 900 megapixels in a few KB
    assert len(bomb) < 100_000
    with pytest.raises(FileTooLarge):
        check_upload(bomb)
    with pytest.raises(FileTooLarge):
        sanitize_image(png_bytes((100, 100)), max_pixels=9_999)


def test_an_empty_file_is_an_invalid_payload() -> None:
    with pytest.raises(InvalidPayload):
        check_upload(b"")


@pytest.mark.parametrize(("name", "kind", "expected"), [
    ("photo.JPG", "jpeg", "photo.JPG"),
    ("photo.jpeg", "jpeg", "photo.jpeg"),
    ("screenshot", "png", "screenshot.png"),
    (".profile", "text", ".profile.txt"),
    ("..", "pdf", "...pdf"),
    ("Rechnung März.pdf", "pdf", "Rechnung März.pdf"),
    ("notes.md", "text", "notes.md"),
])
def test_a_name_keeps_an_extension_that_fits_and_gets_one_when_it_has_none(name: str, kind: str,
                                                                            expected: str) -> None:
    assert name_for(name, kind) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "kind"), [
    ("invoice.pdf", "png"),  # a PNG named .pdf
    ("page.html", "text"),  # text that a browser would open as a page once saved
    ("image.svg", "png"),
    ("setup.exe", "text"),
])
def test_a_name_that_claims_another_type_is_refused(name: str, kind: str) -> None:
    with pytest.raises(FileTypeNotAllowed):
        name_for(name, kind)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "a/b.png", "..\\b.png", "a\nb.txt", "tab\there.txt", "a\x7f.txt",
                                  "a\x85.txt", "line\u2028sep.txt", "x" * (MAX_NAME_CHARS + 1)])
def test_a_name_with_a_path_or_control_characters_is_invalid(name: str) -> None:
    with pytest.raises(InvalidPayload):
        checked_name(name)
    assert not re.fullmatch(NAME_PATTERN, name)  # the pattern the upload route's document states
