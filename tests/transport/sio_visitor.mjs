// A shopper on socket.io-client, driven by tests/transport/test_transports.py:
//   node sio_visitor.mjs URL TOKEN TRANSPORTS BATCH_HEX
// It connects to /visitor with the transports given (comma-separated, e.g. "polling,websocket"),
// starts a chat, answers the agent's first message, accepts co-browsing and sends BATCH_HEX as
// one binary snapshot batch, and leaves when the agent says "bye". Each step is printed as a JSON
// line.

import { io } from "socket.io-client";

const [url, token, transports, batchHex] = process.argv.slice(2);
const wanted = transports.split(",");
const print = (line) => console.log(JSON.stringify(line));
const fail = (why) => { console.error(why); process.exit(1); };
setTimeout(() => fail("timed out"), 20_000).unref();

const socket = io(`${url}/visitor`, { auth: { token }, transports: wanted, reconnection: false });
socket.on("connect_error", (err) => fail(`connect_error: ${err.message}`));

const onTransport = (name) => new Promise((resolve) => {
  const engine = socket.io.engine;
  if (engine.transport.name === name) resolve();
  else engine.once("upgrade", () => resolve());
});

socket.once("connect", async () => {
  await onTransport(wanted[wanted.length - 1]);
  print({ event: "connected", transport: socket.io.engine.transport.name });
  const started = await socket.emitWithAck("chat:start", { name: "Node shopper", question: "Is it in stock?" });
  if (!started.ok) fail(`chat:start: ${JSON.stringify(started)}`);
  print({ event: "started", conversation_id: started.conversation.id });
});

socket.on("message:new", async (message) => {
  if (message.sender.kind !== "agent") return;
  print({ event: "agent_message", seq: message.seq, body: message.body });
  if (message.body === "bye") {
    socket.disconnect();
    print({ event: "done" });
    return;
  }
  const ack = await socket.emitWithAck("message:send", {
    conversation_id: message.conversation_id, client_msg_id: "node-1", body: "Hello from Node" });
  print({ event: "sent", ack });
});

socket.on("cobrowse:updated", async ({ session }) => {
  if (session.status !== "requested") return;
  const accepted = await socket.emitWithAck("cobrowse:respond", { session_id: session.id, accept: true });
  if (!accepted.ok) fail(`cobrowse:respond: ${JSON.stringify(accepted)}`);
  const data = Uint8Array.from(Buffer.from(batchHex, "hex"));
  const ack = await socket.emitWithAck("cobrowse:events", { session_id: session.id, seq: 1, snapshot: true, data });
  print({ event: "batch_sent", ack });
});
