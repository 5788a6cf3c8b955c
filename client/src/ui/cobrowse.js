// The shopper's side of co-browsing (docs/cobrowse.md, events in docs/protocol.md): the consent
// prompts, the "sharing" bar with its stop buttons, the agent's pointer and highlights, and the
// recorder (../cobrowse/recorder.js), fetched only once the shopper agrees to share.
// Everything here lives in the widget's shadow root, which the recorder never captures.

import { unmaskedFieldLabels } from "../cobrowse/privacy.js";
import { t } from "../i18n.js";
import { adoptStyles } from "../styles.js";
import { h, setText } from "./dom.js";

// Replaced by the build (client/build.mjs) with the recorder chunk's content-hashed name.
/* global __CHATSERVER_RECORDER__ */

const POINTER_HIDE_MS = 3000;
const HIGHLIGHT_MS = 2500;
const ENDED_NOTICE_MS = 4000;
// Until the server says its cobrowse_max_part_bytes (cobrowse:status and cobrowse:respond acks).
const DEFAULT_PART_BYTES = 64 * 1024;
// Refusals that mean the session changed (paused over a limit, ended, gone): cobrowse:updated
// tells both sides. Any other refused batch is sent again, whole, as a fresh snapshot.
const SESSION_CHANGED = new Set(["cobrowse_state", "not_found", "forbidden", "rate_limited", "payload_too_large"]);
// Fresh snapshots refused in a row after which the page sends no more until the server asks for
// one (cobrowse:snapshot).
const MAX_RESYNCS = 3;

const PAUSE_TEXT = { page_too_large: "cobrowse.pausedLarge", rate_limited: "cobrowse.pausedRate" };

const CSS = `
.cobrowse-dialog {
  position: fixed; left: 50%; top: 16px; transform: translateX(-50%); z-index: 2147483001;
  width: 420px; max-width: calc(100vw - 24px); box-sizing: border-box; padding: 16px 18px;
  background: var(--bg); color: var(--fg); border-radius: 12px;
  box-shadow: 0 12px 40px rgba(0, 0, 0, .28), 0 0 0 1px rgba(0, 0, 0, .08);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
.cobrowse-dialog h2 { margin: 0 0 6px; font-size: 16px; }
.cobrowse-dialog p { margin: 0 0 12px; }
.cobrowse-dialog .actions { display: flex; gap: 8px; flex-wrap: wrap; }
.cobrowse-bar {
  position: fixed; left: 0; right: 0; top: 0; z-index: 2147483000;
  display: flex; align-items: center; justify-content: center; gap: 12px; flex-wrap: wrap;
  padding: 6px 12px; background: #b3261e; color: #fff;
  font: 600 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
.cobrowse-bar.paused { background: #6d5a00; }
.cobrowse-bar.ended { background: #3a3a3c; }
.cobrowse-bar button, .cobrowse-dialog button {
  min-height: 34px; padding: 6px 14px; border-radius: 8px; border: 0; cursor: pointer;
  font: 600 14px/1.2 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
.cobrowse-bar button { background: #fff; color: #b3261e; }
.cobrowse-dialog .primary { background: var(--accent); color: var(--on-accent); }
.cobrowse-dialog .secondary { background: var(--subtle); color: var(--fg); border: 1px solid var(--border); }
.cobrowse-pointer {
  position: fixed; z-index: 2147483002; width: 18px; height: 18px; margin: -9px 0 0 -9px;
  left: var(--cb-pointer-x, 0); top: var(--cb-pointer-y, 0);
  border-radius: 50%; background: rgba(230, 40, 40, .85); box-shadow: 0 0 0 4px rgba(230, 40, 40, .3);
  pointer-events: none;
}
.cobrowse-pointer.click { box-shadow: 0 0 0 14px rgba(230, 40, 40, .25); }
.cobrowse-highlight {
  position: fixed; z-index: 2147483001; pointer-events: none; box-sizing: border-box;
  left: var(--cb-highlight-x, 0); top: var(--cb-highlight-y, 0);
  width: var(--cb-highlight-w, 0); height: var(--cb-highlight-h, 0);
  border: 3px solid #e62828; border-radius: 6px; box-shadow: 0 0 0 4px rgba(230, 40, 40, .25);
}
:focus-visible { outline: 3px solid #1d1d1f; outline-offset: 2px; box-shadow: 0 0 0 2px #ffbf47; }
@media (prefers-reduced-motion: no-preference) {
  .cobrowse-pointer { transition: left 50ms linear, top 50ms linear, box-shadow 200ms; }
}
`;

