// The agent's own picture (docs/console.md, "Your picture"): shown in the top bar, set from a file
// or removed in a dialog (PUT/DELETE /api/me/avatar). Shoppers see it beside the agent's messages;
// without one, the agent's initials. The server checks and re-encodes whatever is sent; a photo
// too large to send is scaled down here first.

import { avatarElement, avatarSource, setAvatar } from "../../client/src/ui/avatar.js";
import { t } from "../../client/src/i18n.js";
import { h, setText } from "../../client/src/ui/dom.js";
import { errorText } from "./format.js";

// The server's limit on a picture (domain/avatars.py MAX_AVATAR_BYTES).
const MAX_BYTES = 512 * 1024;
// A larger file is drawn at most this big and sent as a JPEG.
const SCALED_PX = 512;

const PROBLEMS = {
  file_type_not_allowed: "avatar.error.type",
  file_too_large: "avatar.error.large",
};

export class ProfilePicture {
  /** @param {{rest: Function}} options ``rest(method, path, body)`` as the console calls the API */
  constructor({ rest }) {
    this.rest = rest;
    this.name = "";
    this.url = null;
    this.badge = avatarElement("", null);
    this.button = h("button", { id: "avatar-button", type: "button", class: "avatar-button",
      "aria-label": t("avatar.title"), onclick: () => this.open() }, this.badge);
    this.preview = avatarElement("", null);
    this.preview.classList.add("large");
    this.input = h("input", { id: "avatar-file", type: "file", accept: "image/png,image/jpeg,image/gif,image/webp",
      onchange: () => this.#upload() });
    this.message = h("p", { class: "notice", role: "alert" });
    this.removeButton = h("button", { type: "button", onclick: () => this.#remove() }, t("avatar.remove"));
    this.dialog = h("dialog", { id: "avatar-dialog", "aria-labelledby": "avatar-heading" },
      h("form", { method: "dialog" },
        h("h2", { id: "avatar-heading" }, t("avatar.title")),
        this.preview,
        h("p", {}, t("avatar.explain")),
        h("label", { for: "avatar-file" }, t("avatar.choose")),
        this.input,
        this.message,
        h("div", { class: "buttons" }, this.removeButton, h("button", { type: "submit", class: "cancel" }, t("avatar.close")))));
    document.body.append(this.dialog);
  }

  /** After sign-in: the agent's name (for the initials) and their picture, as the server has it. */
  async start(agent) {
    this.name = agent.name;
    this.#show(null);
    try {
      this.#show((await this.rest("GET", "/api/me/avatar")).avatar_url);
    } catch {
      // The initials stay: the picture is a nicety.
    }
  }

  open() {
    setText(this.message, "");
    this.input.value = "";
    this.dialog.showModal();
  }

  #show(url) {
    this.url = url;
    const source = avatarSource(url, `${location.origin}/`);
    setAvatar(this.badge, this.name, source);
    setAvatar(this.preview, this.name, source);
    this.removeButton.disabled = !url;
  }

  async #upload() {
    const [file] = this.input.files;
    if (!file) return;
    setText(this.message, t("avatar.saving"));
    try {
      const data = file.size > MAX_BYTES ? await scaledDown(file) : new Uint8Array(await file.arrayBuffer());
      const answer = await this.rest("PUT", "/api/me/avatar", { image: base64(data) });
      this.#show(answer.avatar_url);
      setText(this.message, t("avatar.saved"));
    } catch (error) {
      setText(this.message, PROBLEMS[error.code] ? t(PROBLEMS[error.code]) : errorText(error));
    }
  }

  async #remove() {
    try {
      await this.rest("DELETE", "/api/me/avatar");
      this.#show(null);
      setText(this.message, t("avatar.removed"));
    } catch (error) {
      setText(this.message, errorText(error));
    }
  }
}

/** A picture too large to send, drawn smaller and encoded as a JPEG (its metadata left behind). */
async function scaledDown(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw Object.assign(new Error("not a picture"), { code: "file_type_not_allowed" });
  }
  const scale = Math.min(1, SCALED_PX / Math.max(bitmap.width, bitmap.height));
  const canvas = h("canvas", { width: Math.round(bitmap.width * scale), height: Math.round(bitmap.height * scale) });
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const blob = await new Promise((resolve) => { canvas.toBlob(resolve, "image/jpeg", 0.9); });
  if (!blob) throw Object.assign(new Error("not a picture"), { code: "file_type_not_allowed" });
  return new Uint8Array(await blob.arrayBuffer());
}

function base64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
