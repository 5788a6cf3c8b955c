"""The stores of each database in turn (``backends.py``) for the tests of tests/storage/ that
ask for ``stores`` (tests/storage/sqlite/ has its own: SQLite's own stores)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .backends import DATABASES, SharedStores, open_shared


@pytest.fixture(params=DATABASES)
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SharedStores]:
    async with open_shared(request.param, tmp_path, request) as opened:
        yield opened
