"""Every Redis key pattern and Lua script of the Redis backend, defined once.

All keys share one prefix (``cs:`` by default) so several deployments can share a Redis by
changing it. Scripts run atomically on the Redis server: what one decides, no other client can
interleave with.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "cs:"

    # -- routing --
    @property
    def queue(self) -> str:
        """ZSET conversation id -> rank (lower is served first)."""
        return f"{self.prefix}queue"

    @property
    def department_queue_prefix(self) -> str:
        """ZSETs ``<prefix><department>`` (empty department: chats of none), the same entries as
        ``queue`` split by department, so a claim looks only at heads it may take."""
        return f"{self.prefix}queue:d:"

    @property
    def departments(self) -> str:
        """SET of the departments that have (or had) a department queue."""
        return f"{self.prefix}queue:departments"

    def entry(self, conversation_id: str) -> str:
        """HASH of a waiting conversation: visitor_id, department, enqueued_at, rank."""
        return f"{self.prefix}entry:{conversation_id}"

    @property
    def entry_prefix(self) -> str:
        return f"{self.prefix}entry:"

    def held(self, agent_id: str) -> str:
        """SET of the conversation ids an agent holds (its size is the agent's load)."""
        return f"{self.prefix}held:{agent_id}"

    @property
    def assignments(self) -> str:
        """LIST of the times of recent assignments, newest first (for wait estimates)."""
        return f"{self.prefix}assignments"

    # -- presence --
    def process(self, process_id: str) -> str:
        """STRING with a TTL: the process is alive while it keeps refreshing this key."""
        return f"{self.prefix}proc:{process_id}"

    @property
    def processes(self) -> str:
        """SET of every process id that registered (dead ones are swept from it)."""
        return f"{self.prefix}procs"

    def process_connections(self, process_id: str) -> str:
        """SET of "agent|visitor:<id>:<connection>" held by a process, swept when it dies."""
        return f"{self.prefix}proc_conns:{process_id}"

    def connections(self, kind: str, party_id: str) -> str:
        """HASH connection id -> process id, for an agent or a visitor."""
        return f"{self.prefix}conns:{kind}:{party_id}"

    @property
    def connected_agents(self) -> str:
        """SET of agent ids with at least one live connection."""
        return f"{self.prefix}agents:connected"

    def agent_status(self, agent_id: str) -> str:
        """STRING online|away while connected."""
        return f"{self.prefix}status:{agent_id}"

    # -- messaging between processes --
    def bus(self, process_id: str) -> str:
        """Pub/sub channel of one process: events for the clients it holds."""
        return f"{self.prefix}bus:{process_id}"

    @property
    def bus_all(self) -> str:
        """Pub/sub channel every process reads: queue changes."""
        return f"{self.prefix}bus:all"


# Remove a waiting conversation from the global and its department queue.
# Helper used by the scripts below (prepended to each).
_REMOVE = """
local function remove_waiting(queue, entry_key, dept_prefix, cid)
  local dept = redis.call('HGET', entry_key, 'department') or ''
  redis.call('ZREM', queue, cid)
  redis.call('ZREM', dept_prefix .. dept, cid)
  redis.call('DEL', entry_key)
end
"""

# Remove a waiting conversation. KEYS: queue, entry. ARGV: id, department queue prefix.
REMOVE = _REMOVE + """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then return 0 end
remove_waiting(KEYS[1], KEYS[2], ARGV[2], ARGV[1])
return 1
"""

# Claim one waiting conversation for an agent below capacity.
# KEYS: queue, held(agent), entry(conversation). ARGV: conversation id, capacity, department queue prefix.
CLAIM = _REMOVE + """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then return 'not_waiting' end
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 'at_capacity' end
remove_waiting(KEYS[1], KEYS[3], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
return 'claimed'
"""

# Claim, for an agent below capacity, the lowest-ranked head among the department queues it may
# take: its departments', the no-department queue, and any other department's whose head has
# waited since before the fallback time (an agent without departments may take every queue).
# Looks only at each queue's head, so a backlog in one department never hides another's chats.
# KEYS: queue, held(agent), departments. ARGV: capacity, open_before, entry key prefix,
# department queue prefix, departments...  Returns {id, visitor_id, department, enqueued_at, rank} or nil.
CLAIM_NEXT = _REMOVE + """
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[1]) then return nil end
local open_before = tonumber(ARGV[2])
local wanted = {['']=true}
local any = #ARGV < 5
for i = 5, #ARGV do wanted[ARGV[i]] = true end
local best, best_score, best_fields = nil, nil, nil
local depts = redis.call('SMEMBERS', KEYS[3])
table.insert(depts, '')
for _, dept in ipairs(depts) do
  local head = redis.call('ZRANGE', ARGV[4] .. dept, 0, 0, 'WITHSCORES')
  if head[1] then
    local score = tonumber(head[2])
    if best_score == nil or score < best_score then
      local f = redis.call('HMGET', ARGV[3] .. head[1], 'visitor_id', 'department', 'enqueued_at', 'rank')
      if any or wanted[dept] or tonumber(f[3] or '0') <= open_before then
        best, best_score, best_fields = head[1], score, f
      end
    end
  end
end
if best == nil then return nil end
remove_waiting(KEYS[1], ARGV[3] .. best, ARGV[4], best)
redis.call('SADD', KEYS[2], best)
local f = best_fields
return {best, f[1] or '', f[2] or '', f[3] or '0', f[4] or '0'}
"""

# Move a held conversation from one agent to another below capacity (a transfer).
# KEYS: held(from), held(to). ARGV: conversation id, capacity. Returns 1 if moved.
MOVE = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

# Add a waiting conversation unless it is already queued (idempotent; used on enqueue and when
# rebuilding from the database). KEYS: queue, entry, departments. ARGV: id, rank, visitor_id,
# department, enqueued_at, replace (1 to move an existing entry to the new rank), department queue prefix.
ENQUEUE = _REMOVE + """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) ~= false then
  if ARGV[6] ~= '1' then return 0 end
  remove_waiting(KEYS[1], KEYS[2], ARGV[7], ARGV[1])
end
redis.call('HSET', KEYS[2], 'visitor_id', ARGV[3], 'department', ARGV[4], 'enqueued_at', ARGV[5], 'rank', ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', ARGV[7] .. ARGV[4], ARGV[2], ARGV[1])
if ARGV[4] ~= '' then redis.call('SADD', KEYS[3], ARGV[4]) end
return 1
"""

# Claim a dead process for sweeping: only the caller that removes it from the set sweeps it.
# KEYS: processes, process(alive key). ARGV: process id. Returns 1 to the one sweeper.
CLAIM_DEAD_PROCESS = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
return redis.call('SREM', KEYS[1], ARGV[1])
"""
