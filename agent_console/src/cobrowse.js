// The agent's side of co-browsing (docs/cobrowse.md): ask the shopper to share, watch their page
// live with rrweb's replayer, point at it, scroll it to an element and, once the shopper allows
// it, click and type on it. The replayer rebuilds the shopper's page inside an iframe sandboxed
// with allow-same-origin only (never allow-scripts, CVE-2025-45806), under the console's CSP:
// nothing from the shopper's page runs here.

import { FILL_ATTRIBUTE } from "../../client/src/cobrowse/privacy.js";
import { t as tr } from "../../client/src/i18n.js";
import { h, setText } from "../../client/src/ui/dom.js";

const PING_MS = 2000;
const EVENT_META = 4; // rrweb's EventType.Meta: the shopper's page address and size
const POINTER_MS = 50; // pointer moves sent at most this often
const ACTION_MESSAGE_MS = 5000;
// Fields the page refuses any action on, clicks included (actionRefusal in privacy.js).
const UNTOUCHABLE = new Set(["sensitive_field", "blocked"]);
// Text for the session's reason codes (docs/protocol.md).
const REASONS = new Set(["declined_by_visitor", "no_answer", "stopped_by_visitor", "stopped_by_agent",
  "chat_ended", "agent_changed", "visitor_left", "rate_limited", "page_too_large"]);
const ACTION_REASONS = new Set(["sensitive_field", "masked_field", "blocked", "not_a_field", "no_such_element",
  "control_not_granted"]);

/** What the session's status line says when it is neither requested nor active. */
function reasonText(session) {
  return REASONS.has(session.reason) ? tr(`cobrowse.reason.${session.reason}`)
    : tr("cobrowse.session", { status: session.status });
}

/**
 * A replayer plugin: the rebuilt page gets a <base> of the shopper's page address (from rrweb's
 * Meta event), so that its relative URLs are the shop's, not the console's (the replay frame's
 * document has the console's address). rrweb makes the snapshot's attribute URLs absolute, but
 * keeps as the page wrote them the CSS rules and style changes a script of the page makes. What
 * the frame may then fetch is the console's Content-Security-Policy's to say (docs/cobrowse.md).
 */
