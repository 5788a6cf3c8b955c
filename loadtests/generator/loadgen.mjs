// The load generator: socket.io-client 4.8 connections driven from one Node.js process.
//
// Why Node and not python-socketio clients: on this 2-core machine a python-socketio client
// process tops out at a few thousand events a second, below what the servers under test can
// relay, so the figures would measure the generator. One Node process drives 15k+ messages/s,
// and the same generator loads every target of a comparison (docs/loadtesting.md).
//
// The job comes as one JSON object on the command line (argv[2]); the generator reports on
// stdout, one JSON object a line:
//   {"event": "progress", "t", "phase", "connected", "delivered", "sent", "errors", "hist"}
//   {"event": "phase", "phase", "t"}                   a phase began
//   {"event": "ready", "t"}                            every connection is up, before messages flow
//   {"event": "chat", "conversation_id"}               a visitor started a chat (chatserver)
//   {"event": "result", ...}                           figures of the whole run (with the operations
//                                                      and round trips errors are counted against)
// With job.cobrowse the pairs stream co-browse batches instead of exchanging messages (below): on
// chatserver through real co-browse sessions, on a relay as "cobrowse:events" (room, batch).
// and it disconnects everyone and exits when its standard input closes (or says "stop").
//
// Targets: "chatserver" (visitors on /visitor with tokens from POST /api/visitor/sessions, agents
// on /agent with the tokens given; a visitor sends chat:start, routing assigns the chat to an
// agent, the pair then exchanges message:send / message:new) and "relay" (the reference relays in
// loadtests/reference/: two sockets join a room, each "msg" goes to the other member).
//
// Latencies go into a log-bucket histogram: bucket i holds values in [e^(i/100), e^((i+1)/100))
// microseconds, 1% relative precision as an HDR histogram with two significant digits.

import { encode } from "@msgpack/msgpack";
import { io } from "socket.io-client";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";

const job = JSON.parse(process.argv[2]);
const url = job.url;
const chat = job.target === "chatserver";
const started = performance.now();
const ACK_TIMEOUT = job.ackTimeoutMs ?? 10000;
const CONNECT_TIMEOUT = job.connectTimeoutMs ?? 20000;

const say = (message) => process.stdout.write(JSON.stringify(message) + "\n");
const now = () => performance.now();
const elapsed = () => Math.round((now() - started)) / 1000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// -- counters -------------------------------------------------------------------------------------

const errors = {};
const countError = (kind) => { errors[kind] = (errors[kind] ?? 0) + 1; };
// What errors are a share of: every connection attempt, call awaiting an ack, message and
// co-browse batch sent; and the round trips started (pings), which no_reply is a share of.
let operations = 0, rounds = 0;

class Histogram {
  constructor() { this.counts = new Map(); this.n = 0; this.min = Infinity; this.max = 0; }
  record(ms) {
    const us = Math.max(ms * 1000, 1);
    const i = Math.floor(Math.log(us) * 100);
    this.counts.set(i, (this.counts.get(i) ?? 0) + 1);
    this.n += 1;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }
  toJSON() { return { counts: Object.fromEntries(this.counts), min: this.n ? this.min : null, max: this.n ? this.max : null }; }
}

const hist = { rtt: new Histogram(), start_ack: new Histogram(), assignment: new Histogram(), resume: new Histogram(),
  relay: new Histogram(), cobrowse_start: new Histogram() };
let interval = new Histogram(); // round trips since the last progress line
let phase = "connect";
let connected = 0;
let delivered = 0, sent = 0; // since the last progress line
let totalDelivered = 0, totalSent = 0;
let counting = false; // messages of the warm-up are not counted
let countedDelivered = 0, countedFrom = 0, countedTo = 0;

function setPhase(name) { phase = name; say({ event: "phase", phase: name, t: elapsed() }); }

const progressTimer = setInterval(() => {
  say({ event: "progress", t: elapsed(), phase, connected, delivered, sent, errors, hist: interval.toJSON().counts });
  delivered = 0; sent = 0; interval = new Histogram();
}, (job.progressInterval ?? 1) * 1000);

// -- connections ----------------------------------------------------------------------------------

const sockets = new Set();

