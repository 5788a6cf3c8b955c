import assert from "node:assert/strict";
import { test } from "node:test";
import { useLanguage } from "./language.js";
import {
  actionRefusal, BLOCK_SELECTOR, FILL_ATTRIBUTE, isSensitive, maskInput, scrubEvent, unmaskedFieldLabels,
} from "../src/cobrowse/privacy.js";

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
  assert.equal(actionRefusal(input({ id: "city", class: "cb-unmask" }), "input"), null);
  assert.equal(actionRefusal(input({ id: "city", class: "cb-unmask", readonly: "" }), "input"), "not_a_field");
  assert.equal(actionRefusal(input({ type: "checkbox" }), "input"), "not_a_field");
  assert.equal(actionRefusal(input({ autocomplete: "cc-number" }), "input"), "sensitive_field");
  assert.equal(actionRefusal(input({ autocomplete: "cc-number", class: "cb-unmask" }), "input"), "sensitive_field");
  assert.equal(actionRefusal(input({ autocomplete: "cc-number" }), "click"), "sensitive_field");
  assert.equal(actionRefusal(new Element("select", { id: "method", class: "cb-unmask" }), "input"), null);
  // What the agent sees masked it cannot write: only unmasked fields take typed text.
  assert.equal(actionRefusal(input({ id: "city" }), "input"), "masked_field");
  assert.equal(actionRefusal(new Element("select", { id: "method" }), "input"), "masked_field");
  assert.equal(actionRefusal(new Element("textarea", { id: "note" }), "input"), "masked_field");
  const unmaskedArea = new Element("fieldset", { "data-cb-unmask": "" });
  assert.equal(actionRefusal(new Element("textarea", { id: "note" }, unmaskedArea), "input"), null);
  // Clicking writes nothing: a masked field may still be clicked (focused).
  assert.equal(actionRefusal(input({ id: "city" }), "click"), null);
  const blocked = new Element("div", { class: "cb-block" });
  assert.equal(actionRefusal(new Element("button", {}, blocked), "click"), "blocked");
  assert.equal(actionRefusal(new Element("chatserver-widget"), "click"), "blocked");
  const gone = new Element("button");
  gone.isConnected = false;
  assert.equal(actionRefusal(gone, "click"), "no_such_element");
});

// rrweb's serialized nodes: type 2 an element, 3 a text node (@rrweb/types).
const serialized = (id, tagName, attributes, childNodes = []) => ({ type: 2, id, tagName, attributes, childNodes });
const text = (id, textContent) => ({ type: 3, id, textContent });

test("a field in a snapshot carries its live value, masked, never the value its HTML came with", () => {
  const CARD = "4111 1111 1111 1111";
  // The live page: a prefilled card field the shopper cleared, a prefilled note they cleared, a
  // prefilled note they kept, an unmasked name, a cleared unmasked city, a checkbox.
  const live = new Map([
    [10, Object.assign(input({ autocomplete: "cc-number" }), { value: "" })],
    [11, Object.assign(new Element("textarea", { id: "note" }, form), { value: "" })],
    [13, Object.assign(new Element("textarea", { id: "gift" }, form), { value: "Happy birthday" })],
    [14, Object.assign(input({ id: "name", class: "cb-unmask" }), { value: "Ann" })],
    [15, Object.assign(input({ id: "city", class: "cb-unmask" }), { value: "" })],
    [16, Object.assign(input({ type: "checkbox", value: "gift-wrap" }), { value: "gift-wrap", checked: true })],
    [18, Object.assign(input({ type: "checkbox", value: "newsletter", checked: "" }), { value: "newsletter",
      checked: false })],
  ]);
  const nodeOf = (id) => live.get(id) ?? null;
  // What rrweb serialized: the HTML attributes as they were where the live value is empty.
  const event = { type: 2, data: { node: serialized(1, "form", {}, [
    serialized(10, "input", { autocomplete: "cc-number", value: CARD }),
    serialized(11, "textarea", { id: "note" }, [text(12, "Leave at door 4111 1111 1111 1111")]),
    serialized(13, "textarea", { id: "gift", value: "**************" }),
    serialized(14, "input", { id: "name", class: "cb-unmask", value: "Ann" }),
    serialized(15, "input", { id: "city", class: "cb-unmask", value: "Paris" }),
    serialized(16, "input", { type: "checkbox", value: "gift-wrap" }),
    serialized(17, "input", { id: "gone", value: "SECRET" }), // not in the mirror: masked whatever it is
    // Served ticked (the HTML's checked attribute), unticked by the shopper since.
    serialized(18, "input", { type: "checkbox", value: "newsletter", checked: "" }),
  ]) } };
  scrubEvent(event, nodeOf);
  const [card, note, gift, name, city, checkbox, gone, newsletter] = event.data.node.childNodes;
  assert.equal("value" in card.attributes, false);
  assert.deepEqual(note.childNodes, [text(12, "")]);
  assert.equal(gift.attributes.value, "**************");
  assert.equal(name.attributes.value, "Ann");
  assert.equal("value" in city.attributes, false);
  assert.equal(checkbox.attributes.value, "gift-wrap");
  assert.equal(checkbox.attributes.checked, true);
  assert.equal("checked" in newsletter.attributes, false);
  assert.equal("value" in gone.attributes, false);
  assert.equal(JSON.stringify(event).includes("4111"), false);
  assert.equal(JSON.stringify(event).includes("SECRET"), false);
});

