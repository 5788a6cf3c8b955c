// What co-browsing never shows or lets an agent touch. These rules run in the shopper's browser,
// before anything leaves it (docs/cobrowse.md):
// - every input's value is masked (asterisks of the same length) unless the shop marks the field
//   with the class cb-unmask (or data-cb-unmask) and it is not sensitive;
// - sensitive fields (card data, passwords, one-time codes, hidden and file inputs, and anything
//   inside .cb-mask / [data-cb-mask]) are always masked;
// - the agent types only into fields it can read (unmasked ones): never into masked, sensitive
//   or blocked ones;
// - a field's value is always the one the shopper sees now, masked: never the value its HTML
//   came with (rrweb copies an input's value attribute, and a textarea's default text, when the
//   live value is empty: scrubEvent removes them before an event is queued), and a checkbox or
//   radio button is ticked in the agent's view only if it is ticked now;
// - .cb-block / [data-cb-block] elements, hidden and file inputs and the chat widget itself (with
//   its own attach input) are not captured at all (the agent sees an empty box of the same size):
//   neither a value nor a file's name, nor that one was chosen, reaches the agent;
// - every field sent carries FILL_ATTRIBUTE: whether the agent may type into it, or why not, so
//   that the console refuses at once instead of asking for text the page would refuse (the page
//   still decides every action itself: actionRefusal).

import { t } from "../i18n.js";

export const BLOCK_CLASS = "cb-block";
export const BLOCK_SELECTOR = "chatserver-widget, [data-cb-block], input[type=hidden], input[type=file]";
export const MASK_TEXT_CLASS = "cb-mask";
export const MASK_TEXT_SELECTOR = "[data-cb-mask]";
// On every field in what is sent: "allowed", or actionRefusal's reason for typing into it.
export const FILL_ATTRIBUTE = "data-cb-fill";

const MASKED_AREA = ".cb-mask, [data-cb-mask], .cb-block, [data-cb-block], chatserver-widget";
const UNMASKED = ".cb-unmask, [data-cb-unmask]";
const SENSITIVE_TYPES = new Set(["password", "hidden", "file"]);
const SENSITIVE_AUTOCOMPLETE = /(^|\s)(cc-|current-password|new-password|one-time-code)/i;
const SENSITIVE_NAME =
  /card|\bcc[-_ ]?(num|number|csc|cvc|cvv|exp)|cvc|cvv|\bcsc\b|iban|\bssn\b|passw|passcode|\bpin\b|secret|security[-_ ]?code/i;
const TEXT_TYPES = new Set(["", "text", "email", "tel", "search", "url", "number", "date", "month", "week", "time",
  "datetime-local"]);

/** Whether an element holds data the agent must never see or write (see the rules above). */
export function isSensitive(element) {
  if (!element || element.nodeType !== 1) return true;
  if (element.closest(MASKED_AREA)) return true;
  const type = (element.getAttribute("type") || "").toLowerCase();
  if (SENSITIVE_TYPES.has(type)) return true;
  const autocomplete = element.getAttribute("autocomplete") || "";
  if (SENSITIVE_AUTOCOMPLETE.test(autocomplete)) return true;
  const names = [element.getAttribute("name"), element.id, autocomplete, element.getAttribute("aria-label"),
    element.getAttribute("placeholder")].filter(Boolean).join(" ");
  return SENSITIVE_NAME.test(names);
}

/** Whether the agent may read this field's value: the shop unmasked it and it is not sensitive. */
export function isUnmasked(element) {
  return Boolean(element && element.closest?.(UNMASKED) && !isSensitive(element));
}

// Inputs whose value is no typed text (their state shows as it does on the page, masked or not).
const NOT_TYPED_INTO = new Set(["radio", "checkbox", "submit", "button", "reset", "image", "range", "color"]);
const MAX_LABELS = 8;

/**
 * The fields of this page whose value the agent would read (unmasked, not sensitive), by their
 * labels, each once and in page order: what the consent names. At most MAX_LABELS, then
 * "N more fields". Empty when every field the shopper types into stays hidden.
 */
export function unmaskedFieldLabels(doc = document) {
  const labels = [];
  for (const element of doc.querySelectorAll("input, textarea, select")) {
    if (NOT_TYPED_INTO.has((element.getAttribute("type") || "").toLowerCase()) || !isUnmasked(element)) continue;
    const label = fieldLabel(element);
    if (!labels.includes(label)) labels.push(label);
  }
  if (labels.length <= MAX_LABELS) return labels;
  return [...labels.slice(0, MAX_LABELS - 1), t("cobrowse.moreFields", { count: labels.length - MAX_LABELS + 1 })];
}

function fieldLabel(element) {
  const labelledBy = (element.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean)
    .map((id) => element.ownerDocument.getElementById(id)?.textContent ?? "").join(" ");
  const text = [element.labels?.[0]?.textContent, element.getAttribute("aria-label"), labelledBy,
    element.getAttribute("placeholder"), element.getAttribute("name")].find((t) => t && t.trim());
  return text ? text.replace(/\s+/g, " ").trim().slice(0, 60) : t("cobrowse.unlabelledField");
}

