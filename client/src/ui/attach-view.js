// The DOM side of files in the chat, shared by the widget and the agent console: the attach
// button with its file input, dropping files on the chat and pasting a screenshot into the
// composer, each upload's progress with Cancel; and a file message as a thumbnail or a named link.
// Names and sizes are put in as text, never as HTML.

import { t } from "../i18n.js";
import { h, setText } from "./dom.js";
import {
  ACCEPTED_TYPES, fileLabel, fittedName, isImage, pastedName, resolveUrl, sizeText, transferredFiles, uploadErrorText, uploadProblem,
} from "./attachments.js";

const SVG = "http://www.w3.org/2000/svg";

/** An outline icon (fixed markup, no data in it): a paperclip, or a document. */
function icon(d, className) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", className);
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "2");
  path.setAttribute("stroke-linecap", "round");
  path.setAttribute("stroke-linejoin", "round");
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}
const PAPERCLIP = "M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9";
const DOCUMENT = "M14 3H6a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V9zM14 3v6h6M8 13h8M8 17h6";

/**
 * The ways to send a file from a composer. ``send(file, name, onProgress)`` starts an upload and
 * returns {done, cancel} (see attachments.js upload()); it may throw when nothing can be sent now.
 * ``canAttach()`` says whether files may be sent now; ``limit()`` the server's size limit in bytes
 * when known; ``onProblem(text)`` shows why a file was refused (the typed text is never touched);
 * ``onSent(message)`` gets the stored file message.
 */
export class AttachControls {
  constructor({ dropTarget, pasteTarget, canAttach, limit = () => null, send, onProblem, onSent = () => {},
    destination = () => "" }) {
    this.canAttach = canAttach;
    this.limit = limit;
    this.send = send;
    this.onProblem = onProblem;
    this.onSent = onSent;
    this.destination = destination;
    this.pasteTarget = pasteTarget;
    // Hidden behind the button (which opens it), yet labelled like every field.
    this.input = h("input", { type: "file", multiple: true, accept: ACCEPTED_TYPES, hidden: true, tabindex: "-1",
      class: "attach-input", "aria-label": t("file.input"), onchange: () => {
        this.add([...this.input.files]);
        this.input.value = ""; // the same file can be chosen again
      } });
    this.button = h("button", { type: "button", class: "attach-button", "aria-label": t("file.attach"),
      title: t("file.attachHint"), onclick: () => {
        if (this.canAttach()) this.input.click();
      } }, icon(PAPERCLIP, "attach-icon"));
    this.list = h("ul", { class: "uploads", "aria-label": t("file.uploads"), hidden: true });
    this.#listenForDrops(dropTarget);
    pasteTarget.addEventListener("paste", (event) => {
      const files = transferredFiles(event.clipboardData, { paste: true });
      if (!files.length || !this.canAttach()) return;
      event.preventDefault();
      this.add(files.map((file) => {
        const name = pastedName(file);
        return name === file.name ? file : new File([file], name, { type: file.type, lastModified: file.lastModified });
      }));
    });
  }

  /** Enable or disable the button (the chat ended, or none is open). */
  setEnabled(enabled) {
    this.button.disabled = !enabled;
  }

  #listenForDrops(target) {
    const carriesFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes("Files");
    let depth = 0;
    const leave = () => {
      depth = 0;
      target.classList.remove("dropping");
    };
    target.addEventListener("dragenter", (event) => {
      if (!carriesFiles(event) || !this.canAttach()) return;
      event.preventDefault();
      depth += 1;
      target.classList.add("dropping");
    });
    target.addEventListener("dragover", (event) => {
      if (!carriesFiles(event)) return;
      // Taken here even when no file can be sent now (the chat ended): a file dropped on the chat
      // must not make the browser leave the page to show it.
      event.preventDefault();
      event.dataTransfer.dropEffect = this.canAttach() ? "copy" : "none";
    });
    target.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) leave();
    });
    target.addEventListener("drop", (event) => {
      leave();
      const files = transferredFiles(event.dataTransfer);
      if (!files.length) return;
      // Never let the browser open a dropped file in place of the page.
      event.preventDefault();
      if (this.canAttach()) this.add(files);
    });
  }

  /** Send each file (after the checks that need no server), each with its progress row. */
  add(files) {
    for (const file of files) {
      const problem = uploadProblem(file, this.limit());
      if (problem) {
        this.onProblem(problem);
        continue;
      }
      this.#start(file);
    }
  }

  #start(file) {
    const to = this.destination();
    const text = to ? t("file.sendingTo", { name: file.name, size: sizeText(file.size), to })
      : t("file.sending", { name: file.name, size: sizeText(file.size) });
    const label = h("span", { class: "upload-name" }, text);
    const progress = h("progress", { max: 100, value: 0, "aria-label": text });
    const cancel = h("button", { type: "button", class: "upload-cancel", "aria-label": t("file.cancelSending", { name: file.name }) },
      t("file.cancel"));
    const row = h("li", { class: "upload" }, label, progress, cancel);
    let sending;
    try {
      sending = this.send(file, fittedName(file.name), (fraction) => {
        progress.value = Math.round(fraction * 100);
      });
    } catch (error) {
      this.onProblem(uploadErrorText(error, file.name));
      return;
    }
    cancel.addEventListener("click", () => sending.cancel());
    this.list.append(row);
    this.list.hidden = false;
    sending.done.then((message) => this.onSent(message), (error) => {
      if (error.code !== "cancelled") this.onProblem(uploadErrorText(error, file.name));
    }).finally(() => {
      const hadFocus = row.contains(row.getRootNode().activeElement); // the document or the widget's shadow root
      row.remove();
      this.list.hidden = this.list.children.length === 0;
      if (hadFocus) this.pasteTarget.focus();
    });
  }
}

