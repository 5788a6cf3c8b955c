import assert from "node:assert/strict";
import { test } from "node:test";
import { linkParts } from "../src/ui/links.js";

const links = (text) => linkParts(text).filter((part) => part.href).map(({ text: shown, href }) => [shown, href]);
const spelled = (text) => linkParts(text).map((part) => part.text).join("");

test("http, https, www. and email addresses become links; the rest stays text", () => {
  assert.deepEqual(linkParts("See https://shop.example/cart?x=1 or mail help@shop.example now"), [
    { text: "See " },
    { text: "https://shop.example/cart?x=1", href: "https://shop.example/cart?x=1" },
    { text: " or mail " },
    { text: "help@shop.example", href: "mailto:help@shop.example" },
    { text: " now" },
  ]);
  assert.deepEqual(links("go to www.shop.example/returns"), [["www.shop.example/returns", "https://www.shop.example/returns"]]);
  assert.deepEqual(links("HTTP://Shop.Example/A"), [["HTTP://Shop.Example/A", "http://shop.example/A"]]);
  assert.deepEqual(links("plain text, no address"), []);
  assert.deepEqual(linkParts(""), [{ text: "" }]);
});

test("trailing punctuation and unbalanced closing brackets stay out of the link", () => {
  assert.deepEqual(links("Read https://shop.example/faq."), [["https://shop.example/faq", "https://shop.example/faq"]]);
  assert.deepEqual(links("(see https://shop.example/faq)!"), [["https://shop.example/faq", "https://shop.example/faq"]]);
  assert.deepEqual(links("https://en.wikipedia.org/wiki/Foo_(bar), ok"),
    [["https://en.wikipedia.org/wiki/Foo_(bar)", "https://en.wikipedia.org/wiki/Foo_(bar)"]]);
  assert.deepEqual(links("mail me: ann@example.com."), [["ann@example.com", "mailto:ann@example.com"]]);
  assert.deepEqual(links("'https://shop.example/x'"), [["https://shop.example/x", "https://shop.example/x"]]);
  assert.equal(spelled("Read https://shop.example/faq.), thanks"), "Read https://shop.example/faq.), thanks");
});

test("hostile schemes are never links", () => {
  for (const text of [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    "javascript://www.shop.example/%0Aalert(1)",
    "javascript://https://shop.example/%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "mailto:ann@example.com?body=x", // the address alone is linked, never the given query
  ]) {
    for (const part of linkParts(text)) {
      if (part.href) assert.match(part.href, /^(https?:\/\/|mailto:[^?]*$)/, `${text} -> ${part.href}`);
    }
    assert.equal(spelled(text), text);
  }
  assert.deepEqual(links("javascript:alert(1)"), []);
  assert.deepEqual(links("javascript://www.shop.example/%0Aalert(1)"), []);
});

test("markup and quotes in or around an address end it; the href is the browser's parse", () => {
  assert.deepEqual(links('https://shop.example/"><img src=x onerror=alert(1)>'),
    [["https://shop.example/", "https://shop.example/"]]);
  assert.deepEqual(links("<a href=https://evil.example>x</a>"), [["https://evil.example", "https://evil.example/"]]);
  assert.deepEqual(links("https://shop.example/a b"), [["https://shop.example/a", "https://shop.example/a"]]);
  const [[, href]] = links("https://shop.example/ä%20{x}");
  assert.equal(href, "https://shop.example/%C3%A4%20%7Bx%7D");
});

test("addresses without a host, with credentials or inside words are not links", () => {
  assert.deepEqual(links("http:// and https:/// and http://:80"), []);
  assert.deepEqual(links("https://www.bank.example@evil.example/login"), []);
  assert.deepEqual(links("xwww.shop.example and www.shop"), []);
  assert.deepEqual(links("user@localhost and @shop.example and a@b"), []);
  assert.deepEqual(links("https://shop.example/u/ann@example.com"),
    [["https://shop.example/u/ann@example.com", "https://shop.example/u/ann@example.com"]]);
});

test("a long or adversarial message is split whole, every character kept", () => {
  const inputs = [
    "a".repeat(4000),
    "@".repeat(4000),
    `${"a.".repeat(2000)}@`,
    `https://${"a".repeat(3990)}`,
    `${"x@y.".repeat(1000)}`,
    "www.".repeat(1000),
  ];
  for (const text of inputs) assert.equal(spelled(text), text);
  assert.equal(links(`https://${"a".repeat(3990)}.example`).length, 1);
});
