// The knowledge base in the agent console (docs/console.md): search the articles while chatting
// and insert a link into the reply; turn a finished conversation into a draft article assigned
// to someone; follow drafts through review to published. It builds its own elements next to
// the console's (main.js calls start() and showChat()) and speaks only REST (/api/kb/...).

import { t } from "../../client/src/i18n.js";
import { h, setText } from "../../client/src/ui/dom.js";
import { errorText } from "./format.js";

const SEARCH_DELAY_MS = 200;
const STATUS_LABELS = { draft: "kb.stage.draft", in_review: "kb.stage.in_review", published: "kb.stage.published" };
const $ = (id) => document.getElementById(id);

export class KnowledgePanel {
  /**
   * @param {object} options
   * @param {Function} options.rest (method, path, body) => Promise, the console's authenticated REST call
   * @param {Function} options.composer () => the reply textarea
   */
  constructor({ rest, composer }) {
    this.rest = rest;
    this.composer = composer;
    this.agent = null;
    this.chat = null;
    this.searchedFor = null;
    this.sequence = 0;
    this.articlesLoad = 0; // loads of the articles list so far: only the latest one shows
    this.built = false;
  }

  /** After sign-in: build the panel once, and remember who is signed in. */
  start(agent) {
    this.agent = agent;
    if (!this.built) this.#build();
    this.built = true;
    this.#renderStatusOptions();
  }

  /** The chat shown changed (or ended): the draft button and the suggestions follow it. */
  showChat(chat) {
    if (!this.built) return;
    const changed = chat?.conversation.id !== this.chat?.conversation.id;
    this.chat = chat;
    this.draftButton.hidden = !chat || chat.conversation.status !== "closed";
    this.section.hidden = !chat;
    if (chat && changed && !this.input.value.trim()) this.#search(chat.conversation.prechat.question, false);
  }

  // -- building ---------------------------------------------------------------------------------

  #build() {
    this.input = h("input", { id: "kb-search", type: "search", autocomplete: "off", maxlength: 200,
      oninput: () => this.#typed(),
      onkeydown: (event) => {
        if (event.key === "Enter") {
          event.preventDefault();
          this.#search(this.input.value, true);
        }
      } });
    // Announced politely, without the status role: the connection line is the console's status.
    this.status = h("p", { class: "kb-status", "aria-live": "polite" });
    this.results = h("ul", { class: "kb-results", "aria-label": t("kb.found") });
    this.section = h("section", { class: "kb", "aria-labelledby": "kb-heading", hidden: true },
      h("h2", { id: "kb-heading" }, t("kb.title")),
      h("label", { for: "kb-search" }, t("kb.search")), this.input, this.status, this.results);
    $("customer").append(this.section);