test("nodes a mutation adds are scrubbed the same way; text changes inside a textarea are dropped", () => {
  const note = Object.assign(new Element("textarea", { id: "note" }, form), { value: "" });
  const noteText = { nodeType: 3, parentNode: note };
  const paragraphText = { nodeType: 3, parentNode: new Element("p") };
  const live = new Map([[20, Object.assign(input({ id: "iban-field", name: "iban" }), { value: "" })], [21, note],
    [22, noteText], [23, paragraphText]]);
  const event = { type: 3, data: { source: 0, removes: [], attributes: [],
    adds: [{ parentId: 1, nextId: null, node: serialized(20, "input", { name: "iban", value: "DE89370400440532013000" }) }],
    texts: [{ id: 22, value: "DE89370400440532013000" }, { id: 23, value: "Free shipping" }] } };
  scrubEvent(event, (id) => live.get(id) ?? null);
  assert.equal("value" in event.data.adds[0].node.attributes, false);
  assert.deepEqual(event.data.texts, [{ id: 23, value: "Free shipping" }]);
  // Other events pass as they are.
  const moved = { type: 3, data: { source: 1, positions: [{ x: 1, y: 2, id: 5, timeOffset: 0 }] } };
  assert.deepEqual(scrubEvent(structuredClone(moved), () => null), moved);
});

test("the consent names the fields the agent reads: unmasked, typed into, not sensitive, by label", () => {
  const form = new Element("form", { class: "cb-unmask" });
  const labelled = (tag, attributes, label) => Object.assign(new Element(tag, attributes, form),
    { labels: label ? [{ textContent: `  ${label}\n ` }] : [] });
  const fields = [
    labelled("input", { id: "street" }, "Street and number"),
    labelled("input", { id: "city", placeholder: "City" }, null),
    labelled("input", { id: "card", autocomplete: "cc-number" }, "Card number"),
    labelled("input", { type: "checkbox", id: "gift" }, "Gift wrap"),
    labelled("input", { id: "street2" }, "Street and number"),
    new Element("input", { id: "note" }), // not unmasked: no cb-unmask around it
    labelled("textarea", { "aria-label": "Delivery note" }, null),
    labelled("select", {}, null),
  ];
  fields[5].labels = [{ textContent: "Note" }];
  const doc = { querySelectorAll: () => fields };
  assert.deepEqual(unmaskedFieldLabels(doc), ["Street and number", "City", "Delivery note", "a field without a label"]);
  assert.deepEqual(unmaskedFieldLabels({ querySelectorAll: () => [fields[2], fields[5]] }), []);
  const many = Array.from({ length: 10 }, (_, n) => labelled("input", { id: `f${n}` }, `Field ${n}`));
  assert.deepEqual(unmaskedFieldLabels({ querySelectorAll: () => many }),
    ["Field 0", "Field 1", "Field 2", "Field 3", "Field 4", "Field 5", "Field 6", "3 more fields"]);
  useLanguage("de");
  try {
    assert.deepEqual(unmaskedFieldLabels({ querySelectorAll: () => many }).at(-1), "3 weitere Felder");
    assert.deepEqual(unmaskedFieldLabels(doc).at(-1), "ein Feld ohne Beschriftung");
  } finally {
    useLanguage("en", "en-GB");
  }
});

