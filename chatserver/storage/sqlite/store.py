"""SQLite storage (aiosqlite, WAL) for agents, conversations, messages and assignment history.

One writer connection, guarded by a lock so a transaction's statements never interleave with
another coroutine's, and ``BEGIN IMMEDIATE`` so several processes sharing the file serialize
their writes; one reader connection that sees only committed data.

The busy writes (messages, read marks, status changes, new conversations) are jobs: plain
functions of the writer's sqlite3 connection, many to a transaction (``_group_commit.py``), run
on the event loop's thread when the write lock is free (``_run_batch``), so a message costs no
hand-off to SQLite's thread at all, and its caller hears back only after COMMIT. The rest use
``_transaction()``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from ...domain.access import check_access, check_writable
from ...domain.models import (
    Agent,
    AssignmentEvent,
    Conversation,
    ConversationStatus,
    Message,
    PageContext,
    PartyKind,
    PreChat,
    Rating,
    Role,
    Transcript,
)
from ...domain.ports import NewMessage, OutboxRecorder, Transition
from ...errors import Conflict, NotFound
from ...files import create_private_file, make_private_dir
from ._group_commit import Batch, GroupCommitter, Job, Outcome, WriterBusy, run_batch
from ._outbox_rows import insert_outbox_now
from ._reader import ReadConnection

T = TypeVar("T")
log = logging.getLogger("chatserver.storage")
CHECKPOINT_INTERVAL = 0.5  # seconds between WAL checkpoints while there are writes
# A WAL longer than this many frames (pages; 32 MB at SQLite's 4 KB) after a passive checkpoint
# means writes never paused long enough for one to finish: the next checkpoint waits for the
# writer and makes the WAL start again from its beginning (see _checkpoint).
WAL_RESTART_FRAMES = 8192
# What a WAL file is cut back to when it starts again (SQLite keeps the file otherwise).
WAL_SIZE_LIMIT = 64 * 1024 * 1024
# Called inside the transaction of every participant's message, after its INSERT: it may write
# in the same transaction (the message.created webhook's outbox items), and must not block.
MessageHook = Callable[[sqlite3.Connection, Batch, "Conversation", "Message"], None]

_CONVERSATION_COLUMNS = (
    "id, visitor_id, status, visitor_name, visitor_email, question, order_number, page_url, created_at, "
    "queue_rank, agent_id, agent_name, assigned_at, closed_at, closed_by, last_seq, visitor_read_seq, "
    "agent_read_seq, page_title, checkout, cart_value, department, priority"
)
_MESSAGE_COLUMNS = (
    "conversation_id, seq, kind, sender_kind, sender_id, sender_name, client_msg_id, body, meta, created_at"
)
_AGENT_COLUMNS = "id, email, name, password_hash, role, capacity, disabled, token_version, created_at, departments"


def migrations() -> list[tuple[int, str]]:
    """The schema migrations shipped with the package, as ``(version, sql)`` in order."""
    found = []
    for entry in resources.files("chatserver.storage.sqlite.migrations").iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text()))
    return sorted(found)


# Stored values to their enum members: a dict lookup, where calling the enum costs a few
# Python calls per row (CHECK constraints keep the stored values to these).
_STATUS = {status.value: status for status in ConversationStatus}
_PARTY = {party.value: party for party in PartyKind}


def _conversation(row: sqlite3.Row | tuple[Any, ...]) -> Conversation:
    return Conversation(
        id=row[0],
        visitor_id=row[1],
        status=_STATUS[row[2]],
        prechat=PreChat(name=row[3], email=row[4], question=row[5], order_number=row[6], page_url=row[7],
                        page_title=row[18], checkout=bool(row[19]), cart_value=row[20], department=row[21]),
        created_at=row[8],
        queue_rank=row[9],
        agent_id=row[10],
        agent_name=row[11],
        assigned_at=row[12],
        closed_at=row[13],
        closed_by=_PARTY[row[14]] if row[14] else None,
        last_seq=row[15],
        visitor_read_seq=row[16],
        agent_read_seq=row[17],
        priority=row[22],
    )


def _message(row: sqlite3.Row | tuple[Any, ...]) -> Message:
    return Message(
        conversation_id=row[0],
        seq=row[1],
        kind=row[2],
        sender_kind=_PARTY[row[3]],
        sender_id=row[4],
        sender_name=row[5],
        client_msg_id=row[6],
        body=row[7],
        meta=json.loads(row[8]) if row[8] else None,
        created_at=row[9],
    )


def _agent(row: sqlite3.Row | tuple[Any, ...]) -> Agent:
    return Agent(
        id=row[0],
        email=row[1],
        name=row[2],
        password_hash=row[3],
        role=Role(row[4]),
        capacity=row[5],
        disabled=bool(row[6]),
        token_version=row[7],
        created_at=row[8],
        departments=tuple(d for d in row[9].split(",") if d),
    )


_SELECT_CONVERSATION = f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?"
# The column naming the participant who may write to a conversation.
_PARTY_COLUMN = {PartyKind.VISITOR: "visitor_id", PartyKind.AGENT: "agent_id"}


_INSERT_MESSAGE = f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# A participant's message: a resend (same sender and client id as a stored one) inserts nothing.
_INSERT_UNLESS_RESENT = (_INSERT_MESSAGE + " ON CONFLICT (conversation_id, sender_id, client_msg_id) "
                         "WHERE client_msg_id IS NOT NULL DO NOTHING")


def _store_message(conn: sqlite3.Connection, m: NewMessage, seq: int, sender_name: str | None,
                   sql: str = _INSERT_MESSAGE) -> Message | None:
    """Insert ``m`` as message ``seq``; ``None`` when ``sql`` is ``_INSERT_UNLESS_RESENT`` and it
    was a resend."""
    meta = json.dumps(m.meta) if m.meta else None
    inserted = conn.execute(
        sql,
        (m.conversation_id, seq, m.kind, str(m.sender_kind), m.sender_id, sender_name, m.client_msg_id, m.body,
         meta, m.created_at),
    ).rowcount
    if not inserted:
        return None
    return Message(
        conversation_id=m.conversation_id, seq=seq, kind=m.kind, sender_kind=m.sender_kind, sender_id=m.sender_id,
        sender_name=sender_name, body=m.body, created_at=m.created_at, client_msg_id=m.client_msg_id, meta=m.meta,
    )


class SQLiteStore:
    """Implements ``AgentStore`` and ``ConversationStore`` over one SQLite file."""

    def __init__(self, path: Path, wal_restart_frames: int = WAL_RESTART_FRAMES) -> None:
        self.path = path
        self.wal_restart_frames = wal_restart_frames
        self._writer: aiosqlite.Connection | None = None
        self._reader: ReadConnection | None = None
        self._checkpointer: aiosqlite.Connection | None = None
        self._checkpoints: asyncio.Task[None] | None = None
        self._writes = 0  # write transactions so far (the checkpointer runs only after some)
        self._write_lock = asyncio.Lock()
        self._committer = GroupCommitter(self._run_batch, self._write_lock)
        self.message_hooks: list[MessageHook] = []

    async def open(self) -> None:
        make_private_dir(self.path.parent)
        create_private_file(self.path)
        self._committer = GroupCommitter(self._run_batch, self._write_lock)
        self._writer = await aiosqlite.connect(self.path, isolation_level=None, check_same_thread=False)
        await self._writer.execute("PRAGMA journal_mode=WAL")
        await self._writer.execute("PRAGMA synchronous=NORMAL")
        await self._writer.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT:d}")
        await self._writer.execute("PRAGMA busy_timeout=5000")
        await self._writer.execute("PRAGMA foreign_keys=ON")
        await self.migrate()
        reader = await aiosqlite.connect(self.path, isolation_level=None)
        await reader.execute("PRAGMA busy_timeout=5000")
        await reader.execute("PRAGMA query_only=ON")
        self._reader = ReadConnection(reader)
        # Checkpoints (copying the WAL into the database, with its fsyncs) run on a connection
        # of their own, so the writer never waits for the disk: with SQLite's automatic
        # checkpoint the commit that crossed 1,000 pages did it, and held every write queued
        # behind it for as long as the fsyncs took (tens of milliseconds on a busy disk).
        await self._writer.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpointer = await aiosqlite.connect(self.path, isolation_level=None)
        await self._checkpointer.execute("PRAGMA busy_timeout=5000")
        self._checkpoints = asyncio.get_running_loop().create_task(self._checkpoint_loop())

    async def _checkpoint_loop(self) -> None:
        done = self._writes
        while True:
            await asyncio.sleep(CHECKPOINT_INTERVAL)
            if self._writes == done:
                continue
            done = self._writes
            try:
                await self.checkpoint()
            except sqlite3.Error as exc:
                log.warning("WAL checkpoint failed: %s", exc)

    async def checkpoint(self) -> int:
        """Copy the WAL into the database; returns the WAL's length in frames it found. A
        PASSIVE checkpoint copies what no reader still needs and never blocks the writer, but the
        WAL only starts again from its beginning once a checkpoint finished with no write in
        between: under writes without pause it grew without bound (800 MB in the first five
        seconds of a closed-loop load test), and every page lookup in it slowed down. So when a
        passive one leaves the WAL longer than ``wal_restart_frames``, the next waits for this
        process's writer (its lock) and restarts the WAL: writes queue meanwhile, for as long as
        copying the rest takes, and go in one batch afterwards."""
        assert self._checkpointer is not None
        rows = await self._checkpointer.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
        frames = int(next(iter(rows))[1])
        if frames < self.wal_restart_frames:
            return frames
        async with self._write_lock:
            rows = await self._checkpointer.execute_fetchall("PRAGMA wal_checkpoint(RESTART)")
        busy = int(next(iter(rows))[0])
        if busy:  # another process's writer or a reader held on for longer than the busy timeout
            log.warning("WAL restart checkpoint could not finish frames=%d", frames)
        return frames

    async def close(self) -> None:
        await self._committer.close()
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            await asyncio.gather(self._checkpoints, return_exceptions=True)
            self._checkpoints = None
        for conn in (self._checkpointer, self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._checkpointer = self._reader = self._writer = None

    @property
    def _w(self) -> aiosqlite.Connection:
        assert self._writer is not None, "store is not open"
        return self._writer

    @property
    def _r(self) -> ReadConnection:
        """The read-only connection: each read sees what was committed before it (``_reader.py``)."""
        assert self._reader is not None, "store is not open"
        return self._reader

    async def schema_version(self) -> int:
        async with self._w.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> None:
        """Apply every shipped migration newer than the file's ``user_version``, each atomically."""
        async with self._transaction() as db:
            current = await self.schema_version()
            for version, sql in migrations():
                if version <= current:
                    continue
                for statement in _split_sql(sql):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {version:d}")

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._write_lock:
            db = self._w
            self._writes += 1
            await db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            else:
                await db.execute("COMMIT")

    async def _run_batch(self, jobs: list[Job]) -> tuple[list[Outcome], list[Callable[[], None]]]:
        self._writes += 1
        # aiosqlite's Connection runs a function on its thread with ``_execute`` and holds the
        # sqlite3 connection in ``_conn`` (opened with check_same_thread=False; every use of it
        # holds the write lock): private, so aiosqlite is pinned (pyproject.toml); a newer
        # aiosqlite must be checked for both before the pin moves.
        writer = self._w
        # On the event loop's own thread while no other process holds the write lock: a batch
        # is CPU work and writes into the OS's page cache (checkpoints and their fsyncs run
        # elsewhere), shorter than the two thread wake-ups a hand-off costs, which on a machine
        # with more runnable threads than cores wait for the scheduler each. Otherwise it waits
        # for the lock on the writer's thread (busy_timeout), never on the loop.
        try:
            return run_batch(writer._conn, jobs, wait=False)
        except WriterBusy:
            pass
        result: tuple[list[Outcome], list[Callable[[], None]]] = await writer._execute(  # type: ignore[no-untyped-call]
            run_batch, writer._conn, jobs)
        return result

    async def batched(self, job: Callable[[sqlite3.Connection, Batch], T]) -> T:
        """Run ``job`` on the writer connection in the next group-committed transaction, in a
        savepoint of its own (its exception rolls back only its own writes); returns its result
        once the transaction is committed. Raises ``Unavailable`` if the transaction failed.
        ``job`` must not block or await: it may run on the event loop's thread."""
        result: T = await self._committer.run(job)
        return result

    def pending_writes(self) -> int:
        """How many jobs wait for the next transaction (for tests that fill a batch)."""
        return self._committer.pending()

    async def _fetchall(self, sql: str, params: Any = ()) -> list[Any]:
        """Rows of a read on the reader connection, in one hand-off to its thread."""
        return list(await self._r.execute_fetchall(sql, params))

    async def _fetchone(self, sql: str, params: Any = ()) -> Any:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    async def ping(self) -> None:
        async with self._r.execute("SELECT 1") as cur:
            await cur.fetchone()

    # -- agents -------------------------------------------------------------------------------

    async def add_agent(self, agent: Agent) -> None:
        try:
            async with self._transaction() as db:
                await db.execute(
                    f"INSERT INTO agents ({_AGENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (agent.id, agent.email, agent.name, agent.password_hash, str(agent.role), agent.capacity,
                     int(agent.disabled), agent.token_version, agent.created_at, ",".join(agent.departments)),
                )
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"an agent with email {agent.email!r} already exists") from exc

    async def _one_agent(self, where: str, value: str) -> Agent | None:
        async with self._r.execute(f"SELECT {_AGENT_COLUMNS} FROM agents WHERE {where} = ?", (value,)) as cur:
            row = await cur.fetchone()
        return _agent(row) if row else None

    async def agent_by_id(self, agent_id: str) -> Agent | None:
        return await self._one_agent("id", agent_id)

    async def agent_by_email(self, email: str) -> Agent | None:
        return await self._one_agent("email", email)

    async def list_agents(self) -> list[Agent]:
        async with self._r.execute(f"SELECT {_AGENT_COLUMNS} FROM agents ORDER BY created_at, email") as cur:
            return [_agent(row) for row in await cur.fetchall()]

    async def bump_token_version(self, agent_id: str) -> None:
        async with self._transaction() as db:
            await db.execute("UPDATE agents SET token_version = token_version + 1 WHERE id = ?", (agent_id,))

    async def set_password(self, agent_id: str, password_hash: str) -> Agent | None:
        async with self._transaction() as db, db.execute(
            f"UPDATE agents SET password_hash = ?, token_version = token_version + 1 WHERE id = ? "
            f"RETURNING {_AGENT_COLUMNS}", (password_hash, agent_id),
        ) as cur:
            row = await cur.fetchone()
        return _agent(row) if row else None

    async def update_agent(self, agent_id: str, *, disabled: bool | None, capacity: int | None,
                           departments: tuple[str, ...] | None) -> Agent | None:
        async with self._transaction() as db:
            # Every expression reads the row as it was: the token version moves only when an
            # enabled agent is disabled.
            await db.execute(
                "UPDATE agents SET capacity = COALESCE(?, capacity), departments = COALESCE(?, departments), "
                "token_version = token_version + (CASE WHEN ? = 1 AND disabled = 0 THEN 1 ELSE 0 END), "
                "disabled = COALESCE(?, disabled) WHERE id = ?",
                (capacity, None if departments is None else ",".join(departments),
                 None if disabled is None else int(disabled), None if disabled is None else int(disabled), agent_id))
            async with db.execute(f"SELECT {_AGENT_COLUMNS} FROM agents WHERE id = ?", (agent_id,)) as cur:
                row = await cur.fetchone()
        return _agent(row) if row else None

    # -- conversations ------------------------------------------------------------------------

    async def create_conversation(self, conversation: Conversation, first: list[NewMessage],
                                  record: OutboxRecorder | None = None) -> list[Message]:
        stored: list[Message] = await self.batched(partial(self._create_conversation, conversation, first, record))
        return stored

    @classmethod
    def _create_conversation(cls, conversation: Conversation, first: list[NewMessage], record: OutboxRecorder | None,
                             conn: sqlite3.Connection, batch: Batch) -> list[Message]:
        p = conversation.prechat
        # The customer the visitor belongs to (customer records link the visitor first), in
        # the same statement: a conversation is never stored without its customer.
        conn.execute(
            f"INSERT INTO conversations ({_CONVERSATION_COLUMNS}, customer_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "(SELECT customer_id FROM customer_visitors WHERE visitor_id = ?))",
            (conversation.id, conversation.visitor_id, str(conversation.status), p.name, p.email, p.question,
             p.order_number, p.page_url, conversation.created_at, conversation.queue_rank,
             conversation.agent_id, conversation.agent_name, conversation.assigned_at, None, None, 0, 0, 0,
             p.page_title, int(p.checkout), p.cart_value, p.department, conversation.priority,
             conversation.visitor_id),
        )
        stored = [cls._insert_message(conn, m) for m in first]
        conversation.last_seq = len(stored)
        if record is not None:
            insert_outbox_now(conn, record(conversation, cls._customer_of(conn, conversation.id)))
        return stored

    @staticmethod
    def _customer_of(conn: sqlite3.Connection, conversation_id: str) -> str | None:
        row = conn.execute("SELECT customer_id FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        return str(row[0]) if row and row[0] is not None else None

    async def update_page(self, conversation_id: str, page: PageContext) -> Conversation | None:
        def update(conn: sqlite3.Connection, batch: Batch) -> Conversation | None:
            row = conn.execute(
                "UPDATE conversations SET page_url = ?, page_title = ?, checkout = ?, cart_value = ? "
                f"WHERE id = ? AND status != 'closed' RETURNING {_CONVERSATION_COLUMNS}",
                (page.page_url, page.page_title, int(page.checkout), page.cart_value, conversation_id),
            ).fetchone()
            return _conversation(row) if row else None

        return await self.batched(update)

    async def idle_conversations(self, before: float, limit: int) -> list[str]:
        rows = await self._fetchall(
            "SELECT c.id FROM conversations c WHERE c.status IN ('queued', 'assigned') AND coalesce("
            "(SELECT m.created_at FROM messages m WHERE m.conversation_id = c.id ORDER BY m.seq DESC LIMIT 1), "
            "c.created_at) < ? ORDER BY c.created_at LIMIT ?",
            (before, limit),
        )
        return [str(row[0]) for row in rows]

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        row = await self._fetchone(_SELECT_CONVERSATION, (conversation_id,))
        return _conversation(row) if row else None

    async def get_conversations(self, conversation_ids: list[str]) -> dict[str, Conversation]:
        if not conversation_ids:
            return {}
        marks = ", ".join("?" for _ in conversation_ids)
        rows = await self._fetchall(f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id IN ({marks})",
                                    conversation_ids)
        return {row[0]: _conversation(row) for row in rows}

    @staticmethod
    def _select_conversation(conn: sqlite3.Connection, conversation_id: str) -> Conversation | None:
        row = conn.execute(_SELECT_CONVERSATION, (conversation_id,)).fetchone()
        return _conversation(row) if row else None

    async def active_conversation_for_visitor(self, visitor_id: str) -> Conversation | None:
        row = await self._fetchone(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE visitor_id = ? AND status != 'closed' "
            "ORDER BY created_at DESC LIMIT 1",
            (visitor_id,),
        )
        return _conversation(row) if row else None

    async def conversations_with_status(
        self, statuses: Collection[ConversationStatus], agent_id: str | None = None
    ) -> list[Conversation]:
        marks = ", ".join("?" for _ in statuses)
        sql = f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE status IN ({marks})"
        params: list[Any] = [str(s) for s in statuses]
        if agent_id is not None:
            sql += " AND agent_id = ?"
            params.append(agent_id)
        sql += " ORDER BY queue_rank, created_at"
        return [_conversation(row) for row in await self._fetchall(sql, params)]

    async def list_conversations(
        self, *, status: ConversationStatus | None, agent_id: str | None, limit: int, offset: int
    ) -> list[Conversation]:
        clauses, params = [], []
        if status is not None:
            clauses.append("status = ?")
            params.append(str(status))
        if agent_id is not None:
            clauses.append("agent_id = ?")
            params.append(agent_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self._fetchall(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations {where} ORDER BY created_at DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [_conversation(row) for row in rows]

    # -- messages -----------------------------------------------------------------------------

    @staticmethod
    def _insert_message(conn: sqlite3.Connection, m: NewMessage) -> Message:
        row = conn.execute(
            "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq", (m.conversation_id,)
        ).fetchone()
        if row is None:
            raise NotFound("conversation not found")
        stored = _store_message(conn, m, int(row[0]), m.sender_name)
        assert stored is not None
        return stored

    async def append_message(self, message: NewMessage) -> tuple[Conversation, Message, bool]:
        if message.sender_kind not in _PARTY_COLUMN or message.sender_id is None:
            raise ValueError("append_message stores a participant's message")
        result: tuple[Conversation, Message, bool] = await self.batched(partial(self._append_message, message))
        return result

    def _append_message(self, m: NewMessage, conn: sqlite3.Connection, batch: Batch) -> tuple[Conversation, Message,
                                                                                                 bool]:
        assert m.sender_id is not None
        # The sender's right to write is part of the UPDATE that takes the sequence number; only
        # a refused message reads the conversation again, to say why. A resend is refused as the
        # first send would be now; when it is not, the INSERT finds the stored one and inserts
        # nothing (the unique idempotency index), and the sequence number goes back.
        row = conn.execute(
            f"UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ? AND status != 'closed' AND "
            f"{_PARTY_COLUMN[m.sender_kind]} = ? RETURNING {_CONVERSATION_COLUMNS}",
            (m.conversation_id, m.sender_id),
        ).fetchone()
        if row is None:
            check_writable(self._select_conversation(conn, m.conversation_id), m.sender_kind, m.sender_id)
            raise AssertionError("a writable conversation refused a message")  # pragma: no cover
        conversation = _conversation(row)
        # A visitor's messages carry the name from their pre-chat form.
        name = m.sender_name if m.sender_kind == PartyKind.AGENT else conversation.prechat.name
        stored = _store_message(conn, m, conversation.last_seq, name, _INSERT_UNLESS_RESENT)
        if stored is None:
            conn.execute("UPDATE conversations SET last_seq = last_seq - 1 WHERE id = ?", (m.conversation_id,))
            conversation.last_seq -= 1
            resent = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages "
                "WHERE conversation_id = ? AND sender_id = ? AND client_msg_id = ?",
                (m.conversation_id, m.sender_id, m.client_msg_id),
            ).fetchone()
            return conversation, _message(resent), False
        for hook in self.message_hooks:
            hook(conn, batch, conversation, stored)
        return conversation, stored, True

    async def messages_after(self, conversation_id: str, after_seq: int, limit: int) -> list[Message]:
        rows = await self._fetchall(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (conversation_id, after_seq, limit),
        )
        return [_message(row) for row in rows]

    async def transition(self, change: Transition) -> tuple[Conversation, Message | None] | None:
        result: tuple[Conversation, Message | None] | None = await self.batched(partial(self._transition, change))
        return result

    @classmethod
    def _transition(cls, change: Transition, conn: sqlite3.Connection,
                    batch: Batch) -> tuple[Conversation, Message | None] | None:
        current = cls._select_conversation(conn, change.conversation_id)
        if current is None or current.status not in change.expect:
            return None
        assigned_at = change.at if change.status == ConversationStatus.ASSIGNED else current.assigned_at
        closed_at = change.at if change.status == ConversationStatus.CLOSED else None
        department = change.department if change.department is not None else current.prechat.department
        conn.execute(
            "UPDATE conversations SET status = ?, agent_id = ?, agent_name = ?, assigned_at = ?, queue_rank = ?, "
            "closed_at = ?, closed_by = ?, department = ? WHERE id = ?",
            (str(change.status), change.agent_id, change.agent_name, assigned_at, change.queue_rank, closed_at,
             str(change.closed_by) if change.closed_by else None, department, change.conversation_id),
        )
        conn.execute(
            "INSERT INTO assignment_events (conversation_id, agent_id, event, reason, at) VALUES (?, ?, ?, ?, ?)",
            (change.conversation_id, change.agent_id if change.agent_id else current.agent_id, change.event,
             change.reason, change.at),
        )
        message = None
        if change.system_message is not None:
            message = cls._insert_message(conn, change.system_message)
        updated = cls._select_conversation(conn, change.conversation_id)
        assert updated is not None
        if change.record is not None:
            insert_outbox_now(conn, change.record(updated, cls._customer_of(conn, change.conversation_id)))
        return updated, message

    async def mark_read(self, conversation_id: str, party: PartyKind, party_id: str,
                        seq: int) -> tuple[Conversation, int, bool]:
        if party not in _PARTY_COLUMN:
            raise ValueError("only a participant reads")
        result: tuple[Conversation, int, bool] = await self.batched(
            partial(self._mark_read, conversation_id, party, party_id, seq))
        return result

    @classmethod
    def _mark_read(cls, conversation_id: str, party: PartyKind, party_id: str, seq: int, conn: sqlite3.Connection,
                   batch: Batch) -> tuple[Conversation, int, bool]:
        column = "visitor_read_seq" if party == PartyKind.VISITOR else "agent_read_seq"
        # Only a mark that moves is written: a repeated or stale one changes no page.
        row = conn.execute(
            f"UPDATE conversations SET {column} = MIN(?, last_seq) WHERE id = ? AND "
            f"{_PARTY_COLUMN[party]} = ? AND {column} < MIN(?, last_seq) RETURNING {_CONVERSATION_COLUMNS}",
            (seq, conversation_id, party_id, seq),
        ).fetchone()
        moved = row is not None
        conversation = _conversation(row) if moved else check_access(
            cls._select_conversation(conn, conversation_id), party, party_id)
        read = conversation.visitor_read_seq if party == PartyKind.VISITOR else conversation.agent_read_seq
        return conversation, read, moved

    async def assignments(self, conversation_id: str) -> list[AssignmentEvent]:
        async with self._r.execute(
            "SELECT conversation_id, agent_id, event, reason, at FROM assignment_events "
            "WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        ) as cur:
            rows = await cur.fetchall()
        return [AssignmentEvent(conversation_id=r[0], agent_id=r[1], event=r[2], reason=r[3], at=r[4]) for r in rows]

    async def transcript(self, conversation_id: str) -> Transcript | None:
        conversation = await self.get_conversation(conversation_id)
        if conversation is None:
            return None
        messages = await self.messages_after(conversation_id, 0, 1_000_000)
        return Transcript(
            conversation=conversation, messages=messages, assignments=await self.assignments(conversation_id),
            rating=await self.rating(conversation_id),
        )

    async def rate(self, rating: Rating) -> None:
        """Store the visitor's rating of a closed conversation (a second rating replaces the first)."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO ratings (conversation_id, rating, comment, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (conversation_id) DO UPDATE SET rating = excluded.rating, comment = excluded.comment, "
                "created_at = excluded.created_at",
                (rating.conversation_id, rating.rating, rating.comment, rating.created_at),
            )

    async def rating(self, conversation_id: str) -> Rating | None:
        async with self._r.execute(
            "SELECT conversation_id, rating, comment, created_at FROM ratings WHERE conversation_id = ?",
            (conversation_id,),
        ) as cur:
            row = await cur.fetchone()
        return Rating(conversation_id=row[0], rating=row[1], comment=row[2], created_at=row[3]) if row else None

    async def visited_by_agent(self, conversation_id: str, agent_id: str) -> bool:
        """Whether the agent ever held the conversation (their past chats stay readable to them)."""
        async with self._r.execute(
            "SELECT 1 FROM assignment_events WHERE conversation_id = ? AND agent_id = ? LIMIT 1",
            (conversation_id, agent_id),
        ) as cur:
            return await cur.fetchone() is not None


def _split_sql(sql: str) -> list[str]:
    """Split a migration into statements (migrations contain no semicolons inside literals)."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]
