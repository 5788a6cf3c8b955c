// The chat panel, fetched by the loader (../loader.js) when the shopper opens the chat or already
// has one. It renders into the loader's shadow root and drives a ChatSession.

import { pageContext, prefill } from "../config.js";
import { WidgetStore } from "../store.js";
import { adoptStyles } from "../styles.js";
import { AttachControls, fileView } from "./attach-view.js";
import { AttachmentLinks } from "./attachments.js";
import { avatarElement, avatarSource, setAvatar } from "./avatar.js";
import { h, setText } from "./dom.js";
import { CobrowseController } from "./cobrowse.js";
import { HelpStep } from "./help.js";
import { EarlierChats } from "./history.js";
import { linkedText } from "./links.js";
import { ProactiveLine } from "./proactive-line.js";
import { ChatSession } from "./session.js";
import { setTranslator, t, translator } from "../i18n.js";
import { PANEL_CSS } from "./panel-css.js";
import {
  errorText, messageProblem, opensText, prechatProblems, queueText, systemText, ticketProblems, timeText,
} from "./text.js";

const TYPING_REPEAT_MS = 3000;
const TYPING_IDLE_MS = 4000;
// The counter shows from 500 characters below the limit (or from half of a small limit).
const counterFrom = (limit) => Math.max(Math.ceil(limit / 2), limit - 500);

/** Called by the loader once the UI chunk and the Socket.IO client are loaded. */
export function mount(options) {
  // The loader's translator: this chunk has its own copy of ../i18n.js, which must use it too.
  setTranslator(options.language);
  return new ChatPanel(options);
}

class ChatPanel {
  constructor({ root, launcher, script, config, io, identity = () => "" }) {
    this.root = root;
    this.launcher = launcher;
    this.script = script;
    this.config = config;
    this.store = new WidgetStore(config.storageKey);
    // Ticket answers the shopper has not seen (the chat's unread messages come from the session).
    this.unseenAnswers = 0;
    this.rendered = new Map();
    this.typingSentAt = 0;
    this.typingIdle = null;
    this.phaseShown = null;
    this.focusPending = false;
    this.proactive = new ProactiveLine({ root, store: this.store, from: config.title,
      call: (event, payload) => this.session.call(event, payload) });
    this.build();
    this.session = new ChatSession({
      io, base: config.base, store: this.store, onChange: (state, detail) => this.render(state, detail),
      identity, page: () => pageContext(this.script, document),
    });
    this.links = new AttachmentLinks({ call: (event, payload) => this.session.call(event, payload) });
    this.cobrowse = new CobrowseController({ session: this.session, root: this.root, config });
    this.render(this.session.state, {});
    this.session.start();
    if (this.store.load().open) this.open({ focus: false });
    document.addEventListener("visibilitychange", () => this.#maybeMarkRead());
  }

  // -- building ------------------------------------------------------------------------------

  build() {
    const panelId = this.launcher.getAttribute("aria-controls");
    this.title = h("h2", { id: "chatserver-title" }, this.config.title);
    this.subtitle = h("p", { class: "subtitle" });
    this.banner = h("p", { class: "banner", role: "status" });
    this.panel = h("section", {
      class: "panel", id: panelId, role: "dialog", "aria-labelledby": "chatserver-title", hidden: true,
      lang: translator()?.locale, dir: translator()?.dir,
      onkeydown: (event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          this.close();
        }
      },
    },
    h("div", { class: "header" },
      h("div", { class: "heading" }, this.title, this.subtitle),
      h("button", { class: "icon-button", type: "button", "aria-label": t("panel.minimize"), onclick: () => this.close() },
        "\u2013")),
    this.banner,
    this.buildConnecting(),
    this.buildPrechat(),
    this.buildChat());
    adoptStyles(this.root, PANEL_CSS);
    this.root.append(this.panel);
  }

  buildConnecting() {
    this.connectingScreen = h("div", { class: "screen" },
      h("div", { class: "scroll" }, h("p", { class: "status-line", role: "status" }, t("panel.connecting"))));
    return this.connectingScreen;
  }

