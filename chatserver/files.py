"""Files the server keeps (the database, the secret key, the first admin's credentials) are
readable by the server's own user only, whatever the process's umask: directories it creates
are 0700 and files 0600."""

from __future__ import annotations

import os
from pathlib import Path

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
