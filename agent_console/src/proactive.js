// Proactive messages in the agent console (docs/console.md "Proactive messages"), for admins: the
// rules (add, change, switch off, delete) and, beside each, how many shoppers were shown its
// message, answered it and started a chat (GET /api/reports/proactive). It builds its own top-bar
// button and dialog (main.js calls start()) and speaks only REST (/api/proactive-rules).

import { h, setText } from "../../client/src/ui/dom.js";
import { errorText } from "./format.js";
import { formatTexts, parseTexts } from "./proactive-texts.js";

const $ = (id) => document.getElementById(id);

export class ProactiveAdmin {
  /** @param {{rest: Function}} options rest: (method, path, body) => Promise, the console's REST call */
  constructor({ rest }) {
    this.rest = rest;
    this.editing = null;
    this.built = false;
  }

  /** After sign-in: the button shows for admins only. */
  start(agent) {
    if (!this.built) this.#build();
    this.built = true;
    this.button.hidden = agent.role !== "admin";
  }

  #build() {
    this.button = h("button", { id: "manage-proactive", type: "button", hidden: true,
      onclick: () => this.#open() }, "Proactive messages");
    $("manage-canned").after(this.button);
    const field = (id, label, control, hint) => [h("label", { for: id }, label), control,
      hint ? h("p", { class: "hint-text", id: `${id}-hint` }, hint) : null];
    this.fields = {
      name: h("input", { id: "proactive-name", type: "text", maxlength: 100, autocomplete: "off", required: true }),
      url_pattern: h("input", { id: "proactive-url", type: "text", maxlength: 500, autocomplete: "off",
        "aria-describedby": "proactive-url-hint" }),
      seconds: h("input", { id: "proactive-seconds", type: "number", min: 0, max: 3600, step: 1 }),
      min_cart_value: h("input", { id: "proactive-cart", type: "number", min: 0, step: "0.01" }),
      checkout_step: h("input", { id: "proactive-step", type: "text", maxlength: 32, autocomplete: "off",
        "aria-describedby": "proactive-step-hint" }),
      business_hours_only: h("input", { id: "proactive-hours", type: "checkbox" }),
      agent_available_only: h("input", { id: "proactive-agents", type: "checkbox" }),
      text: h("textarea", { id: "proactive-text", rows: 3, maxlength: 1000, required: true }),
      texts: h("textarea", { id: "proactive-texts", rows: 3, "aria-describedby": "proactive-texts-hint" }),
      enabled: h("input", { id: "proactive-enabled", type: "checkbox" }),
      position: h("input", { id: "proactive-position", type: "number", min: 0, max: 10000, step: 1 }),
    };
    const check = (control, label) => h("label", { class: "check" }, control, ` ${label}`);
    this.heading = h("h3", { id: "proactive-form-heading" });
    this.message = h("p", { class: "notice", role: "alert" });
    this.submit = h("button", { type: "submit" });
    this.cancelEdit = h("button", { type: "button", class: "secondary", onclick: () => this.#edit(null) },
      "Cancel change");
    this.form = h("form", { "aria-labelledby": "proactive-form-heading", novalidate: true,
      onsubmit: (event) => this.#save(event) },
    this.heading,
    ...field("proactive-name", "Name", this.fields.name),
    ...field("proactive-url", "Page URL pattern", this.fields.url_pattern,
      "* any characters, ? one: */checkout* matches every checkout page; * alone is every page."),
    ...field("proactive-seconds", "Seconds on the page", this.fields.seconds),
    ...field("proactive-cart", "Cart value at least (empty: any)", this.fields.min_cart_value),
    ...field("proactive-step", "Checkout step (empty: any)", this.fields.checkout_step,
      "As the page's data-checkout-step: cart, shipping, payment."),
    check(this.fields.business_hours_only, "Within business hours only"),
    check(this.fields.agent_available_only, "Only when an agent is available"),
    ...field("proactive-text", "Message", this.fields.text),
    ...field("proactive-texts", "Message in other languages", this.fields.texts,
      "One per line: de: Brauchen Sie Hilfe? Shoppers get their language's, else the message above."),
    check(this.fields.enabled, "Enabled"),
    ...field("proactive-position", "Order (lower first)", this.fields.position),
    this.message,
    h("div", { class: "buttons" }, this.submit, this.cancelEdit,
      h("button", { type: "button", class: "cancel", onclick: () => this.dialog.close() }, "Close")));
    this.list = h("tbody", {});
    this.status = h("p", { class: "notice", role: "alert" });
    this.dialog = h("dialog", { id: "proactive-dialog", "aria-labelledby": "proactive-heading" },
      h("h2", { id: "proactive-heading" }, "Proactive messages"),
      h("p", { class: "hint-text" }, "Shown once per visit beside the chat button, on pages whose widget tag has " +
        "data-proactive. Counts: shoppers shown the message, who answered it, chats it started."),
      this.status,
      h("div", { class: "settings-scroll" }, h("table", { class: "agents-table", "aria-label": "Proactive rules" },
        h("thead", {}, h("tr", {}, ...["Name", "Page", "When", "Message", "Shown", "Answered", "Chats", "Actions"]
          .map((name) => h("th", { scope: "col" }, name)))),
        this.list)),
      this.form);
    document.body.append(this.dialog);
  }

  async #open() {
    this.#edit(null);
    this.dialog.showModal();
    await this.#load();
  }

  async #load() {
    try {
      const [{ rules }, report] = await Promise.all([this.rest("GET", "/api/proactive-rules"),
        this.rest("GET", "/api/reports/proactive")]);
      const counts = new Map(report.rules.map((line) => [line.rule_id, line]));
      this.#render(rules, counts);
      setText(this.status, "");
    } catch (error) {
      setText(this.status, errorText(error));
    }
  }

  #render(rules, counts) {
    const rows = rules.map((rule) => {
      const when = [`after ${rule.seconds} s`];
      if (rule.min_cart_value != null) when.push(`cart ≥ ${rule.min_cart_value}`);
      if (rule.checkout_step) when.push(`step ${rule.checkout_step}`);
      if (rule.business_hours_only) when.push("business hours");
      if (rule.agent_available_only) when.push("agent available");
      if (!rule.enabled) when.push("off");
      const line = counts.get(rule.id) || { shown: 0, answered: 0, chats: 0 };
      return h("tr", { class: rule.enabled ? null : "disabled" },
        h("td", {}, rule.name), h("td", {}, rule.url_pattern), h("td", {}, when.join(", ")),
        h("td", { dir: "auto" }, rule.text), h("td", {}, String(line.shown)), h("td", {}, String(line.answered)),
        h("td", {}, String(line.chats)),
        h("td", { class: "actions" },
          h("button", { type: "button", "aria-label": `Change ${rule.name}`, onclick: () => this.#edit(rule) }, "Change"),
          h("button", { type: "button", "aria-label": `Delete ${rule.name}`, onclick: () => this.#delete(rule) },
            "Delete")));
    });
    this.list.replaceChildren(...(rows.length ? rows
      : [h("tr", {}, h("td", { colspan: 8 }, "No proactive messages yet."))]));
  }

  /** Put a rule in the form to change it (null: back to adding one). */
  #edit(rule) {
    this.editing = rule?.id || null;
    const f = this.fields;
    f.name.value = rule?.name ?? "";
    f.url_pattern.value = rule?.url_pattern ?? "*";
    f.seconds.value = String(rule?.seconds ?? 20);
    f.min_cart_value.value = rule?.min_cart_value == null ? "" : String(rule.min_cart_value);
    f.checkout_step.value = rule?.checkout_step ?? "";
    f.business_hours_only.checked = rule?.business_hours_only ?? true;
    f.agent_available_only.checked = rule?.agent_available_only ?? true;
    f.text.value = rule?.text ?? "";
    f.texts.value = formatTexts(rule?.texts);
    f.enabled.checked = rule?.enabled ?? true;
    f.position.value = String(rule?.position ?? 0);
    setText(this.heading, rule ? `Change ${rule.name}` : "Add a proactive message");
    setText(this.submit, rule ? "Save" : "Add");
    this.cancelEdit.hidden = !rule;
    setText(this.message, "");
    if (rule) f.name.focus();
  }

  #body() {
    const f = this.fields;
    const number = (control) => (control.value.trim() === "" ? null : Number(control.value));
    return {
      name: f.name.value, url_pattern: f.url_pattern.value.trim() || "*", seconds: number(f.seconds) ?? 0,
      min_cart_value: number(f.min_cart_value), checkout_step: f.checkout_step.value.trim() || null,
      business_hours_only: f.business_hours_only.checked, agent_available_only: f.agent_available_only.checked,
      text: f.text.value, texts: parseTexts(f.texts.value), enabled: f.enabled.checked,
      position: number(f.position) ?? 0,
    };
  }

  async #save(event) {
    event.preventDefault();
    let body;
    try {
      body = this.#body();
    } catch (error) {
      setText(this.message, error.message);
      this.fields.texts.focus();
      return;
    }
    try {
      if (this.editing) await this.rest("PUT", `/api/proactive-rules/${encodeURIComponent(this.editing)}`, body);
      else await this.rest("POST", "/api/proactive-rules", body);
      this.#edit(null);
      await this.#load();
      this.fields.name.focus();
    } catch (error) {
      setText(this.message, errorText(error));
      this.fields[error.details?.field]?.focus();
    }
  }

  async #delete(rule) {
    try {
      await this.rest("DELETE", `/api/proactive-rules/${encodeURIComponent(rule.id)}`);
      if (this.editing === rule.id) this.#edit(null);
      await this.#load();
    } catch (error) {
      setText(this.status, errorText(error));
    }
  }
}
