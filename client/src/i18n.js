// Languages (docs/widget.md, "Languages"): the messages of one language, fetched from the server
// (only the chosen one), and their format: {name} placeholders and plural choices in an ICU-like
// subset, "{count, plural, =0 {none} one {# file} other {# files}}", "#" being the number. The
// server formats its own pages with the same rules (chatserver/domain/i18n.py). Used by the
// widget and the agent console alike.

const MAX_WANTED = 8;
const TAG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/;

/** The languages to ask the server for, best first: the page's choice, else the browser's. */
export function wantedLocales(pageChoice, browserLanguages = []) {
  const wanted = pageChoice ? [pageChoice] : [...browserLanguages];
  return wanted.map((tag) => String(tag).trim()).filter((tag) => TAG.test(tag)).slice(0, MAX_WANTED);
}

/** The server's language file for the first of ``wanted`` it has (else the shop's default). */
export async function fetchLocale(base, catalog, wanted) {
  const url = new URL(`locales/${catalog}`, base);
  if (wanted.length) url.searchParams.set("want", wanted.join(","));
  const response = await fetch(url, { mode: "cors", credentials: "omit" });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const file = await response.json();
  return new Translator(file, formatLocale(file.locale, wanted));
}

// The language of this page's widget (or console): set once, when its file has arrived.
let current = null;

/** Make ``translator`` the one ``t`` uses. */
export function setTranslator(translator) {
  current = translator;
}

/** The message ``key`` in the page's language (the key itself before a language is set). */
export function t(key, params) {
  return current ? current.t(key, params) : key;
}

/** The page's translator (for numbers, dates and lists in its language). */
export function translator() {
  return current;
}

/**
 * The locale dates and numbers are written in: the reader's own variant of the file's language
 * (a British reader of the English file gets 09:00 and 7 December, an Austrian of the German one
 * "Jänner"), else the file's language.
 */
export function formatLocale(language, wanted) {
  const base = language.split("-")[0].toLowerCase();
  return wanted.find((tag) => tag.split("-")[0].toLowerCase() === base) ?? language;
}

export class Translator {
  /**
   * @param {{locale: string, dir?: string, messages: Record<string, string>}} file
   * @param {string} intl the locale of dates and numbers (formatLocale; the file's language by default)
   */
  constructor({ locale, dir, messages }, intl = locale) {
    this.locale = locale;
    this.intl = supported(intl) ? intl : locale;
    this.dir = dir === "rtl" ? "rtl" : "ltr";
    this.messages = messages;
    this.plurals = new Intl.PluralRules(locale);
    this.numbers = new Intl.NumberFormat(this.intl);
  }

  /** The message ``key`` with ``params`` filled in (the key itself when the file lacks it). */
  t(key, params = {}) {
    const message = this.messages[key];
    return message === undefined ? key : this.format(message, params);
  }

  format(message, params, count) {
    let out = "";
    let index = 0;
    while (index < message.length) {
      const opening = message.indexOf("{", index);
      const literal = message.slice(index, opening === -1 ? undefined : opening);
      out += count === undefined ? literal : literal.replaceAll("#", this.numbers.format(count));
      if (opening === -1) break;
      const end = closing(message, opening);
      out += this.#argument(message.slice(opening + 1, end), params);
      index = end + 1;
    }
    return out;
  }

  #argument(inner, params) {
    const comma = inner.indexOf(",");
    if (comma === -1) {
      const value = params[inner.trim()];
      if (value === undefined || value === null) return `{${inner}}`;
      return typeof value === "number" ? this.numbers.format(value) : String(value);
    }
    const name = inner.slice(0, comma).trim();
    const choices = inner.slice(inner.indexOf(",", comma + 1) + 1);
    const count = Number(params[name]) || 0;
    const branches = pluralBranches(choices);
    const branch = branches[`=${count}`] ?? branches[this.plurals.select(count)] ?? branches.other ?? "";
    return this.format(branch, params, count);
  }

  /** "a, b and c" as the language writes it (``options``: Intl.ListFormat's, "a, b, c" with type "unit"). */
  list(items, options = { type: "conjunction" }) {
    return new Intl.ListFormat(this.intl, options).format(items);
  }

  /** A number as the language writes it (1.234,5 in German). */
  number(value, options) {
    return options ? new Intl.NumberFormat(this.intl, options).format(value) : this.numbers.format(value);
  }
}

function supported(tag) {
  try {
    return Intl.NumberFormat.supportedLocalesOf([tag]).length > 0;
  } catch {
    return false;
  }
}

function closing(text, start) {
  let depth = 0;
  for (let index = start; index < text.length; index += 1) {
    if (text[index] === "{") depth += 1;
    else if (text[index] === "}" && (depth -= 1) === 0) return index;
  }
  return text.length;
}

function pluralBranches(text) {
  const branches = {};
  const pattern = /\s*(=\d+|zero|one|two|few|many|other)\s*\{/y;
  let index = 0;
  while (index < text.length && text.slice(index).trim()) {
    pattern.lastIndex = index;
    const match = pattern.exec(text);
    if (!match) break;
    const end = closing(text, pattern.lastIndex - 1);
    branches[match[1]] = text.slice(pattern.lastIndex, end);
    index = end + 1;
  }
  return branches;
}
