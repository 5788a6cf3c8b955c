// The co-browse recorder, fetched only when a shopper agrees to share the page. It captures the
// page with rrweb (full snapshot, then mutations, scrolls, resizes, inputs and mouse moves),
// masked, blocked and scrubbed by ./privacy.js before anything leaves the browser, and hands
// batches (every FLUSH_MS, msgpack-encoded, split into parts of at most the partBytes the server
// announced) to send(). It also carries out the agent's actions and finds the elements the agent
// points at, by rrweb node id.

import { encode } from "@msgpack/msgpack";
import { record } from "@rrweb/record";
import {
  actionRefusal, BLOCK_CLASS, BLOCK_SELECTOR, MASK_TEXT_CLASS, MASK_TEXT_SELECTOR, maskInput, scrubEvent,
} from "./privacy.js";

const FLUSH_MS = 50;
const EVENT_META = 4;
const EVENT_FULL_SNAPSHOT = 2;

/**
 * Start capturing the page; send({seq, snapshot, parts: [Uint8Array], t}) gets each batch, in
 * parts of at most partBytes (the server's cobrowse_max_part_bytes).
 */
export function startRecorder({ send, partBytes }) {
  return new Recorder(send, partBytes);
}

class Recorder {
  constructor(send, partBytes) {
    this.send = send;
    this.setPartBytes(partBytes);
    this.pending = [];
    this.timer = null;
    this.seq = 0;
    this.inSnapshot = false;
    this.stopRecording = record({
      emit: (event) => this.#emit(event),
      maskAllInputs: true,
      maskInputFn: maskInput,
      maskTextClass: MASK_TEXT_CLASS,
      maskTextSelector: MASK_TEXT_SELECTOR,
      blockClass: BLOCK_CLASS,
      blockSelector: BLOCK_SELECTOR,
      recordCanvas: false,
      collectFonts: false,
      inlineImages: false,
      sampling: { mousemove: 50, scroll: 100, media: 800 },
      slimDOMOptions: { script: true, comment: true, headFavicon: true, headWhitespace: true, headMetaSocial: true,
        headMetaRobots: true, headMetaHttpEquiv: true, headMetaAuthorship: true, headMetaVerification: true },
      // A fresh snapshot now and then keeps what the server holds for late joiners small.
      checkoutEveryNms: 5 * 60 * 1000,
    });
  }

  /** The largest part the server accepts (it may say so again, or differently, later). */
  setPartBytes(partBytes) {
    if (!Number.isInteger(partBytes) || partBytes <= 0) throw new RangeError("partBytes must be a positive integer");
    this.partBytes = partBytes;
  }

  #emit(event) {
    scrubEvent(event, (id) => record.mirror.getNode(id));
    if (event.type === EVENT_META) {
      this.#flush(); // a snapshot starts a batch of its own
      this.inSnapshot = true;
    }
    this.pending.push(event);
    if (event.type === EVENT_FULL_SNAPSHOT) {
      this.#flush();
      return;
    }
    if (!this.inSnapshot && this.timer === null) this.timer = setTimeout(() => this.#flush(), FLUSH_MS);
  }

  #flush() {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.pending.length) return;
    const events = this.pending;
    const snapshot = this.inSnapshot;
    this.pending = [];
    this.inSnapshot = false;
    const data = encode(events);
    const parts = [];
    for (let start = 0; start < data.length; start += this.partBytes) {
      parts.push(data.slice(start, start + this.partBytes));
    }
    this.seq += 1;
    this.send({ seq: this.seq, snapshot, parts, t: Date.now() });
  }

  /**
   * Capture the whole page again (the server asked, or batches were lost or refused); returns
   * the seq of the last batch sent before the new snapshot (which replaces everything up to it).
   */
  snapshot() {
    this.#flush();
    const before = this.seq;
    record.takeFullSnapshot(true);
    return before;
  }

  stop() {
    this.#flush();
    this.stopRecording?.();
    this.stopRecording = null;
  }

  /** The page element with this rrweb node id (from the agent's replay), if it is an element. */
  element(nodeId) {
    const node = record.mirror.getNode(nodeId);
    return node && node.nodeType === 1 ? node : null;
  }

  /** Carry out the agent's click or input; returns {ok, reason}. */
  act({ kind, node_id: nodeId, value }) {
    const element = this.element(nodeId);
    const refusal = actionRefusal(element, kind);
    if (refusal) return { ok: false, reason: refusal };
    if (kind === "click") {
      element.focus?.({ preventScroll: true });
      element.click();
      return { ok: true };
    }
    const tag = element.tagName.toLowerCase();
    if (tag === "select" && ![...element.options].some((option) => option.value === value)) {
      return { ok: false, reason: "not_a_field" };
    }
    // The prototype's setter, so frameworks that watch the value see the change.
    const prototype = tag === "textarea" ? HTMLTextAreaElement.prototype
      : tag === "select" ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(prototype, "value").set.call(element, value);
    element.dispatchEvent(new Event("input", { bubbles: true }));
    element.dispatchEvent(new Event("change", { bubbles: true }));
    return { ok: true };
  }
}
