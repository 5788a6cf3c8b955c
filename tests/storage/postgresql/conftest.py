"""Two hosts' stores over one PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ..backends import AllStores, two_hosts


@pytest.fixture
async def hosts(postgres_url: str) -> AsyncIterator[tuple[AllStores, AllStores]]:
    async with two_hosts(postgres_url) as both:
        yield both
