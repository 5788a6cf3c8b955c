"""Files the server keeps (the database, the secret key, the first admin's credentials) are
readable by the server's own user only, whatever the process's umask: directories it creates
are 0700 and files 0600."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import StartupError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) if it does not exist; ``path`` itself 0700. An
    existing directory is left as the operator made it."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (SQLite then gives the database's
    ``-wal`` and ``-shm`` files the database file's mode)."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE))


def writable_data_dir(path: Path) -> None:
    """Create the data directory ``path`` if need be (``make_private_dir``) and check that files
    can be created in it; ``StartupError`` saying why not (a file, cannot be created, not
    writable) before anything is written there."""
    try:
        make_private_dir(path)
    except (FileExistsError, NotADirectoryError):
        raise StartupError(f"the data directory {path} is a file (or under one), not a directory") from None
    except OSError as exc:
        raise StartupError(f"cannot create the data directory {path}: {exc.strerror or exc}") from None
    # A file made and removed at once: what counts is what the file system allows this process
    # (``os.access`` says yes to root on a read-only mount).
    probe = path / f".write-check-{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
        probe.unlink()
    except OSError as exc:
        raise StartupError(f"the data directory {path} is not writable: {exc.strerror or exc}") from None
