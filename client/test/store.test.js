import assert from "node:assert/strict";
import { test } from "node:test";
import { hasConversation, WidgetStore } from "../src/store.js";

class MemoryStorage {
  constructor() { this.items = new Map(); }
  getItem(key) { return this.items.has(key) ? this.items.get(key) : null; }
  setItem(key, value) { this.items.set(key, String(value)); }
}

class BlockedStorage {
  getItem() { throw new Error("SecurityError"); }
  setItem() { throw new Error("QuotaExceededError"); }
}

test("the store keeps the token, conversation and outbox across loads", () => {
  const storage = new MemoryStorage();
  new WidgetStore("k", storage).update({ token: "t", conversationId: "c1", outbox: [{ client_msg_id: "m1" }] });
  const state = new WidgetStore("k", storage).load();
  assert.equal(state.token, "t");
  assert.equal(state.conversationId, "c1");
  assert.deepEqual(state.outbox, [{ client_msg_id: "m1" }]);
  assert.equal(state.open, false);
  assert.equal(hasConversation(state), true);
  assert.equal(new WidgetStore("other", storage).load().token, null);
});

test("blocked or broken storage falls back to memory instead of breaking the widget", () => {
  const store = new WidgetStore("k", new BlockedStorage());
  assert.equal(store.load().token, null);
  store.update({ token: "t" });
  assert.equal(store.load().token, "t");
  const broken = new MemoryStorage();
  broken.setItem("k", "{not json");
  assert.equal(new WidgetStore("k", broken).load().conversationId, null);
});

test("a finished chat waiting for its rating, or unsent messages, count as a conversation", () => {
  const empty = new WidgetStore("k", new MemoryStorage()).load();
  assert.equal(hasConversation(empty), false);
  assert.equal(hasConversation({ ...empty, ratePending: "c1" }), true);
  assert.equal(hasConversation({ ...empty, outbox: [{}] }), true);
});
