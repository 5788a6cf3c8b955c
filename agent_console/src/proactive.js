// Proactive messages in the agent console (docs/console.md "Proactive messages"), for admins: the
// rules (add, change, switch off, delete) and, beside each, how many shoppers were shown its
// message, answered it and started a chat (GET /api/reports/proactive). It builds its own top-bar
// button and dialog (main.js calls start()) and speaks only REST (/api/proactive-rules).

import { t, translator } from "../../client/src/i18n.js";
import { h, setText } from "../../client/src/ui/dom.js";
import { errorText } from "./format.js";
import { formatTexts, parseTexts } from "./proactive-texts.js";

const $ = (id) => document.getElementById(id);
const COLUMNS = ["name", "page", "when", "message", "shown", "answered", "chats", "actions"];

/** A rule's conditions as one list in the console's language ("after 20 s, step payment"). */
function conditions(items) {
  return translator() ? translator().list(items, { type: "unit", style: "short" }) : items.join(", ");
}

/** A count as the console's language writes it (1.234 in German). */
function count(value) {
  return translator() ? translator().number(value) : String(value);
}

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
      onclick: () => this.#open() }, t("proactive.title"));
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
      t("proactive.cancelChange"));
    this.form = h("form", { "aria-labelledby": "proactive-form-heading", novalidate: true,
      onsubmit: (event) => this.#save(event) },
    this.heading,
    ...field("proactive-name", t("proactive.field.name"), this.fields.name),
    ...field("proactive-url", t("proactive.field.url"), this.fields.url_pattern, t("proactive.hint.url")),
    ...field("proactive-seconds", t("proactive.field.seconds"), this.fields.seconds),
    ...field("proactive-cart", t("proactive.field.cart"), this.fields.min_cart_value),
    ...field("proactive-step", t("proactive.field.step"), this.fields.checkout_step, t("proactive.hint.step")),
    check(this.fields.business_hours_only, t("proactive.field.hours")),
    check(this.fields.agent_available_only, t("proactive.field.agents")),
    ...field("proactive-text", t("proactive.field.text"), this.fields.text),
    ...field("proactive-texts", t("proactive.field.texts"), this.fields.texts, t("proactive.hint.texts")),
    check(this.fields.enabled, t("proactive.field.enabled")),
    ...field("proactive-position", t("proactive.field.position"), this.fields.position),
    this.message,
    h("div", { class: "buttons" }, this.submit, this.cancelEdit,
      h("button", { type: "button", class: "cancel", onclick: () => this.dialog.close() }, t("proactive.close"))));
    this.list = h("tbody", {});
    this.status = h("p", { class: "notice", role: "alert" });
    this.dialog = h("dialog", { id: "proactive-dialog", "aria-labelledby": "proactive-heading" },
      h("h2", { id: "proactive-heading" }, t("proactive.title")),
      h("p", { class: "hint-text" }, t("proactive.explain")),
      this.status,
      h("div", { class: "settings-scroll" }, h("table", { class: "agents-table", "aria-label": t("proactive.rules") },
        h("thead", {}, h("tr", {}, ...COLUMNS.map((column) => h("th", { scope: "col" }, t(`proactive.column.${column}`))))),
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
      const when = [t("proactive.when.after", { seconds: rule.seconds })];
      if (rule.min_cart_value != null) when.push(t("proactive.when.cart", { value: rule.min_cart_value }));
      if (rule.checkout_step) when.push(t("proactive.when.step", { step: rule.checkout_step }));
      if (rule.business_hours_only) when.push(t("proactive.when.hours"));
      if (rule.agent_available_only) when.push(t("proactive.when.agent"));
      if (!rule.enabled) when.push(t("proactive.when.off"));
      const line = counts.get(rule.id) || { shown: 0, answered: 0, chats: 0 };
      return h("tr", { class: rule.enabled ? null : "disabled" },
        h("td", {}, rule.name), h("td", {}, rule.url_pattern), h("td", {}, conditions(when)),
        h("td", { dir: "auto" }, rule.text), h("td", {}, count(line.shown)), h("td", {}, count(line.answered)),
        h("td", {}, count(line.chats)),
        h("td", { class: "actions" },
          h("button", { type: "button", "aria-label": t("proactive.changeName", { name: rule.name }),
            onclick: () => this.#edit(rule) }, t("proactive.change")),
          h("button", { type: "button", "aria-label": t("proactive.deleteName", { name: rule.name }),
            onclick: () => this.#delete(rule) }, t("proactive.delete"))));
    });
    this.list.replaceChildren(...(rows.length ? rows
      : [h("tr", {}, h("td", { colspan: 8 }, t("proactive.none")))]));
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
    setText(this.heading, rule ? t("proactive.changeName", { name: rule.name }) : t("proactive.addHeading"));
    setText(this.submit, rule ? t("proactive.save") : t("proactive.add"));
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
