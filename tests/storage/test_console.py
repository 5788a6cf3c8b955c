"""What the agent console stores, on each database: notes (stored once per client id), wrap-ups,
canned responses, and failed logins counted into locks."""

from __future__ import annotations

import pytest

from chatserver.domain.canned import CannedResponse
from chatserver.domain.lockout import LockoutPolicy
from chatserver.domain.notes import NewNote
from chatserver.errors import Conflict, NotFound

from .backends import AllStores, add_conversation


def _note(body: str, client_note_id: str | None, cid: str = "c1") -> NewNote:
    return NewNote(conversation_id=cid, agent_id="a1", agent_name="Bo", body=body, created_at=2.0,
                   client_note_id=client_note_id)


async def test_a_resent_note_is_stored_once(stores: AllStores) -> None:
    console = stores.console
    await add_conversation(stores, "c1", "v1")
    first, created = await console.add_note(_note("call back", "n1"))
    assert created and first.body == "call back"
    again, created_again = await console.add_note(_note("call back (resent)", "n1"))
    assert not created_again and again == first
    plain, _ = await console.add_note(_note("no client id", None))
    other, _ = await console.add_note(_note("no client id", None))
    assert plain.id != other.id
    with pytest.raises(NotFound):
        await console.add_note(_note("lost", "n2", cid="missing"))
    assert [n.id for n in await console.notes("c1")] == [first.id, plain.id, other.id]
    assert await console.notes("missing") == []


async def test_wrap_ups_and_canned_responses(stores: AllStores) -> None:
    console = stores.console
    await add_conversation(stores, "c1", "v1")
    assert await console.wrap_up("c1") == ([], None)
    await console.set_wrap_up("c1", ["billing", "refund"], "sent a refund")
    assert await console.wrap_up("c1") == (["billing", "refund"], "sent a refund")
    assert await console.wrap_up("missing") is None
    with pytest.raises(NotFound):
        await console.set_wrap_up("missing", [], None)
    hello = CannedResponse(id="k1", shortcut="hello", body="Hi!", created_at=1.0, updated_at=1.0)
    bye = CannedResponse(id="k2", shortcut="bye", body="Bye!", created_at=1.0, updated_at=1.0)
    await console.save_canned_response(hello)
    await console.save_canned_response(bye)
    edited = CannedResponse(id="k1", shortcut="hi", body="Hello!", created_at=9.0, updated_at=2.0)
    await console.save_canned_response(edited)
    assert await console.canned_response("k1") == CannedResponse(id="k1", shortcut="hi", body="Hello!",
                                                                 created_at=1.0, updated_at=2.0)
    with pytest.raises(Conflict):
        await console.save_canned_response(CannedResponse(id="k3", shortcut="bye", body="x", created_at=1.0,
                                                          updated_at=1.0))
    assert [c.shortcut for c in await console.canned_responses()] == ["bye", "hi"]
    assert await console.delete_canned_response("k2") and not await console.delete_canned_response("k2")
    assert await console.canned_response("k2") is None


async def test_failed_logins_lock_an_address_then_the_account(stores: AllStores) -> None:
    console = stores.console
    policy = LockoutPolicy(failures=3, lock_seconds=60.0, global_failures=5, global_lock_seconds=30.0)
    email, here, there = "bo@example.com", "192.0.2.1", "192.0.2.2"
    assert [await console.record_login_failure(email, here, 100.0 + n, policy) for n in range(3)] == [0, 0, 162.0]
    assert await console.locked_until(email, here) == 162.0 and await console.locked_until(email, there) == 0
    # The address's lock stands (the account's count goes on: four).
    assert await console.record_login_failure(email, here, 110.0, policy) == 162.0
    # The fifth from anywhere locks the account for every address.
    assert await console.record_login_failure(email, there, 111.0, policy) == 141.0
    assert await console.locked_until(email, "192.0.2.9") == 141.0
    await console.clear_login_failures(email, there)  # a success clears the address's count, not the lock
    assert await console.locked_until(email, there) == 141.0
    assert await console.record_login_failure(email, "192.0.2.4", 120.0, policy) == 141.0
    assert await console.locked_until(email, here) == 162.0


async def test_failure_counts_far_apart_start_again_and_old_rows_are_forgotten(stores: AllStores) -> None:
    console = stores.console
    policy = LockoutPolicy(failures=2, lock_seconds=60.0, global_failures=100, global_lock_seconds=30.0)
    email, here = "bo@example.com", "192.0.2.1"
    assert await console.record_login_failure(email, here, 100.0, policy) == 0
    assert await console.record_login_failure(email, here, 161.0, policy) == 0  # more than 60 s apart
    assert await console.record_login_failure(email, here, 162.0, policy) == 222.0
    # A day later the rows are gone; a failure from another account's address starts afresh.
    assert await console.record_login_failure("cy@example.com", here, 162.0 + 86401.0, policy) == 0
    assert await console.locked_until(email, here) == 0
