import assert from "node:assert/strict";
import { test } from "node:test";
import { pageContext, pageUrl, parseAmount, parseBool, prefill, readConfig, safeUrl, serverBase } from "../src/config.js";

const script = (dataset = {}, src = "https://chat.example/widget.js") => ({ dataset, src });

test("the server is where widget.js came from, or data-server", () => {
  assert.equal(serverBase(script(), "https://shop.example/cart"), "https://chat.example/");
  assert.equal(serverBase(script({}, "https://shop.example/chat/widget.js?v=2"), "https://shop.example/"),
    "https://shop.example/chat/");
  assert.equal(serverBase(script({ server: "https://help.example/live" }), "https://shop.example/"),
    "https://help.example/live/");
});

test("config: title, privacy link, queue estimate, one storage key per server", () => {
  const config = readConfig(script({ title: " Need help? ", privacyUrl: "/privacy", minutesPerChat: "1.5" }),
    "https://shop.example/cart");
  assert.deepEqual(config, {
    base: "https://chat.example/",
    storageKey: "chatserver-widget:https://chat.example/",
    title: "Need help?",
    locale: "",
    privacyUrl: "https://shop.example/privacy",
    minutesPerChat: 1.5,
    color: null,
    position: null,
  });
  const defaults = readConfig(script({ minutesPerChat: "-3" }), "https://shop.example/");
  assert.equal(defaults.title, "", "the language file's title, filled in by the loader");
  assert.equal(defaults.privacyUrl, undefined);
  assert.equal(defaults.minutesPerChat, undefined);
});

test("the shop's colour is a hex colour and its corner left or right; anything else is ignored", () => {
  const read = (dataset) => readConfig(script(dataset), "https://shop.example/");
  assert.equal(read({ color: " #0A6C4E " }).color, "#0a6c4e");
  assert.equal(read({ color: "#15b" }).color, "#1155bb");
  for (const bad of ["red", "#12345", "#1234567", "rgb(0,0,0)", "#abc;background:url(x)", "", undefined]) {
    assert.equal(read({ color: bad }).color, null, bad);
  }
  assert.equal(read({ position: "LEFT" }).position, "left");
  assert.equal(read({ position: " right" }).position, "right");
  for (const other of ["top", "start", "", undefined]) assert.equal(read({ position: other }).position, null, other);
});

test("a privacy link must be http(s): javascript: and data: are dropped", () => {
  assert.equal(safeUrl("javascript:alert(1)", "https://shop.example/"), undefined);
  assert.equal(safeUrl("data:text/html,<b>x</b>", "https://shop.example/"), undefined);
  assert.equal(safeUrl("https://shop.example/privacy", "https://shop.example/"), "https://shop.example/privacy");
});

test("pre-chat values come from the shop, trimmed and cut to the server's limits", () => {
  assert.deepEqual(prefill(script({ name: " Ann ", orderNumber: "A".repeat(70) })),
    { name: "Ann", email: "", orderNumber: "A".repeat(64) });
});

test("page context: url, title, checkout flag and cart value when the shop passes them", () => {
  const doc = { location: { href: "https://shop.example/checkout?step=2#top" }, title: "Payment" };
  assert.deepEqual(pageContext(script({ checkout: "true", cartValue: "59.90" }), doc), {
    checkout: true, page_url: "https://shop.example/checkout?step=2", page_title: "Payment", cart_value: 59.9,
  });
  assert.deepEqual(pageContext(script(), { location: { href: "file:///tmp/x.html" }, title: "" }), { checkout: false });
});

test("flags and amounts", () => {
  assert.equal(parseBool(undefined), false);
  assert.equal(parseBool(""), true); // data-checkout with no value
  assert.equal(parseBool("false"), false);
  assert.equal(parseBool("TRUE"), true);
  assert.equal(parseAmount("59,90"), 59.9);
  assert.equal(parseAmount("1234"), 1234);
  assert.equal(parseAmount("-5"), undefined);
  assert.equal(parseAmount("€5"), undefined);
  assert.equal(parseAmount("1e9"), undefined);
});

test("a page address over 2048 characters loses its query; one that is still too long is left out", () => {
  const long = `https://shop.example/cart?${"x".repeat(3000)}`;
  assert.equal(pageUrl(long), "https://shop.example/cart");
  assert.equal(pageUrl(`https://shop.example/${"p".repeat(3000)}`), undefined);
  assert.equal(pageUrl("not a url"), undefined);
});

test("long titles are cut by character, never inside an emoji", () => {
  const title = "a".repeat(299) + "😀😀";
  const context = pageContext(script(), { location: { href: "https://shop.example/" }, title });
  assert.equal([...context.page_title].length, 300);
  assert.equal(context.page_title, "a".repeat(299) + "😀");
  assert.doesNotMatch(context.page_title, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
});
