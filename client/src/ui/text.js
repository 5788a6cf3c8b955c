// What the widget says: queue estimates, validation reasons, system messages, error codes.
// Plain functions over plain values, in the page's language (../i18n.js), so they are
// unit-tested without a browser.

import { t, translator } from "../i18n.js";

export const MAX_MESSAGE_CHARS = 4000;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/**
 * "You are number 3 in the queue, about 2 minutes." The estimate is the server's
 * (estimated_wait_s); without one, the shop's data-minutes-per-chat per place, if it set one;
 * else the position alone: the widget does not guess.
 */
export function queueText(position, estimatedWaitS, minutesPerChat) {
  if (!position) return t("queue.waiting");
  let seconds = null;
  if (typeof estimatedWaitS === "number" && estimatedWaitS >= 0) seconds = estimatedWaitS;
  else if (minutesPerChat) seconds = position * minutesPerChat * 60;
  if (seconds === null) return t("queue.place", { position });
  return t("queue.placeWait", { position, minutes: Math.max(1, Math.round(seconds / 60)) });
}

/** Why a message cannot be sent, or null when it can. */
export function messageProblem(body, limit = MAX_MESSAGE_CHARS) {
  const length = [...body].length;
  if (!body.trim()) return t("problem.empty");
  // Counts as digits alone (4000, not 4,000), like the counter under the box.
  if (length > limit) return t("problem.tooLong", { limit: String(limit), length: String(length) });
  return null;
}

/** The pre-chat form's problems by field name (empty when it can be sent); ``limit``: the
 * server's max_message_chars for the question. */
export function prechatProblems({ name, email, question, orderNumber }, limit = MAX_MESSAGE_CHARS) {
  const problems = {};
  if (!name.trim()) problems.name = t("problem.name");
  else if (name.trim().length > 100) problems.name = t("problem.nameLong");
  if (email.trim() && !EMAIL.test(email.trim())) problems.email = t("problem.email");
  if (orderNumber.trim().length > 64) problems.orderNumber = t("problem.orderLong");
  const questionProblem = messageProblem(question, limit);
  if (questionProblem) {
    problems.question = question.trim() ? questionProblem : t("problem.question");
  }
  return problems;
}

/** The offline form's problems by field name (empty when it can be sent). */
export function ticketProblems({ name, email, description, orderNumber }, orderNumberRequired) {
  const problems = {};
  if (!name.trim()) problems.name = t("problem.name");
  else if (name.trim().length > 100) problems.name = t("problem.nameLong");
  if (!email.trim()) problems.email = t("problem.emailNeeded");
  else if (!EMAIL.test(email.trim())) problems.email = t("problem.email");
  if (orderNumber.trim().length > 64) problems.orderNumber = t("problem.orderLong");
  else if (orderNumberRequired && !orderNumber.trim()) problems.orderNumber = t("problem.orderNeeded");
  const descriptionProblem = messageProblem(description);
  if (descriptionProblem) {
    problems.description = description.trim() ? descriptionProblem : t("problem.question");
  }
  return problems;
}

/** The line shown for a system message (kind "system"). */
export function systemText(message) {
  const meta = message.meta ?? {};
  switch (message.body) {
    case "chat_started":
      return t("system.chat_started");
    case "agent_joined":
      return meta.agent_name ? t("system.agent_joined", { agent: meta.agent_name }) : t("system.an_agent_joined");
    case "requeued":
      return t("system.requeued");
    case "transferred":
      if (meta.agent_name) return t("system.transferred_agent", { agent: meta.agent_name });
      return meta.department ? t("system.transferred_team", { department: meta.department }) : t("system.transferred");
    case "closed":
      if (meta.by === "agent") return t("system.closed_agent");
      if (meta.by === "system") return t("system.closed_system");
      return t("system.closed_visitor");
    default:
      return "";
  }
}

const ERRORS = new Set(["message_too_long", "rate_limited", "conversation_closed", "not_found", "invalid_payload",
  "timeout", "conversation_not_closed", "email_not_configured"]);

/** A reason a shopper can act on, for a server error code. */
export function errorText(code, fallback) {
  if (ERRORS.has(code)) return t(`error.${code}`);
  return fallback || t("error.other");
}

/** A client_msg_id: 1-64 characters of A-Z a-z 0-9 _ - : . (docs/protocol.md). */
export function newClientMsgId(random = globalThis.crypto) {
  if (random?.randomUUID) return `w-${random.randomUUID()}`;
  return `w-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

export function timeText(seconds) {
  if (!seconds) return "";
  return new Date(seconds * 1000).toLocaleTimeString(language(), { hour: "2-digit", minute: "2-digit" });
}

/** The page's language for Intl (the browser's own before one is set). */
function language() {
  return translator()?.intl;
}

/**
 * "We open again Monday at 09:00 (your time)." for the server's opens_at (seconds since the
 * epoch), in the shopper's time zone (``openingText``). "" without a time.
 */
export function opensText(opensAt, options = {}) {
  const when = openingText(opensAt, options);
  return when ? t("offline.opens", { when }) : "";
}

/**
 * "Monday at 09:00" for an opens_at (seconds since the epoch), in the reader's time zone and the
 * page's language (the time as ``locale`` writes it: 09:00, 9:00 AM): "today" or "tomorrow" when it is,
 * the weekday within a week, else the date too. "" without a time.
 */
export function openingText(opensAt, { now = Date.now(), locale = language(), timeZone = undefined } = {}) {
  if (typeof opensAt !== "number" || !Number.isFinite(opensAt)) return "";
  const when = new Date(opensAt * 1000);
  const time = when.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit", timeZone });
  const days = localDay(when, timeZone) - localDay(new Date(now), timeZone);
  if (days <= 0) return t("time.today", { time });
  if (days === 1) return t("time.tomorrow", { time });
  const day = when.toLocaleDateString(language(), days < 7 ? { weekday: "long", timeZone }
    : { weekday: "long", day: "numeric", month: "long", timeZone });
  return t("time.weekday", { day, time });
}

/** The calendar day of ``date`` in ``timeZone``, as a day number (for differences in days). */
function localDay(date, timeZone) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone, year: "numeric", month: "numeric", day: "numeric",
  }).formatToParts(date).map((part) => [part.type, part.value]));
  return Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day)) / 86_400_000;
}
