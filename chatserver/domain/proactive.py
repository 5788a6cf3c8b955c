"""Proactive messages: the shop's first word to a shopper who hesitates (docs/console.md,
"Proactive messages").

Admins keep rules: a page URL pattern (fnmatch, as ``checkout_url_patterns``), a time on the page,
a minimum cart value or a checkout step the page passes, "within business hours only", "only when
an agent is available", and the message, by default and per locale. The widget asks which rules
apply to its page (the server matches the URL and the conditions it knows: hours, agents), waits
for the time on the page and checks the page's cart and step itself, then shows the first match
once per session. What happened is counted per rule and visitor (shown, answered) and the
conversations a rule led to are recorded with it, for the report.
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

import msgspec

from ..errors import Conflict, InvalidPayload, NotFound
from .access import check_access
from .hours import OpeningHours
from .models import PartyKind
from .patterns import SPACE
from .ports import ConversationStore

MAX_NAME_CHARS = 100
MAX_PATTERN_CHARS = 500
MAX_TEXT_CHARS = 1000
MAX_SECONDS = 3600
MAX_CART_VALUE = 1e9
MAX_POSITION = 10_000
MAX_LOCALES = 30
# A BCP 47 language tag as browsers give them (navigator.language): "de", "pt-BR", "zh-Hant-TW".
LOCALE = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$(?!\n)"
LOCALE_RE = re.compile(LOCALE)
# A checkout step as the page names it (data-checkout-step): "cart", "shipping", "payment".
STEP = r"^[a-z0-9][a-z0-9_-]{0,31}$(?!\n)"
STEP_RE = re.compile(STEP)
# A URL pattern: printable, no whitespace (fnmatch: * ? [seq]).
URL_PATTERN = rf"^[^{SPACE}\x00-\x1f\x7f]+$(?!\n)"
URL_PATTERN_RE = re.compile(URL_PATTERN)


class ProactiveEvent(enum.StrEnum):
    """What is counted once per rule and visitor."""

    SHOWN = "shown"
    ANSWERED = "answered"


class RuleDraft(msgspec.Struct, frozen=True, kw_only=True):
    """A rule as an admin writes it, before ``check_rule``."""

    name: str
    url_pattern: str = "*"
    seconds: int = 0
    min_cart_value: float | None = None
    checkout_step: str | None = None
    business_hours_only: bool = False
    agent_available_only: bool = False
    text: str
    texts: Mapping[str, str] = msgspec.field(default_factory=dict)
    enabled: bool = True
    position: int = 0


class ProactiveRule(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    url_pattern: str
    seconds: int
    min_cart_value: float | None
    checkout_step: str | None
    business_hours_only: bool
    agent_available_only: bool
    text: str
    # Per locale (lower-cased tag): the text a shopper whose language it is reads.
    texts: dict[str, str]
    enabled: bool
    position: int
    created_at: float
    updated_at: float

    def text_for(self, locale: str | None) -> str:
        """The text in ``locale`` ("de-AT"), else in its language ("de"), else the default."""
        if locale:
            tag = locale.lower()
            for candidate in (tag, tag.split("-")[0]):
                if candidate in self.texts:
                    return self.texts[candidate]
        return self.text

    def matches_url(self, page_url: str | None) -> bool:
        """Whether the page's URL matches the pattern (``*`` matches any page, even an unknown one)."""
        if self.url_pattern == "*":
            return True
        return page_url is not None and fnmatch.fnmatchcase(page_url, self.url_pattern)


class OfferedRule(msgspec.Struct, frozen=True, kw_only=True):
    """What the widget is told of a rule that applies to its page: when to show which text; the
    conditions only the page knows (cart value, checkout step) it checks itself."""

    id: str
    seconds: int
    text: str
    min_cart_value: float | None
    checkout_step: str | None


class RuleCounts(msgspec.Struct, frozen=True, kw_only=True):
    """A rule's report line: visitors shown its message, who answered, conversations it led to."""

    rule_id: str
    name: str
    enabled: bool
    shown: int
    answered: int
    chats: int