function shopperPageBase() {
  let href = null;
  return {
    handler(event) {
      if (event.type === EVENT_META && /^https?:\/\//i.test(event.data?.href ?? "")) href = event.data.href;
    },
    onBuild(node, { replayer }) {
      // The page's head, built (with its children) but not yet in the frame's document.
      if (node.nodeName !== "HEAD" || !href || node.ownerDocument !== replayer.iframe.contentDocument) return;
      if (node.querySelector("base[href]")) return; // the page's own, made absolute by rrweb
      const base = node.ownerDocument.createElement("base");
      base.href = href;
      node.prepend(base);
    },
  };
}

export class CobrowseView {
  /**
   * @param {object} options
   * @param {Function} options.call (event, payload) => Promise of the ack
   * @param {Function} options.socket () => the current socket.io socket
   * @param {Function} options.onChange (session | null) => void, whenever the view's state changes
   */
  constructor({ call, socket, onChange }) {
    this.call = call;
    this.socket = socket;
    this.onChange = onChange;
    this.session = null;
    this.conversationId = null;
    this.joined = false;
    this.replayer = null;
    this.modules = null;
    this.parts = [];
    this.partsSeq = null; // the batch whose parts are in this.parts
    this.queue = Promise.resolve();
    this.scale = 1;
    this.offset = { x: 0, y: 0 }; // where the scaled page starts in the stage (it is centred)
    this.viewport = { width: 1280, height: 800 };
    this.mode = "point";
    this.lastPointer = 0;
    this.pingTimer = null;
    this.pendingInput = null;
    this.actionCounter = 0;
    this.clock = 0;
    this.#build();
  }

  #build() {
    this.panel = document.getElementById("cobrowse");
    this.title = document.getElementById("cobrowse-title");
    this.status = document.getElementById("cobrowse-status");
    this.lag = document.getElementById("cobrowse-lag");
    this.stage = document.getElementById("cobrowse-stage");
    this.screen = h("div", { class: "cobrowse-screen" });
    this.overlay = h("div", { class: "cobrowse-overlay", "aria-hidden": "true" });
    this.inputForm = h("form", { class: "cobrowse-input", hidden: true });
    this.inputField = h("input", { type: "text", maxlength: 1000, "aria-label": tr("cobrowse.typeText") });
    this.inputForm.append(this.inputField, h("button", { type: "submit" }, tr("cobrowse.fillIn")),
      h("button", { type: "button", onclick: () => this.#hideInput() }, tr("cobrowse.cancel")));
    this.stage.append(this.screen, this.overlay, this.inputForm);
    this.message = document.getElementById("cobrowse-message");
    this.controlButton = document.getElementById("cobrowse-control");
    this.resumeButton = document.getElementById("cobrowse-resume");
    this.stopButton = document.getElementById("cobrowse-stop");
    this.closeButton = document.getElementById("cobrowse-close");
    this.controlMode = document.getElementById("cobrowse-mode-control");
    for (const radio of document.querySelectorAll("input[name=cobrowse-mode]")) {
      radio.addEventListener("change", () => {
        this.mode = radio.value;
        this.#hideInput();
      });
    }
    this.controlButton.addEventListener("click", () => this.#requestControl());
    this.resumeButton.addEventListener("click", () => this.#act("cobrowse:resume"));
    this.stopButton.addEventListener("click", () => this.#act("cobrowse:stop"));
    this.closeButton.addEventListener("click", () => this.close());
    this.overlay.addEventListener("mousemove", (event) => this.#pointerMoved(event));
    this.overlay.addEventListener("click", (event) => this.#clicked(event));
    this.inputForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#sendInput();
    });
    new ResizeObserver(() => this.#fit()).observe(this.stage);
  }

  /** Listen on a (new) socket; after a reconnect the view joins again and gets the current page. */
  listen(socket) {
    socket.on("cobrowse:updated", ({ session }) => this.#updated(session));
    socket.on("cobrowse:events", (batch) => this.#batch(batch));
    socket.on("cobrowse:action_result", (result) => this.#actionResult(result));
    socket.on("cobrowse:pong", ({ session_id: id, t }) => {
      if (id === this.session?.id) setText(this.lag, tr("cobrowse.lag", { ms: Math.round(performance.now() - t) }));
    });
    socket.on("connect", () => {
      if (this.session && this.joined) {
        this.joined = false;
        this.#join();
      }
    });
  }

  get open() {
    return !this.panel.hidden;
  }

  /** Ask the customer of this conversation to share their screen, and open the view. */
  async start(conversationId, customerName) {
    this.#reset();
    this.conversationId = conversationId;
    setText(this.title, tr("cobrowse.with", { name: customerName }));
    this.panel.hidden = false;
    this.#showMessage(tr("cobrowse.asking"));
    try {
      const ack = await this.call("cobrowse:request", { conversation_id: conversationId });
      this.#updated(ack.session);
    } catch (error) {
      this.#showMessage(error.message || tr("cobrowse.notPossible"));
    }
  }

  /** Close the view (the session goes on unless stopped; reopening joins it again). */
  close() {
    if (this.session && this.joined) this.call("cobrowse:leave", { session_id: this.session.id }).catch(() => {});
    this.#reset();
    this.panel.hidden = true;
    this.onChange(null);
  }

  /** The conversation this view is for ended or left the agent: close what shows it. */
  conversationGone(conversationId) {
    if (this.conversationId === conversationId && this.open) this.close();
  }

  #reset() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.replayer?.destroy();
    this.replayer = null;
    this.session = null;
    this.joined = false;
    this.parts = [];
    this.screen.replaceChildren();
    this.#hideInput();
    setText(this.lag, "");
  }

  #updated(session) {
    if (!session || (this.conversationId && session.conversation_id !== this.conversationId)) return;
    if (this.session && session.id !== this.session.id && session.status === "requested") this.#reset();
    this.session = session;
    this.panel.dataset.status = session.status;
    const control = session.control;
    let text;
    if (session.status === "requested") text = tr("cobrowse.waitingAccept");
    else if (session.status === "active") {
      text = tr(control === "granted" ? "cobrowse.liveControl"
        : control === "requested" ? "cobrowse.liveWaiting" : "cobrowse.live");
    } else text = reasonText(session);
    setText(this.status, text);
    this.controlButton.hidden = session.status !== "active" || control === "granted" || control === "requested";
    setText(this.controlButton, tr(control === "declined" || control === "revoked" ? "cobrowse.askAgain"
      : "cobrowse.askControl"));
    this.controlMode.disabled = control !== "granted";
    if (control !== "granted" && this.mode === "control") {
      document.querySelector("input[name=cobrowse-mode][value=point]").checked = true;
      this.mode = "point";
    }
    this.resumeButton.hidden = session.status !== "paused";
    this.stopButton.hidden = !["requested", "active", "paused"].includes(session.status);
    if (session.status === "active" || session.status === "paused") {
      this.#hideMessage();
      if (!this.joined) this.#join();
    } else if (session.status === "requested") {
      this.#showMessage(tr("cobrowse.customerSees"));
    } else {
      clearInterval(this.pingTimer);
      this.pingTimer = null;
      this.joined = false;
      this.#showMessage(REASONS.has(session.reason) ? tr(`cobrowse.reason.${session.reason}`)
        : tr("cobrowse.ended"));
    }
    this.onChange(session);
  }

  async #join() {
    const session = this.session;
    if (!session) return;
    this.joined = true;
    this.parts = [];
    try {
      await this.call("cobrowse:join", { session_id: session.id });
    } catch (error) {
      this.joined = false;
      this.#showMessage(error.message || tr("cobrowse.cannotJoin"));
      return;
    }
    if (!this.replayer) this.#showMessage(tr("cobrowse.loading"));
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.#ping(), PING_MS);
    this.#ping();
  }

  #ping() {
    const socket = this.socket();
    if (this.session?.status === "active" && socket?.connected) {
      socket.emit("cobrowse:ping", { session_id: this.session.id, t: performance.now() });
    }
  }

  async #act(event) {
    if (!this.session) return;
    try {
      const ack = await this.call(event, { session_id: this.session.id });
      this.#updated(ack.session);
    } catch (error) {
      this.#showMessage(error.message);
    }
  }

  async #requestControl() {
    await this.#act("cobrowse:control_request");
  }

  // -- the shopper's page --------------------------------------------------------------------

  #batch(batch) {
    if (batch.session_id !== this.session?.id) return;
    // A batch starts at its part 0: the parts of one the page gave up on (refused on the way, and
    // sent again as a fresh snapshot) are dropped.
    if (batch.part === 0) {
      this.parts = [];
      this.partsSeq = batch.seq;
    } else if (batch.seq !== this.partsSeq || this.parts.length !== batch.part) {
      this.parts = [];
      this.partsSeq = null;
      return;
    }
    this.parts.push(new Uint8Array(batch.data));
    if (batch.part < batch.parts - 1) return;
    const parts = this.parts;
    this.parts = [];
    // One batch at a time, in arrival order (the replayer chunk may still be loading).
    this.queue = this.queue.then(() => this.#play(parts, batch.snapshot)).catch(() => {});
  }

  async #play(parts, snapshot) {
    this.modules ??= await import("./replay.js");
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const part of parts) {
      bytes.set(part, offset);
      offset += part.length;
    }
    const events = this.modules.decode(bytes);
    if (!Array.isArray(events) || !events.length) return;
    if (!this.replayer) {
      if (!snapshot) return; // wait for a full snapshot to build the page from
      this.replayer = new this.modules.Replayer([], {
        root: this.screen, liveMode: true, mouseTail: false, UNSAFE_replayCanvas: false, showWarning: false,
        triggerFocus: false, pauseAnimation: true, plugins: [shopperPageBase()],
      });
      // The shopper's page in its frame is named by the view's heading (axe: frame-title).
      this.replayer.iframe.setAttribute("aria-labelledby", "cobrowse-title");
      this.replayer.on("resize", (size) => {
        this.viewport = { width: size.width, height: size.height };
        this.#fit();
      });
      this.clock = Date.now();
      this.replayer.startLive(this.clock - 1);
      this.#hideMessage();
    }
    // Events are shown as they arrive, in order: each is stamped with the console's own time
    // (strictly increasing), whatever the shopper's clock says and however old a replayed batch
    // is. (rrweb plays an event stamped before the live baseline into a virtual DOM that live
    // mode never flushes, and one stamped ahead of the console's clock only that much later.)
    const now = Date.now();
    for (const event of events) {
      this.clock = Math.max(this.clock + 1, now);
      event.timestamp = this.clock;
      this.replayer.addEvent(event);
    }
  }

  /**
   * Draw the shopper's whole viewport as large as the stage allows, keeping its aspect ratio
   * (larger than life when the stage is larger than their screen), centred; again whenever the
   * stage or the shopper's viewport changes size.
   */
  #fit() {
    const wrapper = this.screen.querySelector(".replayer-wrapper");
    if (!wrapper) return;
    const { width, height } = this.viewport;
    const box = this.stage.getBoundingClientRect();
    if (!(width > 0 && height > 0 && box.width > 0 && box.height > 0)) return; // hidden, or no page yet
    this.scale = Math.min(box.width / width, box.height / height);
    this.offset = { x: (box.width - width * this.scale) / 2, y: (box.height - height * this.scale) / 2 };
    wrapper.style.transform = `scale(${this.scale})`;
    wrapper.style.transformOrigin = "0 0";
    const at = { left: `${this.offset.x}px`, top: `${this.offset.y}px` };
    Object.assign(this.screen.style, at);
    Object.assign(this.overlay.style, at, { width: `${width * this.scale}px`, height: `${height * this.scale}px` });
  }

  // -- pointing and acting -------------------------------------------------------------------

  /** The point on the customer's viewport under the agent's mouse. */
  #point(event) {
    const rect = this.overlay.getBoundingClientRect();
    return { x: Math.round((event.clientX - rect.left) / this.scale), y: Math.round((event.clientY - rect.top) / this.scale) };
  }

  /** The replayed element at a point, and its rrweb node id (the same on the customer's page). */
  #elementAt({ x, y }) {
    const doc = this.replayer?.iframe?.contentDocument;
    const element = doc?.elementFromPoint(x, y);
    if (!element) return null;
    const id = this.replayer.getMirror().getId(element);
    return id > 0 ? { element, id } : null;
  }

  #pointerMoved(event) {
    if (this.session?.status !== "active" || this.mode !== "point") return;
    const now = performance.now();
    if (now - this.lastPointer < POINTER_MS) return;
    this.lastPointer = now;
    const socket = this.socket();
    if (socket?.connected) socket.emit("cobrowse:pointer", { session_id: this.session.id, ...this.#point(event) });
  }

  #clicked(event) {
    if (this.session?.status !== "active") return;
    const point = this.#point(event);
    if (this.mode === "point") {
      this.socket()?.emit("cobrowse:pointer", { session_id: this.session.id, ...point, click: true });
      return;
    }
    const target = this.#elementAt(point);
    if (!target) return;
    if (this.mode === "scroll") {
      this.call("cobrowse:scroll_to", { session_id: this.session.id, node_id: target.id })
        .catch((error) => this.#showMessage(error.message));
      return;
    }
    const tag = target.element.tagName.toLowerCase();
    const type = (target.element.getAttribute("type") || "text").toLowerCase();
    const typed = (tag === "input" && !["checkbox", "radio", "submit", "button", "reset", "image"].includes(type))
      || tag === "textarea" || tag === "select";
    // What the shopper's page said of this field when it sent it (absent from an older widget:
    // then the page's answer to the action says it).
    const mark = ["input", "textarea", "select"].includes(tag) ? target.element.getAttribute(FILL_ATTRIBUTE) : null;
    this.#hideInput();
    if (UNTOUCHABLE.has(mark) || (typed && mark && mark !== "allowed")) {
      this.#refused(mark);
    } else if (typed) {
      this.#showInput(target, point);
    } else {
      this.#sendAction({ kind: "click", node_id: target.id });
    }
  }

  #showInput(target, point) {
    this.pendingInput = target.id;
    this.inputField.value = "";
    Object.assign(this.inputForm.style, { left: `${this.offset.x + point.x * this.scale}px`,
      top: `${this.offset.y + point.y * this.scale + 8}px` });
    this.inputForm.hidden = false;
    this.inputField.focus();
  }

  #hideInput() {
    this.inputForm.hidden = true;
    this.pendingInput = null;
  }

  #sendInput() {
    if (this.pendingInput === null) return;
    this.#sendAction({ kind: "input", node_id: this.pendingInput, value: this.inputField.value });
    this.#hideInput();
  }

  async #sendAction(action) {
    this.actionCounter += 1;
    try {
      await this.call("cobrowse:action", { session_id: this.session.id, action_id: `a${this.actionCounter}`,
        ...action });
    } catch (error) {
      this.#showMessage(error.message);
    }
  }

  #actionResult(result) {
    if (result.session_id !== this.session?.id || result.ok) return;
    this.#refused(result.reason);
  }

  #refused(reason) {
    this.#showMessage(tr(ACTION_REASONS.has(reason) ? `cobrowse.action.${reason}` : "cobrowse.action.other"),
      ACTION_MESSAGE_MS);
  }

  #showMessage(text, hideAfter = 0) {
    setText(this.message, text);
    this.message.hidden = false;
    clearTimeout(this.messageTimer);
    if (hideAfter) this.messageTimer = setTimeout(() => this.#hideMessage(), hideAfter);
  }

  #hideMessage() {
    this.message.hidden = true;
  }
}
