"""The routing-state contract every backend must keep: FIFO by rank, atomic claims, capacity."""

from __future__ import annotations

import asyncio

from chatserver.domain.models import AgentStatus, Candidate, ClaimOutcome, QueueEntry, RecentAssignment
from chatserver.domain.ports import Presence, RoutingState
from chatserver.domain.queue import RECENT_ASSIGNMENTS
from chatserver.storage.redis_backend import RedisRoutingState

ANY: frozenset[str] = frozenset()


def _entry(n: int, rank: float | None = None, department: str | None = None, enqueued_at: float = 100.0) -> QueueEntry:
    return QueueEntry(conversation_id=f"c{n}", visitor_id=f"v{n}", rank=float(n) if rank is None else rank,
                      department=department, enqueued_at=enqueued_at)


async def _take_next(routing: RoutingState, agent_id: str, capacity: int, departments: frozenset[str],
                     open_before: float) -> QueueEntry | None:
    """One agent's turn: ``assign_next`` with that agent as the only candidate."""
    claimed = await routing.assign_next([Candidate(agent_id, capacity, departments)], open_before)
    if claimed is None:
        return None
    assert claimed[0] == agent_id
    return claimed[1]


async def test_queue_is_ordered_by_rank_with_positions(routing: RoutingState) -> None:
    for n in (3, 1, 2):
        await routing.enqueue(_entry(n))
    assert [e.conversation_id for e in await routing.waiting(10)] == ["c1", "c2", "c3"]
    assert [await routing.position(f"c{n}") for n in (1, 2, 3)] == [1, 2, 3]
    assert await routing.position("missing") is None
    assert await routing.waiting_count() == 3
    assert await routing.head_rank() == 1.0
    await routing.enqueue(_entry(0, rank=0.5))  # a requeued chat goes to the head
    assert await routing.position("c0") == 1 and await routing.position("c3") == 4
    assert await routing.remove("c2") and not await routing.remove("c2")
    assert [e.conversation_id for e in await routing.waiting(2)] == ["c0", "c1"]


async def test_enqueue_is_idempotent(routing: RoutingState) -> None:
    await routing.enqueue(_entry(1))
    await routing.enqueue(_entry(1))
    assert await routing.waiting_count() == 1


async def test_claims_respect_capacity_and_take_each_chat_once(routing: RoutingState) -> None:
    for n in range(1, 5):
        await routing.enqueue(_entry(n))
    assert await routing.claim("c2", "a", capacity=2) == ClaimOutcome.CLAIMED
    assert await routing.claim("c2", "b", capacity=2) == ClaimOutcome.NOT_WAITING
    head = await _take_next(routing, "a", 2, ANY, 0.0)
    assert head == _entry(1)
    assert await _take_next(routing, "a", 2, ANY, 0.0) is None
    assert await routing.claim("c3", "a", capacity=2) == ClaimOutcome.AT_CAPACITY
    assert await routing.load("a") == 2 and await routing.position("c3") == 1
    await routing.release("a", "c1")
    assert await routing.load("a") == 1
    assert await routing.claim("c3", "a", capacity=2) == ClaimOutcome.CLAIMED


async def test_concurrent_claims_never_assign_twice_or_exceed_capacity(routing: RoutingState) -> None:
    for n in range(60):
        await routing.enqueue(_entry(n))
    agents = [f"agent{i}" for i in range(10)]

    async def grab(agent_id: str) -> list[str]:
        got = []
        for n in range(60):
            if await routing.claim(f"c{n}", agent_id, capacity=3) == ClaimOutcome.CLAIMED:
                got.append(f"c{n}")
        return got

    results = await asyncio.gather(*(grab(a) for a in agents))
    claimed = [c for got in results for c in got]
    assert len(claimed) == len(set(claimed)) == 30
    assert all(len(got) == 3 for got in results)
    assert [await routing.load(a) for a in agents] == [3] * 10


