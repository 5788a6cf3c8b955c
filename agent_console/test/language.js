// The console's texts in English for unit tests (agent_console/locales/en.json).
import { readFileSync } from "node:fs";
import { setTranslator, Translator } from "../../client/src/i18n.js";

const messages = JSON.parse(readFileSync(new URL("../locales/en.json", import.meta.url), "utf8"));
setTranslator(new Translator({ locale: "en", messages }, "en-GB"));
