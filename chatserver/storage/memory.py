"""In-process routing state and presence for the embedded single-process server.

Atomicity comes from the event loop: no method awaits between reading and writing state.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict, deque
from collections.abc import Sequence

from ..domain.models import AgentStatus, Candidate, ClaimOutcome, QueueEntry, RecentAssignment
from ..domain.queue import RECENT_ASSIGNMENTS

STORED_CLAIMS_KEPT = 10_000  # stored claims remembered for restores (Redis keeps each a minute)


class MemoryRoutingState:
    def __init__(self) -> None:
        self._queue: list[tuple[float, str]] = []  # sorted by (rank, conversation_id)
        # The same entries split by department (None: chats of no department), so a claim looks
        # only at the heads it may take and a backlog in one department never hides another's.
        self._by_department: dict[str | None, list[tuple[float, str]]] = defaultdict(list)
        self._entries: dict[str, QueueEntry] = {}
        self._held: dict[str, set[str]] = defaultdict(set)
        self._in_flight: set[str] = set()  # claims not yet settled (see RoutingState.claims_in_flight)
        # Claims stored lately, not released since (as Redis keeps their mark a while): a restore
        # that read the database before one was stored does not queue the chat again.
        self._stored: dict[str, None] = {}
        self._assigned: deque[RecentAssignment] = deque(maxlen=RECENT_ASSIGNMENTS)

    async def enqueue(self, entry: QueueEntry) -> None:
        if entry.conversation_id in self._entries:
            self._remove(entry.conversation_id)
        self._entries[entry.conversation_id] = entry
        bisect.insort(self._queue, (entry.rank, entry.conversation_id))
        bisect.insort(self._by_department[entry.department], (entry.rank, entry.conversation_id))

    def _remove(self, conversation_id: str) -> bool:
        entry = self._entries.pop(conversation_id, None)
        if entry is None:
            return False
        for ordered in (self._queue, self._by_department[entry.department]):
            del ordered[bisect.bisect_left(ordered, (entry.rank, conversation_id))]
        return True

    async def remove(self, conversation_id: str) -> bool:
        return self._remove(conversation_id)

    async def position(self, conversation_id: str) -> int | None:
        entry = self._entries.get(conversation_id)
        if entry is None:
            return None
        return bisect.bisect_left(self._queue, (entry.rank, conversation_id)) + 1

    async def positions(self, conversation_ids: list[str]) -> list[int | None]:
        return [await self.position(cid) for cid in conversation_ids]

    async def waiting(self, limit: int) -> list[QueueEntry]:
        return [self._entries[cid] for _, cid in self._queue[:limit]]

    async def waiting_count(self) -> int:
        return len(self._queue)

    async def head_rank(self) -> float | None:
        return self._queue[0][0] if self._queue else None

    async def claim(self, conversation_id: str, agent_id: str, capacity: int) -> ClaimOutcome:
        if conversation_id not in self._entries:
            return ClaimOutcome.NOT_WAITING
        if len(self._held[agent_id]) >= capacity:
            return ClaimOutcome.AT_CAPACITY
        self._remove(conversation_id)
        self._held[agent_id].add(conversation_id)
        self._in_flight.add(conversation_id)
        return ClaimOutcome.CLAIMED

    async def assign_next(self, candidates: Sequence[Candidate],
                          open_before: float) -> tuple[str, QueueEntry] | None:
        heads = sorted((self._entries[ordered[0][1]] for ordered in self._by_department.values() if ordered),
                       key=lambda e: (e.rank, e.conversation_id))
        ordered_candidates = sorted(enumerate(candidates), key=lambda c: (len(self._held.get(c[1].agent_id, ())), c[0]))
        for _, candidate in ordered_candidates:
            if len(self._held.get(candidate.agent_id, ())) >= candidate.capacity:
                continue
            for head in heads:
                if head.eligible_for(candidate.departments, open_before):
                    self._remove(head.conversation_id)
                    self._held[candidate.agent_id].add(head.conversation_id)
                    self._in_flight.add(head.conversation_id)
                    return candidate.agent_id, head
        return None

    async def move(self, conversation_id: str, from_agent: str, to_agent: str, capacity: int) -> bool:
        if conversation_id not in self._held[from_agent] or len(self._held[to_agent]) >= capacity:
            return False
        self._held[from_agent].discard(conversation_id)
        self._held[to_agent].add(conversation_id)
        self._in_flight.add(conversation_id)
        return True

    async def release(self, agent_id: str, conversation_id: str) -> None:
        self._held[agent_id].discard(conversation_id)
        self._in_flight.discard(conversation_id)
        self._stored.pop(conversation_id, None)

    async def settle(self, conversation_id: str) -> None:
        self._in_flight.discard(conversation_id)
        self._stored.pop(conversation_id, None)

    async def claims_in_flight(self, conversation_ids: list[str]) -> set[str]:
        return self._in_flight.intersection(conversation_ids)

    async def load(self, agent_id: str) -> int:
        return len(self._held.get(agent_id, ()))

    async def record_assignment(self, conversation_id: str, at: float, waited: float) -> None:
        self._in_flight.discard(conversation_id)
        self._stored[conversation_id] = None
        if len(self._stored) > STORED_CLAIMS_KEPT:
            del self._stored[next(iter(self._stored))]
        self._assigned.append(RecentAssignment(conversation_id=conversation_id, at=at, waited=waited))

    async def recent_assignments(self) -> list[tuple[float, float]]:
        return sorted((a.at, a.waited) for a in self._assigned)

    async def restore_assignments(self, assignments: list[RecentAssignment]) -> None:
        # As Redis merges (redis_keys.MERGE_ASSIGNMENTS): each given one matched with an equal one
        # kept, each used once; those left over are added.
        unmatched = Counter((a.at, a.waited) for a in self._assigned)
        added = []
        for assignment in assignments:
            if unmatched[assignment.at, assignment.waited] > 0:
                unmatched[assignment.at, assignment.waited] -= 1
            else:
                added.append(assignment)
        merged = sorted([*self._assigned, *added], key=lambda a: a.at)[-RECENT_ASSIGNMENTS:]
        self._assigned.clear()
        self._assigned.extend(merged)

    async def restore(self, entries: list[QueueEntry], held: dict[str, list[str]]) -> None:
        for agent_id, conversation_ids in held.items():  # the loads before the queue, as in Redis
            self._held[agent_id].update(conversation_ids)
        for entry in entries:
            cid = entry.conversation_id
            if cid not in self._entries and cid not in self._in_flight and cid not in self._stored:
                await self.enqueue(entry)

    async def held(self) -> dict[str, list[str]]:
        return {agent_id: sorted(ids) for agent_id, ids in self._held.items() if ids}

    async def ping(self) -> None:
        return None


class MemoryPresence:
    def __init__(self) -> None:
        self._agent_connections: dict[str, set[str]] = defaultdict(set)
        self._agent_status: dict[str, AgentStatus] = {}
        self._visitor_connections: dict[str, set[str]] = defaultdict(set)
        self._graces: dict[str, float] = {}

    async def agent_connected(self, agent_id: str, connection_id: str, status: AgentStatus = AgentStatus.ONLINE) -> int:
        self._agent_connections[agent_id].add(connection_id)
        self._agent_status.setdefault(agent_id, status)
        self._graces.pop(agent_id, None)
        return len(self._agent_connections[agent_id])

    async def agent_disconnected(self, agent_id: str, connection_id: str) -> int:
        connections = self._agent_connections.get(agent_id)
        if connections is None:
            return 0
        connections.discard(connection_id)
        if not connections:
            del self._agent_connections[agent_id]
            self._agent_status.pop(agent_id, None)
            return 0
        return len(connections)

    async def set_status(self, agent_id: str, status: AgentStatus) -> None:
        self._agent_status[agent_id] = status

    async def status(self, agent_id: str) -> AgentStatus:
        if not self._agent_connections.get(agent_id):
            return AgentStatus.OFFLINE
        return self._agent_status.get(agent_id, AgentStatus.ONLINE)

    async def available_agents(self) -> list[str]:
        return [
            agent_id
            for agent_id, connections in self._agent_connections.items()
            if connections and self._agent_status.get(agent_id, AgentStatus.ONLINE) == AgentStatus.ONLINE
        ]

    async def visitor_connected(self, visitor_id: str, connection_id: str) -> int:
        self._visitor_connections[visitor_id].add(connection_id)
        return len(self._visitor_connections[visitor_id])

    async def visitor_disconnected(self, visitor_id: str, connection_id: str) -> int:
        connections = self._visitor_connections.get(visitor_id)
        if connections is None:
            return 0
        connections.discard(connection_id)
        if not connections:
            del self._visitor_connections[visitor_id]
            return 0
        return len(connections)

    async def processes_of(self, parties: Sequence[tuple[str, str]]) -> set[str]:
        for kind, party_id in parties:
            connections = self._agent_connections if kind == "agent" else self._visitor_connections
            if connections.get(party_id):
                return {"local"}
        return set()

    async def expire_dead_connections(self) -> list[tuple[str, str, int]]:
        """Connections of processes that stopped heartbeating; none in a single process."""
        return []

    async def release_process(self) -> list[tuple[str, str, int]]:
        """Nothing outlives the one process: a restart rebuilds presence from scratch."""
        return []

    async def grace_started(self, agent_id: str, deadline: float) -> float:
        return self._graces.setdefault(agent_id, deadline)

    async def claim_grace(self, agent_id: str, deadline: float) -> bool:
        if self._graces.get(agent_id) != deadline:
            return False
        del self._graces[agent_id]
        return True

    async def claim_due_graces(self, now: float) -> list[str]:
        due = sorted((deadline, agent_id) for agent_id, deadline in self._graces.items() if deadline <= now)
        for _, agent_id in due:
            del self._graces[agent_id]
        return [agent_id for _, agent_id in due]
