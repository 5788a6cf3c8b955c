"""The Redis backend: routing state, presence with process heartbeats, and the process bus.

Several server processes share one Redis. Claims are Lua scripts (``redis_keys``), so no
conversation is claimed twice and no agent goes over capacity whatever the interleaving.
Connection errors surface as ``Unavailable``; the client reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, ParamSpec, Protocol, TypeVar, cast

import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, RedisError, ResponseError

from ..domain.models import AgentStatus, Candidate, ClaimOutcome, QueueEntry, RecentAssignment
from ..domain.queue import RECENT_ASSIGNMENTS
from ..errors import StartupError, Unavailable
from . import redis_keys as RK

log = logging.getLogger("chatserver.redis")

P = ParamSpec("P")
R = TypeVar("R")


class RedisObserver(Protocol):
    """Told how long each Redis operation took and which failed, and of the bus's traffic (the
    server's metrics)."""

    def redis_called(self, seconds: float) -> None: ...

    def redis_failed(self) -> None: ...

    def bus_published(self) -> None: ...

    def bus_received(self) -> None: ...


class Unobserved:
    """The ``RedisObserver`` of a client nobody watches."""

    def redis_called(self, seconds: float) -> None:
        return None

    def redis_failed(self) -> None:
        return None

    def bus_published(self) -> None:
        return None

    def bus_received(self) -> None:
        return None


UNOBSERVED = Unobserved()


class _Observed(Protocol):
    observer: RedisObserver


