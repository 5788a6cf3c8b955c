"""Attachments on each database (SQLite: records in the file, bytes as private files under the data
directory; PostgreSQL: both in the shared database): stored, read back, deleted with their
conversation by retention and by a customer's deletion, and exported with the customer."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from chatserver.domain.attachments import Attachment, Variant
from chatserver.domain.models import ConversationStatus, Customer, PartyKind
from chatserver.domain.ports import Transition
from chatserver.errors import NotFound
from chatserver.storage.postgresql.attachments import PART_BYTES
from chatserver.storage.sqlite import SQLiteStores

from .backends import AllStores, add_conversation


def _attachment(attachment_id: str, cid: str = "c1", thumbnail: bool = True) -> Attachment:
    return Attachment(id=attachment_id, conversation_id=cid, sender_kind=PartyKind.VISITOR, sender_id="v1",
                      name="photo.png", content_type="image/png", size=3, created_at=5.0, width=2, height=1,
                      thumbnail_type="image/png" if thumbnail else None)


def _source(tmp_path: Path, data: bytes) -> Path:
    """A file holding ``data``, as an upload's temporary file does (the store may move it)."""
    path = tmp_path / f"upload-{len(list(tmp_path.iterdir()))}"
    path.write_bytes(data)
    return path


async def _read(stores: AllStores, attachment_id: str, variant: Variant = "file") -> tuple[int, bytes] | None:
    """The size and bytes ``open_attachment`` gives, read in its parts (each at most 1 MiB)."""
    chunks = await stores.attachments.open_attachment(attachment_id, variant)
    if chunks is None:
        return None
    try:
        parts = [part async for part in chunks]
    finally:
        await chunks.aclose()
    assert all(0 < len(part) <= PART_BYTES for part in parts)
    return chunks.size, b"".join(parts)


async def _files_on_disk(stores: AllStores) -> list[str]:
    if not isinstance(stores, SQLiteStores):
        return []
    directory = stores.attachments.directory
    return sorted(p.name for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


async def _parts_in_database(stores: AllStores) -> int:
    if isinstance(stores, SQLiteStores):
        return 0
    return int(await stores.database.fetchval("SELECT count(*) FROM attachment_parts"))


async def test_a_file_is_stored_read_back_and_deleted(stores: AllStores, tmp_path: Path) -> None:
    await add_conversation(stores, "c1", "v1")
    big = bytes(range(256)) * (PART_BYTES // 256 * 2 + 3)  # more than two parts in PostgreSQL
    await stores.attachments.save_attachment(_attachment("att-00001"), _source(tmp_path, big), b"thumb")
    await stores.attachments.save_attachment(_attachment("att-00002", thumbnail=False),
                                             _source(tmp_path, b"%PDF-1.4"), None)
    assert await stores.attachments.attachment("att-00001") == _attachment("att-00001")
    assert await stores.attachments.attachment_data("att-00001") == big
    assert await stores.attachments.attachment_data("att-00001", "thumbnail") == b"thumb"
    assert await _read(stores, "att-00001") == (len(big), big)  # in parts, as a download reads it
    assert await _read(stores, "att-00001", "thumbnail") == (5, b"thumb")
    assert await _read(stores, "att-00002", "thumbnail") is None
    assert await stores.attachments.attachment_data("att-00002", "thumbnail") is None
    assert [a.id for a in await stores.attachments.attachments_of(["c1", "other"])] == ["att-00001", "att-00002"]
    if isinstance(stores, SQLiteStores):
        path = stores.attachments.path("att-00001")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert await _files_on_disk(stores) == ["att-00001", "att-00001.thumb", "att-00002"]  # no temporary left
    await stores.attachments.delete_attachment("att-00001")
    assert await stores.attachments.attachment("att-00001") is None
    assert await stores.attachments.attachment_data("att-00001") is None
    assert await _read(stores, "att-00001") is None
    assert await _files_on_disk(stores) in ([], ["att-00002"])
    await stores.attachments.delete_attachment("att-00001")  # nothing to do: no error


async def test_a_file_of_no_conversation_is_refused_and_nothing_is_kept(stores: AllStores, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        await stores.attachments.save_attachment(_attachment("att-00003", cid="missing"),
                                                 _source(tmp_path, b"abc"), b"t")
    assert await stores.attachments.attachment("att-00003") is None
    assert await _files_on_disk(stores) == []
    assert await _parts_in_database(stores) == 0


async def _closed(stores: AllStores, cid: str, visitor_id: str) -> None:
    await add_conversation(stores, cid, visitor_id)
    await stores.conversations.transition(Transition(
        conversation_id=cid, expect=frozenset({ConversationStatus.QUEUED}), status=ConversationStatus.CLOSED,
        agent_id=None, agent_name=None, at=10.0, event="closed", closed_by=PartyKind.VISITOR))


async def test_retention_deletes_the_files_with_their_conversation(stores: AllStores, tmp_path: Path) -> None:
    await _closed(stores, "c1", "v1")
    await add_conversation(stores, "c2", "v2")
    await stores.attachments.save_attachment(_attachment("att-00011"), _source(tmp_path, b"old"), b"t")
    await stores.attachments.save_attachment(_attachment("att-00012", cid="c2"), _source(tmp_path, b"open"), None)
    assert await stores.customers.delete_closed_before(100.0, 10) == 1
    assert await stores.attachments.attachment("att-00011") is None
    assert await stores.attachments.attachment_data("att-00011") is None
    assert await stores.attachments.attachment_data("att-00012") == b"open"
    assert await _files_on_disk(stores) in ([], ["att-00012"])
    if not isinstance(stores, SQLiteStores):
        assert await stores.database.fetchval(
            "SELECT count(*) FROM attachment_parts WHERE attachment_id = 'att-00011'") == 0


async def test_a_customers_export_holds_the_files_and_deletion_removes_them(stores: AllStores, tmp_path: Path) -> None:
    await stores.customers.add_customer(Customer(id="cu1", created_at=1.0, last_seen_at=1.0, name="Ann"))
    await stores.customers.link_visitor("v1", "cu1", 1.0)
    await _closed(stores, "c1", "v1")
    await stores.attachments.save_attachment(_attachment("att-00021"), _source(tmp_path, b"mine"), b"t")
    data = await stores.customers.customer_data("cu1")
    assert data is not None
    assert [(f.attachment.id, f.data) for f in data.files] == [("att-00021", b"mine")]
    assert "attachments" not in data.related and "attachment_parts" not in data.related  # no bytes twice
    assert await stores.customers.delete_customer("cu1")
    assert await stores.attachments.attachment("att-00021") is None
    assert await stores.attachments.attachment_data("att-00021") is None
    assert await _files_on_disk(stores) == []
    assert await _parts_in_database(stores) == 0
    assert await stores.conversations.get_conversation("c1") is None


async def test_files_no_record_names_are_found_and_removed(stores: AllStores, tmp_path: Path) -> None:
    await add_conversation(stores, "c1", "v1")
    await stores.attachments.save_attachment(_attachment("att-00031"), _source(tmp_path, b"kept"), None)
    if isinstance(stores, SQLiteStores):
        stray = stores.attachments.path("att-00032")
        stray.parent.mkdir(mode=0o700, exist_ok=True)
        stray.write_bytes(b"left by a crash")
        assert await stores.attachments.remove_orphans(older_than=3600.0) == 0  # young: may be an upload
        assert await stores.attachments.remove_orphans(older_than=-1.0) == 1
        assert not stray.exists()
    else:
        assert await stores.attachments.remove_orphans() == 0
    assert await stores.attachments.attachment_data("att-00031") == b"kept"