// Reconnection after a drop the generator did not ask for (a server restarting, a network cut):
// socket.io-client's own backoff, from RECONNECT_DELAY_MS up to RECONNECT_DELAY_MAX_MS.
const RECONNECT_DELAY_MS = job.reconnectDelayMs ?? 200;
const RECONNECT_DELAY_MAX_MS = job.reconnectDelayMaxMs ?? 2000;
const drops = {}; // reason -> connections dropped for it
const dropped = new Set(); // sockets dropped and not back (yet)
let reconnected = 0, refused = 0;

// A first connection fails at once (no retry: the run reports it). Once connected, a socket comes
// back after any drop, and each resumer registered on it (socket.resumers) runs on its return.
function connect(path, auth) {
  operations += 1;
  return new Promise((resolve, reject) => {
    const socket = io(url + path, {
      auth, transports: ["websocket"], forceNew: true, reconnection: false, timeout: CONNECT_TIMEOUT,
    });
    socket.resumers = [];
    const fail = (err) => { socket.close(); reject(new Error(`connect_error:${err.message}`)); };
    socket.once("connect_error", fail);
    socket.once("connect", () => {
      socket.off("connect_error", fail);
      keepConnected(socket);
      resolve(socket);
    });
  });
}

function keepConnected(socket) {
  connected += 1;
  sockets.add(socket);
  socket.io.reconnection(true);
  socket.io.reconnectionDelay(RECONNECT_DELAY_MS);
  socket.io.reconnectionDelayMax(RECONNECT_DELAY_MAX_MS);
  socket.on("disconnect", (reason) => {
    connected -= 1;
    sockets.delete(socket);
    if (socket.leaving) return;
    drops[reason] = (drops[reason] ?? 0) + 1;
    socket.droppedFor = reason;
    dropped.add(socket);
    // socket.io-client reconnects by itself after a transport closes, but not after a Socket.IO
    // disconnect sent by the server: it is asked to, as a user's browser would reload.
    if (reason === "io server disconnect") {
      setTimeout(() => { if (!socket.leaving) socket.connect(); }, RECONNECT_DELAY_MS);
    }
  });
  socket.on("connect", () => { // every connection after the first
    connected += 1;
    sockets.add(socket);
    dropped.delete(socket);
    reconnected += 1; operations += 1;
    for (const resume of socket.resumers) resume();
  });
  socket.on("connect_error", (err) => {
    // A refusal by the server (err.data: a revoked or disabled agent's token) ends the socket;
    // a transport error (the server still down) is retried by socket.io-client.
    if (err?.data === undefined || socket.leaving) return;
    refused += 1;
    countError(`reconnect_refused:${err.data?.code ?? err.message}`);
  });
}

function leave(socket) { socket.leaving = true; socket.disconnect(); }

async function call(socket, event, payload) {
  operations += 1;
  let ack;
  try {
    ack = await socket.timeout(ACK_TIMEOUT).emitWithAck(event, payload);
  } catch {
    throw new Error(`ack_timeout:${event}`);
  }
  if (chat && !ack?.ok) throw new Error(`refused:${event}:${ack?.error?.code ?? "unknown"}`);
  return ack;
}