def _unavailable(fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """A method of a class of this module (one with an ``observer``): ``RedisError`` raised as
    ``Unavailable``, and each call timed."""
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        owner = cast(_Observed, args[0])
        started = time.perf_counter()
        try:
            result = await fn(*args, **kwargs)
        except RedisError as exc:
            owner.observer.redis_failed()
            if _refused(exc):
                raise StartupError(f"Redis refused the connection: {exc}") from None
            raise Unavailable("the routing store (Redis) is unreachable; try again") from exc
        owner.observer.redis_called(time.perf_counter() - started)
        return result

    return wrapper


def _refused(exc: RedisError) -> bool:
    """Whether Redis refused ``redis_url`` itself, which no retry changes: a database index the
    server does not have (its ``databases`` setting), a wrong password or user."""
    if isinstance(exc, AuthenticationError):
        return True
    return isinstance(exc, ResponseError) and str(exc).startswith(("DB index is out of range", "WRONGPASS", "NOAUTH"))


POSITIONS_CHUNK = 2000
# How long a claim stays marked in flight at most (``Keys.claiming``): far longer than storing it
# takes (the database gives up on a write after its 5 s busy timeout, and the claim is undone).
CLAIM_MARK_TTL_MS = 60_000
# A claim's mark (``Keys.claiming``): in flight (set by the claim scripts), or stored (an
# assignment the database has; kept for CLAIM_MARK_TTL_MS so that a restore reading the database
# before it cannot put the chat back in the queue).
CLAIM_IN_FLIGHT = "1"
CLAIM_STORED = "stored"


def connect(url: str) -> aioredis.Redis:
    # A blocking pool: with every connection in use (a burst of chat starts), a command waits for
    # one (up to the socket timeout) instead of failing at once with MaxConnectionsError, which
    # redis-py's default pool raises past 100 connections.
    pool = aioredis.BlockingConnectionPool.from_url(
        url, decode_responses=True, socket_connect_timeout=2, socket_timeout=5, health_check_interval=10,
        retry_on_timeout=True, max_connections=100, timeout=5,
    )
    return aioredis.Redis.from_pool(pool)


def _assignment_item(at: float, waited: float) -> str:
    """An entry of ``Keys.assignments``: the same assignment is the same string, wherever it
    comes from (``record_assignment`` or the database's history), since ``repr`` round-trips.
    The format every version reads (several versions share Redis during a rolling upgrade)."""
    return f"{at!r}:{waited!r}"


def _entry_args(entry: QueueEntry, mode: str, department_prefix: str) -> list[Any]:
    return [entry.conversation_id, repr(entry.rank), entry.visitor_id, entry.department or "",
            repr(entry.enqueued_at), mode, department_prefix]


class RedisRoutingState:
    def __init__(self, client: aioredis.Redis, keys: RK.Keys, observer: RedisObserver = UNOBSERVED) -> None:
        self.r = client
        self.k = keys
        self.observer = observer
        self._remove = client.register_script(RK.REMOVE)
        self._claim = client.register_script(RK.CLAIM)
        self._assign_next = client.register_script(RK.ASSIGN_NEXT)
        self._move = client.register_script(RK.MOVE)
        self._enqueue = client.register_script(RK.ENQUEUE)
        self._positions = client.register_script(RK.POSITIONS)
        self._merge_assignments = client.register_script(RK.MERGE_ASSIGNMENTS)

    @_unavailable
    async def enqueue(self, entry: QueueEntry) -> None:
        await self._enqueue(keys=self._entry_keys(entry),
                            args=_entry_args(entry, "replace", self.k.department_queue_prefix))

    def _entry_keys(self, entry: QueueEntry) -> list[str]:
        """The keys the ENQUEUE script touches for ``entry``."""
        return [self.k.queue, self.k.entry(entry.conversation_id), self.k.departments,
                self.k.claiming(entry.conversation_id)]

    @_unavailable
    async def remove(self, conversation_id: str) -> bool:
        removed = await self._remove(keys=[self.k.queue, self.k.entry(conversation_id)],
                                     args=[conversation_id, self.k.department_queue_prefix])
        return bool(removed)

    @_unavailable
    async def position(self, conversation_id: str) -> int | None:
        rank: int | None = await self.r.zrank(self.k.queue, conversation_id)  # type: ignore[assignment]
        return None if rank is None else rank + 1

    @_unavailable
    async def positions(self, conversation_ids: list[str]) -> list[int | None]:
        found: list[int] = []
        # Chunks, so one call never holds Redis for long however many visitors wait.
        for start in range(0, len(conversation_ids), POSITIONS_CHUNK):
            found += await self._positions(keys=[self.k.queue],
                                           args=conversation_ids[start:start + POSITIONS_CHUNK])
        return [position or None for position in found]

    @_unavailable
    async def waiting(self, limit: int) -> list[QueueEntry]:
        ids: list[str] = await self.r.zrange(self.k.queue, 0, limit - 1)  # type: ignore[assignment]
        async with self.r.pipeline(transaction=False) as pipe:
            for cid in ids:
                pipe.hgetall(self.k.entry(cid))
            rows = await pipe.execute()
        return [
            QueueEntry(conversation_id=cid, visitor_id=row.get("visitor_id", ""), rank=float(row.get("rank", 0)),
                       department=row.get("department") or None, enqueued_at=float(row.get("enqueued_at", 0)))
            for cid, row in zip(ids, rows, strict=True)
        ]

    @_unavailable
    async def waiting_count(self) -> int:
        return int(await self.r.zcard(self.k.queue))

    @_unavailable
    async def head_rank(self) -> float | None:
        head = await self.r.zrange(self.k.queue, 0, 0, withscores=True)
        return float(head[0][1]) if head else None

    @_unavailable
    async def claim(self, conversation_id: str, agent_id: str, capacity: int) -> ClaimOutcome:
        result = await self._claim(keys=[self.k.queue, self.k.held(agent_id), self.k.entry(conversation_id),
                                         self.k.claiming(conversation_id)],
                                   args=[conversation_id, capacity, self.k.department_queue_prefix, CLAIM_MARK_TTL_MS])
        return ClaimOutcome(result)

    @_unavailable
    async def assign_next(self, candidates: Sequence[Candidate],
                          open_before: float) -> tuple[str, QueueEntry] | None:
        if not candidates:
            return None
        args: list[Any] = [repr(open_before), self.k.entry_prefix, self.k.department_queue_prefix,
                           self.k.held_prefix, self.k.claiming_prefix, CLAIM_MARK_TTL_MS]
        for candidate in candidates:
            args += [candidate.agent_id, candidate.capacity, len(candidate.departments),
                     *sorted(candidate.departments)]
        result = await self._assign_next(keys=[self.k.queue, self.k.departments], args=args)
        if not result:
            return None
        agent_id, cid, visitor_id, department, enqueued_at, rank = result
        return agent_id, QueueEntry(conversation_id=cid, visitor_id=visitor_id, rank=float(rank),
                                    department=department or None, enqueued_at=float(enqueued_at))

    @_unavailable
    async def move(self, conversation_id: str, from_agent: str, to_agent: str, capacity: int) -> bool:
        moved = await self._move(keys=[self.k.held(from_agent), self.k.held(to_agent),
                                       self.k.claiming(conversation_id)],
                                 args=[conversation_id, capacity, CLAIM_MARK_TTL_MS])
        return bool(moved)

    @_unavailable
    async def release(self, agent_id: str, conversation_id: str) -> None:
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.srem(self.k.held(agent_id), conversation_id)
            pipe.delete(self.k.claiming(conversation_id))
            await pipe.execute()

    @_unavailable
    async def settle(self, conversation_id: str) -> None:
        await self.r.delete(self.k.claiming(conversation_id))

    @_unavailable
    async def claims_in_flight(self, conversation_ids: list[str]) -> set[str]:
        if not conversation_ids:
            return set()
        marks = await self.r.mget([self.k.claiming(cid) for cid in conversation_ids])
        return {cid for cid, mark in zip(conversation_ids, marks, strict=True) if mark == CLAIM_IN_FLIGHT}

    @_unavailable
    async def load(self, agent_id: str) -> int:
        return int(await self.r.scard(self.k.held(agent_id)))

    @_unavailable
    async def record_assignment(self, conversation_id: str, at: float, waited: float) -> None:
        async with self.r.pipeline(transaction=True) as pipe:
            # The mark stays a while as "stored", not in flight: a restore on another process that
            # read the database before this claim was stored must not queue the chat again.
            pipe.set(self.k.claiming(conversation_id), CLAIM_STORED, px=CLAIM_MARK_TTL_MS)
            pipe.lpush(self.k.assignments, _assignment_item(at, waited))
            pipe.ltrim(self.k.assignments, 0, RECENT_ASSIGNMENTS - 1)
            await pipe.execute()

    @_unavailable
    async def recent_assignments(self) -> list[tuple[float, float]]:
        found: list[tuple[float, float]] = []
        items: list[str] = await self.r.lrange(self.k.assignments, 0, -1)  # type: ignore[assignment]
        for item in items:
            at, _, waited = item.partition(":")  # older entries hold the time only
            found.append((float(at), float(waited or 0.0)))
        return sorted(found)

    @_unavailable
    async def restore_assignments(self, assignments: list[RecentAssignment]) -> None:
        if assignments:
            await self._merge_assignments(keys=[self.k.assignments], args=[RECENT_ASSIGNMENTS, *(
                _assignment_item(a.at, a.waited) for a in assignments)])

    @_unavailable
    async def restore(self, entries: list[QueueEntry], held: dict[str, list[str]]) -> None:
        """Merge what the database knows into Redis (after a process start or a Redis restart
        that lost data): missing queue entries are added, existing ones keep their place, and a
        chat whose claim is in flight is left out (the claim took it off the queue after the
        database was read)."""
        # The holds first: routing goes on meanwhile (here and in other processes), and a queue
        # back before the agents' loads would hand an agent at capacity another chat.
        async with self.r.pipeline(transaction=False) as pipe:
            for agent_id, conversation_ids in held.items():
                if conversation_ids:
                    pipe.sadd(self.k.held(agent_id), *conversation_ids)
            await pipe.execute()
        for start in range(0, len(entries), POSITIONS_CHUNK):
            async with self.r.pipeline(transaction=False) as pipe:
                for entry in entries[start:start + POSITIONS_CHUNK]:
                    await self._enqueue(keys=self._entry_keys(entry),
                                        args=_entry_args(entry, "restore", self.k.department_queue_prefix),
                                        client=pipe)
                await pipe.execute()

    @_unavailable
    async def held(self) -> dict[str, list[str]]:
        keys = [key async for key in self.r.scan_iter(match=f"{self.k.held_prefix}*", count=1000)]
        async with self.r.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.smembers(key)
            members: list[set[str]] = await pipe.execute()
        prefix = len(self.k.held_prefix)
        return {key[prefix:]: sorted(ids) for key, ids in zip(keys, members, strict=True) if ids}

    async def ping(self) -> None:
        await self.r.ping()


class RedisPresence:
    """Connections are recorded with the process that holds them; each process refreshes a
    heartbeat key, and a process that stops refreshing is swept: its connections are removed and
    reported, so the agents it held go offline and the grace period starts."""

    def __init__(self, client: aioredis.Redis, keys: RK.Keys, process_id: str, ttl: float,
                 observer: RedisObserver = UNOBSERVED) -> None:
        self.r = client
        self.k = keys
        self.observer = observer
        self.process_id = process_id
        self.ttl = ttl
        self._claim_dead = client.register_script(RK.CLAIM_DEAD_PROCESS)
        self._grace_start = client.register_script(RK.GRACE_START)
        self._claim_grace = client.register_script(RK.CLAIM_GRACE)
        self._claim_due_graces = client.register_script(RK.CLAIM_DUE_GRACES)
        self._epoch: str | None = None
        self._available = client.register_script(RK.AVAILABLE_AGENTS)
        self._forget = client.register_script(RK.DISCONNECT)

    @_unavailable
    async def heartbeat(self) -> bool:
        """Refresh this process's heartbeat. Returns ``True`` when Redis lost what it held since
        the last heartbeat (the epoch key is gone or changed: a restart without persistence, a
        flush), however briefly it was away: the caller then restores it from the database."""
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.set(self.k.process(self.process_id), "1", px=int(self.ttl * 1000))
            pipe.sadd(self.k.processes, self.process_id)
            pipe.set(self.k.epoch, uuid.uuid4().hex, nx=True)
            pipe.get(self.k.epoch)
            epoch = (await pipe.execute())[3]
        lost = self._epoch is not None and epoch != self._epoch
        self._epoch = epoch
        return lost

    async def _connect(self, kind: str, party_id: str, connection_id: str,
                       status: AgentStatus = AgentStatus.ONLINE) -> int:
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(self.k.connections(kind, party_id), connection_id, self.process_id)
            pipe.sadd(self.k.process_connections(self.process_id), f"{kind}:{party_id}:{connection_id}")
            pipe.hlen(self.k.connections(kind, party_id))
            if kind == "agent":
                pipe.sadd(self.k.connected_agents, party_id)
                # In the same transaction as the connection: routing never sees the agent
                # connected with a status they did not ask for.
                pipe.set(self.k.agent_status(party_id), str(status), nx=True)
                pipe.zrem(self.k.graces, party_id)  # back: no grace deadline stands
            result = await pipe.execute()
        return int(result[2])

    async def _disconnect(self, kind: str, party_id: str, connection_id: str, process_id: str) -> int:
        agent_id = party_id if kind == "agent" else ""
        remaining = await self._forget(
            keys=[self.k.connections(kind, party_id), self.k.process_connections(process_id), self.k.connected_agents,
                  self.k.agent_status(agent_id)],
            args=[connection_id, f"{kind}:{party_id}:{connection_id}", agent_id])
        return int(remaining)

    @_unavailable
    async def agent_connected(self, agent_id: str, connection_id: str, status: AgentStatus = AgentStatus.ONLINE) -> int:
        return await self._connect("agent", agent_id, connection_id, status)

    @_unavailable
    async def agent_disconnected(self, agent_id: str, connection_id: str) -> int:
        return await self._disconnect("agent", agent_id, connection_id, self.process_id)

    @_unavailable
    async def set_status(self, agent_id: str, status: AgentStatus) -> None:
        await self.r.set(self.k.agent_status(agent_id), str(status))

    @_unavailable
    async def status(self, agent_id: str) -> AgentStatus:
        async with self.r.pipeline(transaction=False) as pipe:
            pipe.hlen(self.k.connections("agent", agent_id))
            pipe.get(self.k.agent_status(agent_id))
            count, status = await pipe.execute()
        if not count:
            return AgentStatus.OFFLINE
        return AgentStatus(status) if status else AgentStatus.ONLINE

    @_unavailable
    async def available_agents(self) -> list[str]:
        agents: list[str] = await self._available(keys=[self.k.connected_agents],
                                                  args=[self.k.agent_status_prefix, str(AgentStatus.AWAY)])
        return sorted(agents)

    @_unavailable
    async def visitor_connected(self, visitor_id: str, connection_id: str) -> int:
        return await self._connect("visitor", visitor_id, connection_id)

    @_unavailable
    async def visitor_disconnected(self, visitor_id: str, connection_id: str) -> int:
        return await self._disconnect("visitor", visitor_id, connection_id, self.process_id)

    @_unavailable
    async def processes_of(self, parties: Sequence[tuple[str, str]]) -> set[str]:
        async with self.r.pipeline(transaction=False) as pipe:
            for kind, party_id in parties:
                pipe.hvals(self.k.connections(kind, party_id))
            found: list[list[str]] = await pipe.execute()
        return {process for processes in found for process in processes}

    @_unavailable
    async def expire_dead_connections(self) -> list[tuple[str, str, int]]:
        """Sweep processes whose heartbeat expired; returns ``(kind, party_id, remaining)`` for
        each connection removed, so the caller can treat it as a disconnect, and
        ``("process", process_id, 0)`` for each process swept."""
        swept: list[tuple[str, str, int]] = []
        processes: set[str] = await self.r.smembers(self.k.processes)  # type: ignore[assignment]
        for process_id in processes:
            if process_id == self.process_id:
                continue
            if not await self._claim_dead(keys=[self.k.processes, self.k.process(process_id)], args=[process_id]):
                continue
            log.warning("process stopped heartbeating; sweeping its connections process=%s", process_id)
            swept += await self._sweep(process_id)
            swept.append(("process", process_id, 0))
        return swept

    async def _sweep(self, process_id: str) -> list[tuple[str, str, int]]:
        swept: list[tuple[str, str, int]] = []
        members: set[str] = await self.r.smembers(self.k.process_connections(process_id))  # type: ignore[assignment]
        for member in members:
            kind, party_id, connection_id = member.split(":", 2)
            remaining = await self._disconnect(kind, party_id, connection_id, process_id)
            swept.append((kind, party_id, remaining))
        await self.r.delete(self.k.process_connections(process_id))
        return swept

    @_unavailable
    async def release_process(self) -> list[tuple[str, str, int]]:
        return await self._sweep(self.process_id)

    @_unavailable
    async def grace_started(self, agent_id: str, deadline: float) -> float:
        return float(await self._grace_start(keys=[self.k.graces], args=[agent_id, repr(deadline)]))

    @_unavailable
    async def claim_grace(self, agent_id: str, deadline: float) -> bool:
        return bool(await self._claim_grace(keys=[self.k.graces], args=[agent_id, repr(deadline)]))

    @_unavailable
    async def claim_due_graces(self, now: float) -> list[str]:
        return list(await self._claim_due_graces(keys=[self.k.graces], args=[repr(now)]))

    async def unregister(self) -> None:
        """A clean shutdown: forget this process (``release_process`` removed its connections)."""
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.delete(self.k.process(self.process_id))
            pipe.srem(self.k.processes, self.process_id)
            pipe.delete(self.k.process_connections(self.process_id))
            await pipe.execute()


Handler = Callable[[bytes], Awaitable[None]]


class RedisBroker:
    """Pub/sub between processes: each process reads its own channel and the broadcast channel;
    an event for a client goes only to the process(es) holding that client's connections."""

    def __init__(self, client: aioredis.Redis, url: str, keys: RK.Keys, process_id: str,
                 observer: RedisObserver = UNOBSERVED) -> None:
        self.r = client
        self.url = url
        self.k = keys
        self.observer = observer
        self.process_id = process_id
        self._handler: Handler | None = None
        self._on_reconnect: Callable[[], Awaitable[None]] | None = None
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def start(self, on_message: Handler, on_reconnect: Callable[[], Awaitable[None]],
                    subscribed_within: float = 5.0) -> None:
        """``on_reconnect`` runs each time the bus is back after a loss (pub/sub keeps nothing, so
        whatever was published meanwhile must be caught up from storage). Returns once the
        channels are subscribed (or after ``subscribed_within`` seconds, Redis unreachable: the
        process then starts not ready): a process that served clients before it listened would
        miss what other processes publish to them meanwhile, and its readiness would flap."""
        self._handler = on_message
        self._on_reconnect = on_reconnect
        self._task = asyncio.get_running_loop().create_task(self._listen())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), subscribed_within)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # Closing a pub/sub connection in the middle of a read can stall: do not let it hold
            # the shutdown up.
            await asyncio.wait({self._task}, timeout=2.0)

    async def _listen(self) -> None:
        # A dedicated binary connection: payloads are msgpack. Reconnects with backoff.
        delay = 0.1
        lost = False
        while True:
            client = aioredis.Redis.from_url(self.url, decode_responses=False, socket_connect_timeout=2,
                                             health_check_interval=10)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.k.bus(self.process_id), self.k.bus_all)
                self.connected.set()
                delay = 0.1
                if lost and self._on_reconnect is not None:
                    lost = False
                    try:
                        await self._on_reconnect()
                    except Exception:
                        log.exception("catching up after the bus came back failed")
                async for message in pubsub.listen():
                    if message and message.get("type") == "message" and self._handler is not None:
                        self.observer.bus_received()
                        try:
                            await self._handler(message["data"])
                        except Exception:
                            log.exception("bus message handling failed")
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self.connected.clear()
                lost = True
                log.warning("bus connection lost; reconnecting error=%s", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)
            finally:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(pubsub.aclose(), 1.0)  # type: ignore[no-untyped-call]
                    await asyncio.wait_for(client.aclose(), 1.0)

    @_unavailable
    async def publish(self, process_id: str | None, payload: bytes) -> None:
        """Send to one process's channel, or to every process when ``process_id`` is None."""
        channel = self.k.bus_all if process_id is None else self.k.bus(process_id)
        await self.r.publish(channel, payload)
        self.observer.bus_published()
