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
        return f"{self.held_prefix}{agent_id}"

    @property
    def held_prefix(self) -> str:
        return f"{self.prefix}held:"

    def claiming(self, conversation_id: str) -> str:
        """STRING with a TTL: a claim of the conversation (``claim``, ``assign_next``, ``move``)
        whose database write has not finished yet. A repair of the loads after a Redis outage
        leaves such a hold alone: the database does not show it yet, but it is not stale."""
        return f"{self.claiming_prefix}{conversation_id}"

    @property
    def claiming_prefix(self) -> str:
        return f"{self.prefix}claiming:"

    @property
    def assignments(self) -> str:
        """LIST of "<time>:<seconds the chat waited>" of recent assignments, newest first (for
        wait estimates)."""
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
        return f"{self.agent_status_prefix}{agent_id}"

    @property
    def agent_status_prefix(self) -> str:
        return f"{self.prefix}status:"

    @property
    def graces(self) -> str:
        """ZSET agent id -> deadline (epoch seconds): agents gone offline whose chats are
        requeued at the deadline unless they come back. Shared, so the chats move on even when
        the process that saw the agent leave dies during the grace period."""
        return f"{self.prefix}graces"

    @property
    def epoch(self) -> str:
        """STRING, no TTL: a random value set once. A process that finds it missing or changed
        knows Redis lost what it held (restarted without persistence, flushed) and restores the
        queue, loads and presence from the database."""
        return f"{self.prefix}epoch"

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

# Claim one waiting conversation for an agent below capacity, marked in flight until the
# database has it. KEYS: queue, held(agent), entry(conversation), claiming(conversation).
# ARGV: conversation id, capacity, department queue prefix, claim mark TTL (ms).
CLAIM = _REMOVE + """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then return 'not_waiting' end
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 'at_capacity' end
remove_waiting(KEYS[1], KEYS[3], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SET', KEYS[4], '1', 'PX', ARGV[4])
return 'claimed'
"""

# Routing's one step: of the candidate agents below capacity, the one holding the fewest chats
# (ties: the earlier candidate) that may take a waiting chat takes the lowest-ranked head among
# the department queues it may take: its departments', the no-department queue, and any other
# department's whose head has waited since before the fallback time (an agent without
# departments may take every queue). Looks only at each queue's head, so a backlog in one
# department never hides another's chats. Loads, choice and claim in one atomic script: no
# other process can take the chat or fill the agent in between, and routing costs one round trip.
# The claim is marked in flight (``claiming``) until the database has it.
# KEYS: queue, departments. ARGV: open_before, entry key prefix, department queue prefix,
# held key prefix, claiming key prefix, claim mark TTL (ms), then per candidate: agent id,
# capacity, department count, departments...
# Returns {agent id, conversation id, visitor_id, department, enqueued_at, rank} or nil.
ASSIGN_NEXT = _REMOVE + """
local open_before = tonumber(ARGV[1])
local candidates = {}
local i = 7
while i <= #ARGV do
  local count = tonumber(ARGV[i + 2])
  local load = redis.call('SCARD', ARGV[4] .. ARGV[i])
  if load < tonumber(ARGV[i + 1]) then
    local wanted = {['']=true}
    for j = 1, count do wanted[ARGV[i + 2 + j]] = true end
    table.insert(candidates, {agent=ARGV[i], load=load, order=i, any=(count == 0), wanted=wanted})
  end
  i = i + 3 + count
end
if #candidates == 0 then return nil end
table.sort(candidates, function(a, b)
  if a.load ~= b.load then return a.load < b.load end
  return a.order < b.order
end)
local heads = {}
local depts = redis.call('SMEMBERS', KEYS[2])
table.insert(depts, '')
for _, dept in ipairs(depts) do
  local head = redis.call('ZRANGE', ARGV[3] .. dept, 0, 0, 'WITHSCORES')
  if head[1] then
    local f = redis.call('HMGET', ARGV[2] .. head[1], 'visitor_id', 'department', 'enqueued_at', 'rank')
    table.insert(heads, {id=head[1], score=tonumber(head[2]), dept=dept, f=f})
  end
end
table.sort(heads, function(a, b)
  if a.score ~= b.score then return a.score < b.score end
  return a.id < b.id
end)
for _, c in ipairs(candidates) do
  for _, h in ipairs(heads) do
    if c.any or c.wanted[h.dept] or tonumber(h.f[3] or '0') <= open_before then
      remove_waiting(KEYS[1], ARGV[2] .. h.id, ARGV[3], h.id)
      redis.call('SADD', ARGV[4] .. c.agent, h.id)
      redis.call('SET', ARGV[5] .. h.id, '1', 'PX', ARGV[6])
      return {c.agent, h.id, h.f[1] or '', h.f[2] or '', h.f[3] or '0', h.f[4] or '0'}
    end
  end
end
return nil
"""

