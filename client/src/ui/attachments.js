// Files in the chat, for the widget and the agent console alike (docs/protocol.md, "Attachments"):
// sending one over HTTP with progress and cancel (never through a Socket.IO message), the words
// for a refusal, and the short-lived links a file is shown through (asked for when a file is
// shown, and again once they have expired). Plain functions and small classes without the DOM,
// unit-tested in client/test/attachments.test.js; the DOM side is ./attach-view.js.

import { t, translator } from "../i18n.js";

/** What the server stores (it decides on the content, this only guides the file picker). */
export const ACCEPTED_TYPES = "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain,.txt,.pdf";
// The longest file name the server takes (file_checks.MAX_NAME_CHARS).
const MAX_NAME_CHARS = 200;
// A link is asked for again when it has less than this left (seconds): time to open it.
const LINK_MARGIN_S = 15;

/** "512 bytes", "182 KB", "2.4 MB" (1 KB = 1,024 bytes), numbers as the page's language writes them. */
export function sizeText(bytes) {
  const n = Number(bytes);
  if (!Number.isFinite(n) || n < 0) return "";
  if (n < 1024) return t("file.bytes", { count: n });
  const [value, unit] = n < 1024 * 1024 ? [n / 1024, "kb"] : n < 1024 ** 3 ? [n / 1024 ** 2, "mb"] : [n / 1024 ** 3, "gb"];
  const shown = value < 10 ? Math.round(value * 10) / 10 : Math.round(value);
  return t(`file.${unit}`, { size: shown });
}

/** "invoice.pdf · 182 KB": a file message's link text. */
export function fileLabel(meta, body = "") {
  const name = meta?.name || body || t("file.defaultName");
  const size = sizeText(meta?.size);
  return size ? t("file.label", { name, size }) : name;
}

/** Whether a file message is an image the server shows (re-encoded) as a thumbnail. */
export function isImage(meta) {
  return /^image\/(png|jpeg|gif|webp)$/.test(meta?.content_type ?? "");
}

/** Why a file is not sent at all, before any byte goes out; null when it may go. ``limit``: the
 * server's attachment_max_bytes when it is known. */
export function uploadProblem(file, limit) {
  if (!file.size) return t("file.empty", { name: file.name });
  if (limit && file.size > limit) {
    const [size, most] = [sizeText(file.size), sizeText(limit)];
    return size !== most ? t("file.tooLarge", { name: file.name, size, limit: most })
      : t("file.tooLargeNoSize", { name: file.name, limit: most });
  }
  return null;
}

/** A refusal of an upload, with the server's structured code (or "network", "cancelled"). */
export class UploadError extends Error {
  constructor(status, code, message, details) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** What to tell the person who sent the file, for an UploadError. */
export function uploadErrorText(error, name) {
  const reason = uploadReason(error);
  if (!name) return reason[0].toLocaleUpperCase(translator()?.locale) + reason.slice(1);
  return t("file.notSent", { name, reason });
}

function uploadReason(error) {
  switch (error.code) {
    case "file_too_large": {
      const limit = Number(error.details?.limit);
      return limit > 0 ? t("file.reason.tooLarge", { limit: sizeText(limit) }) : t("file.reason.tooLargeNoLimit");
    }
    case "file_type_not_allowed": {
      const content = error.details?.content;
      if (KINDS.includes(content)) return t("file.reason.mismatch", { content: t(`file.kind.${content}`) });
      return t("file.reason.type", { allowed: allowedText(error.details?.allowed) }).trim();
    }
    case "network":
      return t("file.reason.network");
    case "conversation_closed":
      return t("file.reason.closed");
    case "rate_limited":
      return t("file.reason.rate");
    case "busy":
      return t("file.reason.busy");
    case "not_found":
    case "forbidden":
      return t("file.reason.notFound");
    case "token_expired":
    case "invalid_token":
    case "auth_required":
      return t("file.reason.expired");
    default:
      return error.message ? `${error.message.replace(/\.$/, "")}.` : t("file.reason.other");
  }
}

const KINDS = ["png", "jpeg", "gif", "webp", "pdf", "text"];
const IMAGE_KINDS = { png: "PNG", jpeg: "JPEG", gif: "GIF", webp: "WebP" };

/** "Images (PNG, JPEG, GIF, WebP), PDF and text files can.", for the kinds the server allows (a
 * 415's details.allowed: png, jpeg, gif, webp, pdf, text); all of them when it does not say. */
export function allowedText(allowed) {
  const kinds = Array.isArray(allowed) && allowed.length ? allowed : KINDS;
  const images = Object.keys(IMAGE_KINDS).filter((kind) => kinds.includes(kind)).map((kind) => IMAGE_KINDS[kind]);
  const parts = [];
  if (images.length) parts.push(t("file.allowed.images", { kinds: images.join(", ") }));
  if (kinds.includes("pdf")) parts.push(t("file.allowed.pdf"));
  if (kinds.includes("text")) parts.push(t("file.allowed.text"));
  if (!parts.length) return "";
  const listed = translator() ? translator().list(parts) : parts.join(", ");
  const sentence = t("file.allowed.sentence", { kinds: listed });
  return sentence[0].toLocaleUpperCase(translator()?.locale) + sentence.slice(1);
}

/**
 * The upload address: POST {base}api/conversations/{id}/attachments?name=…&client_msg_id=…
 * (``base`` ends in "/").
 */
export function uploadUrl(base, conversationId, name, clientMsgId) {
  const query = new URLSearchParams({ name, client_msg_id: clientMsgId });
  return `${base}api/conversations/${encodeURIComponent(conversationId)}/attachments?${query}`;
}

/**
 * Send ``body`` (a File or Blob) with XMLHttpRequest, which reports upload progress (fetch does
 * not). Returns {done, cancel}: ``done`` resolves with the server's answer ({message, duplicate})
 * and rejects with an UploadError ("cancelled" after cancel(), "network" when no answer came);
 * onProgress(fraction) is called as the bytes go out.
 */
export function upload({ url, token, body, onProgress = () => {}, XHR = globalThis.XMLHttpRequest }) {
  const xhr = new XHR();
  let cancelled = false;
  const done = new Promise((resolve, reject) => {
    xhr.open("POST", url);
    xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.responseType = "text";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(Math.min(1, event.loaded / event.total));
    });
    xhr.addEventListener("load", () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText || "null");
      } catch {
        data = null;
      }
      if ((xhr.status === 200 || xhr.status === 201) && data?.message) {
        onProgress(1);
        resolve(data);
        return;
      }
      const error = data?.error ?? {};
      const code = error.code || (xhr.status === 413 ? "file_too_large" : xhr.status === 415
        ? "file_type_not_allowed" : "http_error");
      reject(new UploadError(xhr.status, code, error.message || `HTTP ${xhr.status}`, error.details));
    });
    xhr.addEventListener("error", () => reject(new UploadError(0, "network", "the connection failed")));
    xhr.addEventListener("abort", () => reject(new UploadError(0, "cancelled", "cancelled")));
    xhr.send(body);
  });
  return {
    done,
    cancel() {
      if (cancelled) return;
      cancelled = true;
      xhr.abort();
    },
  };
}

