"""REST routes of proactive messages (domain/proactive.py): the rules admins keep in the console's
admin page, and the report of what each rule did. The widget's side is Socket.IO
(transport/proactive.py). Documented in ``openapi.py``."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from ..domain import proactive as P
from ..domain.patterns import NOT_BLANK, checked
from ..errors import NotFound
from ..wire.shapes import ProactiveReport, ProactiveRuleAnswer, ProactiveRules
from ..wire.views import proactive_counts_view, proactive_rule_view
from .common import json_body, require_admin
from .route import Route, empty_answer, json_answer
from .services import services

_Text = Annotated[str, msgspec.Meta(min_length=1, max_length=P.MAX_TEXT_CHARS + 100,
                                    extra_json_schema=checked(pattern=NOT_BLANK, maxLength=P.MAX_TEXT_CHARS),
                                    description=f"1-{P.MAX_TEXT_CHARS} characters once trimmed")]
_Locale = Annotated[str, msgspec.Meta(min_length=2, max_length=35, pattern=P.LOCALE)]


class RuleBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # The domain (check_rule) trims and checks the patterns; a wrong field is named in details.field.
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=P.MAX_NAME_CHARS + 100, extra_json_schema=checked(
        pattern=NOT_BLANK, maxLength=P.MAX_NAME_CHARS), description="unique; shown in the report")]
    url_pattern: Annotated[str, msgspec.Meta(
        min_length=1, max_length=P.MAX_PATTERN_CHARS + 100,
        extra_json_schema=checked(pattern=P.URL_PATTERN, maxLength=P.MAX_PATTERN_CHARS),
        description="fnmatch pattern of the page URL, as checkout_url_patterns (* ? [seq]); * for any page")] = "*"
    seconds: Annotated[int, msgspec.Meta(ge=0, le=P.MAX_SECONDS, description="time on the page")] = 0
    min_cart_value: Annotated[float, msgspec.Meta(ge=0, le=P.MAX_CART_VALUE)] | None = None
    checkout_step: Annotated[str, msgspec.Meta(min_length=1, max_length=64, extra_json_schema=checked(
        pattern=P.STEP), description="as the page's data-checkout-step: cart, shipping, payment")] | None = None
    business_hours_only: bool = False
    agent_available_only: bool = False
    text: _Text
    texts: Annotated[dict[_Locale, _Text], msgspec.Meta(
        max_length=P.MAX_LOCALES, description="the message per locale (de, pt-BR), besides the default")] = {}
    enabled: bool = True
    position: Annotated[int, msgspec.Meta(ge=0, le=P.MAX_POSITION)] = 0

    def draft(self) -> P.RuleDraft:
        return P.RuleDraft(name=self.name, url_pattern=self.url_pattern, seconds=self.seconds,
                           min_cart_value=self.min_cart_value, checkout_step=self.checkout_step,
                           business_hours_only=self.business_hours_only,
                           agent_available_only=self.agent_available_only, text=self.text, texts=self.texts,
                           enabled=self.enabled, position=self.position)


def _rule_id(request: web.Request) -> str:
    rule_id = request.match_info["rule_id"]
    if not 1 <= len(rule_id) <= 64:
        raise NotFound("no such proactive rule")
    return rule_id


async def list_rules(request: web.Request) -> web.Response:
    await require_admin(request)
    rules = await services(request).proactive.rules()
    return web.json_response({"rules": [proactive_rule_view(r) for r in rules]})


async def add_rule(request: web.Request) -> web.Response:
    await require_admin(request)
    body = await json_body(request, RuleBody)
    rule = await services(request).proactive.do_add_rule(body.draft())
    return web.json_response({"rule": proactive_rule_view(rule)}, status=201)


async def update_rule(request: web.Request) -> web.Response:
    await require_admin(request)
    rule_id = _rule_id(request)
    body = await json_body(request, RuleBody)
    rule = await services(request).proactive.do_update_rule(rule_id, body.draft())
    return web.json_response({"rule": proactive_rule_view(rule)})


async def delete_rule(request: web.Request) -> web.Response:
    await require_admin(request)
    await services(request).proactive.do_delete_rule(_rule_id(request))
    return web.Response(status=204)


async def report(request: web.Request) -> web.Response:
    await require_admin(request)
    counts = await services(request).proactive.report()
    return web.json_response({"rules": [proactive_counts_view(c) for c in counts]})


_ONE = json_answer(ProactiveRuleAnswer, "Proactive rule")
PROACTIVE_ROUTES = [
    Route("GET", "/api/proactive-rules", list_rules, operation_id="listProactiveRules",
          summary="Proactive-message rules (admins)", answers=(json_answer(ProactiveRules, "By position"),),
          errors=(401, 403)),
    Route("POST", "/api/proactive-rules", add_rule, operation_id="addProactiveRule",
          summary="Add a proactive-message rule (admins)", body=RuleBody,
          answers=(json_answer(ProactiveRuleAnswer, "Proactive rule", 201),), errors=(400, 401, 403, 409)),
    Route("PUT", "/api/proactive-rules/{rule_id}", update_rule, operation_id="updateProactiveRule",
          summary="Change a proactive-message rule (admins)", body=RuleBody, answers=(_ONE,),
          errors=(400, 401, 403, 404, 409)),
    Route("DELETE", "/api/proactive-rules/{rule_id}", delete_rule, operation_id="deleteProactiveRule",
          summary="Delete a proactive-message rule and its counts (admins)", answers=(empty_answer("Deleted"),),
          errors=(401, 403, 404)),
    Route("GET", "/api/reports/proactive", report, operation_id="proactiveReport",
          summary="Per proactive rule: visitors shown its message, who answered, conversations it started (admins)",
          answers=(json_answer(ProactiveReport, "Report"),), errors=(401, 403)),
]
