"""Files for the attachment tests, made here (no fixtures on disk): a real PNG of a given size, a
small real PDF, and a file whose name lies about what it holds; and the scripts that drop files
on an element or paste one into it, as a browser does (a DataTransfer in a DragEvent or a
ClipboardEvent)."""

from __future__ import annotations

import base64
import struct
import zlib

from playwright.async_api import FilePayload, Locator


def png_bytes(width: int = 64, height: int = 48, rgb: tuple[int, int, int] = (31, 95, 191)) -> bytes:
    """A valid PNG of one colour."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


def pdf_bytes(padding: int = 0) -> bytes:
    """A one-page PDF, ``padding`` bytes of comment longer (to make it a given size)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    out += b"%" + b"x" * padding + b"\n" if padding else b""
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


# An HTML page named like a picture: the server decides on the content, and refuses it.
LYING_FILE = FilePayload(name="holiday.png", mimeType="image/png",
                         buffer=b"<!doctype html><script>alert(document.cookie)</script>")


def as_file(name: str, mime_type: str, data: bytes) -> FilePayload:
    """A file for Playwright's set_input_files and the page scripts below."""
    return FilePayload(name=name, mimeType=mime_type, buffer=data)


def _script_arg(file: FilePayload) -> dict[str, str]:
    return {"name": file["name"], "type": file["mimeType"], "data": base64.b64encode(file["buffer"]).decode()}


_MAKE_TRANSFER = """({name, type, data}) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, {type}));
    return transfer;
}"""


async def drop_file(target: Locator, file: FilePayload) -> bool:
    """Drag a file over ``target`` and drop it, as the browser does; whether the page took the drop
    (called preventDefault on it)."""
    return bool(await target.evaluate(f"""(element, file) => {{
        const transfer = ({_MAKE_TRANSFER})(file);
        const fire = (type) => {{
            const event = new DragEvent(type, {{dataTransfer: transfer, bubbles: true, cancelable: true}});
            element.dispatchEvent(event);
            return event.defaultPrevented;
        }};
        fire('dragenter');
        fire('dragover');
        return fire('drop');
    }}""", _script_arg(file)))


async def paste_file(target: Locator, file: FilePayload) -> bool:
    """Paste a file (a screenshot from the clipboard) into ``target``; whether the page took it."""
    return bool(await target.evaluate(f"""(element, file) => {{
        const transfer = ({_MAKE_TRANSFER})(file);
        element.focus();
        const event = new ClipboardEvent('paste', {{clipboardData: transfer, bubbles: true, cancelable: true}});
        element.dispatchEvent(event);
        return event.defaultPrevented;
    }}""", _script_arg(file)))
