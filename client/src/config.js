// What the shop tells the widget through its script tag's data- attributes (docs/widget.md).
// Attributes are read when they are needed, so a shop that updates them (say, the cart value)
// is heard at the moment the shopper starts a chat.

import { parseColor } from "./color.js";

const MAX_URL = 2048;
const MAX_TITLE = 300;

/** The chat server's base URL (ending in "/"): data-server, else where widget.js came from. */
export function serverBase(script, pageUrl) {
  const explicit = script.dataset.server;
  const base = new URL(explicit || ".", explicit ? pageUrl : script.src);
  if (!base.pathname.endsWith("/")) base.pathname += "/";
  base.search = "";
  base.hash = "";
  return base.href;
}

/** Settings the widget reads once, at start. */
export function readConfig(script, pageUrl) {
  const data = script.dataset;
  const base = serverBase(script, pageUrl);
  return {
    base,
    storageKey: `chatserver-widget:${base}`,
    // The shop's title, else the language file's (the loader fills it in once it has arrived).
    title: text(data.title, 60),
    // The language the shop chose for this page (else the browser's: ../i18n.js).
    locale: text(data.locale, 35),
    privacyUrl: safeUrl(data.privacyUrl, pageUrl),
    // Only used when the server has no estimate of its own.
    minutesPerChat: positiveNumber(data.minutesPerChat),
    // The shop's colour ("#1f5fbf" or "#15b"; anything else is ignored) and corner ("left" or
    // "right"; else null: the end of the line, right or, in a right-to-left language, left).
    color: parseColor(data.color),
    position: ["left", "right"].find((side) => side === String(data.position ?? "").trim().toLowerCase()) ?? null,
  };
}

/** The pre-chat form's initial values, from what the shop knows about the shopper. */
export function prefill(script) {
  const data = script.dataset;
  return {
    name: text(data.name, 100),
    email: text(data.email, 254),
    orderNumber: text(data.orderNumber, 64),
  };
}

/** Where the shopper is, sent with chat:start so the agent sees it. */
export function pageContext(script, doc) {
  const data = script.dataset;
  const context = { checkout: parseBool(data.checkout) };
  const url = pageUrl(doc.location.href);
  if (url) context.page_url = url;
  const title = text(doc.title, MAX_TITLE);
  if (title) context.page_title = title;
  const cart = parseAmount(data.cartValue);
  if (cart !== undefined) context.cart_value = cart;
  return context;
}

export function parseBool(value) {
  return ["true", "1", "yes", ""].includes(String(value ?? "false").trim().toLowerCase());
}

/** "59.90", "59,90" or "1234" to a number; anything else (or a negative amount) to undefined. */
export function parseAmount(value) {
  if (value == null) return undefined;
  const match = /^\s*(\d{1,12})(?:[.,](\d{1,4}))?\s*$/.exec(String(value));
  if (!match) return undefined;
  return Number(`${match[1]}.${match[2] ?? "0"}`);
}

/** The page address if the server will take it: http(s), and without the query when too long. */
export function pageUrl(href) {
  let url;
  try {
    url = new URL(href);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  url.hash = "";
  if (url.href.length > MAX_URL) url.search = "";
  return url.href.length <= MAX_URL ? url.href : undefined;
}

/** A link the shop configured, if it is http(s) (never javascript: or data:). */
export function safeUrl(value, base) {
  if (!value) return undefined;
  try {
    const url = new URL(value, base);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** Trimmed and cut to ``max`` characters as the server counts them (code points, so an emoji
 * is never split into half a surrogate pair). */
export function text(value, max) {
  const trimmed = (value ?? "").trim();
  const points = [...trimmed];
  return points.length > max ? points.slice(0, max).join("") : trimmed;
}

function positiveNumber(value) {
  const number = Number(value);
  return value && Number.isFinite(number) && number > 0 ? number : undefined;
}
