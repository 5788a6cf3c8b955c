"""Failed logins and notes with several hosts sharing PostgreSQL: every host's wrong passwords
add up to the lock, and a note resent to two hosts at once is stored once."""

from __future__ import annotations

import asyncio

from chatserver.domain.lockout import LockoutPolicy
from chatserver.domain.notes import NewNote

from ..backends import AllStores, add_conversation


async def test_wrong_passwords_on_every_host_add_up(hosts: tuple[AllStores, AllStores]) -> None:
    policy = LockoutPolicy(failures=1000, lock_seconds=60.0, global_failures=20, global_lock_seconds=30.0)
    locks = await asyncio.gather(*(hosts[n % 2].console.record_login_failure("bo@example.com", f"192.0.2.{n}", 100.0,
                                                                             policy) for n in range(20)))
    assert sorted(locks) == [0.0] * 19 + [130.0]  # the twentieth locked it, whichever it was
    assert await hosts[0].console.locked_until("bo@example.com", "198.51.100.1") == 130.0


async def test_a_note_resent_to_two_hosts_at_once_is_stored_once(hosts: tuple[AllStores, AllStores]) -> None:
    await add_conversation(hosts[0], "c1", "v1")
    note = NewNote(conversation_id="c1", agent_id="a1", agent_name="Bo", body="call back", created_at=2.0,
                   client_note_id="n1")
    results = await asyncio.gather(*(hosts[n % 2].console.add_note(note) for n in range(6)))
    assert sorted(created for _, created in results) == [False] * 5 + [True]
    assert len({stored for stored, _ in results}) == 1
    assert len(await hosts[1].console.notes("c1")) == 1