// Run fn(i) for i in [0, n), at most `concurrency` at once, the starts spread over rampMs.
async function ramp(n, rampMs, concurrency, fn) {
  let next = 0;
  const t0 = now();
  const results = new Array(n);
  async function worker() {
    while (next < n) {
      const i = next++;
      const due = t0 + (n > 1 ? (rampMs * i) / (n - 1) : 0);
      const wait = due - now();
      if (wait > 1) await sleep(wait);
      try { results[i] = await fn(i); } catch (err) { countError(err.message); results[i] = null; }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return results;
}

async function visitorToken() {
  operations += 1;
  const response = await fetch(url + "/api/visitor/sessions", { method: "POST" });
  if (response.status !== 201) throw new Error(`visitor_session:${response.status}`);
  return (await response.json()).token;
}

// -- chatserver pairs -----------------------------------------------------------------------------

// A logical client across reconnects: the seqs it has of its conversation (received, or its own
// from acks). A duplicate is the server sending one connection a seq twice, or one at or below
// the after_seq that connection joined with: never a replay the client asked for.
class Party {
  constructor(role, token) {
    this.role = role; this.token = token; this.socket = null; this.seen = new Set(); this.duplicates = 0;
    this.received = new Set(); this.joinedAfter = 0;
    this.unacked = []; // messages whose ack a drop cut off: sent again (same client_msg_id) on return
  }
  got(seq) {
    if (this.received.has(seq) || seq <= this.joinedAfter) this.duplicates += 1;
    this.received.add(seq);
    this.seen.add(seq);
  }
  own(seq) { this.seen.add(seq); }
  rejoin(afterSeq) { this.received = new Set(); this.joinedAfter = afterSeq; }
  contiguous() { let s = 0; while (this.seen.has(s + 1)) s += 1; return s; }
  missing(lastSeq) { let m = 0; for (let s = 1; s <= lastSeq; s++) if (!this.seen.has(s)) m += 1; return m; }
}

const pairs = []; // {index, cid, visitor: Party, agent: Party, sentAt: Map}
const assignedAt = new Map(); // cid -> {t, agent}
const pendingStarts = new Map(); // cid -> {t0, resolve}

function watchMessages(party, pair) {
  party.socket.resumers.push(() => resume(party, pair));
  party.socket.on("message:new", (m) => {
    // An agent's one socket carries all its chats; a new visitor's first events may come
    // before the chat:start ack tells its conversation id.
    if (pair.cid !== null && m.conversation_id !== pair.cid) return;
    // A message seen before a drop comes again when the party rejoins past a gap: handled once.
    const handled = party.seen.has(m.seq);
    party.got(m.seq);
    if (party.onSeq) party.onSeq();
    if (m.kind !== "text" || handled) return;
    if (party.role === "agent" && m.sender?.kind === "visitor" && m.body.startsWith("p:")) {
      onDelivered();
      reply(pair, m.body.slice(2));
    } else if (party.role === "visitor" && m.sender?.kind === "agent" && m.body.startsWith("q:")) {
      onDelivered();
      onPong(pair, m.body.slice(2));
    }
  });
}

// Back after a drop, as the widget and the console are: join the conversation again after the
// last seq held (what was missed comes first), then send again what the drop left unacknowledged.
async function resume(party, pair) {
  if (pair.cid === null) return;
  const after = party.contiguous();
  party.rejoin(after);
  try {
    await call(party.socket, "conversation:join", { conversation_id: pair.cid, after_seq: after });
  } catch (err) {
    countError(err.message);
    return;
  }
  for (const again of party.unacked.splice(0)) again();
}

function onDelivered() { delivered += 1; totalDelivered += 1; if (counting) countedDelivered += 1; }

function agentAssigned(agentParty, data) {
  const c = data?.conversation;
  if (!c || c.status !== "assigned" || assignedAt.has(c.id)) return;
  assignedAt.set(c.id, { t: now(), agent: agentParty });
  const pending = pendingStarts.get(c.id);
  if (pending) pending.resolve();
  // Every agent slot is taken: the chats still waiting stay queued, no need to wait for them.
  if (job.slots && assignedAt.size >= job.slots) for (const p of pendingStarts.values()) p.resolve();
}

async function startChatserverPairs() {
  const agents = [];
  setPhase("agents");
  await ramp(job.agentTokens.length, 0, job.concurrency, async (i) => {
    const party = new Party("agent", job.agentTokens[i]);
    party.socket = await connect("/agent", { token: party.token });
    party.socket.on("conversation:updated", (data) => agentAssigned(party, data));
    agents.push(party);
  });
  setPhase("chat_start");
  const visitorsDone = await ramp(job.visitors, job.rampMs, job.concurrency, async (i) => {
    const visitor = new Party("visitor", await visitorToken());
    visitor.socket = await connect("/visitor", { token: visitor.token });
    const pair = { index: i, cid: null, visitor, agent: null, sentAt: new Map(), next: 0, inflight: 0, pingSeq: new Map() };
    watchMessages(visitor, pair);
    const t0 = now();
    const ack = await call(visitor.socket, "chat:start", { name: `Load visitor ${i}`, question: `Load test question ${i}` });
    hist.start_ack.record(now() - t0);
    const cid = ack.conversation.id;
    say({ event: "chat", conversation_id: cid }); // the load tester closes it after a --url run
    pair.cid = cid;
    if (!assignedAt.has(cid)) {
      await new Promise((resolve) => {
        pendingStarts.set(cid, { resolve });
        if (job.slots && assignedAt.size >= job.slots) resolve();
        setTimeout(resolve, job.assignTimeoutMs ?? 30000);
      });
      pendingStarts.delete(cid);
    }
    const assigned = assignedAt.get(cid);
    if (!assigned) { countError("not_assigned"); return null; }
    hist.assignment.record(assigned.t - t0);
    if (i >= job.pairs) return pair; // a storm's chat: assigned, not paired
    const agent = new Party("agent", assigned.agent.token);
    agent.socket = assigned.agent.socket;
    pair.agent = agent;
    watchMessages(agent, pair);
    const joined = await call(agent.socket, "conversation:join", { conversation_id: cid, after_seq: 0 });
    pair.lastSeq = joined.last_seq;
    return pair;
  });
  for (const pair of visitorsDone) if (pair?.agent) pairs.push(pair);
  return agents;
}

// -- relay pairs ----------------------------------------------------------------------------------

async function startRelayPairs() {
  setPhase("pairs");
  const done = await ramp(job.visitors, job.rampMs, job.concurrency, async (i) => {
    const room = `r${i}`;
    const visitor = new Party("visitor", null);
    const agent = new Party("agent", null);
    visitor.socket = await connect("/", {});
    agent.socket = await connect("/", {});
    await call(visitor.socket, "join", room);
    await call(agent.socket, "join", room);
    for (const socket of [visitor.socket, agent.socket]) {
      socket.resumers.push(() => call(socket, "join", room).catch((err) => countError(err.message)));
    }
    const pair = { index: i, cid: room, visitor, agent, sentAt: new Map(), next: 0, inflight: 0, pingSeq: new Map() };
    agent.socket.on("msg", (body) => { onDelivered(); reply(pair, body.slice(2)); });
    visitor.socket.on("msg", (body) => { onDelivered(); onPong(pair, body.slice(2)); });
    return pair;
  });
  for (const pair of done) if (pair) pairs.push(pair);
}

// -- ping-pong ------------------------------------------------------------------------------------

let sending = false;
const noReply = []; // the first rounds left without a reply when the exchange stopped

// A message's client_msg_id names its round: the reply to ping N is "aI-N" whenever it is sent
// (the server treats a repeated client_msg_id as a resend and stores nothing new).
function send(party, pair, body, idPrefix) {
  sent += 1; totalSent += 1; operations += 1;
  if (!chat) { party.socket.emit("msg", pair.cid, body); return; }
  const payload = { conversation_id: pair.cid, client_msg_id: `${idPrefix}${pair.index}-${body.slice(2)}`, body };
  const socket = party.socket;
  socket.timeout(ACK_TIMEOUT).emit("message:send", payload, (err, ack) => {
    if (err && !socket.connected && !socket.leaving) party.unacked.push(() => send(party, pair, body, idPrefix));
    else if (err) countError("ack_timeout:message:send");
    else if (!ack?.ok) countError(`refused:message:send:${ack?.error?.code ?? "unknown"}`);
    else { party.own(ack.seq); if (body.startsWith("p:")) pair.pingSeq.set(body.slice(2), ack.seq); }
  });
}

function ping(pair) {
  rounds += 1;
  pair.next += 1;
  pair.inflight += 1;
  pair.sentAt.set(String(pair.next), now());
  send(pair.visitor, pair, `p:${pair.next}`, "v");
}

function reply(pair, n) { send(pair.agent, pair, `q:${n}`, "a"); }

function onPong(pair, n) {
  const t = pair.sentAt.get(n);
  if (t === undefined) { countError("unexpected_reply"); return; }
  pair.sentAt.delete(n);
  pair.inflight -= 1;
  const rtt = now() - t;
  interval.record(rtt);
  if (counting) hist.rtt.record(rtt);
  if (sending && !job.roundsPerSecond) ping(pair); // closed loop: the next round at once
}

// The warm-up, then the measured window (what arrives in it is counted), then the pairs' senders
// stop and the drain phase begins.
async function measure(senders) {
  await sleep(job.warmupS * 1000);
  setPhase("measure");
  counting = true;
  countedFrom = now();
  await sleep(job.durationS * 1000);
  counting = false;
  countedTo = now();
  sending = false;
  for (const pair of senders) clearTimeout(pair.timer);
  setPhase("drain");
}

async function exchange() {
  if (!pairs.length || job.durationS <= 0) return;
  setPhase("warmup");
  sending = true;
  if (job.roundsPerSecond) {
    // Open loop: each pair starts a round every 1/rate s whether or not the last one came back.
    const period = 1000 / job.roundsPerSecond;
    for (const pair of pairs) {
      const first = now() + Math.random() * period;
      let due = first;
      const tick = () => {
        if (!sending) return;
        ping(pair);
        due += period;
        pair.timer = setTimeout(tick, Math.max(0, due - now()));
      };
      pair.timer = setTimeout(tick, first - now());
    }
  } else {
    for (const pair of pairs) ping(pair);
  }
  await measure(pairs);
  const drainUntil = now() + (job.drainMs ?? 5000);
  while (now() < drainUntil && pairs.some((p) => p.inflight > 0)) await sleep(20);
  let lost = 0;
  for (const pair of pairs) {
    lost += pair.inflight;
    // Which step each unanswered round stopped at: the ping not acknowledged (not stored), not
    // received by the agent, or the reply not back.
    for (const n of pair.sentAt.keys()) {
      if (noReply.length >= 20) break;
      const seq = pair.pingSeq.get(n) ?? null;
      noReply.push({ pair: pair.index, ping: Number(n), ping_seq: seq,
                     agent_received: seq !== null && pair.agent.received.has(seq) });
    }
    pair.inflight = 0; pair.sentAt.clear();
  }
  if (lost) errors.no_reply = (errors.no_reply ?? 0) + lost;
}

// -- co-browse streaming ---------------------------------------------------------------------------
//
// On chatserver each pair's agent asks to co-browse, its visitor accepts, the agent joins; on a
// relay the pair's two sockets are in a room of their own. The visitor sends a full snapshot
// (snapshotBytes of msgpack, split in parts of the server's max_part_bytes, as the widget does)
// and then batches of eventsPerBatch incremental events (about batchBytes each): open loop at
// batchesPerSecond, or with inFlight > 0 a closed loop, the next batch as soon as the agent has
// one of the inFlight before it. Relay latency: from just before the visitor emits a batch to
// the agent receiving it (the batch header's t, this process's clock, relayed as it is).
//
// The agent checks what arrives: every part of every batch once, in the order sent, with the
// bytes sent (a batch sent and never received whole is "lost" when the run ends; one received
// again "duplicate"; a part other than the next one "out_of_order"; a batch whose bytes differ
// "incomplete").

const PART_BYTES = 64 * 1024; // until the cobrowse:respond ack says the server's max_part_bytes
let snapshotData = null; // the encoded snapshot every session sends

function fakeSnapshot(bytes) {
  // A DOM-shaped tree of about `bytes` bytes: nested elements with attributes and text.
  const children = [];
  let id = 10;
  let size = 0;
  while (size < bytes) {
    const text = `Product line ${id}: waxed canvas tote, leather key fob, shipping and returns information.`;
    children.push({ type: 2, tagName: "div", attributes: { class: `row row-${id % 7}`, "data-id": String(id) },
      childNodes: [{ type: 3, textContent: text, id: id + 1 }], id });
    id += 2;
    size += text.length + 60;
  }
  return [{ type: 4, data: { href: "https://shop.example/checkout", width: 1280, height: 800 }, timestamp: Date.now() },
    { type: 2, data: { node: { type: 0, childNodes: [{ type: 2, tagName: "html", attributes: {}, childNodes: children, id: 2 }], id: 1 },
      initialOffset: { left: 0, top: 0 } }, timestamp: Date.now() }];
}

function fakeIncremental(n, count, bytes) {
  const events = [];
  const pad = "x".repeat(Math.max(0, Math.floor(bytes / Math.max(count, 1)) - 60));
  for (let k = 0; k < count; k++) {
    events.push({ type: 3, data: { source: 0, texts: [{ id: 11 + (k % 50), value: `line ${n}.${k} ${pad}` }],
      attributes: [], removes: [], adds: [] }, timestamp: Date.now() });
  }
  return encode(events);
}

// A closed loop sends as fast as the server relays: batches are taken in turn from a few encoded
// once, so that encoding them does not cost the generator what the server is measured on.
const BATCH_POOL = 16;
let batchPool = null;

function nextIncremental(pair) {
  const cb = job.cobrowse;
  pair.n = (pair.n ?? 0) + 1;
  if (!cb.inFlight) return fakeIncremental(pair.n, cb.eventsPerBatch, cb.batchBytes);
  batchPool ??= Array.from({ length: BATCH_POOL }, (_, k) => fakeIncremental(k + 1, cb.eventsPerBatch, cb.batchBytes));
  return batchPool[pair.n % BATCH_POOL];
}

function sendCobrowse(pair, data, snapshot) {
  const size = pair.partBytes ?? PART_BYTES;
  const parts = [];
  if (data.length <= size) parts.push(data);
  else for (let start = 0; start < data.length; start += size) parts.push(data.subarray(start, start + size));
  pair.cbSeq += 1;
  pair.unreceived.set(pair.cbSeq, data.length);
  const t = now();
  sent += 1; totalSent += 1; operations += 1;
  parts.forEach((bytes, part) => {
    pair.emitBatch({ session_id: pair.session, seq: pair.cbSeq, snapshot, part, parts: parts.length, t, data: bytes });
  });
}

// The next batch of a session: a fresh snapshot when the server asked for one (as the widget
// does: it replaces what the server buffered for late joiners), else incremental events.
function sendNextBatch(pair) {
  if (pair.snapshotWanted) {
    pair.snapshotWanted = false;
    sendCobrowse(pair, snapshotData, true);
  } else {
    sendCobrowse(pair, nextIncremental(pair), false);
  }
}

function cobrowsePair(pair, emitBatch) {
  Object.assign(pair, { emitBatch, cbSeq: 0, unreceived: new Map(), expectSeq: 1, expectPart: 0, gotBytes: 0,
                        snapshotWanted: false });
  pair.agent.socket.on("cobrowse:events", (batch) => onBatch(pair, batch));
}

function onBatch(pair, batch) {
  if (batch?.session_id !== pair.session) return;
  if (!pair.unreceived.has(batch.seq)) { countError("duplicate"); return; }
  if (batch.seq !== pair.expectSeq || batch.part !== pair.expectPart) {
    countError("out_of_order");
    pair.expectSeq = batch.seq;
    if (batch.part === 0) pair.gotBytes = 0;
  }
  pair.gotBytes += batch.data?.byteLength ?? 0;
  if (batch.part < batch.parts - 1) { pair.expectPart = batch.part + 1; return; }
  if (pair.gotBytes !== pair.unreceived.get(batch.seq)) countError("incomplete");
  pair.unreceived.delete(batch.seq);
  pair.expectSeq = batch.seq + 1; pair.expectPart = 0; pair.gotBytes = 0;
  onDelivered();
  if (!batch.snapshot) { // the snapshot's size makes it a different measure
    const ms = now() - batch.t;
    interval.record(ms);
    if (counting) hist.relay.record(ms);
  }
  if (sending && job.cobrowse.inFlight) while (pair.unreceived.size < job.cobrowse.inFlight) sendNextBatch(pair);
}

async function startCobrowse() {
  setPhase("cobrowse_start");
  snapshotData = encode(fakeSnapshot(job.cobrowse.snapshotBytes));
  await ramp(pairs.length, 0, job.concurrency, async (i) => {
    const pair = pairs[i];
    const t0 = now();
    const active = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("cobrowse_not_active")), job.assignTimeoutMs ?? 30000);
      pair.visitor.socket.on("cobrowse:updated", ({ session }) => {
        if (session.status === "requested") {
          call(pair.visitor.socket, "cobrowse:respond", { session_id: session.id, accept: true }).then((ack) => {
            if (Number.isInteger(ack.max_part_bytes) && ack.max_part_bytes > 0) pair.partBytes = ack.max_part_bytes;
          }).catch((err) => countError(err.message));
        } else if (session.status === "active") {
          clearTimeout(timer);
          resolve();
        } else if (session.status === "paused") {
          countError(`cobrowse_paused:${session.reason}`);
        }
      });
    });
    // Batches go without acks (the widget asks for one, to send the page again after a refusal):
    // a refusal comes as an "error" event, and is counted.
    pair.visitor.socket.on("error", (data) => countError(`refused:${data?.event}:${data?.error?.code ?? "unknown"}`));
    // The server asks for a fresh snapshot once what it buffers since the last one grows large
    // (and when an agent joins a page it has nothing of: the first snapshot below answers that).
    pair.visitor.socket.on("cobrowse:snapshot", (data) => {
      if (sending && data?.session_id === pair.session) pair.snapshotWanted = true;
    });
    const ack = await call(pair.agent.socket, "cobrowse:request", { conversation_id: pair.cid });
    pair.session = ack.session.id;
    await active;
    const visitor = pair.visitor.socket;
    cobrowsePair(pair, (header) => visitor.emit("cobrowse:events", header));
    await call(pair.agent.socket, "cobrowse:join", { session_id: pair.session });
    hist.cobrowse_start.record(now() - t0);
    sendCobrowse(pair, snapshotData, true);
    return pair;
  });
}