export class CobrowseController {
  /**
   * @param {object} options
   * @param {import("./session.js").ChatSession} options.session
   * @param {ShadowRoot} options.root the widget's shadow root
   * @param {object} options.config readConfig()'s settings (base URL)
   */
  constructor({ session, root, config }) {
    this.session = session;
    this.root = root;
    this.config = config;
    this.current = null;
    this.recorder = null;
    this.recorderLoading = null;
    this.generation = 0; // which recorder a batch's ack is for
    this.partBytes = DEFAULT_PART_BYTES;
    this.resyncAfter = 0; // batches up to this seq are replaced by the fresh snapshot sent after them
    this.resyncs = 0;
    this.needSnapshot = false;
    this.pageShared = false; // this page was shared (so a new consent is not needed on it)
    this.newPage = true; // the first cobrowse:status of this page says new_page
    this.resumeWithoutPrompt = true;
    // Nothing is asked or captured on a page before the server answered its first
    // cobrowse:status (which says whether this page may continue a session without asking).
    this.statusKnown = false;
    this.pointerTimer = null;
    this.highlightTimer = null;
    this.endedTimer = null;
    this.#build();
    session.onSocket = (socket) => this.#listen(socket);
    session.onResumed = (conversation) => this.#resumed(conversation);
    document.addEventListener("visibilitychange", () => this.#sync());
  }

  #build() {
    adoptStyles(this.root, CSS);
    this.dialogTitle = h("h2", { id: "chatserver-cobrowse-title" });
    this.dialogText = h("p", { id: "chatserver-cobrowse-text" });
    this.acceptButton = h("button", { class: "primary", type: "button", onclick: () => this.#answer(true) });
    this.declineButton = h("button", { class: "secondary", type: "button", onclick: () => this.#answer(false) });
    this.dialog = h("div", {
      class: "cobrowse-dialog", role: "alertdialog", "aria-modal": "false", hidden: true,
      "aria-labelledby": "chatserver-cobrowse-title", "aria-describedby": "chatserver-cobrowse-text",
      onkeydown: (event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          this.#answer(false);
        }
      },
    }, this.dialogTitle, this.dialogText, h("div", { class: "actions" }, this.acceptButton, this.declineButton));
    this.barText = h("span", {});
    this.controlButton = h("button", { type: "button", hidden: true, onclick: () => this.#revokeControl() },
      t("cobrowse.takeBack"));
    this.stopButton = h("button", { type: "button", onclick: () => this.stop() }, t("cobrowse.stop"));
    this.bar = h("div", { class: "cobrowse-bar", role: "status", hidden: true }, this.barText, this.controlButton,
      this.stopButton);
    this.pointer = h("div", { class: "cobrowse-pointer", hidden: true, "aria-hidden": "true" });
    this.highlight = h("div", { class: "cobrowse-highlight", hidden: true, "aria-hidden": "true" });
    this.root.append(this.bar, this.dialog, this.pointer, this.highlight);
  }

  #listen(socket) {
    socket.on("cobrowse:updated", ({ session }) => this.#updated(session));
    socket.on("cobrowse:snapshot", ({ session_id: id }) => {
      if (id !== this.current?.id || !this.recorder) return;
      this.resyncs = 0;
      this.resyncAfter = this.recorder.snapshot();
    });
    socket.on("cobrowse:pointer", (pointer) => this.#showPointer(pointer));
    socket.on("cobrowse:scroll_to", ({ session_id: id, node_id: nodeId }) => {
      if (id === this.current?.id) this.#scrollTo(nodeId);
    });
    socket.on("cobrowse:action", (action) => this.#act(action));
    socket.on("cobrowse:ping", ({ session_id: id, t }) => {
      if (id === this.current?.id) socket.emit("cobrowse:pong", { session_id: id, t });
    });
    socket.on("disconnect", () => {
      this.needSnapshot = true; // what is sent while offline is lost: start over once back
    });
  }

  /** After every session:resume: ask whether this conversation has a live co-browse session. */
  async #resumed(conversation) {
    if (!conversation || conversation.status === "closed") {
      // No chat yet (or it ended): a session can only start on this page, from a request.
      this.statusKnown = true;
      this.newPage = false;
      this.#updated(null);
      return;
    }
    const newPage = this.newPage;
    this.newPage = false;
    try {
      const ack = await this.session.call("cobrowse:status", { conversation_id: conversation.id, new_page: newPage });
      this.resumeWithoutPrompt = ack.resume_without_prompt !== false;
      this.#setPartBytes(ack.max_part_bytes);
      this.statusKnown = true;
      this.#updated(ack.session);
    } catch {
      this.newPage = newPage; // not answered: the next resume asks again
    }
  }

  #updated(session) {
    const previous = this.current;
    if (session && previous && session.id !== previous.id && session.status === "requested") this.pageShared = false;
    this.current = session && ["requested", "active", "paused"].includes(session.status) ? session : null;
    if (!this.current && previous && session?.id === previous.id && previous.status !== "requested") {
      this.#showEnded(session.reason === "stopped_by_visitor" ? t("cobrowse.youStopped")
        : t("cobrowse.agentStopped", { agent: previous.agent?.name ?? t("cobrowse.theAgent") }));
    }
    this.#sync();
  }

  /** Show what the current state needs, and record only while sharing and this tab is in view. */
  #sync() {
    const session = this.statusKnown ? this.current : null;
    const name = session?.agent?.name ?? t("cobrowse.theAgent");
    const askShare = session?.status === "requested"
      || (session?.status === "active" && !this.pageShared && !this.resumeWithoutPrompt);
    const askControl = !askShare && session?.status === "active" && session.control === "requested";
    if (askShare) {
      this.#ask("share", t("cobrowse.shareTitle"), shareText(name, unmaskedFieldLabels(document)),
        t("cobrowse.shareAccept"), t("cobrowse.decline"));
    } else if (askControl) {
      this.#ask("control", t("cobrowse.controlTitle"), t("cobrowse.controlText", { agent: name }),
        t("cobrowse.controlAccept"), t("cobrowse.decline"));
    } else {
      this.#hideDialog();
    }
    const sharing = session && (session.status === "active" || session.status === "paused") && !askShare;
    if (sharing) {
      clearTimeout(this.endedTimer);
      this.bar.hidden = false;
      this.bar.classList.toggle("paused", session.status === "paused");
      this.bar.classList.remove("ended");
      const control = session.control === "granted";
      setText(this.barText, session.status === "paused"
        ? t(PAUSE_TEXT[session.reason] ?? "cobrowse.paused")
        : t(control ? "cobrowse.seesControl" : "cobrowse.sees", { agent: name }));
      this.controlButton.hidden = !control;
      this.stopButton.hidden = false;
    } else if (!this.bar.classList.contains("ended")) {
      this.bar.hidden = true;
    }
    if (!sharing || session.status !== "active") {
      this.pointer.hidden = true;
      this.highlight.hidden = true;
    }
    const record = sharing && session.status === "active" && document.visibilityState === "visible";
    if (record) this.#startRecording();
    else this.#stopRecording();
  }