class ProactiveStore(Protocol):
    async def proactive_rules(self) -> list[ProactiveRule]:
        """Every rule, by position then name."""
        ...

    async def proactive_rule(self, rule_id: str) -> ProactiveRule | None: ...

    async def save_proactive_rule(self, rule: ProactiveRule) -> None:
        """Insert or replace by id; raises ``Conflict`` when another rule has the name."""
        ...

    async def delete_proactive_rule(self, rule_id: str) -> bool:
        """Delete the rule and its counts (the conversations it led to keep its id)."""
        ...

    async def record_proactive_event(self, rule_id: str, visitor_id: str, event: ProactiveEvent, at: float) -> bool:
        """Count ``event`` of the visitor once: false when it was counted already."""
        ...

    async def has_proactive_event(self, rule_id: str, visitor_id: str, event: ProactiveEvent) -> bool: ...

    async def record_proactive_chat(self, conversation_id: str, rule_id: str, at: float) -> bool:
        """Record that the rule led to the conversation: false when one was recorded for it already."""
        ...

    async def proactive_rule_of(self, conversation_id: str) -> str | None:
        """The id of the rule that led to the conversation, if any."""
        ...

    async def proactive_counts(self) -> dict[str, tuple[int, int, int]]:
        """``(shown, answered, chats)`` per rule id, for the rules with any."""
        ...


def check_rule(draft: RuleDraft) -> RuleDraft:
    """The draft trimmed, locale tags lower-cased; ``InvalidPayload`` naming the first field that
    is wrong (``details.field``)."""
    name = draft.name.strip()
    _require(0 < len(name) <= MAX_NAME_CHARS, "name", f"name must be 1-{MAX_NAME_CHARS} characters")
    pattern = draft.url_pattern.strip()
    _require(0 < len(pattern) <= MAX_PATTERN_CHARS and URL_PATTERN_RE.fullmatch(pattern) is not None,
             "url_pattern", f"url_pattern must be 1-{MAX_PATTERN_CHARS} characters without spaces (fnmatch: * ? [])")
    _require(0 <= draft.seconds <= MAX_SECONDS, "seconds", f"seconds must be 0-{MAX_SECONDS}")
    _require(draft.min_cart_value is None or 0 <= draft.min_cart_value <= MAX_CART_VALUE, "min_cart_value",
             "min_cart_value must be 0 or more")
    step = draft.checkout_step.strip() if draft.checkout_step is not None else None
    _require(step is None or STEP_RE.fullmatch(step) is not None, "checkout_step",
             "checkout_step must be 1-32 of a-z 0-9 _ - (as the page's data-checkout-step)")
    text = _text(draft.text, "text")
    _require(len(draft.texts) <= MAX_LOCALES, "texts", f"texts has at most {MAX_LOCALES} locales")
    texts: dict[str, str] = {}
    for locale, value in draft.texts.items():
        _require(LOCALE_RE.fullmatch(locale) is not None, "texts",
                 f"texts: {locale!r} is not a locale like de or pt-BR")
        _require(locale.lower() not in texts, "texts", f"texts: {locale!r} is given twice")
        texts[locale.lower()] = _text(value, "texts")
    _require(0 <= draft.position <= MAX_POSITION, "position", f"position must be 0-{MAX_POSITION}")
    return RuleDraft(name=name, url_pattern=pattern, seconds=draft.seconds, min_cart_value=draft.min_cart_value,
                     checkout_step=step or None, business_hours_only=draft.business_hours_only,
                     agent_available_only=draft.agent_available_only, text=text, texts=texts,
                     enabled=draft.enabled, position=draft.position)


def _text(value: str, field: str) -> str:
    text = value.strip()
    _require(0 < len(text) <= MAX_TEXT_CHARS, field, f"{field}: a message is 1-{MAX_TEXT_CHARS} characters")
    return text


def _require(ok: bool, field: str, message: str) -> None:
    if not ok:
        raise InvalidPayload(message, details={"field": field})


