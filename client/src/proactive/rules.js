// Which offered rule fires now (docs/widget.md "Proactive messages"): the server sends the rules
// whose page pattern, hours and agents hold (proactive:rules); the page's own conditions are
// checked here, when the time on the page has passed. No DOM, no timers: unit-tested in node.

/**
 * The first rule, in the server's order, whose time on the page has passed and whose cart value
 * and checkout step the page passes now; null when none does yet.
 * @param {Array<{id, seconds, text, min_cart_value, checkout_step}>} rules
 * @param {number} elapsedMs time on the page
 * @param {{cartValue?: number, checkoutStep?: string}} page
 */
export function dueRule(rules, elapsedMs, page) {
  for (const rule of rules) {
    if (rule.seconds * 1000 > elapsedMs) continue;
    if (rule.min_cart_value != null && !(page.cartValue >= rule.min_cart_value)) continue;
    if (rule.checkout_step != null && page.checkoutStep !== rule.checkout_step) continue;
    return rule;
  }
  return null;
}

/** How long until the next rule's time on the page has passed (0 when one has), or null when none is left. */
export function nextCheckMs(rules, elapsedMs) {
  if (!rules.length) return null;
  const due = Math.min(...rules.map((rule) => rule.seconds * 1000));
  return Math.max(0, due - elapsedMs);
}

/** The shopper's locale: the page's data-locale, else the browser's language (a BCP 47 tag). */
export function shopperLocale(script, navigator) {
  const tag = (script.dataset.locale || navigator.language || "").trim();
  return /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/.test(tag) ? tag : undefined;
}
