// An agent's avatar beside their messages: their picture (the server's /avatars/{id}, encoded by
// it: see docs/protocol.md, Conversation) or, without one, their initials. The console imports
// this module too. initials() is plain string work, unit-tested without a browser.

import { h } from "./dom.js";

/** "Alice Martin" -> "AM", "bob" -> "B", "" -> "?" (letters of the first and last word). */
export function initials(name) {
  const words = String(name ?? "").trim().split(/\s+/u).filter(Boolean);
  if (!words.length) return "?";
  const first = [...words[0]][0];
  const last = words.length > 1 ? [...words.at(-1)][0] : "";
  return `${first}${last}`.toLocaleUpperCase();
}

/**
 * Where the picture at ``avatarUrl`` (a path on the chat server) is, resolved against the server's
 * ``base`` URL (which may have a path); null for anything but an http(s) URL on that server.
 */
export function avatarSource(avatarUrl, base) {
  if (typeof avatarUrl !== "string" || !avatarUrl.startsWith("/avatars/")) return null;
  try {
    const url = new URL(avatarUrl.slice(1), base);
    const server = new URL(base);
    return (url.protocol === "https:" || url.protocol === "http:") && url.origin === server.origin ? url.href : null;
  } catch {
    return null;
  }
}

/** The avatar element for ``name`` with the picture at ``source`` (or initials without one). */
export function avatarElement(name, source) {
  const element = h("span", { class: "avatar", "aria-hidden": "true" });
  setAvatar(element, name, source);
  return element;
}

/** Show ``source`` (or the initials of ``name``) in an avatar element, if it shows something else. */
export function setAvatar(element, name, source) {
  const key = `${source ?? ""}|${name ?? ""}`;
  if (element.dataset.key === key) return;
  element.dataset.key = key;
  if (source) {
    const image = h("img", { src: source, alt: "", width: 28, height: 28, decoding: "async", referrerpolicy: "no-referrer" });
    // A picture that fails to load (removed meanwhile) leaves the initials.
    image.addEventListener("error", () => element.replaceChildren(initials(name)));
    element.replaceChildren(image);
  } else {
    element.replaceChildren(initials(name));
  }
}
