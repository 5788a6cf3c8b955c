// The widget's text in a given language for unit tests: its file as the server sends it
// (client/locales/<language>.json), made the page's translator.
import { readFileSync } from "node:fs";
import { setTranslator, Translator } from "../src/i18n.js";

export function useLanguage(locale, intl = locale) {
  const messages = JSON.parse(readFileSync(new URL(`../locales/${locale}.json`, import.meta.url), "utf8"));
  const translator = new Translator({ locale, dir: locale === "ar" ? "rtl" : "ltr", messages }, intl);
  setTranslator(translator);
  return translator;
}

// The project's English is British: 09:00, 7 December, "PDF and text files".
useLanguage("en", "en-GB");
