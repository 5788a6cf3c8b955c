"""Routing-state writes that follow a database commit, and the flag that asks for a repair.

The database holds the truth; the routing state (the queue, what each agent holds) follows it.
When the routing store cannot be reached right after a commit, the change stands and the flag
is raised: the heartbeat then repairs the routing state from the database once it answers
(``Restorer.restore(repair=True)``)."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

from ..errors import Unavailable

log = logging.getLogger("chatserver.conversations")


class RoutingRepair:
    """Whether the routing state must be repaired from the database."""

    def __init__(self) -> None:
        self.needed = False

    async def after_commit(self, *writes: Coroutine[Any, Any, Any], repair: bool = True) -> None:
        """Run routing-state writes that follow a committed change, in order. A routing store that
        cannot be reached fails nothing: the writes left are dropped, and (with ``repair``) the
        routing state is repaired from the database once it answers."""
        pending = list(writes)
        try:
            while pending:
                await pending.pop(0)
        except Unavailable:
            for left in pending:
                left.close()
            if repair:
                self.needed = True
            log.warning("routing store unreachable after a commit; repairing it when it is back repair=%s", repair)
