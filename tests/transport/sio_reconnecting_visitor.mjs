// A shopper on socket.io-client with its default reconnection, driven by tests/stock_clients.py
//   node sio_reconnecting_visitor.mjs URL TOKEN TRANSPORTS
// It connects to /visitor with the transports given (comma-separated), starts a chat, and on every
// later connect (socket.io-client reconnects by itself) resumes it from the last seq it has. A line
// "send ID" on standard input sends a message with that client_msg_id; it leaves when standard
// input closes. Each step is printed as a JSON line.

import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const [url, token, transports] = process.argv.slice(2);
const print = (line) => console.log(JSON.stringify(line));
const socket = io(`${url}/visitor`, { auth: { token }, transports: transports.split(",") });
let connects = 0;
let conversationId = null;
let lastSeq = 0;

socket.on("connect", async () => {
  connects += 1;
  print({ event: "connected", connects, sid: socket.io.engine.id, transport: socket.io.engine.transport.name });
  if (conversationId === null) {
    const started = await socket.emitWithAck("chat:start", { name: "Node shopper", question: "Still there?" });
    conversationId = started.conversation.id;
    print({ event: "started", conversation_id: conversationId });
    return;
  }
  const resumed = await socket.emitWithAck("session:resume");
  const joined = await socket.emitWithAck("conversation:join", { conversation_id: conversationId, after_seq: lastSeq });
  print({ event: "rejoined", ok: Boolean(resumed.ok !== false && joined.ok) });
});
socket.on("disconnect", (reason) => print({ event: "disconnected", reason }));
socket.on("message:new", (message) => { lastSeq = Math.max(lastSeq, message.seq); });

createInterface({ input: process.stdin })
  .on("line", async (line) => {
    const [command, id] = line.split(" ");
    if (command !== "send") return;
    const ack = await socket.timeout(5000).emitWithAck("message:send", {
      conversation_id: conversationId, client_msg_id: id, body: `message ${id}` });
    if (ack.ok) lastSeq = Math.max(lastSeq, ack.seq);
    print({ event: "sent", ack });
  })
  .on("close", () => { socket.disconnect(); });
