"""Customer records on the visitor namespace: ``visitor:identify`` (a shop's signed identity).
Registered in the event dispatcher (dispatch.py) by the composition root (assembly.py), which
also has every started chat and ticket attached to a customer; documented in docs/protocol.md
and docs/customers.md."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import msgspec

from .. import constants as C
from ..domain.customers import CustomerService
from ..domain.identity import MAX_IDENTITY_LENGTH
from . import schemas as S
from .dispatch import Handler
from .registry import Connection

log = logging.getLogger("chatserver.customers")


class VisitorIdentify(S.Payload, kw_only=True):
    identity: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_IDENTITY_LENGTH)]


class CustomerEvents:
    def __init__(self, customers: CustomerService) -> None:
        self.customers = customers

    def handlers(self) -> dict[str, Handler]:
        return {C.EV_VISITOR_IDENTIFY: self._on_identify}

    async def _on_identify(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(VisitorIdentify, data)
        customer = await self.customers.identify_visitor(connection.actor.id, payload.identity)
        log.info("visitor identified visitor=%s customer=%s", connection.actor.id, customer.id)
        # The visitor learns only that it worked: notes and tags on the record are for staff.
        return {"identified": True}