/** rrweb's maskInputFn: every value masked, except in fields the shop unmasked that are not sensitive. */
export function maskInput(text, element) {
  const value = text ?? "";
  if (isUnmasked(element)) return value;
  return "*".repeat(value.length);
}

// rrweb's event and serialized node types (@rrweb/types).
const EVENT_FULL_SNAPSHOT = 2;
const EVENT_INCREMENTAL = 3;
const SOURCE_MUTATION = 0;
const NODE_ELEMENT = 2;
const NODE_TEXT = 3;
const FIELD_TAGS = new Set(["input", "textarea", "select"]);
// Inputs whose value attribute is a label or an option's value, not what was typed (rrweb's own
// exceptions).
const VALUE_IS_NOT_TYPED = new Set(["radio", "checkbox", "submit", "button"]);

/**
 * Make an rrweb event safe to send, in place: every field in a full snapshot or in the nodes a
 * mutation adds carries its live value, masked by maskInput (or none when it is empty), never
 * the value attribute or default text the page's HTML gave it; and a change to the text inside a
 * textarea is dropped (rrweb sends it again as the textarea's masked value).
 * ``nodeOf(id)`` is the live DOM node with that rrweb id (the recorder's mirror).
 */
export function scrubEvent(event, nodeOf) {
  if (!event || typeof event !== "object") return event;
  if (event.type === EVENT_FULL_SNAPSHOT) {
    scrubNode(event.data?.node, nodeOf);
  } else if (event.type === EVENT_INCREMENTAL && event.data?.source === SOURCE_MUTATION) {
    for (const add of event.data.adds ?? []) scrubNode(add.node, nodeOf);
    // A field's attributes changed (its type, autocomplete, class, disabled…): its mark again,
    // which also overrides a mark the page's own script would set.
    for (const change of event.data.attributes ?? []) {
      const element = nodeOf(change.id);
      if (element?.nodeType === 1 && FIELD_TAGS.has(element.tagName.toLowerCase()) && change.attributes) {
        change.attributes[FILL_ATTRIBUTE] = fillMark(element);
      }
    }
    if (event.data.texts?.length) {
      event.data.texts = event.data.texts.filter(({ id }) => {
        const parent = nodeOf(id)?.parentNode;
        return !parent || parent.nodeType !== 1 || !FIELD_TAGS.has(parent.tagName.toLowerCase());
      });
    }
  }
  return event;
}

function scrubNode(node, nodeOf) {
  if (!node || typeof node !== "object") return;
  if (node.type === NODE_ELEMENT && FIELD_TAGS.has(node.tagName)) scrubField(node, nodeOf(node.id));
  for (const child of node.childNodes ?? []) scrubNode(child, nodeOf);
}

/** FILL_ATTRIBUTE's value for a field of the live page (no element: it is gone). */
export function fillMark(element) {
  return actionRefusal(element, "input") ?? "allowed";
}

function scrubField(node, element) {
  const attributes = node.attributes ?? {};
  node.attributes = attributes;
  attributes[FILL_ATTRIBUTE] = fillMark(element);
  if (element && isBlocked(element)) {
    // Not captured: rrweb keeps only its size; not even a masked value (a file's name) goes out.
    delete attributes.value;
    return;
  }
  const type = String(attributes.type ?? "").toLowerCase();
  if (node.tagName === "input" && (type === "checkbox" || type === "radio") && element) {
    // rrweb adds checked when the box is ticked but keeps the HTML's checked attribute when the
    // shopper unticked it: the agent would see it ticked.
    if (element.checked) attributes.checked = true;
    else delete attributes.checked;
  }
  if (node.tagName === "input" && VALUE_IS_NOT_TYPED.has(type)) return;
  const live = element && typeof element.value === "string" ? element.value : "";
  if (live) attributes.value = maskInput(live, element);
  else delete attributes.value;
  if (node.tagName === "textarea") {
    // Its default text (present only when the live value is empty, which is what it shows).
    for (const child of node.childNodes ?? []) if (child?.type === NODE_TEXT) child.textContent = "";
  }
}

function isBlocked(element) {
  return Boolean(element.closest(`.${BLOCK_CLASS}, ${BLOCK_SELECTOR}`));
}

/**
 * Why the agent may not do this action on this element (a reason code), or null if it may.
 * Clicks are allowed on anything visible that is not blocked or a sensitive field; typing only
 * into text fields, text areas and selects that are not disabled or read-only and whose value
 * the agent sees (unmasked: cb-unmask, and not sensitive): a masked one is "masked_field".
 */
export function actionRefusal(element, kind) {
  if (!element || element.nodeType !== 1 || !element.isConnected) return "no_such_element";
  if (isBlocked(element)) return "blocked";
  const tag = element.tagName.toLowerCase();
  const field = tag === "input" || tag === "textarea" || tag === "select";
  if (field && isSensitive(element)) return "sensitive_field";
  if (kind === "click") return null;
  if (!field || element.disabled || element.readOnly) return "not_a_field";
  if (tag === "input" && !TEXT_TYPES.has((element.getAttribute("type") || "").toLowerCase())) return "not_a_field";
  if (!isUnmasked(element)) return "masked_field";
  return null;
}
