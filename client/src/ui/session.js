// The shopper's side of the protocol (docs/protocol.md, namespace /visitor): get a visitor token,
// connect, send the shop's signed identity and resume the conversation after every (re)connect,
// tell the agent which page the shopper is on, send messages exactly once (same client_msg_id on
// every resend), keep read marks and typing, end and rate the chat.
// It holds state and tells the view through onChange; it never touches the DOM.

import { t } from "../i18n.js";
import { WidgetStore } from "../store.js";
import { visitorToken } from "../token.js";
import { upload, uploadUrl } from "./attachments.js";
import { errorText, MAX_MESSAGE_CHARS, newClientMsgId } from "./text.js";
import { Transcript } from "./transcript.js";

const ACK_TIMEOUT_MS = 10_000;
const ANY = Symbol("any conversation");
const TOKEN_ERRORS = new Set(["token_expired", "invalid_token", "auth_required"]);
// The agent's "is typing" ends this long after their last typing:true, should the typing:false
// never come (their console closed mid-word). The console repeats typing:true every 3 s.
const AGENT_TYPING_TIMEOUT_MS = 6_000;

export class ChatError extends Error {
  constructor(code, message, details) {
    super(message || code);
    this.code = code;
    this.details = details;
  }
}

/**
 * Whether a conversation snapshot is older than the one shown. An ack's snapshot can arrive
 * after a newer conversation:updated (chat:start acknowledges "queued" after the chat was already
 * assigned). Every status change adds a system message, so last_seq orders the snapshots.
 */
export function isStale(current, incoming) {
  return incoming.id === current.id && incoming.last_seq < current.last_seq;
}

export class ChatSession {
  /**
   * @param {object} options
   * @param {Function} options.io socket.io-client's io()
   * @param {string} options.base the chat server's base URL, ending in "/"
   * @param {WidgetStore} options.store
   * @param {Function} options.onChange called after every state change
   * @param {Function} [options.fetch]
   * @param {Function} [options.identity] the shop's signed identity of the shopper, or "" (read
   *   at every connect: the shop's data-identity attribute, or what it passed to identify())
   * @param {Function} [options.page] where the shopper is: {page_url?, page_title?, checkout, cart_value?}
   * @param {object} [options.console] where a refused identity is reported (never to the shopper)
   * @param {Function} [options.XHR] the XMLHttpRequest files are sent with
   */
  constructor({ io, base, store, onChange, fetch = globalThis.fetch.bind(globalThis), identity = () => "",
    page = () => ({ checkout: false }), console = globalThis.console, XHR = globalThis.XMLHttpRequest }) {
    this.io = io;
    this.base = base;
    this.store = store;
    this.onChange = onChange;
    this.fetch = fetch;
    this.identity = identity;
    this.page = page;
    this.console = console;
    this.XHR = XHR;
    // the identity last accepted on this connection (sent again only when the shop changes it)
    this.identified = null;
    this.socket = null;
    this.token = null;
    this.readSent = 0;
    this.sending = Promise.resolve();
    this.retryTimer = null;
    this.retries = 0;
    this.agentTypingTimer = null;
    // The conversation whose messages may arrive before the ack that names it: chat:start and
    // conversation:join replay messages first and acknowledge after. ANY while a chat starts.
    this.expecting = null;
    // Hooks for co-browsing (./cobrowse.js): the socket once made, and the conversation after
    // every resume (null when there is none).
    this.onSocket = null;
    this.onResumed = null;
    const saved = store.load();
    this.transcript = new Transcript(saved.outbox);
    this.state = {
      // "connecting" until the first resume; then "prechat", "chat" or "ended"
      phase: "connecting",
      // "connecting", "online" or "reconnecting"
      connection: "connecting",
      agentsAvailable: true,
      conversation: null,
      queue: null,
      agentOnline: true,
      agentTyping: false,
      rated: false,
      problem: null,
      // availability:get: {chat_open, reason, order_number_required, transcript_email, opens_at};
      // null until known (or on a server without the offline service: then the chat is taken as open)
      availability: null,
      // the visitor's offline tickets with their answers, newest first (ticket:list)
      tickets: [],
      // the server's max_message_chars (session:resume's limits), the widget's default until known
      maxMessageChars: MAX_MESSAGE_CHARS,
      // the server's attachment_max_bytes (session:resume's limits, or a 413's details.limit), null until known
      maxAttachmentBytes: null,
      // history:list, when there is no chat going on: the shopper's ended conversations, newest
      // first, and the last chat's {name, email} for the pre-chat form (or null)
      history: { conversations: [], prefill: null },
    };
  }

