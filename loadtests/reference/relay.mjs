// The reference Node.js relays for comparisons: socket.io 4.8 with its defaults (permessage-deflate
// is off by default in socket.io 4), on 127.0.0.1:PORT (argv[2]).
//   "join" (room, ack)  the socket joins the room
//   "msg"  (room, body) the body goes to the other members of the room as "msg"
//   "cobrowse:events" (room, batch)  the batch (an object with a binary attachment, as the
//                       co-browse widget sends) goes to the other members as "cobrowse:events"
//                       (relayed at once, never stored, by the storing relay too)
// It prints {"event": "listening", "port": PORT} once it accepts connections.
//
// With a database file (argv[3]) it is the storing relay: every message is written to SQLite
// (better-sqlite3, WAL, synchronous=NORMAL: what chatserver's embedded store does) before it is
// relayed. A message costs what one costs chatserver's store: the resend check on
// (room, sender, client id), the room's sequence number taken by an UPDATE ... RETURNING, the
// INSERT, each in a savepoint of its own; the messages that arrived in one turn of the event loop
// share one transaction (a group commit), and nothing is relayed before its COMMIT.

import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2]);
const databaseFile = process.argv[3];
const http = createServer();
const io = new Server(http, { transports: ["websocket"] });
const store = databaseFile ? await openStore(databaseFile) : null;

io.on("connection", (socket) => {
  let sent = 0;
  socket.on("join", (room, ack) => {
    if (typeof room !== "string") return;
    socket.join(room);
    if (store) store.room(room);
    if (typeof ack === "function") ack({ ok: true });
  });
  socket.on("msg", (room, body) => {
    if (typeof room !== "string" || typeof body !== "string") return;
    if (!store) { socket.to(room).emit("msg", body); return; }
    sent += 1;
    store.append(room, socket.id, String(sent), body, () => socket.to(room).emit("msg", body));
  });
  socket.on("cobrowse:events", (room, batch) => {
    if (typeof room !== "string" || typeof batch !== "object" || batch === null) return;
    socket.to(room).emit("cobrowse:events", batch);
  });
});

async function openStore(file) {
  const { default: Database } = await import("better-sqlite3");
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.exec(`
    CREATE TABLE IF NOT EXISTS rooms (id TEXT PRIMARY KEY, last_seq INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE IF NOT EXISTS messages (
      room_id TEXT NOT NULL REFERENCES rooms (id), seq INTEGER NOT NULL, sender_id TEXT NOT NULL,
      client_msg_id TEXT NOT NULL, body TEXT NOT NULL, created_at REAL NOT NULL,
      PRIMARY KEY (room_id, seq)) WITHOUT ROWID;
    CREATE UNIQUE INDEX IF NOT EXISTS messages_idempotency ON messages (room_id, sender_id, client_msg_id);`);
  const addRoom = db.prepare("INSERT OR IGNORE INTO rooms (id) VALUES (?)");
  const resent = db.prepare("SELECT seq FROM messages WHERE room_id = ? AND sender_id = ? AND client_msg_id = ?");
  const nextSeq = db.prepare("UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq");
  const insert = db.prepare(
    "INSERT INTO messages (room_id, seq, sender_id, client_msg_id, body, created_at) VALUES (?, ?, ?, ?, ?, ?)");
  // A transaction function called inside another runs in a savepoint (better-sqlite3).
  const one = db.transaction((m) => {
    if (resent.get(m.room, m.sender, m.clientId) !== undefined) return false;
    const row = nextSeq.get(m.room);
    if (row === undefined) return false;
    insert.run(m.room, row.last_seq, m.sender, m.clientId, m.body, Date.now() / 1000);
    return true;
  });
  const all = db.transaction((batch) => batch.map((m) => one(m)));
  let pending = [];

  function commit() {
    const batch = pending;
    pending = [];
    let stored;
    try {
      stored = all.immediate(batch);
    } catch (err) {
      process.stderr.write(`batch of ${batch.length} not stored: ${err}\n`);
      return;
    }
    batch.forEach((m, i) => { if (stored[i]) m.deliver(); });
  }

  return {
    room(id) { addRoom.run(id); },
    append(room, sender, clientId, body, deliver) {
      pending.push({ room, sender, clientId, body, deliver });
      if (pending.length === 1) setImmediate(commit);
    },
    close() { db.close(); },
  };
}

http.listen(port, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ event: "listening", port }) + "\n");
});
process.on("SIGTERM", () => {
  if (store) store.close();
  process.exit(0);
});
