// The words of the console's own page (index.html) in the agent's language: every text and
// every aria-label, placeholder and title whose English the language file has, under
// "page.<the English text>" (a test checks that index.html has none without a key), and any a
// script wrote as a bare key before the file arrived. Text inside <code> is a setting's name and
// stays as it is.

const ATTRIBUTES = ["aria-label", "placeholder", "title", "label"];

/** Put ``translator``'s words in place of the page's English, keeping the markup as it is. */
export function translatePage(doc, translator) {
  const word = (english) => {
    const text = english.split(/\s+/).join(" ").trim();
    // A text that is still a key was written by a script before the file arrived (t() gives the
    // key until then): the file's message, now.
    const key = text in translator.messages ? text : `page.${text}`;
    return key in translator.messages ? translator.t(key) : null;
  };
  const walker = doc.createTreeWalker(doc.documentElement, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.data.trim() || node.parentElement?.closest("script, style, code")) continue;
    const translated = word(node.data);
    if (translated !== null) {
      const [, before, , after] = /^(\s*)([\s\S]*?)(\s*)$/.exec(node.data);
      node.data = before + translated + after;
    }
  }
  for (const element of doc.querySelectorAll(ATTRIBUTES.map((name) => `[${name}]`).join(","))) {
    for (const name of ATTRIBUTES) {
      const value = element.getAttribute(name);
      const translated = value ? word(value) : null;
      if (translated !== null) element.setAttribute(name, translated);
    }
  }
  doc.documentElement.lang = translator.locale;
  doc.documentElement.dir = translator.dir;
}