async def test_the_least_loaded_candidate_takes_the_head(routing: RoutingState) -> None:
    for n in range(1, 5):
        await routing.enqueue(_entry(n))
    assert await routing.claim("c4", "a", 3) == ClaimOutcome.CLAIMED
    candidates = [Candidate("a", 3), Candidate("b", 3), Candidate("c", 3)]
    # a holds one chat: b and c hold none, and b comes first among equals.
    assert await routing.assign_next(candidates, 0.0) == ("b", _entry(1))
    assert await routing.assign_next(candidates, 0.0) == ("c", _entry(2))
    assert await routing.assign_next(candidates, 0.0) == ("a", _entry(3))
    assert await routing.assign_next(candidates, 0.0) is None  # nothing waits
    await routing.enqueue(_entry(5))
    # Full agents are skipped; nobody with room means nothing is taken.
    assert await routing.assign_next([Candidate("a", 2), Candidate("d", 0)], 0.0) is None
    assert await routing.position("c5") == 1
    assert await routing.assign_next([], 0.0) is None


async def test_a_candidate_who_may_not_take_the_head_leaves_it_to_one_who_may(routing: RoutingState) -> None:
    await routing.enqueue(_entry(1, department="billing", enqueued_at=100.0))
    await routing.enqueue(_entry(2, department="sales", enqueued_at=200.0))
    sales, billing = Candidate("s", 3, frozenset({"sales"})), Candidate("b", 3, frozenset({"billing"}))
    # The sales agent comes first but may not take billing's head: they take sales' chat, and
    # the billing agent, though listed later, takes billing's.
    assert await routing.assign_next([sales, billing], 50.0) == ("s", _entry(2, department="sales", enqueued_at=200.0))
    assert await routing.assign_next([sales, billing], 50.0) == ("b", _entry(1, department="billing",
                                                                             enqueued_at=100.0))


async def test_concurrent_routing_steps_never_assign_twice_or_exceed_capacity(routing: RoutingState) -> None:
    for n in range(40):
        await routing.enqueue(_entry(n))
    candidates = [Candidate(f"agent{i}", 3) for i in range(10)]
    results = await asyncio.gather(*(routing.assign_next(candidates[i % 10:] + candidates[:i % 10], 0.0)
                                     for i in range(60)))
    claimed = [r for r in results if r is not None]
    assert len(claimed) == 30 and len({entry.conversation_id for _, entry in claimed}) == 30
    assert [await routing.load(c.agent_id) for c in candidates] == [3] * 10
    assert await routing.waiting_count() == 10


async def test_restore_merges_what_storage_knows(routing: RoutingState) -> None:
    await routing.enqueue(_entry(9))
    await routing.enqueue(_entry(2, rank=0.5))
    await routing.restore([_entry(2), _entry(1)], {"a": ["x", "y"]})
    # Missing entries are added; one already waiting keeps its place.
    assert [e.conversation_id for e in await routing.waiting(10)] == ["c2", "c1", "c9"]
    assert await routing.load("a") == 2 and await routing.load("b") == 0
    await routing.restore([], {"a": ["x"]})
    assert await routing.load("a") == 2


async def test_a_claim_is_in_flight_until_it_is_stored_or_undone(routing: RoutingState) -> None:
    for n in range(1, 5):
        await routing.enqueue(_entry(n))
    assert await routing.claim("c1", "a", 3) == ClaimOutcome.CLAIMED
    got = await _take_next(routing, "b", 3, ANY, 0.0)
    assert got is not None and got.conversation_id == "c2"
    assert await routing.claims_in_flight(["c1", "c2", "c3", "missing"]) == {"c1", "c2"}
    await routing.record_assignment("c1", 1000.0, 5.0)  # stored
    await routing.release("b", "c2")  # undone
    assert await routing.claims_in_flight(["c1", "c2"]) == set()
    assert await routing.claims_in_flight([]) == set()
    # A transfer is in flight until settled.
    assert await routing.move("c1", "a", "b", capacity=3)
    assert await routing.claims_in_flight(["c1"]) == {"c1"}
    await routing.settle("c1")
    assert await routing.claims_in_flight(["c1"]) == set()