    this.draftButton = h("button", { type: "button", hidden: true, onclick: () => this.#openDraft() }, t("kb.draftArticle"));
    $("close-tab").before(this.draftButton);
    const articlesButton = h("button", { type: "button", onclick: () => this.#openArticles() }, t("kb.articles"));
    $("logout").before(articlesButton);
    this.#buildDraftDialog();
    this.#buildArticlesDialog();
  }

  #buildDraftDialog() {
    this.draftTitle = h("input", { id: "kb-draft-title", type: "text", maxlength: 200, required: true });
    this.draftBody = h("textarea", { id: "kb-draft-body", rows: 8 });
    this.draftCategory = h("select", { id: "kb-draft-category" });
    this.draftAssignee = h("select", { id: "kb-draft-assignee" });
    this.draftMessage = h("p", { class: "notice", role: "alert" });
    this.draftSave = h("button", { type: "submit" }, t("kb.saveDraft"));
    this.draftDialog = h("dialog", { id: "kb-draft-dialog", "aria-labelledby": "kb-draft-heading" },
      h("form", { onsubmit: (event) => this.#saveDraft(event) },
        h("h2", { id: "kb-draft-heading" }, t("kb.draftHeading")),
        h("label", { for: "kb-draft-title" }, t("kb.draftTitle")), this.draftTitle,
        h("label", { for: "kb-draft-body" }, t("kb.draftBody")), this.draftBody,
        h("label", { for: "kb-draft-category" }, t("kb.category")), this.draftCategory,
        h("label", { for: "kb-draft-assignee" }, t("kb.assignTo")), this.draftAssignee,
        this.draftMessage,
        h("div", { class: "buttons" }, this.draftSave,
          h("button", { type: "button", class: "cancel", onclick: () => this.draftDialog.close() }, t("kb.close")))));
    document.body.append(this.draftDialog);
  }

  #buildArticlesDialog() {
    this.articlesFilter = h("select", { id: "kb-articles-filter", onchange: () => this.#loadArticles() },
      h("option", { value: "mine" }, t("kb.filter.mine")),
      h("option", { value: "work" }, t("kb.filter.work")),
      h("option", { value: "published" }, t("kb.filter.published")));
    this.articlesList = h("ul", { class: "kb-articles", "aria-label": t("kb.articles") });
    this.articlesMessage = h("p", { class: "notice", role: "alert" });
    this.editTitle = h("input", { id: "kb-edit-title", type: "text", maxlength: 200 });
    this.editBody = h("textarea", { id: "kb-edit-body", rows: 8 });
    this.editStatus = h("select", { id: "kb-edit-status" });
    this.editForm = h("form", { class: "kb-edit", hidden: true, onsubmit: (event) => this.#saveEdit(event) },
      h("h3", {}, t("kb.editHeading")),
      h("label", { for: "kb-edit-title" }, t("kb.editTitle")), this.editTitle,
      h("label", { for: "kb-edit-body" }, t("kb.editBody")), this.editBody,
      h("label", { for: "kb-edit-status" }, t("kb.stage")), this.editStatus,
      h("div", { class: "buttons" }, h("button", { type: "submit" }, t("kb.saveArticle")),
        h("button", { type: "button", class: "secondary", onclick: () => {
          this.editForm.hidden = true;
        } }, t("kb.cancel"))));
    this.articlesDialog = h("dialog", { id: "kb-articles-dialog", "aria-labelledby": "kb-articles-heading" },
      h("h2", { id: "kb-articles-heading" }, t("kb.articlesHeading")),
      h("label", { for: "kb-articles-filter" }, t("kb.show")), this.articlesFilter,
      this.articlesList, this.articlesMessage, this.editForm,
      h("div", { class: "buttons" },
        h("button", { type: "button", class: "cancel", onclick: () => this.articlesDialog.close() }, t("kb.close"))));
    document.body.append(this.articlesDialog);
  }

  #renderStatusOptions() {
    const allowed = this.agent?.role === "admin" ? ["draft", "in_review", "published"] : ["draft", "in_review"];
    this.editStatus.replaceChildren(...allowed.map((s) => h("option", { value: s }, t(STATUS_LABELS[s]))));
  }

  // -- searching and inserting ------------------------------------------------------------------

  #typed() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.#search(this.input.value, false), SEARCH_DELAY_MS);
  }

  async #search(text, record) {
    const query = (text || "").trim().slice(0, 200);
    const sequence = ++this.sequence;
    if (!query) {
      this.results.replaceChildren();
      setText(this.status, "");
      return;
    }
    let reply;
    try {
      const params = new URLSearchParams({ q: query, source: "console", limit: "5" });
      if (record) params.set("record", "true");
      reply = await this.rest("GET", `/api/kb/search?${params}`);
    } catch (error) {
      if (sequence === this.sequence) setText(this.status, errorText(error));
      return;
    }
    if (sequence !== this.sequence) return;
    const count = reply.results.length;
    setText(this.status, !count ? t("kb.none")
      : reply.corrected ? t("kb.countFor", { count, query: reply.did_you_mean }) : t("kb.count", { count }));
    // Each button's name starts with its visible label and names the article ("Insert link
    // <title>"), from the elements' own text (axe: label-content-name-mismatch).
    this.results.replaceChildren(...reply.results.map((article, i) => h("li", {},
      h("a", { href: article.url, target: "_blank", rel: "noopener noreferrer", id: `kb-result-${i}` }, article.title),
      article.snippet ? h("span", { class: "snippet" }, article.snippet) : null,
      h("button", { type: "button", class: "secondary", id: `kb-insert-${i}`,
        "aria-labelledby": `kb-insert-${i} kb-result-${i}`, onclick: () => this.#insert(article) },
      t("kb.insertLink")))));
  }

  /** Put "Title: https://server/help/articles/slug" at the caret of the reply box. */
  #insert(article) {
    const box = this.composer();
    if (box.disabled) return;
    const link = `${article.title}: ${new URL(article.url, location.origin).href}`;
    const start = box.selectionStart ?? box.value.length;
    const end = box.selectionEnd ?? start;
    const before = box.value.slice(0, start);
    const text = `${before && !/\s$/.test(before) ? " " : ""}${link}`;
    box.setRangeText(text, start, end, "end");
    box.focus();
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // -- drafts from conversations -----------------------------------------------------------------

  async #openDraft() {
    const chat = this.chat;
    if (!chat) return;
    const answers = [...chat.messages.values()]
      .filter((m) => m.kind === "text" && m.sender.kind === "agent")
      .sort((a, b) => a.seq - b.seq).map((m) => m.body);
    this.draftConversation = chat.conversation.id;
    this.draftTitle.value = (chat.conversation.prechat.question || "").slice(0, 200);
    this.draftBody.value = answers.join("\n\n");
    setText(this.draftMessage, "");
    this.draftSave.disabled = false;
    this.draftDialog.showModal();
    this.draftTitle.focus();
    try {
      const [{ categories }, { agents }] = await Promise.all([
        this.rest("GET", "/api/kb/categories"), this.rest("GET", "/api/transfer-targets")]);
      this.draftCategory.replaceChildren(h("option", { value: "" }, t("kb.noCategory")),
        ...categories.map((c) => h("option", { value: c.id }, c.name)));
      this.draftAssignee.replaceChildren(h("option", { value: this.agent.id }, t("kb.me", { name: this.agent.name })),
        ...agents.map((a) => h("option", { value: a.id }, a.name)));
    } catch (error) {
      setText(this.draftMessage, errorText(error));
    }
  }

  async #saveDraft(event) {
    event.preventDefault();
    const title = this.draftTitle.value.trim();
    if (!title) {
      setText(this.draftMessage, t("kb.needTitle"));
      this.draftTitle.focus();
      return;
    }
    const body = { conversation_id: this.draftConversation, title, body: this.draftBody.value,
      assignee_id: this.draftAssignee.value || this.agent.id };
    if (this.draftCategory.value) body.category_id = this.draftCategory.value;
    this.draftSave.disabled = true;
    try {
      const { article } = await this.rest("POST", "/api/kb/drafts", body);
      setText(this.draftMessage, article.assignee?.name ? t("kb.savedDraft", { name: article.assignee.name }) : t("kb.savedDraftNobody"));
    } catch (error) {
      this.draftSave.disabled = false;
      setText(this.draftMessage, errorText(error));
    }
  }