class ProactiveService:
    """The rules, what the widget is offered, and what is counted."""

    def __init__(self, *, store: ProactiveStore, conversations: ConversationStore, now: Callable[[], float],
                 new_id: Callable[[], str], hours: OpeningHours,
                 agents_available: Callable[[], Awaitable[bool]]) -> None:
        self.store = store
        self.conversations = conversations
        self.now = now
        self.new_id = new_id
        self.hours = hours
        self.agents_available = agents_available

    async def rules(self) -> list[ProactiveRule]:
        """Every rule, in the order they are tried."""
        return await self.store.proactive_rules()

    async def do_add_rule(self, draft: RuleDraft) -> ProactiveRule:
        checked = check_rule(draft)
        now = self.now()
        rule = _rule(self.new_id(), checked, created_at=now, updated_at=now)
        await self.store.save_proactive_rule(rule)
        return rule

    async def do_update_rule(self, rule_id: str, draft: RuleDraft) -> ProactiveRule:
        checked = check_rule(draft)
        current = await self.store.proactive_rule(rule_id)
        if current is None:
            raise NotFound("no such proactive rule")
        rule = _rule(rule_id, checked, created_at=current.created_at, updated_at=self.now())
        await self.store.save_proactive_rule(rule)
        return rule

    async def do_delete_rule(self, rule_id: str) -> None:
        if not await self.store.delete_proactive_rule(rule_id):
            raise NotFound("no such proactive rule")

    async def _conditions_hold(self, rule: ProactiveRule) -> bool:
        """Whether the rule's server-side conditions hold now: enabled, business hours, agents."""
        if not rule.enabled:
            return False
        if rule.business_hours_only and not self.hours.is_open(self.now()):
            return False
        return not (rule.agent_available_only and not await self.agents_available())

    async def offered(self, visitor_id: str, page_url: str | None, locale: str | None) -> list[OfferedRule]:
        """The rules that may fire on the page now, in order, with their text in ``locale``; none
        for a visitor who is in a chat already."""
        if await self.conversations.active_conversation_for_visitor(visitor_id) is not None:
            return []
        offered = []
        for rule in await self.store.proactive_rules():
            if rule.matches_url(page_url) and await self._conditions_hold(rule):
                offered.append(OfferedRule(id=rule.id, seconds=rule.seconds, text=rule.text_for(locale),
                                           min_cart_value=rule.min_cart_value, checkout_step=rule.checkout_step))
        return offered

    async def do_show(self, visitor_id: str, rule_id: str) -> bool:
        """Whether the widget may show the rule's message now (its conditions are checked again:
        the hours may have ended, the last agent left; a visitor in a chat gets none); counted
        once per visitor when it may."""
        rule = await self.store.proactive_rule(rule_id)
        if rule is None:
            raise NotFound("no such proactive rule")
        if not await self._conditions_hold(rule):
            return False
        if await self.conversations.active_conversation_for_visitor(visitor_id) is not None:
            return False
        await self.store.record_proactive_event(rule_id, visitor_id, ProactiveEvent.SHOWN, self.now())
        return True

    async def do_answer(self, visitor_id: str, rule_id: str) -> None:
        """The shopper answered the message they were shown (counted once per visitor)."""
        if not await self.store.has_proactive_event(rule_id, visitor_id, ProactiveEvent.SHOWN):
            raise Conflict("this message was not shown to this visitor")
        await self.store.record_proactive_event(rule_id, visitor_id, ProactiveEvent.ANSWERED, self.now())

    async def do_record_chat(self, visitor_id: str, rule_id: str, conversation_id: str) -> None:
        """The shopper's answer started the conversation (their own: another's is ``NotFound``)."""
        check_access(await self.conversations.get_conversation(conversation_id), PartyKind.VISITOR, visitor_id)
        if not await self.store.has_proactive_event(rule_id, visitor_id, ProactiveEvent.ANSWERED):
            raise Conflict("this message was not answered by this visitor")
        if not await self.store.record_proactive_chat(conversation_id, rule_id, self.now()):
            current = await self.store.proactive_rule_of(conversation_id)
            if current != rule_id:
                raise Conflict("another proactive message started this conversation")

    async def origin(self, conversation_id: str) -> tuple[str, ProactiveRule | None] | None:
        """The id of the rule that started the conversation and the rule (``None`` once deleted)."""
        rule_id = await self.store.proactive_rule_of(conversation_id)
        return None if rule_id is None else (rule_id, await self.store.proactive_rule(rule_id))

    async def report(self) -> list[RuleCounts]:
        """Every rule's counts, in the rules' order."""
        counts = await self.store.proactive_counts()
        report = []
        for rule in await self.store.proactive_rules():
            shown, answered, chats = counts.get(rule.id, (0, 0, 0))
            report.append(RuleCounts(rule_id=rule.id, name=rule.name, enabled=rule.enabled, shown=shown,
                                     answered=answered, chats=chats))
        return report


def _rule(rule_id: str, draft: RuleDraft, *, created_at: float, updated_at: float) -> ProactiveRule:
    return ProactiveRule(id=rule_id, name=draft.name, url_pattern=draft.url_pattern, seconds=draft.seconds,
                         min_cart_value=draft.min_cart_value, checkout_step=draft.checkout_step,
                         business_hours_only=draft.business_hours_only,
                         agent_available_only=draft.agent_available_only, text=draft.text, texts=dict(draft.texts),
                         enabled=draft.enabled, position=draft.position, created_at=created_at,
                         updated_at=updated_at)