  #ask(kind, title, text, accept, decline) {
    const wasHidden = this.dialog.hidden || this.dialog.dataset.kind !== kind;
    this.dialog.dataset.kind = kind;
    setText(this.dialogTitle, title);
    setText(this.dialogText, text);
    setText(this.acceptButton, accept);
    setText(this.declineButton, decline);
    this.dialog.hidden = false;
    if (wasHidden) this.acceptButton.focus({ preventScroll: true });
  }

  #hideDialog() {
    const hadFocus = this.dialog.contains(this.root.activeElement);
    this.dialog.hidden = true;
    delete this.dialog.dataset.kind;
    if (hadFocus) this.stopButton.focus({ preventScroll: true });
  }

  async #answer(yes) {
    const session = this.current;
    if (!session) return;
    const kind = this.dialog.dataset.kind;
    try {
      if (kind === "share" && session.status === "requested") {
        const ack = await this.session.call("cobrowse:respond", { session_id: session.id, accept: yes });
        this.#setPartBytes(ack.max_part_bytes);
        if (yes) this.pageShared = true;
        this.#updated(ack.session);
      } else if (kind === "share") {
        // Asked again on a new page (cobrowse_resume_across_pages off).
        if (yes) {
          this.pageShared = true;
          this.#sync();
        } else {
          await this.stop();
        }
      } else if (kind === "control") {
        const ack = await this.session.call("cobrowse:control", { session_id: session.id, grant: yes });
        this.#updated(ack.session);
      }
    } catch {
      this.#hideDialog(); // the session changed meanwhile; cobrowse:updated tells what it is now
    }
  }

  /** End sharing at once (the bar's button). */
  async stop() {
    const session = this.current;
    if (!session) return;
    this.#stopRecording();
    try {
      const ack = await this.session.call("cobrowse:stop", { session_id: session.id });
      this.#updated(ack.session);
    } catch {
      this.current = null;
      this.#sync();
    }
  }

  async #revokeControl() {
    const session = this.current;
    if (!session) return;
    try {
      const ack = await this.session.call("cobrowse:control", { session_id: session.id, grant: false });
      this.#updated(ack.session);
    } catch {
      // cobrowse:updated tells the state
    }
  }

  #showEnded(text) {
    this.#stopRecording();
    this.bar.hidden = false;
    this.bar.classList.remove("paused");
    this.bar.classList.add("ended");
    setText(this.barText, text);
    this.controlButton.hidden = true;
    this.stopButton.hidden = true;
    clearTimeout(this.endedTimer);
    this.endedTimer = setTimeout(() => {
      this.bar.classList.remove("ended");
      if (!this.current) this.bar.hidden = true;
    }, ENDED_NOTICE_MS);
  }

  // -- recording -----------------------------------------------------------------------------

  #startRecording() {
    if (this.recorder) {
      if (this.needSnapshot) {
        this.needSnapshot = false;
        this.resyncAfter = this.recorder.snapshot();
      }
      return;
    }
    if (this.recorderLoading) return;
    this.recorderLoading = import(this.config.base + __CHATSERVER_RECORDER__).then((module) => {
      this.recorderLoading = null;
      if (!this.current || this.current.status !== "active" || document.visibilityState !== "visible") return;
      this.needSnapshot = false;
      this.generation += 1;
      this.resyncAfter = 0;
      this.resyncs = 0;
      this.recorder = module.startRecorder({ send: (batch) => this.#send(batch), partBytes: this.partBytes });
    }, () => {
      this.recorderLoading = null;
    });
  }

  #stopRecording() {
    this.recorder?.stop();
    this.recorder = null;
    this.generation += 1;
  }

  /** The server's largest part of a batch (cobrowse_max_part_bytes); later batches are split by it. */
  #setPartBytes(value) {
    if (!Number.isInteger(value) || value <= 0) return;
    this.partBytes = value;
    this.recorder?.setPartBytes(value);
  }

  #send({ seq, snapshot, parts, t }) {
    const socket = this.session.socket;
    const session = this.current;
    if (!session || !socket?.connected) {
      this.needSnapshot = true;
      return;
    }
    const generation = this.generation;
    parts.forEach((data, part) => {
      const last = part === parts.length - 1;
      socket.emit("cobrowse:events", { session_id: session.id, seq, snapshot, part, parts: parts.length, t, data },
        (ack) => {
          if (generation === this.generation && session.id === this.current?.id) this.#sent(seq, snapshot && last, ack);
        });
    });
  }

  /**
   * A part's ack. A refused batch is not lost: the page is sent again, whole, as a fresh snapshot
   * (split by the limit the refusal states, if that was the reason), unless the refusal paused or
   * ended the session, which cobrowse:updated shows on both sides.
   */
  #sent(seq, lastPartOfSnapshot, ack) {
    if (!ack?.error) {
      if (lastPartOfSnapshot && seq > this.resyncAfter) this.resyncs = 0;
      return;
    }
    if (!this.recorder || seq <= this.resyncAfter) return; // a fresh snapshot already replaces it
    const { code, details } = ack.error;
    if (code === "payload_too_large" && Number.isInteger(details?.max_part_bytes)) {
      this.#setPartBytes(details.max_part_bytes);
    } else if (SESSION_CHANGED.has(code)) {
      return;
    }
    if (this.resyncs >= MAX_RESYNCS) return; // until the server asks for one
    this.resyncs += 1;
    this.resyncAfter = this.recorder.snapshot();
  }

  // -- the agent's pointer and actions -------------------------------------------------------

  #showPointer({ session_id: id, x, y, click }) {
    if (id !== this.current?.id || this.current.status !== "active") return;
    this.#position({ "--cb-pointer-x": `${x}px`, "--cb-pointer-y": `${y}px` });
    this.pointer.hidden = false;
    this.pointer.classList.toggle("click", Boolean(click));
    clearTimeout(this.pointerTimer);
    this.pointerTimer = setTimeout(() => {
      this.pointer.hidden = true;
    }, POINTER_HIDE_MS);
  }

  #scrollTo(nodeId) {
    const element = this.recorder?.element(nodeId);
    if (!element || !element.isConnected) return;
    element.scrollIntoView({ block: "center", inline: "nearest" });
    const rect = element.getBoundingClientRect();
    this.#position({ "--cb-highlight-x": `${rect.left - 4}px`, "--cb-highlight-y": `${rect.top - 4}px`,
      "--cb-highlight-w": `${rect.width + 8}px`, "--cb-highlight-h": `${rect.height + 8}px` });
    this.highlight.hidden = false;
    clearTimeout(this.highlightTimer);
    this.highlightTimer = setTimeout(() => {
      this.highlight.hidden = true;
    }, HIGHLIGHT_MS);
  }

  /**
   * Positions go in custom properties on the widget's host element, never in the style of an
   * element inside it: the recorder skips the (blocked) host, but would diff a changing style
   * attribute in the shadow root through a scratch element that a shop's strict CSP refuses.
   */
  #position(properties) {
    for (const [name, value] of Object.entries(properties)) this.root.host.style.setProperty(name, value);
  }

  #act(action) {
    const session = this.current;
    if (!session || action.session_id !== session.id) return;
    let result;
    if (session.control !== "granted" || !this.recorder) {
      result = { ok: false, reason: "control_not_granted" };
    } else {
      result = this.recorder.act(action);
    }
    const payload = { session_id: session.id, action_id: action.action_id, ok: result.ok };
    if (result.reason) payload.reason = result.reason;
    this.session.socket?.emit("cobrowse:action_result", payload);
  }
}

/** The share consent: what the agent will see on this page (the fields the shop unmasked, by label). */
export function shareText(name, unmasked) {
  if (!unmasked.length) return t("cobrowse.shareText", { agent: name });
  return t("cobrowse.shareTextFields", { agent: name, fields: unmasked.join(", ") });
}
