// A small element builder. Text always goes in as text nodes: nothing a shopper, an agent or a
// shop sends is ever parsed as HTML.

/**
 * h("p", {class: "x", "aria-live": "polite"}, "text", child) -> <p class="x" aria-live="polite">text…</p>
 * Attribute values false/null/undefined are left out; true gives an empty attribute; functions
 * under on* names become event listeners.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value == null) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's content with plain text. */
export function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}
