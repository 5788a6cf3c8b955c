"""Routing-state writes after a commit: an unreachable routing store fails nothing and asks for a
repair; other errors are not swallowed."""

from __future__ import annotations

import pytest

from chatserver.domain.repair import RoutingRepair
from chatserver.errors import Unavailable


async def test_writes_run_in_order_and_need_no_repair() -> None:
    repair, done = RoutingRepair(), []

    async def write(name: str) -> None:
        done.append(name)

    await repair.after_commit(write("release"), write("enqueue"))
    assert (done, repair.needed) == (["release", "enqueue"], False)


async def test_an_unreachable_store_drops_the_writes_left_and_asks_for_a_repair() -> None:
    repair, done = RoutingRepair(), []

    async def unreachable() -> None:
        raise Unavailable("redis is down")

    async def write(name: str) -> None:
        done.append(name)

    await repair.after_commit(write("release"), unreachable(), write("enqueue"))
    assert (done, repair.needed) == (["release"], True)


async def test_without_repair_an_unreachable_store_only_drops_the_writes() -> None:
    repair = RoutingRepair()

    async def unreachable() -> None:
        raise Unavailable("redis is down")

    await repair.after_commit(unreachable(), repair=False)
    assert not repair.needed


async def test_other_errors_are_not_swallowed() -> None:
    repair = RoutingRepair()

    async def broken() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        await repair.after_commit(broken())
    assert not repair.needed
