// The proactive message's bubble beside the chat button (docs/widget.md "Proactive messages"):
// the shop's text, announced politely (a status region: never moves focus), a reply field and a
// dismiss button, all reachable by keyboard; Escape dismisses. Text goes in as text, never HTML.

export const BUBBLE_CSS = `
.proactive {
  position: fixed; inset-inline-end: 92px; bottom: 20px; z-index: 2147483000; box-sizing: border-box;
  width: min(300px, calc(100vw - 112px)); padding: 12px 12px 10px; border-radius: 12px;
  background: #fff; color: #1b1b1b; font: 14px/1.4 system-ui, sans-serif;
  box-shadow: 0 6px 20px rgba(0, 0, 0, .25);
}
.proactive[hidden] { display: none; }
.proactive .from { margin-block: 0 4px; margin-inline: 0 28px; font-weight: 600; font-size: 12px; color: #4a4a4a; }
.proactive .text { margin: 0 0 8px; white-space: pre-wrap; overflow-wrap: anywhere; }
.proactive form { display: flex; gap: 6px; margin: 0; }
.proactive label { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
.proactive input {
  flex: 1; min-width: 0; padding: 6px 8px; border: 1px solid #6b6b6b; border-radius: 6px; font: inherit;
}
.proactive button { font: inherit; cursor: pointer; }
.proactive .send { padding: 6px 10px; border: 0; border-radius: 6px; background: var(--accent); color: var(--on-accent); }
.proactive .dismiss {
  position: absolute; top: 6px; inset-inline-end: 6px; width: 28px; height: 28px; padding: 0; border: 0;
  border-radius: 50%; background: transparent; color: #4a4a4a; font-size: 18px; line-height: 28px;
}
.proactive :focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; }
/* Beside the button in the corner the shop chose (data-position). */
:host([data-position="left"]) .proactive { inset-inline: auto; left: 92px; }
:host([data-position="right"]) .proactive { inset-inline: auto; right: 92px; }
@media (max-width: 480px) {
  .proactive { inset-inline-end: 12px; bottom: 84px; width: calc(100vw - 24px); }
  :host([data-position]) .proactive { inset-inline: auto; left: 12px; }
}
`;

const el = (tag, attributes = {}, text = "") => {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  if (text) element.textContent = text;
  return element;
};

export class Bubble {
  /**
   * @param {object} options
   * @param {ShadowRoot} options.root the loader's shadow root (the chat button's)
   * @param {string} options.from who speaks: the widget's title
   * @param {object} [options.texts] the bubble's own words in the widget's language (label,
   *   replyLabel, reply, dismiss), English without them
   * @param {Function} options.onAnswer called with the shopper's reply (not blank)
   * @param {Function} options.onDismiss
   */
  constructor({ root, from, texts = {}, onAnswer, onDismiss }) {
    const words = { label: `${from}: message`, replyLabel: "Your reply", reply: "Reply", dismiss: "Dismiss message",
      ...texts };
    this.element = el("section", { class: "proactive", "aria-label": words.label, hidden: "" });
    // The status region is in the page before its text: screen readers announce what is added.
    this.text = el("p", { class: "text", role: "status", dir: "auto" });
    this.input = el("input", { id: "chatserver-proactive-reply", type: "text", maxlength: "4000",
      autocomplete: "off", dir: "auto" });
    const form = el("form", { novalidate: "" });
    form.append(el("label", { for: "chatserver-proactive-reply" }, words.replyLabel), this.input,
      el("button", { class: "send", type: "submit" }, words.reply));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const reply = this.input.value.trim();
      if (reply) onAnswer(reply);
      else this.input.focus();
    });
    const dismiss = el("button", { class: "dismiss", type: "button", "aria-label": words.dismiss }, "\u00d7");
    dismiss.addEventListener("click", () => onDismiss());
    this.element.addEventListener("keydown", (event) => {
      if (event.key === "Escape") onDismiss();
    });
    this.element.append(el("p", { class: "from", "aria-hidden": "true" }, from), this.text, form, dismiss);
    root.append(this.element);
  }

  show(text) {
    this.element.hidden = false;
    // Set once the region is rendered, so the text is announced (politely: focus stays put).
    requestAnimationFrame(() => { this.text.textContent = text; });
  }

  remove() {
    this.element.remove();
  }
}
