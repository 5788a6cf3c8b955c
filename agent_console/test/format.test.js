import assert from "node:assert/strict";
import { test } from "node:test";
import "./language.js";
import { cannedMatches, errorText, formatAmount, formatWait, parseTags, safeUrl, sessionEndedText, systemText } from "../src/format.js";

test("waits tick in minutes and seconds", () => {
  assert.equal(formatWait(7.9), "0:07");
  assert.equal(formatWait(245), "4:05");
  assert.equal(formatWait(3729), "1:02:09");
  assert.equal(formatWait(-3), "0:00");
});

test("tags are trimmed, lower-cased and kept once", () => {
  assert.deepEqual(parseTags(" Refund, shipping  delay ,refund,, "), ["refund", "shipping delay"]);
  assert.deepEqual(parseTags(""), []);
});

test("a lone /word asks for canned responses, an exact shortcut first", () => {
  const canned = [{ shortcut: "refunds" }, { shortcut: "hello" }, { shortcut: "refund" }];
  assert.deepEqual(cannedMatches(canned, "/ref").map((c) => c.shortcut), ["refund", "refunds"]);
  assert.deepEqual(cannedMatches(canned, "/refund").map((c) => c.shortcut), ["refund", "refunds"]);
  assert.deepEqual(cannedMatches(canned, "/refund now"), []);
  assert.deepEqual(cannedMatches(canned, "refund"), []);
});

test("system messages and errors read as sentences", () => {
  assert.equal(systemText({ body: "agent_joined", meta: { agent_name: "Alice" } }), "Alice joined the chat.");
  assert.equal(systemText({ body: "transferred", meta: { from_agent_name: "A", department: "billing" } }),
    "A transferred the chat to billing.");
  assert.equal(errorText({ code: "already_taken", message: "x" }), "Another agent took this chat first.");
  assert.equal(errorText({ code: "account_locked", message: "locked for 5 minutes" }), "locked for 5 minutes");
});

test("only web pages become links", () => {
  assert.equal(safeUrl("https://shop.example/cart"), "https://shop.example/cart");
  assert.equal(safeUrl("javascript:alert(1)"), null);
  assert.equal(safeUrl("not a url"), null);
});

test("a session the server ended says why", () => {
  assert.match(sessionEndedText("signed_out"), /^You were signed out/);
  assert.match(sessionEndedText("disabled"), /disabled/);
  assert.equal(sessionEndedText("expired"), errorText({ code: "token_expired" }));
  assert.equal(sessionEndedText("something new"), "Your session has ended. Please sign in again.");
});

test("a cart value has two decimals, written as the agent's language writes numbers", () => {
  assert.equal(formatAmount(49.5), "49.50");
  assert.equal(formatAmount(1234), "1,234.00");
});