  // -- following articles to published ------------------------------------------------------------

  #openArticles() {
    setText(this.articlesMessage, "");
    this.editForm.hidden = true;
    this.articlesDialog.showModal();
    this.#loadArticles();
  }

  async #loadArticles() {
    const filter = this.articlesFilter.value;
    const query = filter === "mine" ? "status=all&assignee=me" : filter === "work" ? "status=all" : "status=published";
    // Only the latest load shows: an earlier one (the list of another filter) may answer after it.
    const load = ++this.articlesLoad;
    try {
      const { articles } = await this.rest("GET", `/api/kb/articles?${query}&limit=200`);
      if (load !== this.articlesLoad) return;
      const shown = filter === "work" ? articles.filter((a) => a.status !== "published") : articles;
      this.articlesList.replaceChildren(...shown.map((article) => this.#articleRow(article)));
      if (!shown.length) this.articlesList.append(h("li", { class: "empty" }, t("kb.noneHere")));
    } catch (error) {
      if (load === this.articlesLoad) setText(this.articlesMessage, errorText(error));
    }
  }

  #articleRow(article) {
    const mayEdit = this.agent.role === "admin" || (article.assignee?.id === this.agent.id && article.status !== "published");
    return h("li", { "data-id": article.id },
      h("span", { class: "title" }, article.title),
      h("span", { class: "state" }, t("kb.state", { stage: t(STATUS_LABELS[article.status]), name: article.assignee?.name ?? t("kb.unassigned") })),
      mayEdit ? h("button", { type: "button", class: "secondary", "aria-label": t("kb.editName", { title: article.title }),
        onclick: () => this.#edit(article.id) }, t("kb.edit")) : null);
  }

  async #edit(articleId) {
    try {
      const { article } = await this.rest("GET", `/api/kb/articles/${encodeURIComponent(articleId)}`);
      this.editing = article.id;
      this.editTitle.value = article.title;
      this.editBody.value = article.body ?? "";
      this.editStatus.value = article.status;
      this.editForm.hidden = false;
      this.editTitle.focus();
    } catch (error) {
      setText(this.articlesMessage, errorText(error));
    }
  }

  async #saveEdit(event) {
    event.preventDefault();
    try {
      const { article } = await this.rest("PATCH", `/api/kb/articles/${encodeURIComponent(this.editing)}`, {
        title: this.editTitle.value.trim(), body: this.editBody.value, status: this.editStatus.value });
      setText(this.articlesMessage, t(`kb.saved.${article.status}`, { title: article.title }));
      this.editForm.hidden = true;
      await this.#loadArticles();
    } catch (error) {
      setText(this.articlesMessage, errorText(error));
    }
  }
}
