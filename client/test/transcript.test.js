import assert from "node:assert/strict";
import { test } from "node:test";
import { Transcript } from "../src/ui/transcript.js";

const message = (seq, extra = {}) => ({
  conversation_id: "c1", seq, kind: "text", sender: { kind: "agent", name: "Alice" }, body: `m${seq}`,
  meta: null, client_msg_id: null, created_at: seq, ...extra,
});
const bodies = (t) => t.items().map((item) => item.message.body);

test("messages are shown once each, in seq order, whatever order they arrive in", () => {
  const t = new Transcript();
  assert.equal(t.add(message(2)), true);
  assert.equal(t.add(message(1)), true);
  assert.equal(t.add(message(2)), false);
  assert.deepEqual(bodies(t), ["m1", "m2"]);
  assert.equal(t.deliveredSeq, 2);
});

test("a pending message becomes the stored one when acknowledged, keeping its place and key", () => {
  const t = new Transcript();
  t.add(message(1));
  const item = t.queue("c1", "w-1", "hello");
  const pendingKey = t.items()[1].key;
  assert.equal(t.items()[1].status, "queued");
  t.confirm(item.client_msg_id, 2, 123);
  const [, mine] = t.items();
  assert.equal(mine.key, pendingKey);
  assert.equal(mine.status, "sent");
  assert.equal(mine.message.seq, 2);
  assert.deepEqual(t.outbox(), []);
  // an ack's seq is not a delivery: a rejoin still asks for what came after seq 1
  assert.equal(t.deliveredSeq, 1);
  assert.equal(t.lastSeq, 2);
});

test("a replay that brings the shopper's own message clears it from the outbox: never shown twice", () => {
  const t = new Transcript([{ conversation_id: "c1", client_msg_id: "w-9", body: "hi", status: "sending" }]);
  assert.equal(t.toSend().length, 1, "what was in flight when the page went away is sent again");
  t.add(message(3, { sender: { kind: "visitor", name: null }, body: "hi", client_msg_id: "w-9" }));
  assert.deepEqual(t.outbox(), []);
  t.confirm("w-9", 3, 3); // the ack of the resend (duplicate: true) arrives afterwards
  assert.deepEqual(bodies(t), ["hi"]);
});

test("an agent's client_msg_id never clears a shopper's pending message", () => {
  const t = new Transcript();
  t.queue("c1", "a-1", "mine");
  t.add(message(1, { client_msg_id: "a-1" }));
  assert.deepEqual(bodies(t), ["m1", "mine"]);
});

test("messages in flight when the connection drops are sent again; refused ones wait for a retry", () => {
  const t = new Transcript();
  t.queue("c1", "w-1", "one");
  t.queue("c1", "w-2", "two");
  t.setStatus("w-1", "sending");
  t.setStatus("w-2", "failed", "You are sending messages too fast.");
  assert.deepEqual(t.toSend().map((i) => i.client_msg_id), []);
  t.requeueInFlight();
  assert.deepEqual(t.toSend().map((i) => i.client_msg_id), ["w-1"]);
  assert.equal(t.items()[1].error, "You are sending messages too fast.");
  assert.deepEqual(new Transcript(t.outbox()).toSend().map((i) => i.client_msg_id), ["w-1"]);
});

test("read state: the shopper's messages up to the agent's read mark show as read", () => {
  const t = new Transcript();
  t.add(message(1, { sender: { kind: "visitor" }, client_msg_id: "w-1" }));
  t.add(message(2, { sender: { kind: "visitor" }, client_msg_id: "w-2" }));
  t.add(message(3));
  t.setAgentRead(1);
  t.setAgentRead(0); // never lowered
  assert.deepEqual(t.items().map((i) => i.status), ["read", "sent", null]);
});

test("unread: the agent's messages past the shopper's read mark, not system or own messages", () => {
  const t = new Transcript();
  t.add(message(1, { kind: "system", sender: null }));
  t.add(message(2, { sender: { kind: "visitor" }, client_msg_id: "w-1" }));
  t.add(message(3, { sender: { kind: "agent", name: "Alice" } }));
  t.add(message(4, { kind: "system", sender: null }));
  t.add(message(5, { sender: { kind: "agent", name: "Alice" } }));
  assert.equal(t.unreadFromAgent, 2);
  t.setVisitorRead(3);
  t.setVisitorRead(1); // never lowered
  assert.equal(t.unreadFromAgent, 1);
  t.setVisitorRead(5);
  assert.equal(t.unreadFromAgent, 0);
});

test("an upload's stored message shows at once, once, and is not counted as delivered", () => {
  const t = new Transcript();
  t.add(message(1));
  const file = message(3, { kind: "file", sender: { kind: "visitor", name: null }, body: "a.png", client_msg_id: "w-f",
    meta: { attachment_id: "f1", name: "a.png", size: "10", content_type: "image/png" } });
  assert.equal(t.addAcknowledged(file), true);
  assert.equal(t.deliveredSeq, 1, "message 2 may still be on its way: a rejoin asks from 1");
  assert.equal(t.add(file), false, "its message:new afterwards changes nothing");
  assert.deepEqual(bodies(t), ["m1", "a.png"]);
  t.setAgentRead(3);
  assert.equal(t.items()[1].status, "read");
});
