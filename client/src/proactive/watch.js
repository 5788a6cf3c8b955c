// The proactive message (docs/widget.md "Proactive messages"), fetched by the loader when this
// browser is in no chat and has not seen a proactive message in this session: it asks the server
// which rules apply to the page (proactive:rules, docs/protocol.md), waits for the time on the
// page, checks the page's cart value and checkout step, asks again whether the rule may show
// (proactive:shown: hours and agents may have changed) and shows the bubble. An answer is told to
// the server (proactive:answered) and handed to the chat panel through the widget's store; the
// panel records the conversation it starts (proactive:chat). Nothing is shown twice in a session.

import { parseAmount, pageUrl, text } from "../config.js";
import { WidgetStore } from "../store.js";
import { visitorToken } from "../token.js";
import { adoptStyles } from "../styles.js";
import { Bubble, BUBBLE_CSS } from "./bubble.js";
import { markProactiveDone } from "./flag.js";
import { dueRule, nextCheckMs, shopperLocale } from "./rules.js";

// After the earliest rule's time, the page's conditions are checked again this often (the shop
// may change data-cart-value or data-checkout-step without a page load).
const RECHECK_MS = 1000;

/**
 * @param {object} options
 * @param {ShadowRoot} options.root
 * @param {HTMLScriptElement} options.script
 * @param {object} options.config readConfig()
 * @param {Function} options.io socket.io-client's io()
 * @param {Function} options.canShow false once the shopper opened the chat themselves
 * @param {Function} options.onAnswer the shopper answered: open the chat panel
 * @returns {{stop: Function}} stop: take the bubble away and disconnect
 */
export function watch({ root, script, config, io, canShow, onAnswer, locale, texts }) {
  const store = new WidgetStore(config.storageKey);
  let socket = null;
  let bubble = null;
  let timer = null;
  let stopped = false;
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    bubble?.remove();
    socket?.disconnect();
  };
  const call = async (event, payload) => {
    const ack = await socket.emitWithAck(event, payload);
    if (ack?.error) throw Object.assign(new Error(ack.error.message), { code: ack.error.code });
    return ack;
  };
  const page = () => ({
    cartValue: parseAmount(script.dataset.cartValue),
    checkoutStep: text(script.dataset.checkoutStep, 32).toLowerCase() || undefined,
  });

  const show = (rule) => {
    markProactiveDone(config);
    adoptStyles(root, BUBBLE_CSS);
    bubble = new Bubble({
      root,
      from: config.title,
      texts,
      onDismiss: () => {
        // Focus in the bubble goes back to the chat button, not to the page's start.
        const focused = bubble.element.contains(root.activeElement);
        stop();
        if (focused) root.querySelector(".launcher")?.focus();
      },
      onAnswer: async (reply) => {
        try {
          await call("proactive:answered", { rule_id: rule.id });
        } catch {
          // the chat still starts; only the count misses this answer
        }
        store.update({ proactive: { rule_id: rule.id, text: rule.text, conversation_id: null, reply,
          answered_at: Date.now() } });
        stop();
        onAnswer();
      },
    });
    bubble.show(rule.text);
  };

  const check = async (rules) => {
    if (stopped) return;
    if (!canShow()) {
      stop();
      return;
    }
    const elapsed = performance.now();
    const rule = dueRule(rules, elapsed, page());
    if (rule) {
      const left = rules.filter((r) => r !== rule);
      let allowed = false;
      try {
        allowed = (await call("proactive:shown", { rule_id: rule.id })).show === true;
      } catch {
        allowed = false;
      }
      if (stopped) return;
      if (allowed && canShow()) show(rule);
      else schedule(left);
      return;
    }
    schedule(rules);
  };
  const schedule = (rules) => {
    const wait = nextCheckMs(rules, performance.now());
    if (wait === null) {
      stop();
      return;
    }
    timer = setTimeout(() => check(rules), wait || RECHECK_MS);
  };

  (async () => {
    const { token } = await visitorToken(store, config.base, fetch.bind(globalThis));
    if (stopped) return;
    const base = new URL(config.base);
    socket = io(`${base.origin}/visitor`, {
      path: `${base.pathname}socket.io/`, auth: { token }, transports: ["websocket", "polling"],
      tryAllTransports: true,
    });
    const request = { locale: locale || shopperLocale(script, navigator) };
    const url = pageUrl(location.href);
    if (url) request.page_url = url;
    const { rules } = await call("proactive:rules", request);
    if (stopped) return;
    if (!rules?.length) {
      stop();
      return;
    }
    check(rules);
  })().catch(() => stop());
  return { stop };
}
