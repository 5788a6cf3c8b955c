"""Group commit: write jobs queued by many coroutines, run together in one transaction.

A job is a plain function of the writer's ``sqlite3`` connection (it must not block or await),
so a message's reads and writes cost no hand-off between the event loop and SQLite's thread
each; the database runs a batch on the loop's thread when it can (``SQLiteDatabase._run_batch``).
Jobs that arrive while a batch runs wait for the next one; a batch is::

    BEGIN IMMEDIATE
      <job 1>
      <job 2>
      ...
    COMMIT

and only after COMMIT returned does any job's caller get its result: nothing is acknowledged
before it is committed. When BEGIN or COMMIT fails, every job of the batch fails with
``Unavailable`` and nothing of it is stored.

A job's error is its own. One that fails having written nothing (a refusal: a message from
someone who may not write is checked before anything is written) needs nothing undone. One
that fails after writing has its writes in the transaction with the others': then the
transaction is rolled back and the batch runs again in a new one, each job in a savepoint of its
own (``SAVEPOINT job``, ``ROLLBACK TO job`` on its error), so only it fails. A job must
therefore write rows only (no schema, no pragmas), and may run more than once (only the last
run's writes and after-commit callbacks count). No savepoint spans the batch: its journal of
the pages' first versions would outgrow memory (64 KiB) and be written to a temporary file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ..group_commit import BatchFailed, Outcome

T = TypeVar("T")


class Batch:
    """What a job sees of the transaction it runs in."""

    __slots__ = ("_after_commit", "data_version")

    def __init__(self, data_version: int) -> None:
        # PRAGMA data_version at BEGIN: it changes when another connection (another process)
        # committed since the previous batch; this process's own writes never change it.
        self.data_version = data_version
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on the event loop once the batch is committed (dropped if the job that
        asked fails or the batch does not commit)."""
        self._after_commit.append(callback)


Job = Callable[[sqlite3.Connection, Batch], Any]


class WriterBusy(Exception):
    """Another connection holds the database's write lock (``run_batch(wait=False)`` did nothing)."""


def run_batch(conn: sqlite3.Connection, jobs: list[Job], wait: bool = True,
              busy_timeout_ms: int = 5000) -> tuple[list[Outcome], list[Callable[[], None]]]:
    """Run ``jobs`` in one transaction on ``conn``: each job's outcome, and the after-commit
    callbacks of the jobs that succeeded. Raises ``BatchFailed`` when the transaction could not be
    committed. With ``wait=False`` it does not wait for another connection's write lock: it raises
    ``WriterBusy`` at once, having done nothing."""
    try:
        return _one_transaction(conn, jobs, wait, busy_timeout_ms, savepoints=False)
    except _WroteAndFailed:  # rolled back: again, each job in a savepoint
        return _one_transaction(conn, jobs, wait, busy_timeout_ms, savepoints=True)


def _one_transaction(conn: sqlite3.Connection, jobs: list[Job], wait: bool, busy_timeout_ms: int,
                     savepoints: bool) -> tuple[list[Outcome], list[Callable[[], None]]]:
    try:
        if wait:
            conn.execute("BEGIN IMMEDIATE")
        else:
            conn.execute("PRAGMA busy_timeout = 0")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    raise WriterBusy() from exc
                raise
            finally:
                conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms:d}")
    except sqlite3.Error as exc:
        raise BatchFailed(f"BEGIN failed: {exc}") from exc
    try:
        outcomes, batch = _run_jobs(conn, jobs, conn.execute("PRAGMA data_version").fetchone()[0], savepoints)
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise BatchFailed(f"COMMIT failed: {exc}") from exc
    except BaseException:
        # A failed COMMIT (a deferred constraint, SQLITE_BUSY) leaves the transaction open, and a
        # job that failed after writing (_WroteAndFailed) too.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes, batch._after_commit


class _WroteAndFailed(Exception):
    """A job run without a savepoint failed after writing (``_run_jobs``)."""


def _run_jobs(conn: sqlite3.Connection, jobs: list[Job], data_version: int,
              savepoints: bool) -> tuple[list[Outcome], Batch]:
    """Run ``jobs`` one after the other in the open transaction. Without ``savepoints`` a job that
    fails having written nothing (``total_changes`` unchanged: a statement that fails leaves no
    row of its own behind) fails alone, and one that wrote raises ``_WroteAndFailed``."""
    batch = Batch(data_version)
    outcomes: list[Outcome] = []
    for job in jobs:
        if savepoints:
            conn.execute("SAVEPOINT job")
        changes = conn.total_changes
        mark = len(batch._after_commit)
        try:
            result = job(conn, batch)
        except Exception as exc:
            if not conn.in_transaction:  # SQLite itself rolled everything back (disk full, ...)
                raise BatchFailed(f"transaction rolled back: {exc}") from exc
            if savepoints:
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
            elif conn.total_changes != changes:
                raise _WroteAndFailed() from exc
            del batch._after_commit[mark:]
            outcomes.append((False, exc))
        else:
            if savepoints:
                conn.execute("RELEASE job")
            outcomes.append((True, result))
    return outcomes, batch


class WriterCache(Generic[T]):
    """A value read on the writer connection inside a batch, kept until this process changes it
    (``invalidate``) or another connection commits to the database (``PRAGMA data_version``
    changes): correct with several processes sharing the file, and in a single process a cache
    hit costs no query at all."""

    def __init__(self, load: Callable[[sqlite3.Connection], T]) -> None:
        self._load = load
        self._generation = 0
        self._loaded: tuple[int, int, T] | None = None  # data_version, generation, value

    def get(self, conn: sqlite3.Connection, batch: Batch) -> T:
        """The value as of this batch's transaction (call it from a job)."""
        generation = self._generation
        loaded = self._loaded
        if loaded is not None and loaded[0] == batch.data_version and loaded[1] == generation:
            return loaded[2]
        value = self._load(conn)
        self._loaded = (batch.data_version, generation, value)
        return value

    def invalidate(self) -> None:
        """This process changed what the value is read from: read it again next time."""
        self._generation += 1
