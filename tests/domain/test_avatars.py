"""An avatar made of an upload (domain/avatars.py make_avatar), without a server: only PNG, JPEG,
GIF and WebP by their bytes, re-encoded from the pixels, cropped square around the centre and
scaled to 128 px; transparency kept as PNG; everything else refused before any decoding."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from chatserver.domain.avatars import AVATAR_PX, MAX_AVATAR_BYTES, make_avatar
from chatserver.errors import FileTooLarge, FileTypeNotAllowed, InvalidPayload

from .test_file_checks import GPS_IFD, jpeg_with_gps, png_bytes


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_a_wide_photo_is_cropped_around_its_centre_scaled_and_stripped() -> None:
    # 300 x 100: blue left third, green middle third, red right third.
    source = Image.new("RGB", (300, 100), (200, 0, 0))
    source.paste((0, 0, 200), (0, 0, 100, 100))
    source.paste((0, 200, 0), (100, 0, 200, 100))
    out = io.BytesIO()
    exif = Image.Exif()
    exif[GPS_IFD] = {1: "N", 2: (52.0, 31.0, 12.0)}
    source.save(out, format="JPEG", exif=exif, quality=95)
    data, content_type = make_avatar(out.getvalue())
    assert content_type == "image/jpeg"
    image = _open(data)
    assert image.format == "JPEG" and image.size == (AVATAR_PX, AVATAR_PX)
    assert not image.getexif().get_ifd(GPS_IFD)
    red, green, blue = image.getpixel((AVATAR_PX // 2, AVATAR_PX // 2))  # type: ignore[misc]
    assert green > 150 and red < 60 and blue < 60  # the middle third is what is left


def test_a_phone_photo_loses_its_metadata() -> None:
    data, content_type = make_avatar(jpeg_with_gps((640, 480)))
    image = _open(data)
    assert (content_type, image.size) == ("image/jpeg", (AVATAR_PX, AVATAR_PX))
    assert not image.getexif() and "icc_profile" not in image.info and "comment" not in image.info
    assert b"Shopper's Phone" not in data and b"home sweet home" not in data


def test_transparency_stays_as_png_and_an_animation_gives_its_first_frame() -> None:
    data, content_type = make_avatar(png_bytes((30, 60), mode="RGBA"))
    image = _open(data)
    assert (content_type, image.format, image.mode, image.size) == ("image/png", "PNG", "RGBA", (128, 128))

    frames = [Image.new("RGB", (40, 40), colour) for colour in ((250, 0, 0), (0, 0, 250))]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    data, _ = make_avatar(gif.getvalue())
    image = _open(data)
    assert image.size == (128, 128) and getattr(image, "n_frames", 1) == 1
    red, _, blue = image.convert("RGB").getpixel((64, 64))  # type: ignore[misc]
    assert red > 200 and blue < 50


def _png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize(("data", "error"), [
    (b"", InvalidPayload),
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', FileTypeNotAllowed),
    (b"<!doctype html><script>alert(1)</script>", FileTypeNotAllowed),
    (b"%PDF-1.7\n", FileTypeNotAllowed),
    (b"plain words", FileTypeNotAllowed),
    (b"\x89PNG\r\n\x1a\nbroken", FileTypeNotAllowed),
    (_png_declaring(4001, 4000), FileTooLarge),  # over 16 MP, refused on its header
    (b"\xff\xd8\xff" + bytes(MAX_AVATAR_BYTES), FileTooLarge),
])
def test_anything_else_is_refused(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        make_avatar(data)