async def test_a_restore_does_not_queue_again_a_chat_whose_claim_is_in_flight(routing: RoutingState) -> None:
    await routing.enqueue(_entry(1))
    await routing.enqueue(_entry(2))
    assert await routing.claim("c1", "a", 3) == ClaimOutcome.CLAIMED
    # The database was read before the claim: it still has both waiting.
    await routing.restore([_entry(1), _entry(2)], {})
    assert [e.conversation_id for e in await routing.waiting(10)] == ["c2"]
    await routing.settle("c1")  # the claim was given up without its hold being released
    await routing.restore([_entry(1), _entry(2)], {})
    assert [e.conversation_id for e in await routing.waiting(10)] == ["c1", "c2"]


async def test_a_restore_that_read_before_a_claim_was_stored_does_not_queue_it_again(
    routing: RoutingState,
) -> None:
    """Another process restores (it read the database while the chat still waited) just after a
    claim was stored and settled: the chat stays with its agent, not in the queue as well."""
    await routing.enqueue(_entry(1))
    await routing.enqueue(_entry(2))
    stale = [_entry(1), _entry(2)]  # the database as the restore read it, before the claim
    assert await routing.claim("c1", "a", 3) == ClaimOutcome.CLAIMED
    await routing.record_assignment("c1", 1000.0, 5.0)
    await routing.restore(stale, {})
    assert [e.conversation_id for e in await routing.waiting(10)] == ["c2"]
    assert await routing.position("c2") == 1
    assert await routing.claims_in_flight(["c1"]) == set()  # stored: a repair may judge its hold
    # Once the agent lets it go and it waits again, a restore keeps it where it is.
    await routing.release("a", "c1")
    await routing.enqueue(_entry(1, rank=3.0))
    await routing.restore(stale, {})
    assert [e.conversation_id for e in await routing.waiting(10)] == ["c2", "c1"]


async def test_a_router_running_during_a_restore_never_fills_an_agent_past_capacity(
    routing: RoutingState,
) -> None:
    """After Redis lost its data, routing goes on (this process's, and others') while a restore
    writes the queue and the holds back: at no moment may the queue be back without the holds,
    or an agent at capacity is handed another chat."""
    restoring = True
    taken: list[QueueEntry] = []

    async def router() -> None:
        while restoring:
            got = await _take_next(routing, "a", 1, ANY, 0.0)
            if got is not None:
                taken.append(got)
            await asyncio.sleep(0)

    task = asyncio.create_task(router())
    await asyncio.sleep(0)
    await routing.restore([_entry(n) for n in range(2, 40)], {"a": ["c1"]})
    restoring = False
    await task
    assert taken == [] and await routing.load("a") == 1
    assert await routing.waiting_count() == 38


async def test_departments_and_the_fallback_decide_who_may_take_a_chat(routing: RoutingState) -> None:
    await routing.enqueue(_entry(1, department="billing", enqueued_at=100.0))
    await routing.enqueue(_entry(2, department="sales", enqueued_at=200.0))
    await routing.enqueue(_entry(3, enqueued_at=300.0))
    # A sales agent skips billing's chat; before the fallback time it is not theirs to take.
    got = await _take_next(routing, "s", 5, frozenset({"sales"}), 50.0)
    assert got is not None and got.conversation_id == "c2" and got.department == "sales"
    got = await _take_next(routing, "s", 5, frozenset({"sales"}), 50.0)
    assert got is not None and got.conversation_id == "c3"  # no department: anyone's
    assert await _take_next(routing, "s", 5, frozenset({"sales"}), 50.0) is None
    # Once billing's chat has waited past the fallback, any agent may take it.
    got = await _take_next(routing, "s", 5, frozenset({"sales"}), 150.0)
    assert got is not None and got.conversation_id == "c1" and got.enqueued_at == 100.0


