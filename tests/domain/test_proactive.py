"""Proactive rules' checks and choices that need no store (domain/proactive.py): what an admin
may write, the text a shopper's locale gets, which pages a pattern matches."""

from __future__ import annotations

from typing import Any

import pytest

from chatserver.domain.proactive import ProactiveRule, RuleDraft, check_rule
from chatserver.errors import InvalidPayload


def _draft(**changes: Any) -> RuleDraft:
    fields: dict[str, Any] = {"name": "Payment help", "url_pattern": "*/payment*", "seconds": 20,
                              "text": "Need a hand with the payment?"}
    return RuleDraft(**{**fields, **changes})


def test_a_rule_is_trimmed_and_its_locales_lower_cased() -> None:
    checked = check_rule(_draft(name="  Payment help ", checkout_step=" payment ",
                                texts={"DE": " Brauchen Sie Hilfe? ", "pt-BR": "Precisa de ajuda?"}))
    assert checked.name == "Payment help"
    assert checked.checkout_step == "payment"
    assert dict(checked.texts) == {"de": "Brauchen Sie Hilfe?", "pt-br": "Precisa de ajuda?"}


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": "   "}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"url_pattern": ""}, "url_pattern"),
    ({"url_pattern": "*/pay ment*"}, "url_pattern"),
    ({"url_pattern": "*/pay\x00*"}, "url_pattern"),
    ({"seconds": -1}, "seconds"),
    ({"seconds": 3601}, "seconds"),
    ({"min_cart_value": -0.01}, "min_cart_value"),
    ({"checkout_step": "Payment!"}, "checkout_step"),
    ({"text": " \n "}, "text"),
    ({"text": "x" * 1001}, "text"),
    ({"texts": {"german": "Hallo"}}, "texts"),
    ({"texts": {"de": ""}}, "texts"),
    ({"texts": {"de": "Hallo", "DE": "Hallo"}}, "texts"),
    ({"texts": {f"l{chr(97 + i // 26)}{chr(97 + i % 26)}": "x" for i in range(31)}}, "texts"),
    ({"position": -1}, "position"),
])
def test_a_wrong_field_is_refused_by_name(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPayload) as refused:
        check_rule(_draft(**changes))
    assert refused.value.details == {"field": field}


def _rule(**changes: Any) -> ProactiveRule:
    checked = check_rule(_draft(**changes))
    return ProactiveRule(id="r1", name=checked.name, url_pattern=checked.url_pattern, seconds=checked.seconds,
                         min_cart_value=None, checkout_step=None, business_hours_only=False,
                         agent_available_only=False, text=checked.text, texts=dict(checked.texts), enabled=True,
                         position=0, created_at=1.0, updated_at=1.0)


def test_the_shopper_reads_their_locale_else_their_language_else_the_default() -> None:
    rule = _rule(texts={"de": "Hallo", "pt-br": "Olá"})
    assert rule.text_for("de-AT") == "Hallo"
    assert rule.text_for("DE") == "Hallo"
    assert rule.text_for("pt-BR") == "Olá"
    assert rule.text_for("pt-PT") == "Need a hand with the payment?"
    assert rule.text_for(None) == "Need a hand with the payment?"


def test_a_pattern_matches_the_pages_of_the_shop_as_checkout_url_patterns_do() -> None:
    rule = _rule(url_pattern="*/demo/payment*")
    assert rule.matches_url("http://127.0.0.1:8080/demo/payment.html")
    assert not rule.matches_url("http://127.0.0.1:8080/demo/shipping.html")
    assert not rule.matches_url(None)
    assert _rule(url_pattern="*").matches_url(None)
