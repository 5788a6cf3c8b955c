import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import "./language.js";
import {
  errorText, messageProblem, newClientMsgId, openingText, opensText, prechatProblems, queueText, systemText,
  ticketProblems,
} from "../src/ui/text.js";

test("queue position, with the server's estimate when it has one", () => {
  assert.equal(queueText(3, 130), "You are number 3 in the queue, about 2 minutes.");
  assert.equal(queueText(1, 10), "You are next in the queue, about 1 minute.");
  assert.equal(queueText(3, null), "You are number 3 in the queue.");
  assert.equal(queueText(1, undefined), "You are next in the queue.");
  assert.equal(queueText(null, 60), "Waiting for an agent…");
});

test("without the server's estimate, the shop's minutes per chat give one; the server's wins", () => {
  assert.equal(queueText(3, null, 1.5), "You are number 3 in the queue, about 5 minutes.");
  assert.equal(queueText(3, 60, 1.5), "You are number 3 in the queue, about 1 minute.");
});

test("messages over 4000 characters are refused with the reason; 4000 is fine", () => {
  assert.equal(messageProblem("x".repeat(4000)), null);
  assert.match(messageProblem("x".repeat(4001)), /limited to 4000 characters; this one has 4001/);
  assert.equal(messageProblem("   "), "Type a message first.");
  // characters, as the server counts them, not UTF-16 units
  assert.equal(messageProblem("😀".repeat(4000)), null);
});

test("pre-chat problems name the field", () => {
  assert.deepEqual(prechatProblems({ name: "Ann", email: "", question: "Card declined", orderNumber: "" }), {});
  const problems = prechatProblems({ name: " ", email: "ann@", question: "", orderNumber: "" });
  assert.deepEqual(Object.keys(problems), ["name", "email", "question"]);
  assert.match(prechatProblems({ name: "A", email: "", question: "q".repeat(4001), orderNumber: "" }).question,
    /limited to 4000/);
});

test("system messages read as sentences", () => {
  assert.equal(systemText({ body: "agent_joined", meta: { agent_name: "Alice" } }), "Alice joined the chat.");
  assert.equal(systemText({ body: "closed", meta: { by: "agent" } }), "The agent ended the chat.");
  assert.equal(systemText({ body: "closed", meta: { by: "visitor" } }), "You ended the chat.");
  assert.equal(systemText({ body: "something_new", meta: null }), "");
});

test("client message ids fit the protocol's identifier rule", () => {
  for (const id of [newClientMsgId(), newClientMsgId(null)]) {
    assert.match(id, /^[A-Za-z0-9_\-:.]{1,64}$/);
  }
  assert.notEqual(newClientMsgId(), newClientMsgId());
});

test("error codes become reasons a shopper can act on", () => {
  assert.match(errorText("rate_limited"), /too fast/);
  assert.equal(errorText("weird_code", "server said so"), "server said so");
});

test("the offline form needs a name, an email, a question, and the order number when the shop requires it", () => {
  const empty = { name: " ", email: "", description: "", orderNumber: "" };
  assert.deepEqual(Object.keys(ticketProblems(empty, false)).sort(), ["description", "email", "name"]);
  assert.deepEqual(Object.keys(ticketProblems(empty, true)).sort(), ["description", "email", "name", "orderNumber"]);
  const good = { name: "Ann", email: "ann@example.com", description: "Where is it?", orderNumber: "" };
  assert.deepEqual(ticketProblems(good, false), {});
  assert.match(ticketProblems({ ...good, email: "ann@" }, false).email, /does not look like/);
  assert.match(ticketProblems(good, true).orderNumber, /order number/);
});

test("a transfer reads as a sentence, to an agent or to a team", () => {
  assert.equal(systemText({ body: "transferred", meta: { from_agent_name: "Alice", agent_name: "Bob" } }),
    "You are now chatting with Bob.");
  assert.equal(systemText({ body: "transferred", meta: { from_agent_name: "Alice", department: "billing" } }),
    "Your chat was passed on to our billing team. You are at the front of its queue.");
  assert.equal(systemText({ body: "closed", meta: { by: "system" } }), "This chat was closed.");
});

test("every system message code the server defines has a line of its own", () => {
  const constants = readFileSync(new URL("../../chatserver/constants.py", import.meta.url), "utf8");
  const codes = [...constants.matchAll(/^SYS_\w+: Final = "([a-z_]+)"$/gm)].map((m) => m[1]);
  assert.ok(codes.length >= 5, `found ${codes}`);
  for (const code of codes) {
    assert.notEqual(systemText({ body: code, meta: { agent_name: "Alice", by: "agent" } }), "", code);
  }
});

test("the question and messages are checked against the server's limit when it gave one", () => {
  const form = { name: "Ann", email: "", question: "q".repeat(301), orderNumber: "" };
  assert.match(prechatProblems(form, 300).question, /limited to 300 characters; this one has 301/);
  assert.deepEqual(prechatProblems(form, 301), {});
  assert.equal(messageProblem("😀".repeat(300), 300), null);
});

test("when a closed shop opens again, in the shopper's time zone and locale", () => {
  // Saturday 28 November 2026, 16:00 in Berlin (15:00 UTC); the shopper is in New York.
  const now = Date.UTC(2026, 10, 28, 15, 0);
  const at = (iso) => Date.parse(iso) / 1000;
  const ny = { now, locale: "en-GB", timeZone: "America/New_York" };
  // Monday 09:00 in Berlin is 03:00 in New York.
  assert.equal(opensText(at("2026-11-30T08:00:00Z"), ny), "We open again Monday at 03:00 (your time).");
  assert.equal(opensText(at("2026-11-28T20:00:00Z"), ny), "We open again today at 15:00 (your time).");
  // Sunday 02:00 in Berlin is still Saturday evening in New York: "today", not "tomorrow".
  assert.equal(opensText(at("2026-11-29T01:00:00Z"), ny), "We open again today at 20:00 (your time).");
  assert.equal(opensText(at("2026-11-29T01:00:00Z"), { now, locale: "en-GB", timeZone: "Europe/Berlin" }),
    "We open again tomorrow at 02:00 (your time).");
  assert.equal(opensText(at("2026-12-07T08:00:00Z"), ny), "We open again Monday 7 December at 03:00 (your time).");
  // The time as the shopper's locale writes it; the words stay the widget's (English).
  assert.equal(opensText(at("2026-11-30T08:00:00Z"), { ...ny, locale: "de-DE" }),
    "We open again Monday at 03:00 (your time).");
  assert.equal(opensText(at("2026-11-30T08:00:00Z"), { ...ny, locale: "en-US" }),
    "We open again Monday at 03:00 AM (your time).");
  assert.equal(opensText(null, ny), "");
  // The agent console says it its own way ("Shop closed · opens Monday at 03:00").
  assert.equal(openingText(at("2026-11-30T08:00:00Z"), ny), "Monday at 03:00");
  assert.equal(openingText(undefined, ny), "");
});
