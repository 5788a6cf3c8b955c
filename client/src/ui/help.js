// The help step (docs/widget.md): before the pre-chat form, the shopper searches the shop's help
// articles, with suggestions for the page they are on and instant results as they type. "This
// answered my question" ends there; "I still need help" goes on to the form with the question
// filled in. The step shows only when the server has published articles; the chat panel
// (main.js) hands it the form's part of the screen to hide while it is shown.
//
// Articles come from the server as sanitized HTML; they are still never put in the page as
// HTML: they are parsed into an inert template (no script runs, no image loads, no event fires
// there) and rebuilt element by element from an allowlist.

import { pageContext, safeUrl } from "../config.js";
import { t } from "../i18n.js";
import { adoptStyles } from "../styles.js";
import { h, setText } from "./dom.js";

const SUGGEST_DELAY_MS = 150;
// A query the shopper stopped typing for this long is logged (for the report's top searches).
const RECORD_DELAY_MS = 1200;
const MAX_QUERY = 200;
const LIMIT = 5;

const HELP_CSS = `
.help { margin: 0 0 8px; }
.help h3 { margin: 0 0 10px; font-size: 15px; }
.help .status { margin: 6px 0; font-size: 13px; color: var(--fg-2); }
.help .suggestions { list-style: none; margin: 0 0 10px; padding: 0; }
.help .suggestions li { margin: 0 0 6px; }
.help .suggestion {
  display: block; width: 100%; padding: 8px 10px; border: 1px solid var(--line-2); border-radius: 8px;
  background: var(--bg); color: inherit; font: inherit; text-align: start; cursor: pointer;
}
.help .suggestion:hover { border-color: var(--accent-text); }
.help .suggestion strong { display: block; font-size: 14px; }
.help .suggestion span { display: block; font-size: 13px; color: var(--muted); }
.help .article { margin: 0 0 10px; padding: 10px 12px; border-radius: 8px; background: var(--subtle); }
.help .article h4 { margin: 0 0 6px; font-size: 15px; }
.help .article .body { font-size: 14px; overflow-wrap: anywhere; }
.help .article img { max-width: 100%; height: auto; }
.help .actions { display: flex; flex-wrap: wrap; gap: 8px; margin: 10px 0 0; }
.help .more { font-size: 13px; }
`;

// What an article body may contain once rebuilt here (the server's allowlist, or less).
const TAGS = new Set(["a", "blockquote", "br", "code", "del", "em", "h2", "h3", "h4", "h5", "h6", "hr", "img", "li",
  "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul"]);
// Dropped with everything inside them.
const DROP = new Set(["script", "style", "template", "iframe", "object", "embed", "svg", "math", "noscript", "form"]);

/** An article's HTML as DOM nodes built from the allowlist only (links open in a new tab). */
export function safeNodes(html, base) {
  const template = document.createElement("template");
  template.innerHTML = html;
  return [...template.content.childNodes].map((node) => rebuild(node, base)).flat();
}

function rebuild(node, base) {
  if (node.nodeType === Node.TEXT_NODE) return [document.createTextNode(node.textContent)];
  if (node.nodeType !== Node.ELEMENT_NODE) return [];
  const tag = node.tagName.toLowerCase();
  if (DROP.has(tag)) return [];
  const children = [...node.childNodes].map((child) => rebuild(child, base)).flat();
  if (!TAGS.has(tag)) return children;
  const attributes = {};
  if (tag === "a") {
    const href = linkUrl(node.getAttribute("href"), base);
    if (href) Object.assign(attributes, { href, target: "_blank", rel: "noopener noreferrer nofollow" });
  } else if (tag === "img") {
    const src = safeUrl(node.getAttribute("src"), base);
    if (!src) return [];
    Object.assign(attributes, { src, alt: node.getAttribute("alt") ?? "" });
  }
  return [h(tag, attributes, children)];
}

function linkUrl(value, base) {
  if (!value) return undefined;
  try {
    const url = new URL(value, base);
    return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : undefined;
  } catch {
    return undefined;
  }
}

export class HelpStep {
  /**
   * @param {object} options
   * @param {ShadowRoot} options.root the widget's shadow root (for the step's styles)
   * @param {string} options.base the chat server's base URL, ending in "/"
   * @param {HTMLScriptElement} options.script the widget's script tag (data-help, data-help-topic, data-locale)
   * @param {HTMLElement} options.rest what follows the step on the pre-chat screen: hidden while the step shows
   * @param {HTMLElement[]} options.questions the form fields the shopper's question is copied into
   * @param {Function} options.onContinue called once the form is shown ("I still need help")
   */
  constructor({ root, base, script, rest, questions, onContinue, fetch = globalThis.fetch.bind(globalThis) }) {
    this.base = base;
    this.script = script;
    this.rest = rest;
    this.questions = questions;
    this.onContinue = onContinue;
    this.fetch = fetch;
    this.available = false;
    this.shown = false;
    this.formTouched = false;
    this.used = null; // the query (or "") once the shopper searched or read an article
    this.sequence = 0;
    this.recorded = "";
    this.suggested = [];
    this.article = null;
    // The query whose results the list shows, and the one the open article was found with: a
    // search's answer for it changes nothing on screen unless the shopper asked (Enter).
    this.listedQuery = null;
    this.openedFor = null;
    adoptStyles(root, HELP_CSS);
    this.build();
    rest.addEventListener("input", () => {
      this.formTouched = true;
    }, true);
    if (script.dataset.help !== "off") this.#loadSuggestions();
  }