  // -- connection ----------------------------------------------------------------------------

  async start() {
    try {
      this.token = await this.#visitorToken();
    } catch (error) {
      this.#set({ connection: "reconnecting", problem: t("banner.unreachable") });
      this.#retryLater(() => this.start());
      return;
    }
    const base = new URL(this.base);
    this.socket = this.io(`${base.origin}/visitor`, {
      path: `${base.pathname}socket.io/`,
      auth: (send) => send({ token: this.token }),
      transports: ["websocket", "polling"],
      tryAllTransports: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
    });
    this.onSocket?.(this.socket);
    this.socket.on("connect", () => this.#connected());
    this.socket.on("disconnect", (reason) => this.#disconnected(reason));
    this.socket.on("connect_error", (error) => this.#connectError(error));
    this.socket.on("message:new", (message) => this.#messageNew(message));
    this.socket.on("conversation:updated", ({ conversation }) => this.#conversationUpdated(conversation));
    this.socket.on("queue:position", ({ conversation_id, position, estimated_wait_s }) => {
      if (conversation_id === this.state.conversation?.id) {
        this.#set({ queue: { ...this.state.queue, position, estimated_wait_s } });
      }
    });
    this.socket.on("typing:updated", ({ conversation_id, party, typing }) => {
      if (conversation_id === this.state.conversation?.id && party === "agent") this.#agentTyping(typing);
    });
    this.socket.on("message:read", ({ conversation_id, party, seq }) => {
      if (conversation_id !== this.state.conversation?.id) return;
      // The shopper's own mark moves too when another tab of theirs read the chat.
      if (party === "agent") this.transcript.setAgentRead(seq);
      else if (party === "visitor") this.transcript.setVisitorRead(seq);
      this.#set({});
    });
    this.socket.on("ticket:updated", ({ ticket }) => this.#ticketUpdated(ticket));
    this.socket.on("peer:presence", ({ conversation_id, party, online }) => {
      if (conversation_id === this.state.conversation?.id && party === "agent") {
        this.#set({ agentOnline: online, agentTyping: online && this.state.agentTyping });
      }
    });
  }

  get connected() {
    return Boolean(this.socket?.connected);
  }

  async #visitorToken() {
    const { token, fresh } = await visitorToken(this.store, this.base, this.fetch);
    if (fresh) this.transcript = new Transcript();
    return token;
  }

  async #connected() {
    this.retries = 0;
    this.identified = null;
    this.#set({ connection: "online", problem: null });
    try {
      // Before anything else: a chat started on this connection then lands on the customer.
      await this.identify();
      await this.refreshOffline();
      const resumed = await this.call("session:resume", {});
      const agentsAvailable = resumed.agents_available !== false;
      const limit = resumed.limits?.max_message_chars;
      if (Number.isInteger(limit) && limit > 0) this.#set({ maxMessageChars: limit });
      this.#learnAttachmentLimit(resumed.limits?.attachment_max_bytes);
      const saved = this.store.load();
      if (resumed.conversation) {
        if (resumed.conversation.id !== this.state.conversation?.id) {
          // Another tab started this chat, or this page knew none: start from its first message.
          this.transcript = new Transcript(saved.outbox.filter((m) => m.conversation_id === resumed.conversation.id));
          this.state.conversation = null;
        }
        this.#set({ agentsAvailable, rated: false });
        this.#conversationUpdated(resumed.conversation, resumed.queue);
        await this.#join(resumed.conversation.id);
        this.#flushOutbox();
        this.#sendPage(resumed.conversation.id);
        this.onResumed?.(this.state.conversation);
      } else if (saved.conversationId || saved.ratePending) {
        // The chat ended while this page was away: show how it ended and ask for the rating.
        this.#set({ agentsAvailable });
        await this.#rejoinEnded(saved.conversationId || saved.ratePending);
        this.onResumed?.(null);
      } else {
        this.#set({ agentsAvailable, phase: this.state.phase === "ended" ? "ended" : "prechat" });
        this.onResumed?.(null);
        await this.refreshHistory();
      }
    } catch (error) {
      if (error.code === "timeout" || !this.connected) return; // the next connect resumes again
      this.#set({ problem: errorText(error.code, error.message) });
    }
  }

  /**
   * Send the shop's signed identity of the shopper (visitor:identify), if it has one and this
   * connection has not sent it yet. A refused identity changes nothing on the server: the
   * shopper chats on as an anonymous visitor, and only the browser console says why.
   */
  async identify() {
    const identity = this.identity();
    if (!identity || identity === this.identified || !this.connected) return;
    try {
      await this.call("visitor:identify", { identity });
      this.identified = identity;
    } catch (error) {
      if (error.code === "timeout" || error.code === "offline") return; // sent again on the next connect
      this.identified = identity; // the same identity would be refused again
      this.console?.warn?.(`chatserver widget: the shop's identity was refused (${error.code})`);
    }
  }

  /** Tell the agent where the shopper is now (page:update); a failure is only a missed hint. */
  #sendPage(conversationId) {
    this.call("page:update", { conversation_id: conversationId, ...this.page() }).catch(() => {});
  }

  /** Whether a chat can be served now, and the visitor's tickets (shown when they return). */
  async refreshOffline() {
    const [availability, listing] = await Promise.all([
      this.call("availability:get", {}).catch(() => null),
      this.call("ticket:list", {}).catch(() => null),
    ]);
    const patch = {};
    if (availability) {
      const { chat_open, reason, order_number_required, transcript_email, opens_at } = availability;
      patch.availability = { chat_open, reason, order_number_required, transcript_email, opens_at };
    }
    if (listing) patch.tickets = listing.tickets;
    this.#set(patch, { tickets: Boolean(listing) });
  }

  /** The shopper's earlier conversations and last pre-chat details (history:list). */
  async refreshHistory() {
    const listing = await this.call("history:list", {}).catch(() => null);
    if (listing) this.#set({ history: { conversations: listing.conversations, prefill: listing.prefill } }, { history: true });
  }

  /** One earlier conversation with its messages, read-only (history:read). */
  async readPast(conversationId) {
    return this.call("history:read", { conversation_id: conversationId });
  }

  #ticketUpdated(ticket) {
    const others = this.state.tickets.filter((t) => t.id !== ticket.id);
    this.#set({ tickets: [ticket, ...others].sort((a, b) => b.created_at - a.created_at) }, { tickets: true });
  }

  async #rejoinEnded(conversationId) {
    this.expecting = conversationId;
    try {
      const joined = await this.#join(conversationId);
      this.#conversationUpdated(joined.conversation, joined.queue);
    } catch (error) {
      if (error.code !== "not_found") throw error;
      this.#forget();
      this.#set({ phase: "prechat", conversation: null });
    } finally {
      this.expecting = null;
    }
  }

  async #join(conversationId) {
    return this.call("conversation:join", { conversation_id: conversationId, after_seq: this.transcript.deliveredSeq });
  }