// The same batches through a reference relay: each pair's room stands for its session.
function startRelayCobrowse() {
  snapshotData = encode(fakeSnapshot(job.cobrowse.snapshotBytes));
  for (const pair of pairs) {
    pair.session = pair.cid;
    const visitor = pair.visitor.socket;
    cobrowsePair(pair, (header) => visitor.emit("cobrowse:events", pair.cid, header));
    sendCobrowse(pair, snapshotData, true);
  }
}

async function streamCobrowse() {
  const cb = job.cobrowse;
  const live = pairs.filter((p) => p.session && p.unreceived);
  if (!live.length || job.durationS <= 0) return;
  setPhase("warmup");
  sending = true;
  if (cb.inFlight) {
    for (const pair of live) while (pair.unreceived.size < cb.inFlight) sendNextBatch(pair);
  } else {
    const period = 1000 / cb.batchesPerSecond;
    for (const pair of live) {
      let due = now() + Math.random() * period;
      const tick = () => {
        if (!sending) return;
        sendNextBatch(pair);
        due += period;
        pair.timer = setTimeout(tick, Math.max(0, due - now()));
      };
      pair.timer = setTimeout(tick, due - now());
    }
  }
  await measure(live);
  const drainUntil = now() + (job.drainMs ?? 5000);
  while (now() < drainUntil && live.some((p) => p.unreceived.size > 0)) await sleep(20);
  let lost = 0;
  for (const pair of live) { lost += pair.unreceived.size; pair.unreceived.clear(); }
  if (lost) errors.lost = (errors.lost ?? 0) + lost;
}

