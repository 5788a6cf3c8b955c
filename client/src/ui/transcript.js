// The conversation as the widget shows it: the server's messages ordered by seq, each once, and
// after them the shopper's messages the server has not acknowledged yet (the outbox). A message
// is known by its seq and, when it has one, by its client_msg_id, so a replay after a reload or
// a reconnect, or an ack that crosses a replay, never shows it twice.

export class Transcript {
  constructor(outbox = []) {
    this.bySeq = new Map();
    this.pending = outbox.map((item) => ({ ...item, status: item.status === "failed" ? "failed" : "queued" }));
    // The highest seq received as message:new: where a rejoin continues from. An ack's seq is
    // not counted, since messages before it may still be on their way to this connection.
    this.deliveredSeq = 0;
    this.agentReadSeq = 0;
    // The shopper's read mark as the server keeps it (or as this page just sent it).
    this.visitorReadSeq = 0;
  }

  /** Add a message from the server; false when it was already here. */
  add(message) {
    this.deliveredSeq = Math.max(this.deliveredSeq, message.seq);
    return this.#store(message);
  }

  /** A message the server stored at this client's request (an upload's answer): shown now, but,
   * like an ack, not counted as delivered. False when it was already here. */
  addAcknowledged(message) {
    return this.#store(message);
  }

  #store(message) {
    if (this.bySeq.has(message.seq)) return false;
    this.bySeq.set(message.seq, message);
    if (message.client_msg_id && message.sender?.kind === "visitor") {
      this.pending = this.pending.filter((item) => item.client_msg_id !== message.client_msg_id);
    }
    return true;
  }

  /** A message the shopper wrote, shown at once, sent when the connection allows. */
  queue(conversationId, clientMsgId, body) {
    const item = { conversation_id: conversationId, client_msg_id: clientMsgId, body, status: "queued", error: null };
    this.pending.push(item);
    return item;
  }

  pendingItem(clientMsgId) {
    return this.pending.find((item) => item.client_msg_id === clientMsgId);
  }

  /** The server stored the message (or had it already: same client_msg_id, same seq). */
  confirm(clientMsgId, seq, createdAt) {
    const item = this.pendingItem(clientMsgId);
    if (!item) return;
    this.pending = this.pending.filter((other) => other !== item);
    this.#store({
      conversation_id: item.conversation_id,
      seq,
      kind: "text",
      sender: { kind: "visitor", name: null },
      body: item.body,
      meta: null,
      client_msg_id: clientMsgId,
      created_at: createdAt,
    });
  }

  setStatus(clientMsgId, status, error = null) {
    const item = this.pendingItem(clientMsgId);
    if (item) Object.assign(item, { status, error });
  }

  /** After a connection drops, whatever was in flight goes out again (same client_msg_id). */
  requeueInFlight() {
    for (const item of this.pending) if (item.status === "sending") item.status = "queued";
  }

  toSend() {
    return this.pending.filter((item) => item.status === "queued");
  }

  /** What to keep in storage: the unacknowledged messages. */
  outbox() {
    return this.pending.map(({ conversation_id, client_msg_id, body, status, error }) => ({
      conversation_id, client_msg_id, body, status, error,
    }));
  }

  setAgentRead(seq) {
    this.agentReadSeq = Math.max(this.agentReadSeq, seq);
  }

  setVisitorRead(seq) {
    this.visitorReadSeq = Math.max(this.visitorReadSeq, seq);
  }

  /** The agent's messages past the shopper's read mark: what the chat button counts as new. */
  get unreadFromAgent() {
    let unread = 0;
    for (const [seq, message] of this.bySeq) {
      if (seq > this.visitorReadSeq && message.sender?.kind === "agent") unread += 1;
    }
    return unread;
  }

  get lastSeq() {
    let last = 0;
    for (const seq of this.bySeq.keys()) last = Math.max(last, seq);
    return last;
  }

  /** Every message to show, in order: stored ones by seq, then the pending ones. */
  items() {
    const stored = [...this.bySeq.values()].sort((a, b) => a.seq - b.seq).map((message) => ({
      key: keyOf(message),
      message,
      status: message.sender?.kind === "visitor" && (message.kind === "text" || message.kind === "file")
        ? (message.seq <= this.agentReadSeq ? "read" : "sent")
        : null,
    }));
    const pending = this.pending.map((item) => ({
      key: `visitor:${item.client_msg_id}`,
      message: { kind: "text", sender: { kind: "visitor", name: null }, body: item.body, seq: null },
      status: item.status,
      error: item.error,
      clientMsgId: item.client_msg_id,
    }));
    return [...stored, ...pending];
  }
}

/** A message's identity on screen: its client_msg_id (stable from pending to stored), else its seq. */
export function keyOf(message) {
  return message.client_msg_id ? `${message.sender?.kind}:${message.client_msg_id}` : `seq:${message.seq}`;
}
