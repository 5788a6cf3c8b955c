// The shop's proactive message in the chat panel (docs/widget.md "Proactive messages"): once the
// shopper answered it in the bubble, it is the shop's first line above the pre-chat form (whose
// question the reply fills) and above the chat it started; that chat is recorded with the rule
// (proactive:chat). Kept in the widget's store, so it survives page loads.

import { adoptStyles } from "../styles.js";
import { h, setText } from "./dom.js";

const LINE_CSS = `
.proactive-line { margin: 0 0 12px; padding: 8px 10px; border-radius: 10px; background: #eef2f8; color: #1b1b1b; }
.proactive-line[hidden] { display: none; }
.proactive-line .from { display: block; font-size: 12px; font-weight: 600; color: #4a4a4a; }
.proactive-line p { margin: 2px 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
`;

// An answer whose chat was not started within this long is forgotten: the pre-chat form no longer
// shows it, and a chat started later is not counted for the rule.
export const ANSWER_KEPT_MS = 30 * 60_000;

/** The store's proactive entry as it applies now: null when there is none or it went stale. */
export function currentEntry(entry, now) {
  if (!entry) return null;
  if (!entry.conversation_id && !(now - (entry.answered_at ?? 0) <= ANSWER_KEPT_MS)) return null;
  return entry;
}

export class ProactiveLine {
  /**
   * @param {object} options
   * @param {ShadowRoot} options.root the panel's shadow root
   * @param {import("../store.js").WidgetStore} options.store
   * @param {string} options.from who speaks: the widget's title
   * @param {Function} options.call (event, payload) => ack, the chat session's
   */
  constructor({ root, store, from, call }) {
    adoptStyles(root, LINE_CSS);
    this.store = store;
    this.call = call;
    const line = () => h("div", { class: "proactive-line", hidden: true },
      h("span", { class: "from" }, from), h("p", { dir: "auto" }));
    this.prechatElement = line();
    this.chatElement = line();
  }

  #entry() {
    return currentEntry(this.store.load().proactive, Date.now());
  }

  /** The reply the shopper typed in the bubble, once: it fills the pre-chat question. */
  takeReply() {
    const pending = this.#entry();
    if (!pending?.reply) return "";
    this.store.update({ proactive: { ...pending, reply: null } });
    return pending.reply;
  }

  /** Show the line where it belongs: before a chat starts, and in the chat it started. */
  render(conversationId) {
    const pending = this.#entry();
    const before = Boolean(pending && !pending.conversation_id);
    const during = Boolean(pending && conversationId && pending.conversation_id === conversationId);
    for (const [element, shown] of [[this.prechatElement, before], [this.chatElement, during]]) {
      element.hidden = !shown;
      if (shown) setText(element.lastChild, pending.text);
    }
  }

  /** A chat started from the pre-chat form: if it answers the message, it is recorded with it. */
  async chatStarted(conversationId) {
    const pending = this.#entry();
    if (!pending || pending.conversation_id || !conversationId) return;
    this.store.update({ proactive: { ...pending, conversation_id: conversationId } });
    try {
      await this.call("proactive:chat", { rule_id: pending.rule_id, conversation_id: conversationId });
    } catch {
      // the chat goes on; only the report misses it
    }
  }
}
