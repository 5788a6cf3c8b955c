import assert from "node:assert/strict";
import { test } from "node:test";
import { actionRefusal, isSensitive, maskInput } from "../src/cobrowse/privacy.js";

// A stand-in for a DOM element: attributes, a class list and ancestors, with the closest()
// semantics the rules use (a comma-separated list of .class, [attribute] and tag selectors).
class Element {
  constructor(tag, attributes = {}, parent = null) {
    this.nodeType = 1;
    this.tagName = tag.toUpperCase();
    this.attributes = attributes;
    this.parent = parent;
    this.isConnected = true;
    this.id = attributes.id ?? "";
    this.disabled = "disabled" in attributes;
    this.readOnly = "readonly" in attributes;
  }

  getAttribute(name) {
    return name in this.attributes ? String(this.attributes[name]) : null;
  }

  matches(selector) {
    return selector.split(",").map((s) => s.trim()).some((one) => {
      if (one.startsWith(".")) return (this.attributes.class ?? "").split(/\s+/).includes(one.slice(1));
      const attribute = /^(\w*)\[([\w-]+)(?:=(\w+))?\]$/.exec(one);
      if (attribute) {
        const [, tag, name, value] = attribute;
        if (tag && tag.toUpperCase() !== this.tagName) return false;
        return name in this.attributes && (value === undefined || this.attributes[name] === value);
      }
      return one.toUpperCase() === this.tagName;
    });
  }

  closest(selector) {
    for (let node = this; node; node = node.parent) if (node.matches(selector)) return node;
    return null;
  }
}

const form = new Element("form");
const input = (attributes, parent = form) => new Element("input", attributes, parent);

test("card, password, code and hidden fields are sensitive; ordinary fields are not", () => {
  for (const attributes of [{ type: "password" }, { type: "hidden" }, { type: "file" },
    { autocomplete: "cc-number" }, { autocomplete: "cc-csc" }, { autocomplete: "one-time-code" },
    { autocomplete: "section-blue cc-exp" }, { name: "card_number" }, { id: "cvv" }, { name: "iban" },
    { placeholder: "Security code" }, { "aria-label": "PIN" }, { class: "cb-mask" }]) {
    assert.equal(isSensitive(input(attributes)), true, JSON.stringify(attributes));
  }
  for (const attributes of [{ autocomplete: "name" }, { id: "city" }, { name: "shipping" }, { type: "email" },
    { autocomplete: "street-address" }]) {
    assert.equal(isSensitive(input(attributes)), false, JSON.stringify(attributes));
  }
  const masked = new Element("div", { class: "cb-mask" });
  assert.equal(isSensitive(input({ id: "note" }, masked)), true);
  const blocked = new Element("section", { "data-cb-block": "" });
  assert.equal(isSensitive(input({ id: "note" }, blocked)), true);
});

test("every value is masked unless the shop unmasked a field that is not sensitive", () => {
  assert.equal(maskInput("Ann Shopper", input({ id: "name" })), "***********");
  assert.equal(maskInput("Ann Shopper", input({ id: "name", class: "cb-unmask" })), "Ann Shopper");
  assert.equal(maskInput("4242", input({ autocomplete: "cc-number", class: "cb-unmask" })), "****");
  const unmaskedArea = new Element("fieldset", { "data-cb-unmask": "" });
  assert.equal(maskInput("Lyon", input({ id: "city" }, unmaskedArea)), "Lyon");
  assert.equal(maskInput("secret", input({ type: "password" }, unmaskedArea)), "******");
  assert.equal(maskInput(undefined, null), "");
});

test("the agent may click and type only where the rules allow", () => {
  assert.equal(actionRefusal(null, "click"), "no_such_element");
  assert.equal(actionRefusal(new Element("button"), "click"), null);
  assert.equal(actionRefusal(new Element("button"), "input"), "not_a_field");
  assert.equal(actionRefusal(input({ id: "city" }), "input"), null);
  assert.equal(actionRefusal(input({ id: "city", readonly: "" }), "input"), "not_a_field");
  assert.equal(actionRefusal(input({ type: "checkbox" }), "input"), "not_a_field");
  assert.equal(actionRefusal(input({ autocomplete: "cc-number" }), "input"), "sensitive_field");
  assert.equal(actionRefusal(input({ autocomplete: "cc-number" }), "click"), "sensitive_field");
  assert.equal(actionRefusal(new Element("select", { id: "method" }), "input"), null);
  const blocked = new Element("div", { class: "cb-block" });
  assert.equal(actionRefusal(new Element("button", {}, blocked), "click"), "blocked");
  assert.equal(actionRefusal(new Element("chatserver-widget"), "click"), "blocked");
  const gone = new Element("button");
  gone.isConnected = false;
  assert.equal(actionRefusal(gone, "click"), "no_such_element");
});