// -- reconnect storm (chatserver) -----------------------------------------------------------------

async function reconnectStorm() {
  const live = pairs.filter((p) => p.agent);
  if (!live.length) return null;
  setPhase("drop");
  // Visitors go first, then their agents write messages the visitors have not seen, then the
  // agents go too: after the reconnect each side must catch up from its own last seq.
  for (const pair of live) leave(pair.visitor.socket);
  await ramp(live.length, 0, job.concurrency, async (i) => {
    const pair = live[i];
    for (let k = 0; k < job.missedMessages; k++) {
      pair.next += 1;
      const ack = await call(pair.agent.socket, "message:send",
        { conversation_id: pair.cid, client_msg_id: `m${pair.index}-${pair.next}`, body: `missed ${k}` });
      pair.agent.own(ack.seq);
    }
  });
  const agentSockets = new Set(live.map((p) => p.agent.socket));
  for (const socket of agentSockets) leave(socket);
  await sleep(job.reconnectPauseMs ?? 500);
  setPhase("reconnect");
  // Every party reconnects at once; an agent that holds several chats joins each.
  const byToken = new Map();
  for (const pair of live) {
    for (const party of [pair.visitor, pair.agent]) {
      const key = `${party.role}:${party.token}`;
      if (!byToken.has(key)) byToken.set(key, []);
      byToken.get(key).push({ party, pair });
    }
  }
  const groups = [...byToken.values()];
  let resumed = 0, failed = 0, missing = 0;
  await ramp(groups.length, job.rampMs, job.concurrency, async (g) => {
    const group = groups[g];
    const t0 = now();
    let socket;
    try {
      socket = await connect(group[0].party.role === "agent" ? "/agent" : "/visitor", { token: group[0].party.token });
    } catch (err) {
      failed += group.length; throw err;
    }
    await Promise.all(group.map(async ({ party, pair }) => {
      party.socket = socket;
      watchMessages(party, pair);
      const after = party.contiguous();
      party.rejoin(after);
      const caughtUp = new Promise((resolve) => { party.onSeq = () => { if (party.contiguous() >= party.target) resolve(); }; });
      party.target = Infinity;
      const ack = await call(socket, "conversation:join", { conversation_id: pair.cid, after_seq: after });
      party.target = ack.last_seq;
      if (party.contiguous() < party.target) {
        await Promise.race([caughtUp, sleep(job.resumeTimeoutMs ?? 30000)]);
      }
      party.onSeq = null;
      const gap = party.missing(party.target);
      if (gap) { missing += gap; countError("resume_incomplete"); return; }
      hist.resume.record(now() - t0);
      resumed += 1;
    }));
  });
  let duplicates = 0;
  for (const pair of live) duplicates += pair.visitor.duplicates + pair.agent.duplicates;
  if (duplicates) errors.duplicate = (errors.duplicate ?? 0) + duplicates;
  if (missing) errors.lost = (errors.lost ?? 0) + missing;
  return { parties: live.length * 2, resumed, failed, duplicates, lost: missing,
           missed_per_visitor: job.missedMessages };
}

