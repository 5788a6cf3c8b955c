// widget.js: the one script a shop adds to its pages (docs/widget.md). It stays small and does
// little: it draws the chat button in a shadow root and fetches the chat UI and the Socket.IO
// client only when the shopper opens the chat, or at once when this browser is in a chat. On a
// page whose tag says data-proactive, a browser in no chat that has seen no proactive message in
// this session gets the small proactive chunk and the Socket.IO client instead, to learn whether
// the shop has a word for this page (other pages still fetch nothing until the chat is opened).

import { accentColors } from "./color.js";
import { parseBool, readConfig } from "./config.js";
import { fetchLocale, setTranslator, t, wantedLocales } from "./i18n.js";
import { markProactiveDone, proactiveDone } from "./proactive/flag.js";
import { hasConversation, WidgetStore } from "./store.js";
import { adoptStyles } from "./styles.js";
import { THEME_CSS } from "./theme.js";

// Replaced by the build (client/build.mjs) with the content-hashed chunk names.
/* global __CHATSERVER_UI__, __CHATSERVER_SOCKET__, __CHATSERVER_PROACTIVE__ */

const LAUNCHER_CSS = `
:host { all: initial; }
.launcher {
  position: fixed; inset-inline-end: 20px; bottom: 20px; z-index: 2147483000;
  width: 60px; height: 60px; padding: 0; border: 0; border-radius: 50%;
  display: flex; align-items: center; justify-content: center;
  background: var(--accent); color: var(--on-accent); cursor: pointer;
  box-shadow: 0 6px 20px rgba(0, 0, 0, .25);
}
/* Two tones: one stands out on any page behind the button. */
.launcher:focus-visible {
  outline: 3px solid #1d1d1f; outline-offset: 3px; box-shadow: 0 0 0 3px #ffbf47, 0 6px 20px rgba(0, 0, 0, .25);
}
.launcher[aria-busy="true"] { cursor: progress; opacity: .75; }
.launcher svg { width: 28px; height: 28px; }
.badge {
  position: absolute; top: -4px; inset-inline-end: -4px; min-width: 20px; height: 20px; padding: 0 6px;
  border-radius: 10px; background: #d70015; color: #fff; font: 600 12px/20px system-ui, sans-serif;
}
.badge[hidden] { display: none; }
/* data-position: a physical corner the shop chose (else the end of the line: right, or left in a
   right-to-left language). */
:host([data-position="left"]) .launcher { inset-inline: auto; left: 20px; }
:host([data-position="right"]) .launcher { inset-inline: auto; right: 20px; }
@media (max-width: 480px) {
  .launcher { inset-inline-end: 12px; bottom: 12px; }
  :host([data-position="left"]) .launcher { inset-inline: auto; left: 12px; }
  :host([data-position="right"]) .launcher { inset-inline: auto; right: 12px; }
}
`;

// A speech bubble; fixed markup, no data in it.
const ICON = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" ' +
  'd="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/></svg>';