async def test_moves_respect_the_receivers_capacity(routing: RoutingState) -> None:
    for n in range(3):
        await routing.enqueue(_entry(n))
    assert await routing.claim("c0", "a", 3) == ClaimOutcome.CLAIMED
    assert await routing.claim("c1", "b", 1) == ClaimOutcome.CLAIMED
    assert not await routing.move("c0", "a", "b", capacity=1)
    assert not await routing.move("c2", "a", "b", capacity=5)  # a does not hold c2
    assert await routing.move("c0", "a", "b", capacity=2)
    assert [await routing.load("a"), await routing.load("b")] == [0, 2]


async def test_recent_assignments_are_kept_oldest_first_and_bounded(routing: RoutingState) -> None:
    for t in range(60):
        await routing.record_assignment(f"c{t}", 1000.0 + t, t / 2)
    recent = await routing.recent_assignments()
    assert recent == sorted(recent) and len(recent) == 50 and recent[-1] == (1059.0, 29.5)


async def test_assignments_restored_from_the_database_are_merged_once_each(routing: RoutingState) -> None:
    await routing.record_assignment("c1", 1000.0, 5.0)
    await routing.record_assignment("c2", 1010.5, 0.25)
    history = [RecentAssignment(conversation_id="c0", at=990.0, waited=3.0),
               RecentAssignment(conversation_id="c1", at=1000.0, waited=5.0),
               RecentAssignment(conversation_id="c2", at=1010.5, waited=0.25)]
    await routing.restore_assignments(history)
    # The same assignments of two chats at the same moment are two assignments.
    await routing.restore_assignments([*history, RecentAssignment(conversation_id="c3", at=1010.5, waited=0.25)])
    await routing.restore_assignments(history)  # another process restoring the same history
    assert await routing.recent_assignments() == [(990.0, 3.0), (1000.0, 5.0), (1010.5, 0.25), (1010.5, 0.25)]
    await routing.record_assignment("c4", 1020.0, 1.0)
    assert (await routing.recent_assignments())[-1] == (1020.0, 1.0)
    # Bounded: the newest kept, older history dropped.
    await routing.restore_assignments([RecentAssignment(conversation_id=f"old{t}", at=float(t), waited=1.0)
                                       for t in range(RECENT_ASSIGNMENTS)])
    recent = await routing.recent_assignments()
    assert len(recent) == RECENT_ASSIGNMENTS and recent[-5:] == [(990.0, 3.0), (1000.0, 5.0), (1010.5, 0.25),
                                                                 (1010.5, 0.25), (1020.0, 1.0)]
    assert recent[0] == (5.0, 1.0)
    await routing.restore_assignments([])
    if isinstance(routing, RedisRoutingState):
        # "<at>:<waited>", as every version reads it (versions share Redis in a rolling upgrade).
        for item in await routing.r.lrange(routing.k.assignments, 0, -1):
            at, waited = item.split(":")
            assert (float(at), float(waited)) in recent


async def test_positions_in_one_call(routing: RoutingState) -> None:
    for n in range(3):
        await routing.enqueue(_entry(n))
    assert await routing.positions(["c2", "missing", "c0"]) == [3, None, 1]


async def test_presence_tracks_connections_and_status(presence: Presence) -> None:
    assert await presence.status("a") == AgentStatus.OFFLINE
    assert await presence.agent_connected("a", "s1") == 1
    assert await presence.agent_connected("a", "s2") == 2
    assert await presence.available_agents() == ["a"]
    await presence.set_status("a", AgentStatus.AWAY)
    assert await presence.status("a") == AgentStatus.AWAY and await presence.available_agents() == []
    assert await presence.agent_disconnected("a", "s1") == 1
    assert await presence.agent_disconnected("a", "s2") == 0
    assert await presence.status("a") == AgentStatus.OFFLINE
    # A new connection after going offline starts online again.
    await presence.agent_connected("a", "s3")
    assert await presence.status("a") == AgentStatus.ONLINE
    assert await presence.visitor_connected("v", "s4") == 1
    assert await presence.processes_of([("visitor", "v")]) != set()
    assert await presence.visitor_disconnected("v", "s4") == 0
    assert await presence.processes_of([("agent", "nobody"), ("visitor", "v")]) == set()
    assert await presence.expire_dead_connections() == []


