// What the console says: wait times, clock times, system messages, error codes, tags and
// canned-response shortcuts, in the agent's language (client/src/i18n.js). Plain functions over
// plain values (unit-tested without a browser).

import { t, translator } from "../../client/src/i18n.js";

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
  return new Date(epochSeconds * 1000).toLocaleTimeString(translator()?.intl, { hour: "2-digit", minute: "2-digit" });
}

/** A cart value with two decimals as the agent's language writes it ("49,50" in German). */
export function formatAmount(value) {
  const options = { minimumFractionDigits: 2, maximumFractionDigits: 2 };
  return translator() ? translator().number(value, options) : value.toFixed(2);
}

/** What a system message means, in words. */
export function systemText(message) {
  const meta = message.meta || {};
  switch (message.body) {
    case "chat_started": return t("system.chat_started");
    case "agent_joined": return meta.agent_name ? t("system.agent_joined", { agent: meta.agent_name })
      : t("system.an_agent_joined");
    case "requeued": return t("system.requeued");
    case "transferred": {
      const from = meta.from_agent_name || t("system.an_agent");
      return meta.department ? t("system.transferred_department", { from, department: meta.department })
        : t("system.transferred_agent", { from, agent: meta.agent_name || t("system.another_agent") });
    }
    case "closed": return t(meta.by === "visitor" ? "system.closed_visitor" : "system.closed");
    default: return message.body;
  }
}

const ERRORS = new Set(["already_taken", "at_capacity", "conversation_closed", "forbidden", "not_found",
  "invalid_credentials", "rate_limited", "message_too_long", "unavailable", "token_expired", "invalid_token",
  "auth_required"]);

const SESSION_ENDED = new Set(["signed_out", "disabled", "expired"]);

/** Why the server ended the session (session:ended {reason}), in words. */
export function sessionEndedText(reason) {
  return t(SESSION_ENDED.has(reason) ? `session.${reason}` : "session.ended");
}

/** A clear sentence for a structured error {code, message}. */
export function errorText(error) {
  if (!error) return t("error.other");
  if (error.code === "account_locked" || error.code === "invalid_payload") return error.message;
  return ERRORS.has(error.code) ? t(`error.${error.code}`) : error.message || t("error.other");
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
