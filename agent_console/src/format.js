// What the console says: wait times, clock times, system messages, error codes, tags and
// canned-response shortcuts. Plain functions over plain values (unit-tested without a browser).

/** "0:07", "4:05", "1:02:09" for a wait of so many seconds. */
export function formatWait(seconds) {
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** "14:05" for a time in epoch seconds, in the agent's locale and time zone. */
export function formatClock(epochSeconds) {
  return new Date(epochSeconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** What a system message means, in words. */
export function systemText(message) {
  const meta = message.meta || {};
  switch (message.body) {
    case "chat_started": return "Chat started.";
    case "agent_joined": return `${meta.agent_name || "An agent"} joined the chat.`;
    case "requeued": return "The chat went back to the queue.";
    case "transferred":
      return meta.department
        ? `${meta.from_agent_name || "An agent"} transferred the chat to ${meta.department}.`
        : `${meta.from_agent_name || "An agent"} transferred the chat to ${meta.agent_name || "another agent"}.`;
    case "closed": return meta.by === "visitor" ? "The customer ended the chat." : "The chat was ended.";
    default: return message.body;
  }
}

const ERRORS = {
  already_taken: "Another agent took this chat first.",
  at_capacity: "You cannot take more chats right now: you are at your capacity.",
  conversation_closed: "This chat has ended.",
  forbidden: "This conversation is not assigned to you.",
  not_found: "There is no such conversation.",
  invalid_credentials: "The email or password is wrong.",
  rate_limited: "Too many attempts. Please wait a moment.",
  message_too_long: "That message is too long.",
  unavailable: "The server is busy right now. Please try again.",
  token_expired: "Your session has expired. Please sign in again.",
  invalid_token: "Your session is no longer valid. Please sign in again.",
  auth_required: "Please sign in.",
};

const SESSION_ENDED = {
  signed_out: "You were signed out from another tab or window. Please sign in again.",
  disabled: "Your account has been disabled. Ask an admin if you need to sign in again.",
  expired: "Your session has expired. Please sign in again.",
};

/** Why the server ended the session (session:ended {reason}), in words. */
export function sessionEndedText(reason) {
  return SESSION_ENDED[reason] || "Your session has ended. Please sign in again.";
}

/** A clear sentence for a structured error {code, message}. */
export function errorText(error) {
  if (!error) return "Something went wrong.";
  if (error.code === "account_locked" || error.code === "invalid_payload") return error.message;
  return ERRORS[error.code] || error.message || "Something went wrong.";
}

/** "refund, Shipping , refund" -> ["refund", "shipping"] (what the server stores). */
export function parseTags(text) {
  const tags = text.split(",").map((t) => t.trim().replace(/\s+/g, " ").toLowerCase()).filter(Boolean);
  return [...new Set(tags)];
}

/**
 * The canned responses a composer text asks for: "/ref" -> those whose shortcut starts with
 * "ref" (an exact match first). Anything but a lone "/word" asks for none.
 */
export function cannedMatches(canned, text) {
  const match = /^\/([a-z0-9_-]*)$/i.exec(text.trim());
  if (!match) return [];
  const prefix = match[1].toLowerCase();
  const found = canned.filter((c) => c.shortcut.startsWith(prefix));
  return found.sort((a, b) => (a.shortcut === prefix ? -1 : b.shortcut === prefix ? 1 : a.shortcut.localeCompare(b.shortcut)));
}

/** Only http(s) pages become links. */
export function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}