/**
 * A file message's content: an image as a thumbnail that opens the full image in a new tab, any
 * other file as a link "invoice.pdf · 182 KB" (the server sends it as a download). The links are
 * asked for (``links``: an AttachmentLinks) when the file is shown, again when its thumbnail fails
 * to load, at every click (a middle click included), and when the pointer or the focus comes to
 * a link about to expire; ``base`` is what the server's relative URLs are relative to.
 */
export function fileView({ message, links, base }) {
  const meta = message.meta ?? {};
  const attachmentId = meta.attachment_id;
  const label = fileLabel(meta, message.body);
  const image = isImage(meta);
  const anchor = h("a", { class: image ? "file-link image" : "file-link", target: "_blank", rel: "noopener noreferrer",
    referrerpolicy: "no-referrer", "aria-label": image ? t("file.openImage", { label }) : null });
  const problem = h("span", { class: "file-problem" });
  let img = null;
  if (image) {
    const dimension = (value) => (Number(value) > 0 ? Math.round(Number(value)) : null);
    img = h("img", { alt: meta.name || message.body || t("file.image"), width: dimension(meta.width),
      height: dimension(meta.height), referrerpolicy: "no-referrer", decoding: "async" });
    anchor.append(img, h("span", { class: "file-name" }, label));
  } else {
    anchor.append(icon(DOCUMENT, "file-icon"), h("span", { class: "file-name" }, label));
  }
  const element = h("div", { class: "file" }, anchor, problem);
  if (!attachmentId) {
    setText(problem, t("file.unavailable"));
    return element;
  }

  const apply = (link) => {
    const url = resolveUrl(link.url, base);
    if (url) anchor.href = url;
    const thumbnail = resolveUrl(link.thumbnail_url ?? link.url, base);
    if (img && thumbnail && !img.getAttribute("src")) img.src = thumbnail;
    setText(problem, "");
  };
  const fetchLink = (fresh) => links.get(message.conversation_id, attachmentId, { fresh }).then(apply, (error) => {
    anchor.removeAttribute("href");
    setText(problem, error?.code === "forbidden" || error?.code === "not_found"
      ? t("file.forbidden") : t("file.cannotShow"));
    throw error;
  });
  let following = false;
  anchor.addEventListener("click", (event) => {
    if (following) return; // the click below, with a fresh link: the browser follows it
    // A link shown a while ago may have expired, and this browser's clock need not agree with the
    // server's: every click (Ctrl-, Shift- and Cmd-clicks too) asks for a new one (one
    // acknowledgement), then follows it, in a new tab as always.
    event.preventDefault();
    fetchLink(true).then(() => {
      following = true;
      try {
        anchor.click();
      } finally {
        following = false;
      }
    }, () => {});
  });
  // A middle click is no click (it is auxclick), and the browser would open the href as it
  // stands: the same, a new link first, opened in a new tab without opener or referrer (the
  // press itself lets the page open one).
  anchor.addEventListener("auxclick", (event) => {
    if (event.button !== 1) return;
    event.preventDefault();
    fetchLink(true).then(() => {
      if (anchor.href) window.open(anchor.href, "_blank", "noopener,noreferrer");
    }, () => {});
  });
  // What the browser's own menu does with the link ("Open link in new tab", "Copy link address")
  // reads the href: it is renewed when the pointer or the focus comes to the link, if it is about
  // to expire, so the menu that follows has a good one.
  const renew = () => {
    if (!links.current(attachmentId)) fetchLink(false).catch(() => {});
  };
  anchor.addEventListener("pointerenter", renew);
  anchor.addEventListener("focus", renew);
  let retried = false;
  img?.addEventListener("error", () => {
    // The thumbnail's link expired before it loaded: once more with a fresh one.
    if (retried) return;
    retried = true;
    img.removeAttribute("src");
    fetchLink(true).catch(() => {});
  });
  fetchLink(false).catch(() => {});
  return element;
}