  buildPrechat() {
    const initial = prefill(this.script);
    this.offlineChosen = false;
    this.noAgentNotice = h("div", { class: "notice", role: "status", hidden: true },
      h("p", {}, t("prechat.noAgent")),
      h("button", { class: "link-button plain", type: "button", onclick: () => this.#chooseOffline(true) },
        t("prechat.leaveMessage")));
    this.fields = {
      name: field("name", t("field.name"), h("input", { type: "text", name: "name", autocomplete: "name", maxlength: 100,
        required: true, value: initial.name })),
      email: field("email", t("field.email"), h("input", { type: "email", name: "email", autocomplete: "email", maxlength: 254,
        value: initial.email }), true),
      question: field("question", t("field.question"), h("textarea", { name: "question", rows: 3, required: true })),
      orderNumber: field("order", t("field.orderNumber"), h("input", { type: "text", name: "order_number", maxlength: 64,
        value: initial.orderNumber }), true),
    };
    this.prechatProblem = h("p", { class: "problem", role: "alert" });
    this.startButton = h("button", { class: "button", type: "submit" }, t("prechat.start"));
    const privacy = this.config.privacyUrl
      ? h("p", { class: "privacy" }, t("privacy.text"), " ",
        h("a", { href: this.config.privacyUrl, target: "_blank", rel: "noopener noreferrer" }, t("privacy.link")))
      : null;
    this.prechatForm = h("form", { novalidate: true, onsubmit: (event) => this.#submitPrechat(event) },
      ...Object.values(this.fields).map((f) => f.wrapper), privacy, this.prechatProblem, this.startButton);
    this.buildOffline(initial);
    // Only one of the two forms is in the document at a time (their fields share labels).
    this.formSlot = h("div", {}, this.prechatForm);
    const rest = h("div", {}, this.noAgentNotice, this.offlineNotice, this.ticketThanks, this.formSlot,
      this.ticketsSection);
    // The help step (help.js) comes first when the shop has articles; it hides the forms while it shows.
    this.help = new HelpStep({ root: this.root, base: this.config.base, script: this.script, rest,
      questions: [this.fields.question.control, this.ticketFields.description.control],
      onContinue: () => this.#focusScreen() });
    // A returning shopper's earlier conversations (history.js) come above, read-only.
    const body = h("div", {}, this.help.element, rest);
    this.earlier = new EarlierChats({ read: (id) => this.session.readPast(id), rest: body,
      picture: (url) => avatarSource(url, this.config.base),
      file: (message) => fileView({ message, links: this.links, base: this.config.base }) });
    this.prechatScreen = h("div", { class: "screen", hidden: true },
      h("div", { class: "scroll" }, this.proactive.prechatElement, this.earlier.element, body));
    const reply = this.proactive.takeReply();
    if (reply) this.fields.question.control.value = reply;
    return this.prechatScreen;
  }

  buildOffline(initial) {
    this.offlineNotice = h("p", { class: "notice", role: "status", hidden: true });
    this.ticketFields = {
      name: field("ticket-name", t("field.name"), h("input", { type: "text", name: "name", autocomplete: "name",
        maxlength: 100, required: true, value: initial.name })),
      email: field("ticket-email", t("field.email"), h("input", { type: "email", name: "email", autocomplete: "email",
        maxlength: 254, required: true, value: initial.email })),
      orderNumber: field("ticket-order", t("field.orderNumber"), h("input", { type: "text", name: "order_number",
        maxlength: 64, value: initial.orderNumber }), true),
      description: field("ticket-description", t("field.description"), h("textarea", { name: "description", rows: 4,
        required: true })),
    };
    this.ticketProblem = h("p", { class: "problem", role: "alert" });
    this.ticketButton = h("button", { class: "button", type: "submit" }, t("offline.send"));
    this.backToChatButton = h("button", { class: "button secondary", type: "button",
      onclick: () => this.#chooseOffline(false) }, t("offline.wait"));
    const privacy = this.config.privacyUrl
      ? h("p", { class: "privacy" }, t("privacy.text"), " ",
        h("a", { href: this.config.privacyUrl, target: "_blank", rel: "noopener noreferrer" }, t("privacy.link")))
      : null;
    this.offlineForm = h("form", { class: "offline", novalidate: true, onsubmit: (event) => this.#submitTicket(event) },
      ...Object.values(this.ticketFields).map((f) => f.wrapper), privacy, this.ticketProblem,
      h("div", { class: "actions" }, this.ticketButton, this.backToChatButton));
    this.ticketThanksText = h("p", {});
    this.ticketThanks = h("div", { class: "notice", role: "status", hidden: true }, this.ticketThanksText,
      h("button", { class: "link-button plain", type: "button", onclick: () => this.#askAnother() },
        t("offline.another")));
    this.ticketList = h("ol", { class: "tickets" });
    this.ticketsSection = h("section", { "aria-labelledby": "chatserver-tickets-title", hidden: true },
      h("h3", { id: "chatserver-tickets-title" }, t("tickets.title")), this.ticketList);
  }

  buildChat() {
    this.statusLine = h("p", { class: "status-line", role: "status" });
    // Screen readers hear each new message once (the log's additions; a message's later state,
    // "Sent" or "Read", is not announced), the queue line and the agent's typing only when their
    // text changes (setText). The log wraps the list, which keeps its list semantics.
    this.messages = h("ol", { class: "messages" });
    const log = h("div", { role: "log", "aria-live": "polite", "aria-relevant": "additions",
      "aria-label": t("chat.log") }, this.messages);
    this.typingLine = h("p", { class: "typing", "aria-live": "polite" });
    this.ratingSection = this.buildRating();
    this.scroller = h("div", { class: "scroll" }, this.statusLine, this.proactive.chatElement, log,
      this.ratingSection);
    this.input = h("textarea", {
      id: "chatserver-message", name: "message", rows: 2, placeholder: t("chat.placeholder"),
      "aria-describedby": "chatserver-message-problem chatserver-counter",
      oninput: () => this.#typed(),
      onkeydown: (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          this.composer.requestSubmit();
        }
      },
    });
    // Not a live region: it changes at every key near the limit. The message box names it
    // (aria-describedby), and a message over the limit is refused aloud (the problem's alert).
    this.counter = h("span", { class: "counter", id: "chatserver-counter" });
    this.messageProblem = h("p", { class: "problem", id: "chatserver-message-problem", role: "alert" });
    this.endButton = h("button", { class: "link-button", type: "button", onclick: () => this.#askEnd(true) },
      t("chat.end"));
    // Ending cannot be undone: the panel asks first (its own prompt, not window.confirm, which a
    // shop's page or the browser may suppress). Escape cancels without minimizing the panel.
    this.endCancel = h("button", { class: "button secondary", type: "button", onclick: () => this.#askEnd(false) },
      t("chat.cancel"));
    this.endQuestion = h("div", {
      class: "confirm", role: "alertdialog", "aria-labelledby": "chatserver-end-question", hidden: true,
      onkeydown: (event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          this.#askEnd(false);
        }
      },
    },
    h("p", { id: "chatserver-end-question" }, t("chat.endQuestion")),
    h("div", { class: "actions" },
      h("button", { class: "button", type: "button", onclick: () => this.#endChat() }, t("chat.endConfirm")),
      this.endCancel));
    this.chatScreen = h("div", { class: "screen", hidden: true });
    // Files: the attach button, a drop anywhere on the chat, a screenshot pasted into the box.
    this.attach = new AttachControls({
      dropTarget: this.chatScreen,
      pasteTarget: this.input,
      canAttach: () => this.#canAttach(),
      limit: () => this.session.state.maxAttachmentBytes,
      send: (file, name, onProgress) => this.session.upload(file, name, onProgress),
      onProblem: (text) => {
        setText(this.messageProblem, text);
        this.input.setAttribute("aria-invalid", "false"); // the typed text is not the problem
      },
      onSent: () => setText(this.messageProblem, ""),
    });
    this.composer = h("form", { class: "composer", novalidate: true, onsubmit: (event) => this.#submitMessage(event) },
      this.attach.list,
      h("label", { class: "visually-hidden", for: "chatserver-message" }, t("chat.yourMessage")),
      h("div", { class: "row" }, this.attach.button, this.attach.input, this.input,
        h("button", { class: "button", type: "submit" }, t("chat.send"))),
      this.messageProblem,
      h("div", { class: "tools" }, this.endButton, this.counter),
      this.endQuestion);
    this.chatScreen.append(this.scroller, this.typingLine, this.composer);
    return this.chatScreen;
  }

  buildRating() {
    const options = [1, 2, 3, 4, 5].map((n) => [
      h("input", { type: "radio", name: "rating", value: n, id: `chatserver-rating-${n}` }),
      h("label", { for: `chatserver-rating-${n}` }, starLabel(n)),
    ]);
    this.ratingComment = h("textarea", { id: "chatserver-rating-comment", name: "comment", rows: 2, maxlength: 1000 });
    this.ratingProblem = h("p", { class: "problem", role: "alert" });
    this.ratingForm = h("form", { novalidate: true, onsubmit: (event) => this.#submitRating(event) },
      h("fieldset", { class: "stars" }, h("legend", {}, t("rating.legend")),
        h("div", { class: "options" }, options)),
      h("div", { class: "field" },
        h("label", { for: "chatserver-rating-comment" }, t("rating.comment"), " ", h("span", { class: "optional" }, t("field.optional"))),
        this.ratingComment),
      this.ratingProblem,
      h("button", { class: "button", type: "submit" }, t("rating.send")));
    this.ratingThanks = h("p", { class: "notice", role: "status", hidden: true }, t("rating.thanks"));
    this.newChatButton = h("button", { class: "button secondary", type: "button", onclick: () => this.#newChat() },
      t("chat.newChat"));
    // The transcript goes only where the server allows (the email given before the chat, or the
    // identified shopper's): the panel names it and offers no field for another address.
    this.transcriptTo = h("p", { class: "transcript-to", id: "chatserver-transcript-to" });
    this.transcriptProblem = h("p", { class: "problem", role: "alert" });
    this.transcriptStatus = h("p", { class: "notice", role: "status", hidden: true });
    this.transcriptForm = h("form", { class: "transcript", hidden: true,
      onsubmit: (event) => this.#submitTranscript(event) },
    h("button", { class: "button secondary", type: "submit", "aria-describedby": "chatserver-transcript-to" },
      t("transcript.offer")),
    this.transcriptTo, this.transcriptProblem);
    return h("div", { class: "ended", hidden: true }, this.ratingForm, this.ratingThanks, this.transcriptForm,
      this.transcriptStatus, this.newChatButton);
  }

  // -- opening and closing -------------------------------------------------------------------

  get isOpen() {
    return !this.panel.hidden;
  }

  open({ focus = true } = {}) {
    this.panel.hidden = false;
    this.launcher.setAttribute("aria-expanded", "true");
    this.store.update({ open: true });
    this.unseenAnswers = 0;
    this.#renderLauncher();
    if (this.session.state.phase === "prechat") {
      this.#renderTickets(this.session.state.tickets);
      // Agents may have come or gone since the page loaded: ask again (rendered when it answers).
      if (this.session.connected) this.session.refreshOffline();
    }
    if (focus) this.#focusScreen();
    this.#scrollToEnd();
    this.#maybeMarkRead();
  }

  close() {
    this.focusPending = false;
    this.panel.hidden = true;
    this.launcher.setAttribute("aria-expanded", "false");
    this.store.update({ open: false });
    this.#renderLauncher();
    this.launcher.focus();
  }

  toggle() {
    if (this.isOpen) this.close();
    else this.open();
  }

  /** The shop signed the shopper in (window.chatserver.identify): send it now if connected. */
  identify() {
    this.session.identify();
  }

  #focusScreen() {
    const phase = this.session.state.phase;
    // Opened before the session knew what to show: focus the screen once it does.
    this.focusPending = phase === "connecting";
    let target = null;
    if (phase === "prechat" && this.earlier.reading) {
      target = this.earlier.heading;
    } else if (phase === "prechat" && this.help.shown) {
      target = this.help.focusTarget();
    } else if (phase === "prechat" && !this.ticketThanks.hidden) {
      target = this.ticketThanks.querySelector("button");
    } else if (phase === "prechat") {
      const [fields, button] = this.#offlineShown ? [this.ticketFields, this.ticketButton] : [this.fields, this.startButton];
      target = Object.values(fields).map((f) => f.control).find((control) => !control.value) ?? button;
    } else if (phase === "chat") {
      target = this.input;
    } else if (phase === "ended") {
      target = this.session.state.rated ? this.newChatButton : this.ratingForm.querySelector("input");
    }
    (target ?? this.panel.querySelector("button")).focus();
  }

  // -- rendering -----------------------------------------------------------------------------

  render(state, detail) {
    const { phase } = state;
    const phaseChanged = phase !== this.phaseShown;
    this.phaseShown = phase;
    this.connectingScreen.hidden = phase !== "connecting";
    this.prechatScreen.hidden = phase !== "prechat";
    this.chatScreen.hidden = phase !== "chat" && phase !== "ended";
    this.#renderOffline(state, detail);
    this.proactive.render(state.conversation?.id);
    if (detail.history) this.#renderHistory(state.history);
    if (phase !== "prechat") this.earlier.close({ focus: false });
    this.startButton.disabled = state.connection !== "online";
    setText(this.subtitle, this.#subtitle(state));
    this.#renderBanner(state);
    if (phase === "chat" || phase === "ended") this.#renderChat(state, detail);
    if (phase === "ended") this.#renderTranscriptOffer(state);
    // Focus was on a screen that is now hidden: put it where the shopper continues. Focus on
    // the shop's page is left alone.
    if (phaseChanged && this.isOpen && (this.focusPending || this.root.activeElement?.closest("[hidden]"))) {
      this.#focusScreen();
    }
    this.#maybeMarkRead();
    this.#renderLauncher();
  }

  /** The earlier conversations, and the last chat's name and email in fields still empty. */
  #renderHistory({ conversations, prefill }) {
    this.earlier.render(conversations);
    if (!prefill) return;
    for (const fields of [this.fields, this.ticketFields]) {
      if (!fields.name.control.value) fields.name.control.value = prefill.name;
      if (!fields.email.control.value && prefill.email) fields.email.control.value = prefill.email;
    }
  }

  /** Offline form instead of the chat: outside business hours, or when the shopper chose it. */
  get #offlineShown() {
    const availability = this.session.state.availability;
    return Boolean(availability && ((!availability.chat_open && availability.reason === "closed") || this.offlineChosen));
  }

  #renderOffline(state, detail) {
    const offline = this.#offlineShown;
    const form = offline ? this.offlineForm : this.prechatForm;
    if (this.formSlot.firstChild !== form) this.formSlot.replaceChildren(form);
    const noAgents = state.availability ? state.availability.reason === "no_agents" : !state.agentsAvailable;
    this.noAgentNotice.hidden = offline || !noAgents;
    this.formSlot.hidden = !this.ticketThanks.hidden;
    const closed = state.availability?.reason === "closed";
    this.offlineNotice.hidden = !offline || !this.ticketThanks.hidden;
    const opens = closed ? opensText(state.availability.opens_at) : "";
    setText(this.offlineNotice, !closed ? t("offline.leave")
      : opens ? t("offline.closedUntil", { opens }) : t("offline.closed"));
    this.backToChatButton.hidden = closed;
    const required = Boolean(state.availability?.order_number_required);
    const order = this.ticketFields.orderNumber;
    order.control.required = required;
    order.wrapper.querySelector(".optional").hidden = required;
    this.ticketButton.disabled = state.connection !== "online";
    if (detail.tickets) this.#renderTickets(state.tickets);
  }

  #renderTickets(tickets) {
    this.ticketsSection.hidden = tickets.length === 0;
    this.ticketList.replaceChildren(...tickets.map((ticket) => h("li", { class: "ticket" },
      h("p", { class: "who" }, t(ticket.status === "answered" ? "tickets.answered" : "tickets.waiting",
        { reference: ticket.reference })),
      h("p", { class: "body question" }, ticket.description),
      ticket.answers.map((answer) => h("div", { class: "answer" },
        h("p", { class: "who" }, t("tickets.answerBy", { name: answer.agent?.name || t("chat.agent"),
          time: timeText(answer.created_at) })),
        h("p", { class: "body" }, answer.body))))));
    const answers = tickets.reduce((n, t) => n + t.answers.length, 0);
    const unseen = answers - this.store.load().answersSeen;
    if (unseen > 0 && this.isOpen && this.session.state.phase === "prechat") {
      this.store.update({ answersSeen: answers });
    } else if (unseen > 0) {
      this.unseenAnswers = unseen;
      this.#renderLauncher();
    }
  }

  #chooseOffline(offline) {
    this.offlineChosen = offline;
    this.render(this.session.state, {});
    this.#focusScreen();
  }

  #askAnother() {
    this.ticketThanks.hidden = true;
    this.render(this.session.state, {});
    this.#focusScreen();
  }

  #subtitle(state) {
    const { phase, conversation } = state;
    if (phase === "prechat") {
      if (state.availability?.reason === "closed") return t("panel.subtitle.closed");
      return t(state.agentsAvailable ? "panel.subtitle.available" : "panel.subtitle.unavailable");
    }
    if (phase === "ended") return t("panel.subtitle.ended");
    if (conversation?.status === "assigned" && conversation.agent) {
      return t("panel.subtitle.chatting", { agent: conversation.agent.name });
    }
    if (conversation?.status === "queued") return t("panel.subtitle.waiting");
    return "";
  }

  #renderBanner(state) {
    let text = "";
    let offline = false;
    if (state.connection === "reconnecting") {
      offline = true;
      const unsent = this.session.transcript.toSend().length ? "Unsent" : "";
      text = t(`${navigator.onLine === false ? "banner.offline" : "banner.lost"}${unsent}`);
    } else if (state.phase === "chat" && state.conversation?.status === "assigned" && !state.agentOnline) {
      const agent = state.conversation.agent?.name;
      text = agent ? t("banner.agentOffline", { agent }) : t("banner.yourAgentOffline");
    } else if (state.problem) {
      text = state.problem;
    }
    this.banner.classList.toggle("offline", offline);
    setText(this.banner, text);
  }

  #renderChat(state, detail) {
    const { conversation, phase } = state;
    const nearEnd = this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 80;
    let status = "";
    if (conversation?.status === "queued") {
      status = queueText(state.queue?.position, state.queue?.estimated_wait_s, this.config.minutesPerChat);
    }
    else if (conversation?.status === "assigned" && conversation.agent) {
      status = t("chat.agentHere", { agent: conversation.agent.name });
    }
    setText(this.statusLine, status);
    this.statusLine.hidden = !status;
    this.#renderMessages();
    const agentName = conversation?.agent?.name;
    setText(this.typingLine, !state.agentTyping || phase !== "chat" ? ""
      : agentName ? t("chat.typing", { agent: agentName }) : t("chat.agentTyping"));
    this.attach.setEnabled(this.#canAttach());
    const ended = phase === "ended";
    this.composer.hidden = ended;
    if (ended) this.endQuestion.hidden = true;
    this.ratingSection.hidden = !ended;
    this.ratingForm.hidden = state.rated;
    this.ratingThanks.hidden = !state.rated;
    if (nearEnd || detail.newMessage?.sender?.kind === "visitor" || detail.scroll) this.#scrollToEnd();
  }

  #renderMessages() {
    const items = this.session.transcript.items();
    const seen = new Set();
    let index = 0;
    for (const item of items) {
      seen.add(item.key);
      let entry = this.rendered.get(item.key);
      if (!entry) {
        entry = this.#messageElement(item);
        this.rendered.set(item.key, entry);
      }
      this.#updateMessageState(entry, item);
      if (this.messages.children[index] !== entry.element) {
        this.messages.insertBefore(entry.element, this.messages.children[index] ?? null);
      }
      index += 1;
    }
    for (const [key, entry] of this.rendered) {
      if (!seen.has(key)) {
        entry.element.remove();
        this.rendered.delete(key);
      }
    }
  }

  #messageElement(item) {
    const { message } = item;
    const kind = message.kind === "system" ? "system" : message.sender?.kind === "visitor" ? "visitor" : "agent";
    if (kind === "system") {
      return { element: h("li", { class: "message system" }, h("p", { class: "body", dir: "auto" }, systemText(message))) };
    }
    const name = kind === "visitor" ? t("chat.you") : message.sender?.name || t("chat.agent");
    const who = h("span", { class: "who", dir: "auto" });
    // Only the shopper's own messages carry a delivery state (sending, sent, read, not sent).
    const state = kind === "visitor" ? h("span", { class: "state" }) : null;
    const body = message.kind === "file"
      ? h("div", { class: "body file-body", dir: "auto" }, fileView({ message, links: this.links, base: this.config.base }))
      : h("p", { class: "body", dir: "auto" }, linkedText(message.body));
    // The agent's picture (or initials) beside their messages.
    const avatar = kind === "agent" ? avatarElement(name, this.#agentPicture(name)) : null;
    const element = h("li", { class: `message ${kind}` }, avatar, who, body, state);
    return { element, who, name, state, avatar, status: null };
  }

  /** The picture of the conversation's agent, for messages sent under their name (else none). */
  #agentPicture(name) {
    const agent = this.session.state.conversation?.agent;
    return agent && agent.name === name ? avatarSource(agent.avatar_url, this.config.base) : null;
  }

  /** Files may be sent in a chat that is queued or assigned. */
  #canAttach() {
    const { phase, conversation } = this.session.state;
    return phase === "chat" && Boolean(conversation) && conversation.status !== "closed";
  }

  #updateMessageState(entry, item) {
    if (!entry.who) return;
    if (entry.avatar) setAvatar(entry.avatar, entry.name, this.#agentPicture(entry.name));
    // A pending message gets its time when the server has stored it.
    const time = timeText(item.message.created_at);
    setText(entry.who, time ? t("chat.who", { name: entry.name, time }) : entry.name);
    if (!entry.state || entry.status === `${item.status}|${item.error ?? ""}`) return;
    entry.status = `${item.status}|${item.error ?? ""}`;
    entry.element.classList.toggle("failed", item.status === "failed");
    entry.state.replaceChildren();
    if (item.status === "failed") {
      entry.state.append(t("chat.notSent", { error: item.error }), " ",
        h("button", { class: "retry", type: "button", onclick: () => this.session.retry(item.clientMsgId) },
          t("chat.retry")));
    } else if (["queued", "sending", "sent", "read"].includes(item.status)) {
      entry.state.append(t(`chat.state.${item.status}`));
    }
  }

  /** The chat button's count: the agent's messages past the shopper's read mark, and ticket answers. */
  #renderLauncher() {
    const unread = this.isOpen ? 0 : this.session.transcript.unreadFromAgent + this.unseenAnswers;
    const badge = this.launcher.querySelector(".badge");
    const label = this.launcher.dataset.label;
    if (badge) {
      badge.hidden = unread === 0;
      setText(badge, String(unread));
    }
    this.launcher.setAttribute("aria-label", unread ? t("launcher.unread", { title: label, count: unread }) : label);
  }

  #scrollToEnd() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  #maybeMarkRead() {
    const phase = this.session.state.phase;
    if (this.isOpen && document.visibilityState === "visible" && (phase === "chat" || phase === "ended")) {
      this.session.markRead();
    }
  }

  // -- shopper actions -----------------------------------------------------------------------

  async #submitPrechat(event) {
    event.preventDefault();
    const values = Object.fromEntries(Object.entries(this.fields).map(([name, f]) => [name, f.control.value]));
    const problems = prechatProblems(values, this.session.state.maxMessageChars);
    for (const [name, f] of Object.entries(this.fields)) f.setProblem(problems[name] ?? "");
    setText(this.prechatProblem, "");
    const first = Object.keys(problems)[0];
    if (first) {
      this.fields[first].control.focus();
      return;
    }
    const payload = { name: values.name.trim(), question: values.question.trim(), ...pageContext(this.script, document) };
    // The shopper's language: the server writes the transcript's mail in it.
    if (translator()) payload.locale = translator().locale;
    if (values.email.trim()) payload.email = values.email.trim();
    if (values.orderNumber.trim()) payload.order_number = values.orderNumber.trim();
    this.startButton.disabled = true;
    try {
      await this.session.startChat(payload);
      this.help.chatStarted();
      this.proactive.chatStarted(this.session.state.conversation?.id);
      this.fields.question.control.value = "";
    } catch (error) {
      setText(this.prechatProblem, error.code === "offline"
        ? t("offline.youAreOffline")
        : errorText(error.code, error.message));
    } finally {
      this.startButton.disabled = this.session.state.connection !== "online";
    }
  }

