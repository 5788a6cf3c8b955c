import assert from "node:assert/strict";
import { test } from "node:test";
import { formatLocale, Translator, wantedLocales } from "../src/i18n.js";
import { sizeText } from "../src/ui/attachments.js";
import { queueText, timeText } from "../src/ui/text.js";
import { useLanguage } from "./language.js";

test("placeholders and plural choices, by each language's rules", () => {
  const t = (locale, message, params) => new Translator({ locale, messages: { m: message } }).t("m", params);
  const files = "{n, plural, =0 {none} one {# file} two {# two} few {# few} many {# many} other {# files}}";
  assert.deepEqual([0, 1, 2, 5].map((n) => t("en", files, { n })), ["none", "1 file", "2 files", "5 files"]);
  assert.deepEqual([1, 3, 5, 22, 12].map((n) => t("pl", files, { n })), ["1 file", "3 few", "5 many", "22 few", "12 many"]);
  assert.deepEqual([2, 3, 11].map((n) => t("ar-u-nu-latn", files, { n })), ["2 two", "3 few", "11 many"]);
  assert.equal(t("de", "{count} Stück, {name}", { count: 1234.5, name: "Anna" }), "1.234,5 Stück, Anna");
  assert.equal(t("en", "Hello {name}", {}), "Hello {name}", "a missing value stays visible");
  assert.equal(new Translator({ locale: "en", messages: {} }).t("no.such.key"), "no.such.key");
});

test("the browser's languages, or the page's choice, and the reader's variant for dates", () => {
  assert.deepEqual(wantedLocales("", ["de-AT", "de", "en"]), ["de-AT", "de", "en"]);
  assert.deepEqual(wantedLocales("fr", ["de-AT"]), ["fr"]);
  assert.deepEqual(wantedLocales("", ["x", "<b>", "nl"]), ["nl"]);
  assert.equal(formatLocale("de", ["de-AT", "de"]), "de-AT");
  assert.equal(formatLocale("en", ["fr", "en-GB"]), "en-GB");
  assert.equal(formatLocale("en", ["xx"]), "en");
});

test("queue, sizes and times in German and Polish", () => {
  useLanguage("de", "de-DE");
  assert.equal(queueText(3, 130), "Sie sind Nummer 3 in der Warteschlange, etwa 2 Minuten.");
  assert.equal(queueText(1, 30), "Sie sind als Nächstes an der Reihe, etwa 1 Minute.");
  assert.equal(sizeText(1536), "1,5 KB");
  assert.equal(sizeText(1), "1 Byte");
  assert.match(timeText(Date.UTC(2026, 0, 5, 14, 5) / 1000), /^\d\d:05$/);
  useLanguage("pl");
  assert.equal(queueText(2, 300), "Jesteś na miejscu 2 w kolejce, około 5 minut.");
  assert.equal(queueText(1, 60), "Jesteś następny w kolejce, około 1 minuty.");
  assert.equal(sizeText(3), "3 bajty");
  assert.equal(sizeText(5), "5 bajtów");
  useLanguage("en", "en-GB");
});