test("every field sent says whether the agent may type into it, and why not, also after it changed", () => {
  const live = new Map([
    [30, Object.assign(input({ id: "city", class: "cb-unmask" }), { value: "" })],
    [31, Object.assign(input({ autocomplete: "cc-number" }), { value: "" })],
    [32, Object.assign(input({ id: "note" }), { value: "" })],
    [33, Object.assign(input({ type: "checkbox", value: "wrap" }), { value: "wrap", checked: false })],
    [34, Object.assign(input({ id: "name", class: "cb-unmask", "data-cb-fill": "allowed" }), { value: "" })],
  ]);
  const nodeOf = (id) => live.get(id) ?? null;
  const event = { type: 2, data: { node: serialized(1, "form", {}, [
    serialized(30, "input", { id: "city", class: "cb-unmask" }),
    serialized(31, "input", { autocomplete: "cc-number" }),
    serialized(32, "input", { id: "note" }),
    serialized(33, "input", { type: "checkbox", value: "wrap" }),
    serialized(35, "input", { id: "gone", "data-cb-fill": "allowed" }), // the page's own attribute, and no element
  ]) } };
  scrubEvent(event, nodeOf);
  assert.deepEqual(event.data.node.childNodes.map((node) => node.attributes[FILL_ATTRIBUTE]),
    ["allowed", "sensitive_field", "masked_field", "not_a_field", "no_such_element"]);
  assert.equal("data-cb-fill" in event.data.node.attributes, false); // fields only

  // The page's script makes the name a card holder's field, and claims the card field is fine.
  live.get(34).attributes.autocomplete = "cc-name";
  const changed = { type: 3, data: { source: 0, removes: [], adds: [], texts: [], attributes: [
    { id: 34, attributes: { autocomplete: "cc-name" } },
    { id: 31, attributes: { [FILL_ATTRIBUTE]: "allowed" } },
    { id: 1, attributes: { class: "checkout" } },
  ] } };
  live.set(1, form);
  scrubEvent(changed, nodeOf);
  assert.deepEqual(changed.data.attributes, [
    { id: 34, attributes: { autocomplete: "cc-name", [FILL_ATTRIBUTE]: "sensitive_field" } },
    { id: 31, attributes: { [FILL_ATTRIBUTE]: "sensitive_field" } },
    { id: 1, attributes: { class: "checkout" } },
  ]);
});

test("a file input is not captured: neither its value (the file's name) nor its length goes out", () => {
  const file = Object.assign(input({ type: "file", name: "receipt" }), { value: "C:\\fakepath\\SECRET-scan.pdf" });
  const hidden = Object.assign(input({ type: "hidden", name: "token" }), { value: "SECRET-token" });
  assert.equal(file.matches(BLOCK_SELECTOR), true);
  assert.equal(actionRefusal(file, "click"), "blocked");
  assert.equal(actionRefusal(file, "input"), "blocked");
  // What rrweb serializes of a blocked element: its class and size only.
  const live = new Map([[30, file], [31, hidden]]);
  const event = { type: 2, data: { node: serialized(1, "form", {}, [
    serialized(30, "input", { rr_width: "200px", rr_height: "20px" }),
    serialized(31, "input", { rr_width: "0px", rr_height: "0px" }),
  ]) } };
  scrubEvent(event, (id) => live.get(id) ?? null);
  assert.equal(JSON.stringify(event).includes("*"), false, JSON.stringify(event));
  assert.equal(JSON.stringify(event).includes("SECRET"), false);
});