// -- the run --------------------------------------------------------------------------------------

async function idleConnections() {
  if (!job.idle) return;
  setPhase("idle");
  await ramp(job.idle, job.rampMs, job.concurrency, async () => {
    if (chat) return connect("/visitor", { token: await visitorToken() });
    return connect("/", {});
  });
}

function waitForStop() {
  return new Promise((resolve) => {
    const lines = createInterface({ input: process.stdin });
    lines.on("line", (line) => { if (line.trim() === "stop") resolve(); });
    lines.on("close", resolve);
  });
}

let resultSent = false;

function leaveAndExit() {
  for (const socket of [...sockets, ...dropped]) leave(socket);
  setTimeout(() => process.exit(0), 200);
}

async function main() {
  const stop = waitForStop();
  let stopped = false;
  // Told to stop before the result (the load tester was interrupted): leave now, mid-run.
  stop.then(() => { stopped = true; if (!resultSent) leaveAndExit(); });
  await idleConnections();
  if (job.visitors) {
    if (chat) await startChatserverPairs(); else await startRelayPairs();
  }
  if (job.cobrowse) { if (chat) await startCobrowse(); else startRelayCobrowse(); }
  say({ event: "ready", t: elapsed(), connected, pairs: pairs.length });
  if (job.holdS) {
    setPhase("hold");
    await Promise.race([sleep(job.holdS * 1000), stop]);
  }
  if (!stopped) await (job.cobrowse ? streamCobrowse() : exchange());
  let reconnect = null;
  if (!stopped && job.reconnect && chat) reconnect = await reconnectStorm();
  setPhase("done");
  // A connection dropped and not back by now is an error; one that came back is not (its rounds
  // were answered, or they count as no_reply).
  for (const socket of dropped) countError(`disconnect:${socket.droppedFor}`);
  const measured = Math.max(countedTo - countedFrom, 0) / 1000;
  say({
    event: "result", t: elapsed(), connected, pairs: pairs.length, measured_s: measured,
    delivered: countedDelivered, total_delivered: totalDelivered, total_sent: totalSent,
    operations, rounds, errors,
    reconnections: { dropped: drops, back: reconnected, not_back: dropped.size, refused }, reconnect, no_reply: noReply, hist: Object.fromEntries(Object.entries(hist).map(([k, h]) => [k, h.toJSON()])),
  });
  resultSent = true;
  clearInterval(progressTimer);
  await stop;
  leaveAndExit();
}

main().catch((err) => { say({ event: "error", message: String(err?.stack ?? err) }); process.exit(1); });
