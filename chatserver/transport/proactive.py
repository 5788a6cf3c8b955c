"""Proactive messages on the visitor namespace (rules in domain/proactive.py; documented in
docs/protocol.md): which rules apply to the shopper's page, whether one may show now, that the
shopper answered it, and the conversation their answer started."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from .. import constants as C
from ..domain.proactive import LOCALE, ProactiveService
from . import schemas as S
from .dispatch import Handler
from .registry import Connection


class ProactiveRulesGet(S.Payload, kw_only=True):
    page_url: S.Url | None = None
    locale: Annotated[str, msgspec.Meta(max_length=35, pattern=LOCALE)] | None = None


class ProactiveRuleRef(S.Payload, kw_only=True):
    rule_id: S.Id


class ProactiveChat(S.Payload, kw_only=True):
    rule_id: S.Id
    conversation_id: S.Id


class ProactiveEvents:
    def __init__(self, proactive: ProactiveService) -> None:
        self.proactive = proactive

    def handlers(self) -> dict[str, Handler]:
        return {
            C.EV_PROACTIVE_RULES: self._on_rules,
            C.EV_PROACTIVE_SHOWN: self._on_shown,
            C.EV_PROACTIVE_ANSWERED: self._on_answered,
            C.EV_PROACTIVE_CHAT: self._on_chat,
        }

    async def _on_rules(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(ProactiveRulesGet, data)
        offered = await self.proactive.offered(connection.actor.id, payload.page_url, payload.locale)
        return {"rules": [{"id": o.id, "seconds": o.seconds, "text": o.text, "min_cart_value": o.min_cart_value,
                           "checkout_step": o.checkout_step} for o in offered]}

    async def _on_shown(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(ProactiveRuleRef, data)
        return {"show": await self.proactive.do_show(connection.actor.id, payload.rule_id)}

    async def _on_answered(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(ProactiveRuleRef, data)
        await self.proactive.do_answer(connection.actor.id, payload.rule_id)
        return {}

    async def _on_chat(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(ProactiveChat, data)
        await self.proactive.do_record_chat(connection.actor.id, payload.rule_id, payload.conversation_id)
        return {}
