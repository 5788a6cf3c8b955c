"""Proactive messages on each database (storage/{sqlite,postgresql}/proactive.py) and the service
over them (domain/proactive.py): rules kept in order, names unique, events counted once per
visitor, the conversation a rule led to recorded, the report's counts, a deleted rule's counts
gone while its conversations keep its id."""

from __future__ import annotations

import itertools

import pytest

from chatserver.domain.clock import ManualClock
from chatserver.domain.customers import CustomerService
from chatserver.domain.hours import parse_opening_hours
from chatserver.domain.models import PreChat
from chatserver.domain.proactive import ProactiveEvent, ProactiveService, RuleCounts, RuleDraft
from chatserver.errors import Conflict, NotFound

from .backends import AllStores, add_conversation
from .test_customers import _agent, _assign_and_close, _chat


def _service(stores: AllStores, clock: ManualClock, *, hours: str = "", agents: list[bool] | None = None
             ) -> ProactiveService:
    available = agents if agents is not None else [True]
    ids = (f"rule-{n}" for n in itertools.count(1))

    async def agents_available() -> bool:
        return available[0]

    return ProactiveService(store=stores.proactive, conversations=stores.conversations, now=clock.now,
                            new_id=lambda: next(ids), hours=parse_opening_hours(hours),
                            agents_available=agents_available)


def _draft(name: str, **changes: object) -> RuleDraft:
    return RuleDraft(**{"name": name, "url_pattern": "*/payment*", "seconds": 20, "text": "Need a hand?",
                        **changes})  # type: ignore[arg-type]


async def test_rules_are_kept_in_order_and_changed_in_place(stores: AllStores) -> None:
    clock = ManualClock(1_000.0)
    service = _service(stores, clock)
    second = await service.do_add_rule(_draft("Cart", position=2, url_pattern="*/cart*", min_cart_value=50.0,
                                              checkout_step="cart", business_hours_only=True,
                                              agent_available_only=True, texts={"de": "Hilfe?", "fr": "Aide ?"}))
    first = await service.do_add_rule(_draft("Payment", position=1))
    assert [r.id for r in await service.rules()] == [first.id, second.id]
    assert await stores.proactive.proactive_rule(second.id) == second
    clock.advance(5)
    changed = await service.do_update_rule(second.id, _draft("Cart", position=0, enabled=False, texts={}))
    assert changed.created_at == 1_000.0 and changed.updated_at == 1_005.0
    assert await stores.proactive.proactive_rule(second.id) == changed
    assert [r.id for r in await service.rules()] == [second.id, first.id]

    with pytest.raises(Conflict):  # names are unique: the report tells rules apart by them
        await service.do_add_rule(_draft("Payment"))
    with pytest.raises(NotFound):
        await service.do_update_rule("nope", _draft("Other"))
    assert len(await service.rules()) == 2


async def test_the_widget_is_offered_the_rules_whose_page_and_conditions_hold(stores: AllStores) -> None:
    clock = ManualClock(1_800_000_000.0)  # a Friday, 08:00 UTC
    agents = [True]
    service = _service(stores, clock, hours="mon-fri 09:00-17:00", agents=agents)
    hours_only = await service.do_add_rule(_draft("Hours", business_hours_only=True, position=1,
                                                  texts={"de": "Hallo"}))
    agents_only = await service.do_add_rule(_draft("Agents", agent_available_only=True, position=2,
                                                   min_cart_value=40.0, checkout_step="payment"))
    await service.do_add_rule(_draft("Off", enabled=False, position=3))
    await service.do_add_rule(_draft("Elsewhere", url_pattern="*/shipping*", position=4))
    page = "https://shop.example/demo/payment.html"

    offered = await service.offered("v1", page, "de-DE")
    assert [o.id for o in offered] == [agents_only.id]  # closed: the hours-only rule waits
    assert (offered[0].min_cart_value, offered[0].checkout_step, offered[0].seconds) == (40.0, "payment", 20)
    clock.advance(3600)
    offered = await service.offered("v1", page, "de-DE")
    assert [(o.id, o.text) for o in offered] == [(hours_only.id, "Hallo"), (agents_only.id, "Need a hand?")]
    agents[0] = False
    assert [o.id for o in await service.offered("v1", page, None)] == [hours_only.id]
    assert await service.offered("v1", "https://shop.example/", None) == []


