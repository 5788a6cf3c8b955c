// A returning shopper's earlier conversations, above the pre-chat form: a list of them, and a
// read-only "Previous conversation" view of one (its messages from the server, history:read; no
// composer; files as in the chat, a thumbnail or a named link, through attachment:link). The
// session lists them (history:list) when there is no chat going on.

import { avatarElement } from "./avatar.js";
import { t, translator } from "../i18n.js";
import { h, setText } from "./dom.js";
import { linkedText } from "./links.js";
import { errorText, systemText, timeText } from "./text.js";

export class EarlierChats {
  /**
   * @param {object} options
   * @param {Function} options.read a conversation id -> the session's readPast (history:read)
   * @param {HTMLElement} options.rest what the pre-chat screen shows besides (hidden while reading)
   * @param {Function} options.picture an agent's avatar_url -> the picture's URL (avatar.js avatarSource)
   * @param {Function} options.file a file message -> what shows it (attach-view.js fileView)
   */
  constructor({ read, rest, picture, file }) {
    this.read = read;
    this.picture = picture;
    this.file = file;
    this.rest = rest;
    this.opener = null;
    this.list = h("ul", { class: "earlier-list", "aria-labelledby": "chatserver-earlier-title" });
    this.listSection = h("section", { class: "earlier", hidden: true },
      h("h3", { id: "chatserver-earlier-title" }, t("history.title")), this.list);
    this.heading = h("h3", { id: "chatserver-past-title", tabindex: "-1" }, t("history.previous"));
    this.summary = h("p", { class: "past-summary" });
    this.messages = h("ol", { class: "messages", "aria-labelledby": "chatserver-past-title" });
    this.problem = h("p", { class: "problem", role: "alert" });
    this.backButton = h("button", { class: "button secondary", type: "button", onclick: () => this.close() },
      t("history.back"));
    this.viewer = h("section", { class: "past", hidden: true, "aria-labelledby": "chatserver-past-title" },
      this.heading, this.summary, this.problem, this.messages,
      h("p", { class: "notice" }, t("history.ended")),
      this.backButton);
    this.element = h("div", {}, this.listSection, this.viewer);
  }

  get reading() {
    return !this.viewer.hidden;
  }

  render(conversations) {
    this.listSection.hidden = conversations.length === 0 || this.reading;
    this.list.replaceChildren(...conversations.map((conversation) => h("li", {},
      h("button", { class: "link-button plain", type: "button", "data-id": conversation.id,
        onclick: (event) => this.open(conversation, event.currentTarget) }, describe(conversation)))));
  }

  async open(conversation, opener) {
    this.opener = opener;
    setText(this.problem, "");
    setText(this.summary, describe(conversation));
    this.messages.replaceChildren();
    this.listSection.hidden = true;
    this.rest.hidden = true;
    this.viewer.hidden = false;
    this.heading.focus();
    try {
      const past = await this.read(conversation.id);
      const agent = past.conversation.agent;
      const picture = agent ? this.picture(agent.avatar_url) : null;
      this.messages.replaceChildren(...past.messages.map((message) => messageItem(message, agent?.name, picture,
        this.file)));
      if (past.more) this.messages.append(h("li", { class: "message system" }, h("p", { class: "body" }, "…")));
    } catch (error) {
      setText(this.problem, errorText(error.code, error.message));
    }
  }

  /** Back to the list and the pre-chat form (``focus``: on the conversation's button). */
  close({ focus = true } = {}) {
    if (!this.reading) return;
    this.viewer.hidden = true;
    this.rest.hidden = false;
    this.listSection.hidden = this.list.children.length === 0;
    if (!focus) return;
    const again = this.opener && this.list.querySelector(`[data-id="${CSS.escape(this.opener.dataset.id)}"]`);
    again?.focus();
  }
}

/** "Previous conversation · 3 Dec, 14:05 · with Alice" */
function describe(conversation) {
  const when = new Date(conversation.created_at * 1000).toLocaleString(translator()?.intl, {
    day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  });
  const agent = conversation.agent?.name;
  const full = conversation.prechat?.question ?? "";
  const question = full.length > 80 ? `${full.slice(0, 79)}…` : full;
  return agent ? t("history.itemWith", { when, agent, question }) : t("history.item", { when, question });
}

function messageItem(message, agentName, picture, file) {
  if (message.kind === "system") {
    return h("li", { class: "message system" }, h("p", { class: "body", dir: "auto" }, systemText(message)));
  }
  const kind = message.sender?.kind === "visitor" ? "visitor" : "agent";
  const name = kind === "visitor" ? t("chat.you") : message.sender?.name || t("chat.agent");
  const time = timeText(message.created_at);
  const avatar = kind === "agent" ? avatarElement(name, name === agentName ? picture : null) : null;
  const body = message.kind === "file" ? h("div", { class: "body file-body" }, file(message))
    : h("p", { class: "body", dir: "auto" }, linkedText(message.body));
  return h("li", { class: `message ${kind}` }, avatar, h("span", { class: "who", dir: "auto" },
    time ? t("chat.who", { name, time }) : name), body);
}
