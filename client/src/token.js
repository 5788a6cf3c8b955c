// The visitor token this browser keeps (docs/protocol.md "Connecting"): the saved one while it
// has more than five minutes left, else a new one from POST /api/visitor/sessions, saved. Shared
// by the chat panel (ui/session.js) and the proactive message (proactive/watch.js), so both
// speak as the same visitor.

const TOKEN_MARGIN_S = 300;

/** {token, fresh}: ``fresh`` when a new visitor was made (whatever the old token reached is gone). */
export async function visitorToken(store, base, fetch) {
  const saved = store.load();
  if (saved.token && saved.expiresAt - TOKEN_MARGIN_S > Date.now() / 1000) return { token: saved.token, fresh: false };
  const response = await fetch(`${base}api/visitor/sessions`, { method: "POST", mode: "cors" });
  if (response.status !== 201) {
    throw Object.assign(new Error(`visitor session: ${response.status}`), { code: "session_refused" });
  }
  const body = await response.json();
  // Another part of the widget (or another tab) may have made a visitor meanwhile: the first one
  // saved is kept, so the chat panel and the proactive message always speak as the same visitor.
  const now = store.load();
  if (now.token && now.token !== saved.token && now.expiresAt - TOKEN_MARGIN_S > Date.now() / 1000) {
    return { token: now.token, fresh: false };
  }
  store.update({ token: body.token, expiresAt: body.expires_at, conversationId: null, ratePending: null, outbox: [] });
  return { token: body.token, fresh: true };
}
