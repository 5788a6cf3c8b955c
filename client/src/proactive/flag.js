// The session's proactive flag (sessionStorage, per chat server): set once a proactive message
// was shown or the shopper opened the chat, so no other is shown in this browser session.

const key = (config) => `${config.storageKey}:proactive`;

export function proactiveDone(config) {
  try {
    return sessionStorage.getItem(key(config)) === "done";
  } catch {
    return false;
  }
}

export function markProactiveDone(config) {
  try {
    sessionStorage.setItem(key(config), "done");
  } catch {
    // storage blocked: the page's own state still shows the message once
  }
}