  build() {
    this.input = h("input", {
      id: "chatserver-help-q", type: "search", name: "help-query", maxlength: MAX_QUERY, autocomplete: "off",
      placeholder: t("help.placeholder"), "aria-describedby": "chatserver-help-status",
      "aria-controls": "chatserver-help-list", oninput: () => this.#typed(),
      onkeydown: (event) => {
        if (event.key === "Enter") {
          event.preventDefault();
          this.#search(true, true);
        }
      },
    });
    this.status = h("p", { class: "status", id: "chatserver-help-status", role: "status" });
    this.list = h("ul", { class: "suggestions", id: "chatserver-help-list", "aria-label": t("help.suggested") });
    this.articleTitle = h("h4", { id: "chatserver-help-article-title" });
    this.articleBody = h("div", { class: "body" });
    this.articleLink = h("a", { class: "more", target: "_blank", rel: "noopener noreferrer" }, t("help.openInCentre"));
    this.articleView = h("section", { class: "article", "aria-labelledby": "chatserver-help-article-title", hidden: true },
      this.articleTitle, this.articleBody, this.articleLink,
      h("div", { class: "actions" },
        h("button", { class: "button", type: "button", onclick: () => this.#answered() }, t("help.answered")),
        h("button", { class: "button secondary", type: "button", onclick: () => this.#continue() }, t("help.stillNeed"))),
      h("button", { class: "link-button plain", type: "button", onclick: () => this.#backToList(true) },
        t("help.backToList")));
    this.doneView = h("div", { class: "notice", role: "status", hidden: true },
      h("p", {}, t("help.glad")),
      h("button", { class: "link-button plain", type: "button", onclick: () => this.reset() }, t("help.askElse")));
    this.continueButton = h("button", { class: "link-button", type: "button", onclick: () => this.#continue() },
      t("help.chatWithUs"));
    this.searchView = h("div", {},
      h("div", { class: "field" }, h("label", { for: "chatserver-help-q" }, t("help.search")), this.input),
      this.status, this.list, this.articleView, this.continueButton);
    // Empty until first shown: a shop without articles gets nothing extra in its page.
    this.element = h("section", { class: "help", "aria-labelledby": "chatserver-help-title", hidden: true });
    this.parts = [h("h3", { id: "chatserver-help-title" }, t("help.title")), this.searchView, this.doneView];
  }

  /** Where focus goes when the pre-chat screen opens while the step shows. */
  focusTarget() {
    return this.doneView.hidden ? this.input : this.doneView.querySelector("button");
  }

  /** Show the step again, as at first (after a chat, or "Ask something else"). */
  reset() {
    this.input.value = "";
    this.used = null;
    this.article = null;
    this.doneView.hidden = true;
    this.searchView.hidden = false;
    this.formTouched = false;
    this.#backToList();
    this.#renderList(this.suggested, this.suggestedLabel);
    this.#show(this.available);
    if (this.shown) this.input.focus();
  }

  /** The chat panel started a chat: count it if the shopper had used the step first. */
  chatStarted() {
    this.#escalated("chat_started");
  }

  ticketCreated() {
    this.#escalated("ticket_created");
  }

  #escalated(outcome) {
    if (this.used === null) return;
    this.#feedback({ outcome, query: this.used || null });
    this.used = null;
  }

  #show(shown) {
    this.shown = shown;
    const focusWasInForm = this.rest.contains(this.rest.getRootNode().activeElement);
    if (shown && !this.element.firstChild) this.element.append(...this.parts);
    this.element.hidden = !shown;
    this.rest.hidden = shown;
    if (shown && focusWasInForm) this.input.focus();
  }

  // -- talking to the server -----------------------------------------------------------------

  async #get(path, params) {
    const url = new URL(`${this.base}${path}`);
    for (const [name, value] of Object.entries(params)) if (value) url.searchParams.set(name, value);
    const response = await this.fetch(url.href, { mode: "cors", credentials: "omit" });
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  }

  #feedback(body) {
    this.fetch(`${this.base}api/kb/feedback`, {
      method: "POST", mode: "cors", credentials: "omit", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }).catch(() => {});
  }

  get #locale() {
    return (this.script.dataset.locale || "").trim().slice(0, 35);
  }

  async #loadSuggestions() {
    const context = pageContext(this.script, document);
    let reply;
    try {
      reply = await this.#get("api/kb/suggestions", {
        page_url: context.page_url?.length <= 1000 ? context.page_url : undefined,
        page_title: context.page_title?.slice(0, 200), locale: this.#locale, limit: String(LIMIT),
        topic: (this.script.dataset.helpTopic || "").slice(0, 100),
      });
    } catch {
      return; // a server without articles (or unreachable): the form as before
    }
    this.available = Boolean(reply.available);
    this.suggested = reply.articles || [];
    const topic = reply.topics?.[0];
    this.suggestedLabel = this.suggested.length
      ? (topic ? t("help.aboutTopic", { topic }) : t("help.faq")) : "";
    if (!this.input.value) this.#renderList(this.suggested, this.suggestedLabel);
    if (this.available && !this.formTouched) this.#show(true);
  }

  #typed() {
    clearTimeout(this.suggestTimer);
    clearTimeout(this.recordTimer);
    const query = this.input.value.trim();
    if (!query) {
      this.sequence += 1;
      this.#renderList(this.suggested, this.suggestedLabel, "");
      return;
    }
    this.used = query;
    this.suggestTimer = setTimeout(() => this.#search(false), SUGGEST_DELAY_MS);
    this.recordTimer = setTimeout(() => this.#search(true), RECORD_DELAY_MS);
  }

  /**
   * Search and list the results. ``record`` logs the query (a settled one: Enter, or a pause in
   * typing); ``asked`` is the shopper's Enter, which alone may close the article they opened
   * from the same query's results.
   */
  async #search(record, asked = false) {
    const query = this.input.value.trim().slice(0, MAX_QUERY);
    if (!query) return;
    if (record) {
      clearTimeout(this.recordTimer);
      if (query === this.recorded) {
        if (asked && !this.articleView.hidden) this.#backToList();
        return;
      }
      this.recorded = query;
    }
    const sequence = ++this.sequence;
    let reply;
    try {
      reply = await this.#get("api/kb/search", {
        q: query, source: "widget", limit: String(LIMIT), locale: this.#locale, record: record ? "true" : "",
      });
    } catch {
      if (sequence !== this.sequence) return;
      setText(this.status, t("help.cannotSearch"));
      this.listedQuery = null; // the list no longer says what it shows: the next answer replaces it
      return;
    }
    if (sequence !== this.sequence) return; // the shopper typed on: a newer search answers
    if (!this.articleView.hidden) {
      // The shopper opened an article from this query's results: the delayed search that records
      // the query must not close it (nor drop the focus that is in it).
      if (query === this.openedFor && !asked) return;
      this.#backToList();
    }
    // The same results again: rebuilding the list would drop the focus of a shopper moving in it.
    if (query === this.listedQuery) return;
    const count = reply.results.length;
    this.#renderList(reply.results, count
      ? (reply.corrected ? t("help.foundFor", { count, query: reply.did_you_mean }) : t("help.found", { count }))
      : t("help.none"), query);
  }

  /** List ``articles`` under ``label``; ``query`` is what they answer (null: not a search's). */
  #renderList(articles, label, query = null) {
    this.listedQuery = query;
    setText(this.status, label || "");
    this.list.replaceChildren(...articles.map((article) => h("li", {},
      h("button", { class: "suggestion", type: "button", onclick: () => this.#open(article) },
        h("strong", { dir: "auto" }, article.title), article.snippet || article.summary
          ? h("span", { dir: "auto" }, article.snippet || article.summary) : null))));
  }

  async #open(summary) {
    let article;
    try {
      ({ article } = await this.#get(`api/kb/articles/${encodeURIComponent(summary.id)}`, {}));
    } catch {
      setText(this.status, t("help.cannotShow"));
      return;
    }
    this.article = article;
    this.openedFor = this.input.value.trim();
    this.used ??= this.input.value.trim();
    setText(this.articleTitle, article.title);
    this.articleBody.replaceChildren(...safeNodes(article.body_html, this.base));
    this.articleLink.href = new URL(article.url, this.base).href;
    this.list.hidden = true;
    this.status.hidden = true;
    this.continueButton.hidden = true;
    this.articleView.hidden = false;
    this.articleView.querySelector("button").focus();
  }

  /** Close the article; ``focus``: its button had the focus, which goes to the list (or the search box). */
  #backToList(focus = false) {
    this.articleView.hidden = true;
    this.list.hidden = false;
    this.status.hidden = false;
    this.continueButton.hidden = false;
    if (focus) (this.list.querySelector("button") ?? this.input).focus();
  }

  #answered() {
    this.#feedback({ outcome: "answered", query: this.used || null, article_id: this.article?.id ?? null });
    this.used = null;
    this.searchView.hidden = true;
    this.doneView.hidden = false;
    this.doneView.querySelector("button").focus();
  }

  #continue() {
    const query = this.input.value.trim();
    if (query) {
      this.used ??= query;
      for (const control of this.questions) if (!control.value.trim()) control.value = query;
    }
    this.#show(false);
    this.onContinue();
  }
}