async def test_a_connection_starts_with_the_status_asked_for_unless_the_agent_is_connected(
        presence: Presence) -> None:
    assert await presence.agent_connected("a", "s1", AgentStatus.AWAY) == 1
    assert await presence.status("a") == AgentStatus.AWAY and await presence.available_agents() == []
    # A second connection (another tab) asking for online does not override the agent's status.
    assert await presence.agent_connected("a", "s2", AgentStatus.ONLINE) == 2
    assert await presence.status("a") == AgentStatus.AWAY
    await presence.agent_disconnected("a", "s1")
    await presence.agent_disconnected("a", "s2")
    assert await presence.agent_connected("a", "s3", AgentStatus.ONLINE) == 1
    assert await presence.available_agents() == ["a"]


async def test_a_backlog_in_one_department_never_hides_another_departments_chat(routing: RoutingState) -> None:
    for n in range(1500):
        await routing.enqueue(_entry(n, department="billing", enqueued_at=1000.0))
    await routing.enqueue(_entry(5000, department="sales", enqueued_at=1000.0))
    got = await _take_next(routing, "s", 3, frozenset({"sales"}), 0.0)
    assert got is not None and got.conversation_id == "c5000"
    assert await routing.position("c0") == 1 and await routing.waiting_count() == 1500


async def test_held_lists_what_each_agent_holds(routing: RoutingState) -> None:
    assert await routing.held() == {}
    await routing.enqueue(_entry(1))
    await routing.enqueue(_entry(2))
    assert await routing.claim("c1", "a", 3) == ClaimOutcome.CLAIMED
    assert await routing.claim("c2", "b", 3) == ClaimOutcome.CLAIMED
    assert await routing.held() == {"a": ["c1"], "b": ["c2"]}
    await routing.release("b", "c2")
    assert await routing.held() == {"a": ["c1"]}


async def test_a_grace_deadline_is_kept_until_claimed_once(presence: Presence) -> None:
    # The first deadline recorded stands; a later start (another process) gets it back.
    assert await presence.grace_started("a", 100.0) == 100.0
    assert await presence.grace_started("a", 150.0) == 100.0
    # A timer of another deadline (the agent came back and left again since) takes nothing.
    assert not await presence.claim_grace("a", 150.0)
    assert await presence.claim_grace("a", 100.0)
    assert not await presence.claim_grace("a", 100.0)
    # Coming back cancels the deadline.
    await presence.grace_started("b", 100.0)
    await presence.agent_connected("b", "s1")
    assert await presence.claim_due_graces(1000.0) == []


async def test_due_graces_go_to_one_sweeper_each(presence: Presence) -> None:
    for n in range(20):
        await presence.grace_started(f"a{n}", 100.0 + n)
    await presence.grace_started("later", 500.0)
    taken = await asyncio.gather(*(presence.claim_due_graces(200.0) for _ in range(5)))
    everyone = [agent for batch in taken for agent in batch]
    assert sorted(everyone) == sorted(f"a{n}" for n in range(20))  # each once, none twice
    assert await presence.claim_due_graces(200.0) == []
    assert await presence.claim_due_graces(500.0) == ["later"]


async def test_a_connection_made_while_the_agents_last_one_goes_keeps_them_connected(presence: Presence) -> None:
    """A console reconnecting after a network blip: the new connection is recorded while the old
    one's disconnect is. In whichever order the two land, the agent stays connected, with the
    status the new connection asked for, and routing still counts them."""
    for i in range(20):
        agent_id = f"blip{i}"
        await presence.agent_connected(agent_id, "old", AgentStatus.AWAY)
        remaining, connections = await asyncio.gather(presence.agent_disconnected(agent_id, "old"),
                                                      presence.agent_connected(agent_id, "new", AgentStatus.AWAY))
        assert (remaining, connections) in ((0, 1), (1, 2))
        assert await presence.status(agent_id) == AgentStatus.AWAY
        await presence.set_status(agent_id, AgentStatus.ONLINE)
        assert agent_id in await presence.available_agents()
