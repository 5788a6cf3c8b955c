import assert from "node:assert/strict";
import { test } from "node:test";
import { titleWithUnread, unreadCount } from "../src/unread.js";

const visitor = (seq) => ({ seq, kind: "text", sender: { kind: "visitor" } });
const agent = (seq) => ({ seq, kind: "text", sender: { kind: "agent" } });
const system = (seq) => ({ seq, kind: "system", sender: { kind: "system" }, body: "agent_joined" });

test("only the customer's messages after the agent's read mark are unread", () => {
  const messages = [system(1), visitor(2), agent(3), visitor(4), visitor(5), agent(6)];
  assert.equal(unreadCount(messages, 0), 3);
  assert.equal(unreadCount(messages, 4), 1);
  assert.equal(unreadCount(messages, 5), 0);
  assert.equal(unreadCount(new Map(messages.map((m) => [m.seq, m])).values(), 2), 2);
  assert.equal(unreadCount([], 0), 0);
});

test("the title counts chats with unread messages, and is the plain title without any", () => {
  assert.equal(titleWithUnread("Agent console · chatserver", 2), "(2) Agent console · chatserver");
  assert.equal(titleWithUnread("Agent console · chatserver", 1), "(1) Agent console · chatserver");
  assert.equal(titleWithUnread("Agent console · chatserver", 0), "Agent console · chatserver");
});
