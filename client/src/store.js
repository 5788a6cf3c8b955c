// The widget's memory across pages and reloads: the visitor token, the open conversation, the
// messages not yet acknowledged, whether the panel was open. One JSON value in localStorage,
// per chat server; an in-memory stand-in when storage is blocked (private modes, sandboxes).

const EMPTY = Object.freeze({
  token: null,
  expiresAt: 0,
  conversationId: null,
  ratePending: null,
  open: false,
  outbox: [],
  // this browser left a question through the offline form: its answer is shown on return
  tickets: false,
  // how many ticket answers the shopper has seen (more shows on the chat button)
  answersSeen: 0,
  // the proactive message the shopper answered (proactive/watch.js): {rule_id, text, reply,
  // answered_at, conversation_id}, conversation_id null until the chat it starts exists
  // (ui/proactive-line.js, which forgets an answer whose chat did not start within 30 minutes)
  proactive: null,
});

export class WidgetStore {
  constructor(key, storage = defaultStorage()) {
    this.key = key;
    this.storage = storage;
    this.memory = null;
  }

  load() {
    let raw = this.memory;
    if (raw === null) {
      try {
        raw = this.storage?.getItem(this.key) ?? null;
      } catch {
        raw = null;
      }
    }
    if (!raw) return { ...EMPTY, outbox: [] };
    try {
      const value = JSON.parse(raw);
      return {
        ...EMPTY,
        ...value,
        outbox: Array.isArray(value.outbox) ? value.outbox : [],
      };
    } catch {
      return { ...EMPTY, outbox: [] };
    }
  }

  update(patch) {
    const value = { ...this.load(), ...patch };
    const raw = JSON.stringify(value);
    try {
      if (!this.storage) throw new Error("no storage");
      this.storage.setItem(this.key, raw);
      this.memory = null;
    } catch {
      this.memory = raw;
    }
    return value;
  }
}

/** Whether this browser is in (or just finished) a chat: then the loader fetches the UI at once. */
export function hasConversation(state) {
  return Boolean(state.conversationId || state.ratePending || state.outbox.length || state.tickets);
}

function defaultStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}
