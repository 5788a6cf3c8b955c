// What the widget says: queue estimates, validation reasons, system messages, error codes.
// Plain functions over plain values, so they are unit-tested without a browser.

export const MAX_MESSAGE_CHARS = 4000;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/**
 * "You are number 3 in the queue, about 2 minutes." The estimate is the server's
 * (estimated_wait_s); without one, the shop's data-minutes-per-chat per place, if it set one;
 * else the position alone: the widget does not guess.
 */
export function queueText(position, estimatedWaitS, minutesPerChat) {
  if (!position) return "Waiting for an agent…";
  let seconds = null;
  if (typeof estimatedWaitS === "number" && estimatedWaitS >= 0) seconds = estimatedWaitS;
  else if (minutesPerChat) seconds = position * minutesPerChat * 60;
  const place = position === 1 ? "You are next in the queue" : `You are number ${position} in the queue`;
  if (seconds === null) return `${place}.`;
  const minutes = Math.max(1, Math.round(seconds / 60));
  return `${place}, about ${minutes} ${minutes === 1 ? "minute" : "minutes"}.`;
}

/** Why a message cannot be sent, or null when it can. */
export function messageProblem(body, limit = MAX_MESSAGE_CHARS) {
  const length = [...body].length;
  if (!body.trim()) return "Type a message first.";
  if (length > limit) {
    return `Messages are limited to ${limit} characters; this one has ${length}. Please shorten it.`;
  }
  return null;
}

/** The pre-chat form's problems by field name (empty when it can be sent); ``limit``: the
 * server's max_message_chars for the question. */
export function prechatProblems({ name, email, question, orderNumber }, limit = MAX_MESSAGE_CHARS) {
  const problems = {};
  if (!name.trim()) problems.name = "Please tell us your name.";
  else if (name.trim().length > 100) problems.name = "Names are limited to 100 characters.";
  if (email.trim() && !EMAIL.test(email.trim())) problems.email = "This does not look like an email address.";
  if (orderNumber.trim().length > 64) problems.orderNumber = "Order numbers are limited to 64 characters.";
  const questionProblem = messageProblem(question, limit);
  if (questionProblem) {
    problems.question = question.trim() ? questionProblem : "Please tell us what you need help with.";
  }
  return problems;
}

/** The offline form's problems by field name (empty when it can be sent). */
export function ticketProblems({ name, email, description, orderNumber }, orderNumberRequired) {
  const problems = {};
  if (!name.trim()) problems.name = "Please tell us your name.";
  else if (name.trim().length > 100) problems.name = "Names are limited to 100 characters.";
  if (!email.trim()) problems.email = "Please give your email address: we answer there.";
  else if (!EMAIL.test(email.trim())) problems.email = "This does not look like an email address.";
  if (orderNumber.trim().length > 64) problems.orderNumber = "Order numbers are limited to 64 characters.";
  else if (orderNumberRequired && !orderNumber.trim()) problems.orderNumber = "Please give your order number.";
  const descriptionProblem = messageProblem(description);
  if (descriptionProblem) {
    problems.description = description.trim() ? descriptionProblem : "Please tell us what you need help with.";
  }
  return problems;
}

/** The line shown for a system message (kind "system"). */
export function systemText(message) {
  switch (message.body) {
    case "chat_started":
      return "Chat started.";
    case "agent_joined":
      return `${message.meta?.agent_name || "An agent"} joined the chat.`;
    case "requeued":
      return "Your agent was disconnected. You are back at the front of the queue.";
    case "transferred":
      if (message.meta?.agent_name) return `You are now chatting with ${message.meta.agent_name}.`;
      return `Your chat was passed on to ${message.meta?.department ? `our ${message.meta.department} team` : "another team"}` +
        ". You are at the front of its queue.";
    case "closed":
      if (message.meta?.by === "agent") return "The agent ended the chat.";
      if (message.meta?.by === "system") return "This chat was closed.";
      return "You ended the chat.";
    default:
      return "";
  }
}

const ERRORS = {
  message_too_long: "That message is too long.",
  rate_limited: "You are sending messages too fast. Wait a moment and try again.",
  conversation_closed: "This chat has ended.",
  not_found: "This chat could not be found.",
  invalid_payload: "The chat could not accept that. Please check what you entered.",
  timeout: "The chat server did not answer in time.",
  conversation_not_closed: "The transcript can be sent once the chat has ended.",
  email_not_configured: "Sorry, we cannot send emails right now.",
};

/** A reason a shopper can act on, for a server error code. */
export function errorText(code, fallback) {
  return ERRORS[code] || fallback || "Something went wrong. Please try again.";
}

/** A client_msg_id: 1-64 characters of A-Z a-z 0-9 _ - : . (docs/protocol.md). */
export function newClientMsgId(random = globalThis.crypto) {
  if (random?.randomUUID) return `w-${random.randomUUID()}`;
  return `w-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

export function timeText(seconds) {
  if (!seconds) return "";
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/**
 * "We open again Monday at 09:00 (your time)." for the server's opens_at (seconds since the
 * epoch), in the shopper's time zone (``openingText``). "" without a time.
 */
export function opensText(opensAt, options = {}) {
  const when = openingText(opensAt, options);
  return when ? `We open again ${when} (your time).` : "";
}

/**
 * "Monday at 09:00" for an opens_at (seconds since the epoch), in the reader's time zone, the
 * time as their locale writes it (09:00, 9:00 AM; the browser's unless given): "today" or
 * "tomorrow" when it is, the weekday within a week, else the date too, in English like the rest
 * of the widget (and the agent console). "" without a time.
 */
export function openingText(opensAt, { now = Date.now(), locale = undefined, timeZone = undefined } = {}) {
  if (typeof opensAt !== "number" || !Number.isFinite(opensAt)) return "";
  const when = new Date(opensAt * 1000);
  const time = when.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit", timeZone });
  const days = localDay(when, timeZone) - localDay(new Date(now), timeZone);
  let day;
  if (days <= 0) day = "today";
  else if (days === 1) day = "tomorrow";
  else if (days < 7) day = when.toLocaleDateString("en-GB", { weekday: "long", timeZone });
  else day = when.toLocaleDateString("en-GB", { weekday: "long", day: "numeric", month: "long", timeZone });
  return `${day} at ${time}`;
}

/** The calendar day of ``date`` in ``timeZone``, as a day number (for differences in days). */
function localDay(date, timeZone) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone, year: "numeric", month: "numeric", day: "numeric",
  }).formatToParts(date).map((part) => [part.type, part.value]));
  return Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day)) / 86_400_000;
}