  #disconnected(reason) {
    this.transcript.requeueInFlight();
    this.#set({ connection: "reconnecting", agentTyping: false });
    // socket.io-client reconnects by itself except when the server closed the connection (as
    // on a restart or deploy): then the widget tries again itself.
    if (reason === "io server disconnect") this.#retryLater(() => this.socket.connect());
  }

  async #connectError(error) {
    const code = error?.data?.code;
    this.#set({ connection: this.state.phase === "connecting" ? "connecting" : "reconnecting" });
    if (TOKEN_ERRORS.has(code)) {
      // The token is no longer good (expired, or the server's secret changed): start over as a
      // new visitor; the old conversation cannot be reached any more.
      this.store.update({ token: null, expiresAt: 0 });
      this.#set({ phase: "connecting", conversation: null, queue: null });
      this.#retryLater(async () => {
        try {
          this.token = await this.#visitorToken();
        } finally {
          this.socket.connect();
        }
      });
    } else if (!this.socket.active) {
      this.#retryLater(() => this.socket.connect());
    }
  }

  #retryLater(action) {
    clearTimeout(this.retryTimer);
    const delay = Math.min(10_000, 500 * 2 ** Math.min(this.retries, 5)) * (0.75 + Math.random() / 2);
    this.retries += 1;
    this.retryTimer = setTimeout(action, delay);
  }

  /** Emit with an acknowledgement; resolves with the ack, rejects with a ChatError. */
  async call(event, payload, timeout = ACK_TIMEOUT_MS) {
    if (!this.connected) throw new ChatError("offline", "not connected");
    let ack;
    try {
      ack = await this.socket.timeout(timeout).emitWithAck(event, payload);
    } catch {
      throw new ChatError("timeout", errorText("timeout"));
    }
    if (ack?.error) throw new ChatError(ack.error.code, ack.error.message, ack.error.details);
    return ack;
  }

  // -- server events -------------------------------------------------------------------------

  #messageNew(message) {
    const expected = this.state.conversation?.id ?? this.expecting;
    if (expected !== ANY && expected !== message.conversation_id) return;
    const added = this.transcript.add(message);
    this.#saveOutbox();
    if (!added) return;
    const fromAgent = message.sender?.kind === "agent";
    this.#set({ agentTyping: fromAgent ? false : this.state.agentTyping }, { newMessage: message });
  }

  #conversationUpdated(conversation, queue) {
    const current = this.state.conversation;
    if (current && (conversation.id !== current.id || isStale(current, conversation))) return;
    if (conversation.read) {
      this.transcript.setAgentRead(conversation.read.agent ?? 0);
      this.transcript.setVisitorRead(conversation.read.visitor ?? 0);
    }
    const closed = conversation.status === "closed";
    this.store.update(closed
      ? { conversationId: null, ratePending: this.state.rated ? null : conversation.id }
      : { conversationId: conversation.id });
    this.#set({
      conversation,
      queue: conversation.status === "queued" ? (queue ?? this.state.queue) : null,
      phase: closed ? "ended" : "chat",
      agentTyping: closed ? false : this.state.agentTyping,
      agentOnline: conversation.status === "assigned" ? this.state.agentOnline : true,
    });
  }

  #agentTyping(typing) {
    clearTimeout(this.agentTypingTimer);
    if (typing) this.agentTypingTimer = setTimeout(() => this.#set({ agentTyping: false }), AGENT_TYPING_TIMEOUT_MS);
    this.#set({ agentTyping: typing });
  }

  // -- shopper actions -----------------------------------------------------------------------

  async startChat(prechat) {
    this.transcript = new Transcript();
    this.readSent = 0;
    this.#set({ conversation: null, rated: false });
    this.expecting = ANY;
    try {
      const ack = await this.call("chat:start", prechat);
      this.#conversationUpdated(ack.conversation, ack.queue);
    } finally {
      this.expecting = null;
    }
  }

  /** Queue a message and send it when connected; the shopper sees it at once. */
  send(body) {
    const conversation = this.state.conversation;
    const item = this.transcript.queue(conversation.id, newClientMsgId(), body);
    this.#saveOutbox();
    this.#set({});
    this.#flushOutbox();
    return item.client_msg_id;
  }

  /**
   * Send a file to the open chat over HTTP (never through the socket): returns {done, cancel}
   * (attachments.js upload()); ``done`` resolves with the stored file message, which is shown at
   * once, and rejects with an UploadError. Throws a ChatError when there is no open chat.
   */
  upload(file, name, onProgress) {
    const conversation = this.state.conversation;
    if (!conversation || conversation.status === "closed" || !this.token) {
      throw new ChatError("conversation_closed", errorText("conversation_closed"));
    }
    const sending = upload({
      url: uploadUrl(this.base, conversation.id, name, newClientMsgId()), token: this.token, body: file, onProgress,
      XHR: this.XHR,
    });
    const done = sending.done.then(({ message }) => {
      if (message.conversation_id === this.state.conversation?.id && this.transcript.addAcknowledged(message)) {
        this.#set({}, { newMessage: message });
      }
      return message;
    }, (error) => {
      if (error.code === "file_too_large") this.#learnAttachmentLimit(Number(error.details?.limit));
      throw error;
    });
    return { done, cancel: sending.cancel };
  }

  /** The largest file the server takes, once it says (files over it are refused before sending):
   * on every session:resume, and again in a 413 should the setting change while the page is open. */
  #learnAttachmentLimit(limit) {
    if (Number.isInteger(limit) && limit > 0 && limit !== this.state.maxAttachmentBytes) {
      this.#set({ maxAttachmentBytes: limit });
    }
  }

  /** Send a message the server refused before (say, rate_limited) again, with the same id. */
  retry(clientMsgId) {
    this.transcript.setStatus(clientMsgId, "queued");
    this.#set({});
    this.#flushOutbox();
  }

  /** Send every queued message once, in order, one ack at a time. */
  #flushOutbox() {
    this.sending = this.sending.then(async () => {
      for (const item of this.transcript.toSend()) {
        if (!this.connected) return;
        await this.#sendOne(item);
      }
    });
    return this.sending;
  }

  async #sendOne(item) {
    this.transcript.setStatus(item.client_msg_id, "sending");
    this.#set({});
    try {
      const ack = await this.call("message:send", {
        conversation_id: item.conversation_id, client_msg_id: item.client_msg_id, body: item.body,
      });
      this.transcript.confirm(item.client_msg_id, ack.seq, ack.created_at);
    } catch (error) {
      if (error.code === "timeout" || error.code === "offline") {
        // No answer: it may or may not be stored; the next connect sends it again with the
        // same client_msg_id, and the server acknowledges a duplicate with the original seq.
        this.transcript.setStatus(item.client_msg_id, "queued");
      } else {
        this.transcript.setStatus(item.client_msg_id, "failed", errorText(error.code, error.message));
      }
    }
    this.#saveOutbox();
    this.#set({});
  }

  typing(isTyping) {
    const conversation = this.state.conversation;
    if (!this.connected || !conversation || conversation.status === "closed") return;
    this.socket.emit("typing:update", { conversation_id: conversation.id, typing: isTyping });
  }

  /** Tell the agent the shopper has seen everything up to the last message. */
  markRead() {
    const conversation = this.state.conversation;
    const seq = this.transcript.lastSeq;
    if (!this.connected || !conversation || seq <= this.readSent) return;
    this.readSent = seq;
    // Seen on this page now, whatever the server answers: the chat button stops counting them.
    this.transcript.setVisitorRead(seq);
    this.call("message:read", { conversation_id: conversation.id, seq }).catch(() => {
      this.readSent = 0;
    });
  }

  async endChat() {
    const ack = await this.call("conversation:close", { conversation_id: this.state.conversation.id });
    this.#conversationUpdated(ack.conversation);
  }

  async rate(rating, comment) {
    const payload = { conversation_id: this.state.conversation.id, rating };
    if (comment) payload.comment = comment;
    await this.call("conversation:rate", payload);
    this.store.update({ ratePending: null });
    this.#set({ rated: true });
  }

  /** Leave a question for later (the offline form); resolves with the stored ticket. */
  async createTicket(form) {
    const ack = await this.call("ticket:create", form);
    this.store.update({ tickets: true });
    this.#ticketUpdated(ack.ticket);
    return ack.ticket;
  }

  /** Have the ended chat's transcript emailed where the server allows; resolves with the address. */
  async emailTranscript() {
    const ack = await this.call("transcript:email", { conversation_id: this.state.conversation.id });
    return ack.email;
  }

  /** Leave the ended chat behind and show the pre-chat form again. */
  newChat() {
    this.#forget();
    this.transcript = new Transcript();
    this.readSent = 0;
    this.#set({ phase: "prechat", conversation: null, queue: null, rated: false, agentOnline: true });
    this.refreshHistory(); // the chat that just ended is one of them now
  }

  #forget() {
    this.store.update({ conversationId: null, ratePending: null, outbox: [] });
  }

  #saveOutbox() {
    this.store.update({ outbox: this.transcript.outbox() });
  }

  #set(patch, detail = {}) {
    Object.assign(this.state, patch);
    this.onChange(this.state, detail);
  }
}
