import assert from "node:assert/strict";
import { test } from "node:test";
import { dueRule, nextCheckMs, shopperLocale } from "../src/proactive/rules.js";
import { visitorToken } from "../src/token.js";
import { WidgetStore } from "../src/store.js";
import { ANSWER_KEPT_MS, currentEntry } from "../src/ui/proactive-line.js";

const rule = (id, seconds, extra = {}) => ({ id, seconds, text: id, min_cart_value: null, checkout_step: null,
  ...extra });

test("proactive: the first rule in order whose time passed and whose page conditions hold", () => {
  const rules = [rule("cart", 10, { min_cart_value: 50 }), rule("payment", 20, { checkout_step: "payment" }),
    rule("any", 30)];
  assert.equal(dueRule(rules, 9_999, { cartValue: 60 }), null);
  assert.equal(dueRule(rules, 10_000, { cartValue: 60 }).id, "cart");
  assert.equal(dueRule(rules, 25_000, { cartValue: 49.99, checkoutStep: "payment" }).id, "payment");
  assert.equal(dueRule(rules, 25_000, { checkoutStep: "shipping" }), null); // no cart value: not 50 or more
  assert.equal(dueRule(rules, 30_000, { checkoutStep: "shipping" }).id, "any");
});

test("proactive: the next check is when the earliest rule is due", () => {
  assert.equal(nextCheckMs([rule("a", 20), rule("b", 5)], 1_000), 4_000);
  assert.equal(nextCheckMs([rule("a", 20)], 25_000), 0);
  assert.equal(nextCheckMs([], 0), null);
});

test("proactive: the page's data-locale, else the browser's language, if it is a language tag", () => {
  assert.equal(shopperLocale({ dataset: { locale: "de-AT" } }, { language: "fr" }), "de-AT");
  assert.equal(shopperLocale({ dataset: {} }, { language: "pt-BR" }), "pt-BR");
  assert.equal(shopperLocale({ dataset: { locale: "<b>" } }, { language: "fr" }), undefined);
  assert.equal(shopperLocale({ dataset: {} }, {}), undefined);
});

function memoryStore() {
  const items = new Map();
  return new WidgetStore("k", { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => items.set(k, v) });
}

test("visitor token: the first one saved is kept when two parts of the widget ask at once", async () => {
  const store = memoryStore();
  const later = Date.now() / 1000 + 3600;
  let made = 0;
  const fetch = async () => {
    made += 1;
    const token = `t${made}`;
    await new Promise((resolve) => setTimeout(resolve, made === 1 ? 20 : 1));
    return { status: 201, json: async () => ({ token, expires_at: later }) };
  };
  const [first, second] = await Promise.all([visitorToken(store, "https://chat.example/", fetch),
    visitorToken(store, "https://chat.example/", fetch)]);
  assert.equal(made, 2);
  assert.equal(first.token, second.token); // both speak as one visitor
  assert.equal(store.load().token, first.token);
  assert.deepEqual(await visitorToken(store, "https://chat.example/", fetch), { token: first.token, fresh: false });
});

test("proactive: an answer whose chat did not start within 30 minutes is forgotten, a started one kept", () => {
  const now = 1_800_000_000_000;
  const answered = { rule_id: "r1", text: "Hi", reply: "Help", answered_at: now - ANSWER_KEPT_MS, conversation_id: null };
  assert.equal(currentEntry(answered, now), answered);
  assert.equal(currentEntry(answered, now + 1), null);
  assert.equal(currentEntry({ ...answered, answered_at: undefined }, now), null);
  const started = { ...answered, conversation_id: "c1" };
  assert.equal(currentEntry(started, now + 10 * ANSWER_KEPT_MS), started); // stays the chat's first line
  assert.equal(currentEntry(null, now), null);
});