  async #submitTicket(event) {
    event.preventDefault();
    const values = Object.fromEntries(Object.entries(this.ticketFields).map(([name, f]) => [name, f.control.value]));
    const required = Boolean(this.session.state.availability?.order_number_required);
    const problems = ticketProblems(values, required);
    this.#showProblems(this.ticketFields, problems);
    setText(this.ticketProblem, "");
    if (Object.keys(problems).length) return;
    const form = { name: values.name.trim(), email: values.email.trim(), description: values.description.trim() };
    if (values.orderNumber.trim()) form.order_number = values.orderNumber.trim();
    const context = pageContext(this.script, document);
    if (context.page_url) form.page_url = context.page_url;
    // The shopper's language: the mail that answers them is written in it.
    if (translator()) form.locale = translator().locale;
    this.ticketButton.disabled = true;
    try {
      const ticket = await this.session.createTicket(form);
      this.help.ticketCreated();
      this.ticketFields.description.control.value = "";
      setText(this.ticketThanksText, t("offline.thanks", { reference: ticket.reference, email: ticket.email }));
      this.ticketThanks.hidden = false;
      this.render(this.session.state, {});
      this.#focusScreen();
    } catch (error) {
      const fields = error.code === "invalid_payload" ? (error.details?.fields ?? []) : [];
      if (fields.length) {
        const byName = { order_number: "orderNumber" };
        this.#showProblems(this.ticketFields, Object.fromEntries(fields.map((f) => [byName[f] ?? f, t("offline.fillIn")])));
      }
      setText(this.ticketProblem, error.code === "rate_limited"
        ? t("offline.tooMany")
        : error.code === "offline" ? t("offline.youAreOffline")
          : errorText(error.code, error.message));
    } finally {
      this.ticketButton.disabled = this.session.state.connection !== "online";
    }
  }

  /** Show each field's problem; focus the first field that has one. */
  #showProblems(fields, problems) {
    for (const [name, f] of Object.entries(fields)) f.setProblem(problems[name] ?? "");
    const first = Object.keys(fields).find((name) => problems[name]);
    if (first) fields[first].control.focus();
  }

  /**
   * "Email me the transcript" while there is an address to send it to, it was not sent yet, and
   * the server sends mail (availability:get's transcript_email; without it, it would only wait).
   */
  #renderTranscriptOffer(state) {
    const email = state.conversation?.prechat?.email;
    const mail = state.availability?.transcript_email !== false;
    this.transcriptForm.hidden = !this.transcriptStatus.hidden || !mail || !(email || this.session.identified);
    setText(this.transcriptTo, email ? t("transcript.toGiven", { email }) : t("transcript.toAccount"));
  }

  async #submitTranscript(event) {
    event.preventDefault();
    setText(this.transcriptProblem, "");
    try {
      const sent = await this.session.emailTranscript();
      setText(this.transcriptStatus, t("transcript.sending", { email: sent }));
      this.transcriptStatus.hidden = false;
      this.transcriptForm.hidden = true;
    } catch (error) {
      setText(this.transcriptProblem, error.code !== "rate_limited" ? errorText(error.code, error.message)
        : error.details?.limit === "per_conversation" ? t("transcript.alreadySent") : t("transcript.tooMany"));
    }
  }

  #submitMessage(event) {
    event.preventDefault();
    const body = this.input.value;
    const problem = messageProblem(body, this.session.state.maxMessageChars);
    setText(this.messageProblem, problem ?? "");
    this.input.setAttribute("aria-invalid", problem ? "true" : "false");
    if (problem) return;
    this.session.send(body);
    this.input.value = "";
    this.#updateCounter();
    this.#stopTyping();
    this.input.focus();
  }

  #typed() {
    this.#updateCounter();
    if (!messageProblem(this.input.value, this.session.state.maxMessageChars) || !this.input.value.trim()) {
      setText(this.messageProblem, "");
      this.input.setAttribute("aria-invalid", "false");
    }
    const now = Date.now();
    if (now - this.typingSentAt > TYPING_REPEAT_MS) {
      this.typingSentAt = now;
      this.session.typing(true);
    }
    clearTimeout(this.typingIdle);
    this.typingIdle = setTimeout(() => this.#stopTyping(), TYPING_IDLE_MS);
  }

  #stopTyping() {
    clearTimeout(this.typingIdle);
    if (this.typingSentAt) {
      this.typingSentAt = 0;
      this.session.typing(false);
    }
  }

  #updateCounter() {
    const length = [...this.input.value].length;
    const limit = this.session.state.maxMessageChars;
    setText(this.counter, length >= counterFrom(limit) ? t("chat.counter", { length: String(length), limit: String(limit) }) : "");
    this.counter.classList.toggle("over", length > limit);
  }

  /** Show (or, cancelled, hide) "End this chat?"; focus goes to Cancel, then back to End chat. */
  #askEnd(ask) {
    this.endQuestion.hidden = !ask;
    (ask ? this.endCancel : this.endButton).focus();
  }

  async #endChat() {
    this.endQuestion.hidden = true;
    this.#stopTyping();
    try {
      await this.session.endChat();
    } catch (error) {
      setText(this.messageProblem, errorText(error.code, error.message));
    }
  }

  async #submitRating(event) {
    event.preventDefault();
    const choice = this.ratingForm.querySelector("input[name=rating]:checked");
    if (!choice) {
      setText(this.ratingProblem, t("rating.choose"));
      this.ratingForm.querySelector("input[name=rating]").focus();
      return;
    }
    setText(this.ratingProblem, "");
    try {
      await this.session.rate(Number(choice.value), this.ratingComment.value.trim());
      this.newChatButton.focus();
    } catch (error) {
      setText(this.ratingProblem, errorText(error.code, error.message));
    }
  }

  #newChat() {
    this.transcriptStatus.hidden = true;
    setText(this.transcriptProblem, "");
    this.session.newChat();
    this.help.reset();
    for (const entry of this.rendered.values()) entry.element.remove();
    this.rendered.clear();
    this.ratingForm.reset();
    this.#focusScreen();
  }
}

/** "2 stars" as the language says it, the number shown and the words there for screen readers. */
function starLabel(n) {
  const phrase = t("rating.star", { count: n });
  const number = translator()?.number(n) ?? String(n);
  const at = phrase.indexOf(number);
  const hidden = (text) => (text ? h("span", { class: "visually-hidden" }, text) : null);
  if (at === -1) return [number, hidden(` ${phrase}`)];
  return [hidden(phrase.slice(0, at)), number, hidden(phrase.slice(at + number.length))];
}

/** A labelled form field with its own problem line, linked for assistive technology. */
function field(id, label, control, optional = false) {
  const controlId = `chatserver-${id}`;
  const problemId = `${controlId}-problem`;
  control.id = controlId;
  control.setAttribute("aria-describedby", problemId);
  const problem = h("p", { class: "problem", id: problemId });
  const wrapper = h("div", { class: "field" },
    h("label", { for: controlId }, label, optional ? [" ", h("span", { class: "optional" }, t("field.optional"))] : null),
    control, problem);
  return {
    wrapper,
    control,
    setProblem(text) {
      setText(problem, text);
      control.setAttribute("aria-invalid", text ? "true" : "false");
    },
  };
}
