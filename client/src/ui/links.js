// Links in message text, for the widget and the agent console alike (the console imports this
// module; esbuild bundles it into both). linkParts() is plain string work, unit-tested without a
// browser; linkedText() turns its parts into DOM nodes: text nodes, and <a> elements whose href is
// an http:, https: or mailto: URL the browser itself parsed. Nothing is ever parsed as HTML.

import { h } from "./dom.js";

// A web address starts with http:// or https:// or www. (then https:// is assumed); an email
// address is user@domain.tld. None may start inside a word or another address, so "xwww.a.com",
// "javascript://www.a.com" and "a.b@c.com" inside a URL are never links of their own. Each
// alternative is a run of one character class (no nested quantifiers): linear on any input.
const CANDIDATE = /(?<![\w@.:/%+-])(?:(https?:\/\/|www\.)[^\s<>"'`]+|[\w.%+-]+@[a-z\d-]+(?:\.[a-z\d-]+)*\.[a-z]{2,}(?![\w@-]))/giu;
// Punctuation that ends a sentence rather than the address.
const TRAILING = /[.,:;!?'"*_~]+$/u;
const PAIRS = { ")": "(", "]": "[", "}": "{" };
const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

/**
 * Split ``text`` into [{text}] and [{text, href}] parts, in order, which together spell ``text``.
 * A part has an href only when it is an http(s) or mailto URL with a host; trailing sentence
 * punctuation and a closing bracket that has no opening one in the address stay text.
 */
export function linkParts(text) {
  const parts = [];
  let done = 0;
  for (const match of String(text).matchAll(CANDIDATE)) {
    const candidate = trimAddress(match[0]);
    const href = hrefFor(candidate, match[1]);
    if (!href) continue;
    if (match.index > done) parts.push({ text: text.slice(done, match.index) });
    parts.push({ text: candidate, href });
    done = match.index + candidate.length;
  }
  if (done < text.length || parts.length === 0) parts.push({ text: text.slice(done) });
  return parts;
}

function trimAddress(candidate) {
  let address = candidate;
  for (;;) {
    const trimmed = address.replace(TRAILING, "");
    const last = trimmed.at(-1);
    const opening = PAIRS[last];
    if (opening && count(trimmed, opening) < count(trimmed, last)) address = trimmed.slice(0, -1);
    else if (trimmed === address) return address;
    else address = trimmed;
  }
}

function count(text, char) {
  return text.split(char).length - 1;
}

/** The URL a candidate links to, or null: only http(s) with a host, or mailto. */
function hrefFor(candidate, scheme) {
  const raw = scheme === undefined ? `mailto:${candidate}`
    : scheme.toLowerCase() === "www." ? `https://${candidate}` : candidate;
  let url;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (!SAFE_PROTOCOLS.has(url.protocol)) return null;
  if (url.protocol !== "mailto:" && (!url.hostname || url.username || url.password)) return null;
  // "www.shop" is a word, not an address: www. needs a domain after it.
  if (scheme?.toLowerCase() === "www." && url.hostname.split(".").length < 3) return null;
  return url.href;
}

/** ``text`` as nodes for an element: text nodes and safe links that open in a new tab. */
export function linkedText(text) {
  return linkParts(text).map((part) => (part.href
    ? h("a", { href: part.href, target: "_blank", rel: "noopener noreferrer", class: "link" }, part.text)
    : document.createTextNode(part.text)));
}
