"""Numbered schema migrations, shipped as ``NNNN_name.sql`` files in each database backend's
``migrations`` package."""

from __future__ import annotations

from importlib import resources


def shipped(package: str) -> list[tuple[int, str]]:
    """The migrations in ``package``, as ``(version, sql)`` in order."""
    found = []
    for entry in resources.files(package).iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text()))
    return sorted(found)
