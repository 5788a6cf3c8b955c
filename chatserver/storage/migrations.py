"""Numbered schema migrations, shipped as ``NNNN_name.sql`` files in each database backend's
``migrations`` package, and what a database lacks of them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from importlib import resources

from ..errors import StartupError


def shipped(package: str) -> list[tuple[int, str]]:
    """The migrations in ``package``, as ``(version, sql)`` in order."""
    found = []
    for entry in resources.files(package).iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text()))
    return sorted(found)


def pending_versions(what: str, applied: Collection[int], versions: Sequence[int]) -> list[int]:
    """The ``versions`` shipped that ``what`` (a database, for the message) has not ``applied``,
    oldest first. ``StartupError`` when it has one newer than the newest shipped: a newer version
    of chatserver migrated it, and this one would not know its tables."""
    newest, theirs = max(versions, default=0), max(applied, default=0)
    if theirs > newest:
        raise StartupError(f"{what} has schema version {theirs}, newer than this chatserver knows ({newest}): "
                           "run the version that migrated it (or a newer one), or restore a backup taken before")
    return [version for version in versions if version not in applied]