# KEYS: queue. ARGV: conversation ids. Returns each one's 1-based position, or 0 when it is not
# waiting (a Lua nil would cut the reply short). One command for many ids: the queue position
# flush asks for every watched visitor at once, and a pipeline of ZRANKs costs the server
# process a command to pack and a reply to parse per visitor.
POSITIONS = """
local result = {}
for i, id in ipairs(ARGV) do
  local rank = redis.call('ZRANK', KEYS[1], id)
  result[i] = rank and rank + 1 or 0
end
return result
"""

# Merge assignments the database recorded into the recent ones (after a process start, or Redis
# lost its data). Atomic, and idempotent: each entry given is matched with an equal one already
# there (the same assignment is the same string, see redis_backend._assignment_item), each used
# once, and only those left over are added; so processes that restore at once, or a restore
# after assignments Redis kept, count each assignment once, and two chats assigned at the same
# moment after the same wait still count twice. The list stays newest first and at most ARGV[1]
# long. KEYS: assignments. ARGV: how many to keep, then the entries.
MERGE_ASSIGNMENTS = """
local items = redis.call('LRANGE', KEYS[1], 0, -1)
local unmatched = {}
for _, item in ipairs(items) do unmatched[item] = (unmatched[item] or 0) + 1 end
local added = false
for i = 2, #ARGV do
  if (unmatched[ARGV[i]] or 0) > 0 then
    unmatched[ARGV[i]] = unmatched[ARGV[i]] - 1
  else
    items[#items + 1] = ARGV[i]
    added = true
  end
end
if not added then return 0 end
local at = {}
for _, item in ipairs(items) do at[item] = tonumber(string.match(item, '^[^:]+')) end
table.sort(items, function(a, b) return at[a] > at[b] end)
redis.call('DEL', KEYS[1])
for i = 1, math.min(tonumber(ARGV[1]), #items) do redis.call('RPUSH', KEYS[1], items[i]) end
return 1
"""

# The connected agents who are not away, in one round trip (routing asks before every step).
# KEYS: connected agents. ARGV: agent status key prefix, the away status.
AVAILABLE_AGENTS = """
local available = {}
for _, agent in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('GET', ARGV[1] .. agent) ~= ARGV[2] then table.insert(available, agent) end
end
return available
"""

# Move a held conversation from one agent to another below capacity (a transfer), marked in
# flight until the database has it. KEYS: held(from), held(to), claiming(conversation).
# ARGV: conversation id, capacity, claim mark TTL (ms). Returns 1 if moved.
MOVE = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], '1', 'PX', ARGV[3])
return 1
"""

# Add a waiting conversation. ARGV[6] says how: 'replace' (an enqueue: an entry already there
# moves to the new rank) or 'restore' (rebuilding from the database: an entry already there keeps
# its place, and a conversation whose claim is in flight is not added back, since the database
# read may predate the claim). KEYS: queue, entry, departments, claiming(conversation).
# ARGV: id, rank, visitor_id, department, enqueued_at, mode, department queue prefix. Returns 1 if added.
ENQUEUE = _REMOVE + """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) ~= false then
  if ARGV[6] ~= 'replace' then return 0 end
  remove_waiting(KEYS[1], KEYS[2], ARGV[7], ARGV[1])
elseif ARGV[6] == 'restore' and redis.call('EXISTS', KEYS[4]) == 1 then
  return 0
end
redis.call('HSET', KEYS[2], 'visitor_id', ARGV[3], 'department', ARGV[4], 'enqueued_at', ARGV[5], 'rank', ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', ARGV[7] .. ARGV[4], ARGV[2], ARGV[1])
if ARGV[4] ~= '' then redis.call('SADD', KEYS[3], ARGV[4]) end
return 1
"""

# Forget a connection; when it was an agent's last, the agent leaves the connected set and their
# status goes in the same step (done in two, a connection recorded in between lost both: the
# agent, connected, read as online and was not counted by routing).
# KEYS: the party's connections, the process's connections, connected agents, the agent's status.
# ARGV: connection id, the process's member for it, the agent's id ('' for a visitor).
DISCONNECT = """
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[2])
local remaining = redis.call('HLEN', KEYS[1])
if remaining == 0 and ARGV[3] ~= '' then
  redis.call('SREM', KEYS[3], ARGV[3])
  redis.call('DEL', KEYS[4])
end
return remaining
"""

# Claim a dead process for sweeping: only the caller that removes it from the set sweeps it.
# KEYS: processes, process(alive key). ARGV: process id. Returns 1 to the one sweeper.
CLAIM_DEAD_PROCESS = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
return redis.call('SREM', KEYS[1], ARGV[1])
"""

# Record a grace deadline unless one is recorded; return the one in force.
# KEYS: graces. ARGV: agent id, deadline.
GRACE_START = """
redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
return redis.call('ZSCORE', KEYS[1], ARGV[1])
"""

# Take an agent's grace deadline if it is still the given one (a newer one, after the agent came
# back and left again, belongs to a later timer). KEYS: graces. ARGV: agent id, deadline.
CLAIM_GRACE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score == false or tonumber(score) ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
"""

# Take every grace deadline due: each agent is returned to one caller only.
# KEYS: graces. ARGV: now.
CLAIM_DUE_GRACES = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, agent in ipairs(due) do redis.call('ZREM', KEYS[1], agent) end
return due
"""
