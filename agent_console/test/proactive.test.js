import assert from "node:assert/strict";
import { test } from "node:test";
import "./language.js";
import { formatTexts, parseTexts } from "../src/proactive-texts.js";

test("proactive translations: one locale per line, both ways", () => {
  const texts = parseTexts("de: Brauchen Sie Hilfe?\n\n pt-BR :Precisa de ajuda? \nfr: Besoin d'aide : ici ?");
  assert.deepEqual(texts, { de: "Brauchen Sie Hilfe?", "pt-BR": "Precisa de ajuda?", fr: "Besoin d'aide : ici ?" });
  assert.deepEqual(parseTexts(formatTexts(texts)), texts);
  assert.deepEqual(parseTexts("  \n"), {});
  assert.throws(() => parseTexts("de Hallo"), /Line 1/);
  assert.throws(() => parseTexts("de: ok\n: Hallo"), /Line 2/);
});