function start(script) {
  const config = readConfig(script, location.href);
  const host = document.createElement("chatserver-widget");
  // The shop's own rules for this element (or for "*") must not hide or restyle it.
  host.style.setProperty("all", "initial", "important");
  // The shop's colour (data-color) with the colours for text on it and it as text, for contrast.
  if (config.color) {
    const colors = accentColors(config.color);
    host.style.setProperty("--chatserver-accent", colors.accent);
    host.style.setProperty("--chatserver-on-accent", colors.onAccent);
    host.style.setProperty("--chatserver-accent-text", colors.textLight);
    host.style.setProperty("--chatserver-accent-text-dark", colors.textDark);
  }
  if (config.position) host.dataset.position = config.position;
  const root = host.attachShadow({ mode: "open" });
  adoptStyles(root, THEME_CSS + LAUNCHER_CSS);
  const launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "launcher";
  launcher.dataset.label = config.title || "Chat";
  launcher.setAttribute("aria-label", launcher.dataset.label);
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "chatserver-panel");
  launcher.innerHTML = ICON;
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.hidden = true;
  badge.setAttribute("aria-hidden", "true");
  launcher.append(badge);
  root.append(launcher);

  // The shop's signed identity of a signed-in shopper: data-identity on the script tag (read at
  // every connect), or window.chatserver.identify(identity) for a shop that signs in without a
  // page load (also honoured when set as window.chatserver = { identity } before this script).
  let identity = typeof window.chatserver?.identity === "string" ? window.chatserver.identity : null;
  const currentIdentity = () => identity ?? (script.dataset.identity || "").trim();

  let panel = null;
  // The proactive message's watcher (proactive/watch.js), while one runs.
  let proactive = null;
  window.chatserver = Object.freeze({
    identify(value) {
      identity = typeof value === "string" ? value.trim() : "";
      panel?.then((chat) => chat.identify(), () => {});
    },
  });
  // Only the chosen language's file is fetched: data-locale, else the browser's languages (the
  // server picks the first it has, de-AT giving de, else the shop's default_locale).
  let language = null;
  const loadLanguage = () => {
    language ??= fetchLocale(config.base, "widget", wantedLocales(config.locale, navigator.languages)).then((tr) => {
      setTranslator(tr);
      config.title ||= t("launcher.title");
      launcher.dataset.label = config.title;
      if (!launcher.hasAttribute("aria-busy")) launcher.setAttribute("aria-label", config.title);
      host.lang = tr.locale;
      host.dir = tr.dir;
      return tr;
    }, (error) => {
      language = null; // the next click tries again
      throw error;
    });
    return language;
  };
  loadLanguage().catch(() => {});
  const load = () => {
    // The chat is open (or about to be): no proactive message from now on in this session.
    proactive?.then((chunk) => chunk.stop(), () => {});
    proactive = null;
    markProactiveDone(config);
    panel ??= (async () => {
      launcher.setAttribute("aria-busy", "true");
      try {
        const [ui, socket, language] = await Promise.all([
          import(config.base + __CHATSERVER_UI__),
          import(config.base + __CHATSERVER_SOCKET__),
          loadLanguage(),
        ]);
        return ui.mount({ root, launcher, script, config, language, io: socket.io, identity: currentIdentity });
      } catch (error) {
        panel = null; // the next click tries again
        throw error;
      } finally {
        launcher.removeAttribute("aria-busy");
      }
    })();
    return panel;
  };
  launcher.addEventListener("click", () => {
    // A click that fetches the panel opens it: toggling would close a panel that came back open
    // (it was left open on an earlier page, say before a finished chat).
    const fetching = panel === null;
    load().then((chat) => (fetching ? chat.open() : chat.toggle()), () => {
      const title = launcher.dataset.label;
      launcher.setAttribute("aria-label", language ? t("launcher.unavailable", { title }) : `${title} (unavailable)`);
    });
  });

  const attach = () => document.body.append(host);
  if (document.body) attach();
  else document.addEventListener("DOMContentLoaded", attach, { once: true });
  if (hasConversation(new WidgetStore(config.storageKey).load())) load().catch(() => {});
  else if (parseBool(script.dataset.proactive ?? "false") && !proactiveDone(config)) {
    proactive = Promise.all([
      import(config.base + __CHATSERVER_PROACTIVE__),
      import(config.base + __CHATSERVER_SOCKET__),
      loadLanguage().catch(() => null),
    ]).then(([chunk, socket, language]) => (proactive === null ? { stop() {} } : chunk.watch({
      root, script, config, io: socket.io, canShow: () => panel === null,
      onAnswer: () => load().then((chat) => chat.open(), () => {}),
      // The bubble speaks the widget's language (its chunk has no translator of its own).
      locale: language?.locale,
      texts: { label: t("proactive.label", { title: config.title }), replyLabel: t("proactive.replyLabel"),
        reply: t("proactive.reply"), dismiss: t("proactive.dismiss") },
    })));
    proactive.catch(() => {});
  }
}

const script = document.currentScript;
if (script && !window.chatserverWidgetStarted) {
  window.chatserverWidgetStarted = true;
  start(script);
}
