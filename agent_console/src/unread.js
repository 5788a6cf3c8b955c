// What the agent has not read: a chat's customer messages after the agent's read mark (the
// server's, docs/protocol.md `message:read`, so a reload or another tab agrees), and the page
// title that counts the chats holding any. Plain functions, unit-tested without a browser.

/** How many of ``messages`` (any iterable) the customer wrote after the agent's read mark. */
export function unreadCount(messages, agentReadSeq) {
  let count = 0;
  for (const message of messages) {
    if (message.sender?.kind === "visitor" && message.kind !== "system" && message.seq > agentReadSeq) count += 1;
  }
  return count;
}

/** "(2) Agent console · chatserver" while two chats have unread messages; the title alone at 0. */
export function titleWithUnread(title, chatsWithUnread) {
  return chatsWithUnread > 0 ? `(${chatsWithUnread}) ${title}` : title;
}
