// The proactive message's translations as admins type them in the console: one per line,
// "de: Brauchen Sie Hilfe?" (the server checks the locale tags and the texts).

import { t } from "../../client/src/i18n.js";

/** "de: Hallo\nfr: Bonjour" -> {de: "Hallo", fr: "Bonjour"}; a line without ":" is an error. */
export function parseTexts(value) {
  const texts = {};
  for (const [index, raw] of value.split("\n").entries()) {
    const line = raw.trim();
    if (!line) continue;
    const colon = line.indexOf(":");
    if (colon < 1) throw new Error(t("proactive.lineFormat", { line: index + 1 }));
    texts[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return texts;
}

/** The reverse of parseTexts, for the form. */
export function formatTexts(texts) {
  return Object.entries(texts || {}).map(([locale, text]) => `${locale}: ${text}`).join("\n");
}