async def test_events_are_counted_once_per_visitor_and_reported(stores: AllStores) -> None:
    clock = ManualClock(1_000.0)
    agents = [True]
    service = _service(stores, clock, agents=agents)
    rule = await service.do_add_rule(_draft("Payment", agent_available_only=True))
    other = await service.do_add_rule(_draft("Other", position=5))

    with pytest.raises(Conflict):  # not shown: nothing to answer
        await service.do_answer("v1", rule.id)
    assert await service.do_show("v1", rule.id) is True
    assert await service.do_show("v1", rule.id) is True  # shown again (a reload): counted once
    assert await service.do_show("v2", rule.id) is True
    await add_conversation(stores, "c1", "v1")
    await add_conversation(stores, "c2", "v2")
    with pytest.raises(Conflict):  # answered nothing yet: no chat to record
        await service.do_record_chat("v1", rule.id, "c1")
    await service.do_answer("v1", rule.id)
    await service.do_answer("v1", rule.id)
    await service.do_record_chat("v1", rule.id, "c1")
    await service.do_record_chat("v1", rule.id, "c1")  # resent: recorded once
    assert await stores.proactive.proactive_rule_of("c1") == rule.id
    assert await stores.proactive.proactive_rule_of("c2") is None
    agents[0] = False
    assert await service.do_show("v3", rule.id) is False  # the rule's condition no longer holds: not counted
    with pytest.raises(NotFound):
        await service.do_show("v1", "nope")

    assert await service.report() == [
        RuleCounts(rule_id=rule.id, name="Payment", enabled=True, shown=2, answered=1, chats=1),
        RuleCounts(rule_id=other.id, name="Other", enabled=True, shown=0, answered=0, chats=0)]

    await service.do_delete_rule(rule.id)
    with pytest.raises(NotFound):
        await service.do_delete_rule(rule.id)
    assert [c.rule_id for c in await service.report()] == [other.id]
    assert not await stores.proactive.has_proactive_event(rule.id, "v1", ProactiveEvent.SHOWN)
    assert await stores.proactive.proactive_rule_of("c1") == rule.id  # the conversation keeps its rule


async def test_a_chat_is_recorded_for_a_stored_conversation_only(stores: AllStores) -> None:
    clock = ManualClock(1_000.0)
    service = _service(stores, clock)
    rule = await service.do_add_rule(_draft("Payment"))
    await service.do_show("v1", rule.id)
    await service.do_answer("v1", rule.id)
    with pytest.raises(NotFound):
        await service.do_record_chat("v1", rule.id, "no-such-conversation")
    await add_conversation(stores, "c2", "v2")
    with pytest.raises(NotFound):  # another visitor's conversation is as good as none
        await service.do_record_chat("v1", rule.id, "c2")
    await add_conversation(stores, "c1", "v1")
    assert await service.offered("v1", "https://shop.example/payment", None) == []  # in a chat: nothing offered
    assert await service.do_show("v2", rule.id) is False  # in a chat (c2): not shown, not counted
    assert len(await service.offered("v3", "https://shop.example/payment", None)) == 1
    assert await service.do_show("v3", rule.id) is True
    # Shown to v1 before their chat and to v3; no chat recorded.
    assert await service.report() == [RuleCounts(rule_id=rule.id, name="Payment", enabled=True, shown=2,
                                                 answered=1, chats=0)]


async def test_a_deleted_customer_takes_their_conversations_rule_and_their_counts(stores: AllStores) -> None:
    clock = ManualClock(1_800_000_000.0)
    customers = CustomerService(customers=stores.customers, conversations=stores.conversations, clock=clock,
                                new_id=lambda: "cu1", identity_secret="secret", retention_days=30)
    await _agent(stores)
    await _chat(stores, clock, "c1", "v1")
    ann = await customers.attach_chat("v1", PreChat(name="Ann", question="Q"))
    await _assign_and_close(stores, clock, "c1", "a1")
    service = _service(stores, clock)
    rule = await service.do_add_rule(_draft("Payment"))
    await service.do_show("v1", rule.id)
    await service.do_answer("v1", rule.id)
    await service.do_record_chat("v1", rule.id, "c1")
    exported = await customers.export_customer(ann.id)
    assert [r["rule_id"] for r in exported.related["proactive_conversations"]] == [rule.id]
    assert sorted(r["event"] for r in exported.related["proactive_events"]) == ["answered", "shown"]

    # Deleted with the customer: the conversation's rule and what was counted of their visitor.
    await customers.delete_customer(ann.id)
    assert await stores.proactive.proactive_rule_of("c1") is None
    assert await service.report() == [RuleCounts(rule_id=rule.id, name="Payment", enabled=True, shown=0,
                                                 answered=0, chats=0)]