/**
 * The links files are fetched through (``attachment:link``): each kept until shortly before it
 * expires, then asked for again; one request at a time per file. ``call(event, payload)`` emits
 * with an acknowledgement (rejecting on an error ack); ``now()`` is the time in epoch seconds.
 */
export class AttachmentLinks {
  constructor({ call, now = () => Date.now() / 1000, margin = LINK_MARGIN_S }) {
    this.call = call;
    this.now = now;
    this.margin = margin;
    this.links = new Map(); // attachment id -> {url, thumbnail_url, expires_at}
    this.asking = new Map(); // attachment id -> Promise of a link
  }

  /** The link if it is still good for a while, else null (without asking). */
  current(attachmentId) {
    const link = this.links.get(attachmentId);
    return link && link.expires_at - this.margin > this.now() ? link : null;
  }

  /** A link good for at least the margin: the one held, or a new one; ``fresh`` always asks. */
  async get(conversationId, attachmentId, { fresh = false } = {}) {
    if (!fresh) {
      const held = this.current(attachmentId);
      if (held) return held;
    }
    let asking = this.asking.get(attachmentId);
    if (!asking) {
      asking = this.call("attachment:link", { conversation_id: conversationId, attachment_id: attachmentId })
        .then((reply) => {
          const link = { url: reply.url, thumbnail_url: reply.thumbnail_url ?? null, expires_at: Number(reply.expires_at) };
          this.links.set(attachmentId, link);
          return link;
        })
        .finally(() => this.asking.delete(attachmentId));
      this.asking.set(attachmentId, asking);
    }
    return asking;
  }
}

/** A link the server gave (relative to its base URL, which ends in "/") as an absolute URL; null
 * for anything but http(s). */
export function resolveUrl(url, base) {
  if (typeof url !== "string" || !url) return null;
  try {
    const resolved = new URL(url.startsWith("/") ? url.slice(1) : url, base);
    return resolved.protocol === "http:" || resolved.protocol === "https:" ? resolved.href : null;
  } catch {
    return null;
  }
}

/** The files a drop or a paste carries (a DataTransfer), or none. A paste that also carries text
 * (a copied table, say) is left to be pasted as text. */
export function transferredFiles(transfer, { paste = false } = {}) {
  if (!transfer) return [];
  const files = [...(transfer.files ?? [])];
  if (paste && files.length && [...(transfer.types ?? [])].includes("text/plain")) return [];
  return files;
}

/** A file's name as the server takes it (at most ``max`` characters): a longer one is cut in its
 * middle part, keeping its extension, which must say what the file holds. */
export function fittedName(name, max = MAX_NAME_CHARS) {
  const points = [...name.trim()];
  if (points.length <= max) return points.join("");
  const dot = points.lastIndexOf(".");
  const extension = dot > 0 && points.length - dot <= 16 ? points.slice(dot) : [];
  return [...points.slice(0, max - extension.length - 1), "…", ...extension].join("");
}

/** A name for a pasted image that has none worth keeping ("image.png" from a screenshot). */
export function pastedName(file, date = new Date()) {
  const ext = { "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp" }[file.type];
  if (!ext || (file.name && file.name !== `image.${ext}`)) return file.name || "file";
  const pad = (n) => String(n).padStart(2, "0");
  return `screenshot-${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}-` +
    `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}.${ext}`;
}
