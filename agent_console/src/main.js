// The agent console (served at /console/): sign in, work the queue, serve several chats at once.
// It speaks the /agent namespace of docs/protocol.md and the REST API (/api/openapi.json).
// Everything a visitor or an agent typed is put in the page as text, never parsed as HTML.

import { io } from "socket.io-client";
import { AttachControls, fileView } from "../../client/src/ui/attach-view.js";
import { AttachmentLinks, fileLabel, upload, uploadUrl } from "../../client/src/ui/attachments.js";
import { h, setText } from "../../client/src/ui/dom.js";
import { linkedText } from "../../client/src/ui/links.js";
import { openingText } from "../../client/src/ui/text.js";
import { fetchLocale, setTranslator, t, translator, wantedLocales } from "../../client/src/i18n.js";
import { translatePage } from "./page-text.js";
import { api, ApiError } from "./api.js";
import { CobrowseView } from "./cobrowse.js";
import {
  cannedMatches, errorText, formatAmount, formatClock, formatWait, parseTags, safeUrl, sessionEndedText, systemText,
} from "./format.js";
import { ProfilePicture } from "./avatar.js";
import { KnowledgePanel } from "./knowledge.js";
import { ProactiveAdmin } from "./proactive.js";
import { titleWithUnread, unreadCount } from "./unread.js";

const STORAGE_KEY = "chatserver-console";
const ASKED_KEY = "chatserver-console-notifications-asked";
const STATUS_KEY = "chatserver-console-status"; // the agent's chosen status, shared by their tabs
let pageTitle = document.title; // index.html's, in the agent's language; unread chats are counted before it
const ACK_TIMEOUT_MS = 10_000;
const TYPING_IDLE_MS = 3_000; // typing:false this long after the last keystroke
const TYPING_REPEAT_MS = 3_000; // typing:true again while typing goes on (as the widget does)
const TYPING_TIMEOUT_MS = 6_000; // the shopper's "is typing" ends this long after their last typing:true
const SESSION_ERRORS = new Set(["token_expired", "invalid_token", "auth_required"]);

const $ = (id) => document.getElementById(id);
// The console's language: the agent's browser's (the server picks the first it has, else the
// shop's default_locale); only that language's file is fetched. The page is wired at once, and
// what it says waits for the file (a sign-in sent meanwhile too).
const languageReady = (async () => {
  try {
    const language = await fetchLocale(new URL("/", location.href).href, "console",
      wantedLocales("", navigator.languages));
    setTranslator(language);
    translatePage(document, language);
    pageTitle = document.title;
  } catch {
    // Without it the console still works, in the page's English; its own messages show their keys.
  }
})();

/** A message with an element where its "\u0000" placeholder stands ("Waiting <time>"), as nodes. */
function placed(text, element) {
  const [before, after = ""] = text.split("\u0000");
  return [before, element, after];
}
// The live view of a customer's page (co-browsing), one at a time.
const cobrowse = new CobrowseView({ call, socket: () => state.socket, onChange: () => renderCobrowse() });
// The knowledge base: search and insert links, drafts from finished chats (knowledge.js).
const knowledge = new KnowledgePanel({ rest: (...args) => rest(...args), composer: () => $("composer-text") });
// Files in chats: the links they are shown through, and each shown file's view, kept across the
// timeline's redraws (conversation id/attachment id -> element).
const links = new AttachmentLinks({ call: (event, payload) => call(event, payload) });
const fileViews = new Map();

// Proactive messages' rules and their counts, for admins (proactive.js).
const proactive = new ProactiveAdmin({ rest: (...args) => rest(...args) });
// The agent's own picture, shown before their name in the top bar (avatar.js).
const picture = new ProfilePicture({ rest: (...args) => rest(...args) });
$("agent-name").before(picture.button);

const state = {
  session: null, // {token, expiresAt, agent}
  socket: null,
  connected: false,
  status: "offline",
  wantedStatus: "online", // what the agent chose: sent with every (re)connect, so routing knows it at once
  queue: { total: 0, entries: [], receivedAt: 0 },
  availability: null, // availability:get's answer: whether shoppers can chat now (business hours)
  availabilityTimer: null,
  chats: new Map(), // conversation id -> Chat
  order: [], // tab order
  active: null,
  canned: [],
  cannedEditing: null, // the canned response the admin is changing
  agents: [], // admins: every agent (GET /api/agents)
  agentEditing: null, // admins: the agent whose capacity and departments are being changed
  agentPassword: null, // admins: the agent whose password is being set
  renewingToken: false, // while the agent's own password change runs (it ends every session of theirs)
  departments: null, // admins: the server's departments (GET /api/settings), once read
  tickets: [], // open offline tickets, newest first (GET /api/tickets, then ticket:created/updated)
  ticketOpen: null, // the ticket shown in the answer dialog
  expiryTimer: null,
  retryTimer: null, // the next connect after the server refused one
  connectRetries: 0, // refused connects since the last one that worked
  attachmentLimit: null, // the server's attachment_max_bytes (session:resume's limits, or a 413's details.limit)
};

/** One conversation the agent holds (or held, until its tab is closed). */
function newChat(conversation) {
  return {
    conversation,
    messages: new Map(), // seq -> message
    notes: new Map(), // id -> note
    lastSeq: 0,
    readSent: 0,
    visitorRead: conversation.read?.visitor || 0,
    agentRead: conversation.read?.agent || 0, // the agent's read mark: the customer's messages after it are unread
    visitorTyping: false,
    visitorTypingTimer: null,
    draft: "", // what the agent has typed in this chat's composer and not sent
    typingSentAt: 0, // when typing:true last went out for this chat (0: not typing)
    typingTimer: null,
    visitorOnline: true,
    wrapUp: null,
    past: [], // the customer's other conversations this agent may read (customer records)
    replaying: false,
  };
}

// -- session ------------------------------------------------------------------------------------

function loadSession() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
    return saved && typeof saved.token === "string" ? saved : null;
  } catch {
    return null;
  }
}

function showLogin(message = "") {
  stopSession();
  $("console-screen").hidden = true;
  $("login-screen").hidden = false;
  setText($("login-message"), message);
  // Not when the agent is already in the form: the first showLogin runs once the language file
  // is in, and taking the focus then sent the rest of a password being typed into Email, in clear.
  if (!$("login-form").contains(document.activeElement)) $("login-email").focus();
}

function stopSession() {
  clearTimeout(state.expiryTimer);
  clearTimeout(state.availabilityTimer);
  state.availability = null;
  if (cobrowse.open) cobrowse.close();
  if (state.socket) {
    state.socket.removeAllListeners();
    state.socket.disconnect();
  }
  Object.assign(state, { session: null, socket: null, connected: false, status: "offline", wantedStatus: "online",
    active: null });
  for (const chat of state.chats.values()) {
    clearTimeout(chat.typingTimer);
    clearTimeout(chat.visitorTypingTimer);
  }
  $("composer-text").value = ""; // a draft never outlives the session
  state.chats.clear();
  fileViews.clear();
  state.order = [];
  renderTitle();
  state.tickets = [];
  state.ticketOpen = null;
  localStorage.removeItem(STORAGE_KEY);
  localStorage.removeItem(STATUS_KEY);
}

/** The agent's choice of status (every tab of theirs shares it: the server keeps one per agent). */
function chooseStatus(status) {
  if (status !== "online" && status !== "away") return;
  state.wantedStatus = status;
  localStorage.setItem(STATUS_KEY, status);
}

/** The session ended under us (expired, revoked, forged): back to the sign-in form, saying why. */
function sessionLost(code) {
  showLogin(errorText({ code }));
}

async function signIn(event) {
  event.preventDefault();
  const email = $("login-email").value.trim();
  const password = $("login-password").value;
  if (!email || !password) {
    await languageReady;
    setText($("login-message"), t("console.enterEmailPassword"));
    return;
  }
  askNotificationPermissionOnce(); // while the click still counts as the agent's gesture
  unlockAudio();
  const button = event.submitter || $("login-form").querySelector("button");
  button.disabled = true;
  await languageReady;
  try {
    const result = await api("POST", "/api/auth/login", { body: { email, password } });
    const session = { token: result.token, expiresAt: result.expires_at, agent: result.agent };
    localStorage.setItem(STORAGE_KEY, JSON.stringify(session));
    $("login-password").value = "";
    start(session);
  } catch (error) {
    setText($("login-message"), errorText(error));
  } finally {
    button.disabled = false;
  }
}

async function signOut() {
  const token = state.session?.token;
  // This tab's socket goes first: the logout then ends the agent's other sessions (other tabs,
  // other devices), which are told so by the server.
  stopSession();
  try {
    if (token) await api("POST", "/api/auth/logout", { token });
  } catch {
    // Signing out locally matters most; the token expires anyway.
  }
  showLogin(t("console.signedOut"));
}

function start(session) {
  state.session = session;
  state.wantedStatus = localStorage.getItem(STATUS_KEY) === "away" ? "away" : "online";
  $("login-screen").hidden = true;
  $("console-screen").hidden = false;
  setText($("login-message"), "");
  setText($("agent-name"), session.agent.name);
  $("manage-canned").hidden = session.agent.role !== "admin";
  $("manage-agents").hidden = session.agent.role !== "admin";
  $("show-settings").hidden = session.agent.role !== "admin";
  if (!watchExpiry(session)) return sessionLost("token_expired");
  connect();
  loadCanned();
  knowledge.start(session.agent);
  proactive.start(session.agent);
  picture.start(session.agent);
  render();
}

/** Sign out when the session's token expires; false if it already has. */
function watchExpiry(session) {
  clearTimeout(state.expiryTimer);
  const left = session.expiresAt * 1000 - Date.now();
  if (left <= 0) return false;
  state.expiryTimer = setTimeout(() => sessionLost("token_expired"), Math.min(left, 2 ** 31 - 1));
  return true;
}

function openPasswordDialog() {
  for (const id of ["current-password", "new-password", "repeat-password"]) $(id).value = "";
  $("password-username").value = state.session.agent.email; // for password managers
  setText($("password-message"), "");
  $("password-dialog").showModal();
  $("current-password").focus();
}

/**
 * The agent's own password change. The server revokes every token of theirs, this tab's too, and
 * answers with a new one: the tab keeps its session with it (its socket, ended by the server,
 * connects again with the new token); every other session of theirs is signed out.
 */
async function changeOwnPassword(event) {
  event.preventDefault();
  const current = $("current-password").value;
  const password = $("new-password").value;
  const problem = !current ? ["current-password", t("console.enterCurrent")]
    : password.length < 8 ? ["new-password", t("console.newTooShort")]
      : password !== $("repeat-password").value ? ["repeat-password", t("console.passwordsDiffer")] : null;
  if (problem) {
    setText($("password-message"), problem[1]);
    $(problem[0]).focus();
    return;
  }
  const button = $("password-form").querySelector("button[type=submit]");
  button.disabled = true;
  state.renewingToken = true;
  try {
    const result = await rest("POST", "/api/me/password", { current_password: current, new_password: password });
    const session = { token: result.token, expiresAt: result.expires_at, agent: result.agent };
    state.session = session;
    localStorage.setItem(STORAGE_KEY, JSON.stringify(session));
    watchExpiry(session);
    state.socket.disconnect(); // the old token's connection (the server ends it too)
    state.socket.connect(); // with the new token: the auth is asked for at every connect
    $("password-dialog").close();
    showAlert(t("console.passwordChanged"), "info");
  } catch (error) {
    setText($("password-message"), error.code === "invalid_credentials" ? t("console.currentWrong")
      : errorText(error));
    $("current-password").focus();
  } finally {
    state.renewingToken = false;
    button.disabled = false;
  }
}

function rest(method, path, body) {
  return api(method, path, { token: state.session?.token, body }).catch((error) => {
    if (error instanceof ApiError && SESSION_ERRORS.has(error.code)) sessionLost(error.code);
    throw error;
  });
}

// -- the socket ---------------------------------------------------------------------------------

function connect() {
  // WebSocket only: every browser an agent uses has it, and it skips the long-polling phase.
  // The auth is asked for at every (re)connect: it carries the status the agent chose, which the
  // server records before it routes anything to them.
  const auth = (send) => send({ token: state.session.token, status: state.wantedStatus });
  const socket = io("/agent", { auth, transports: ["websocket"], reconnectionDelayMax: 5000 });
  state.socket = socket;
  cobrowse.listen(socket);
  socket.on("connect", () => {
    state.connectRetries = 0;
    resume();
  });
  socket.on("disconnect", (reason) => {
    state.connected = false;
    renderConnection();
    // socket.io-client reconnects by itself unless the server closed the connection (a restart
    // or deploy closes every socket): then try again shortly. A revoked token is refused then.
    if (reason === "io server disconnect") setTimeout(() => state.socket === socket && socket.connect(), 1000 + Math.random() * 2000);
  });
  socket.on("connect_error", (error) => {
    const code = error?.data?.code;
    if (SESSION_ERRORS.has(code)) return sessionLost(code);
    state.connected = false;
    renderConnection();
    // A refusal by the server (``unavailable`` while its Redis is down) leaves the socket
    // inactive: socket.io-client retries only failures of the transport. Try again, backing off.
    if (!socket.active) {
      clearTimeout(state.retryTimer);
      const delay = Math.min(10_000, 500 * 2 ** Math.min(state.connectRetries, 5)) * (0.75 + Math.random() / 2);
      state.connectRetries += 1;
      state.retryTimer = setTimeout(() => state.socket === socket && socket.connect(), delay);
    }
  });
  // The server ended the session (a logout elsewhere, the account disabled, the token expired):
  // it closes the socket next; nothing is retried.
  socket.on("session:ended", ({ reason }) => {
    if (!state.renewingToken) showLogin(sessionEndedText(reason)); // else the password change hands a new token
  });
  socket.on("queue:updated", (queue) => setQueue(queue));
  socket.on("canned:updated", () => loadCanned()); // an admin changed them
  socket.on("ticket:created", ({ ticket }) => ticketChanged(ticket));
  socket.on("ticket:updated", ({ ticket }) => ticketChanged(ticket));
  socket.on("presence:updated", ({ status }) => {
    state.status = status;
    chooseStatus(status);
    renderConnection();
  });
  socket.on("conversation:updated", ({ conversation }) => conversationUpdated(conversation));
  socket.on("message:new", (message) => messageArrived(message));
  socket.on("note:new", ({ note }) => noteArrived(note));
  socket.on("typing:updated", ({ conversation_id, party, typing }) => {
    const chat = state.chats.get(conversation_id);
    if (chat && party === "visitor") setVisitorTyping(chat, typing);
  });
  socket.on("message:read", ({ conversation_id, party, seq }) => {
    const chat = state.chats.get(conversation_id);
    if (chat && party === "visitor") {
      chat.visitorRead = Math.max(chat.visitorRead, seq);
      if (conversation_id === state.active) renderTimeline();
    } else if (chat && party === "agent" && seq > chat.agentRead) {
      chat.agentRead = seq; // read in another tab of this agent's
      renderTabs();
    }
  });
  socket.on("peer:presence", ({ conversation_id, party, online }) => {
    const chat = state.chats.get(conversation_id);
    if (chat && party === "visitor") {
      chat.visitorOnline = online;
      if (conversation_id === state.active) renderChatHead();
    }
  });
}

/** Emit with an acknowledgement; resolves with the ack, rejects with {code, message}. */
function call(event, payload) {
  return new Promise((resolve, reject) => {
    if (!state.socket?.connected) {
      reject({ code: "unavailable", message: t("console.notConnected") });
      return;
    }
    state.socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (timeout, reply) => {
      if (timeout) reject({ code: "unavailable", message: t("console.noAnswer") });
      else if (reply?.error) reject(reply.error);
      else resolve(reply);
    });
  });
}

async function resume() {
  let reply;
  try {
    reply = await call("session:resume", {});
  } catch (error) {
    showAlert(errorText(error));
    return;
  }
  state.connected = true;
  state.status = reply.status;
  learnAttachmentLimit(reply.limits?.attachment_max_bytes);
  chooseStatus(reply.status); // another tab of the agent's may have changed it meanwhile
  setQueue(reply.queue);
  loadTickets(); // after a reconnect too: tickets may have come meanwhile
  checkAvailability();
  const held = new Set(reply.conversations.map((c) => c.id));
  // Chats that left us while we were away (requeued after the grace period) lose their tab.
  for (const [id, chat] of state.chats) {
    if (!held.has(id) && chat.conversation.status !== "closed") dropChat(id, t("console.backToQueue"));
  }
  for (const conversation of reply.conversations) await openChat(conversation, { focus: false });
  if (!state.active && state.order.length) activate(state.order[0]);
  const wanted = new URLSearchParams(location.hash.slice(1)).get("c");
  if (wanted && !state.chats.has(wanted)) await openById(wanted);
  render();
}

// Outside business hours shoppers get the offline form: the top bar says so instead of "taking
// chats". Asked again every minute, and when the shop opens.
const AVAILABILITY_EVERY_MS = 60_000;

async function checkAvailability() {
  clearTimeout(state.availabilityTimer);
  try {
    state.availability = await call("availability:get", {});
  } catch {
    // Said again at the next check; the connection line shows a lost connection by itself.
  }
  renderConnection();
  const opensIn = state.availability?.opens_at ? state.availability.opens_at * 1000 - Date.now() + 1000 : Infinity;
  state.availabilityTimer = setTimeout(() => state.connected && checkAvailability(),
    Math.max(1000, Math.min(AVAILABILITY_EVERY_MS, opensIn)));
}

// -- queue --------------------------------------------------------------------------------------

function setQueue(queue) {
  state.queue = { ...queue, receivedAt: performance.now() };
  renderQueue();
}

async function take(conversationId, button) {
  button.disabled = true;
  try {
    const { conversation } = await call("queue:take", { conversation_id: conversationId });
    await openChat(conversation, { focus: true });
    clearAlert();
  } catch (error) {
    showAlert(errorText(error));
    if (error.code === "already_taken" || error.code === "conversation_closed") {
      state.queue.entries = state.queue.entries.filter((e) => e.id !== conversationId);
      state.queue.total = Math.max(0, state.queue.total - 1);
      renderQueue();
    } else {
      button.disabled = false;
    }
  }
}

// -- chats --------------------------------------------------------------------------------------

/** Start showing a conversation: subscribe (replaying what we have not seen) and read its notes. */
async function openChat(conversation, { focus }) {
  let chat = state.chats.get(conversation.id);
  const isNew = !chat;
  if (isNew) {
    chat = newChat(conversation);
    state.chats.set(conversation.id, chat);
    state.order.push(conversation.id);
  } else {
    chat.conversation = conversation;
  }
  if (focus || !state.active) activate(conversation.id);
  render();
  chat.replaying = true; // what the join replays is history: unread after the read mark, not announced
  try {
    const joined = await call("conversation:join", { conversation_id: conversation.id, after_seq: chat.lastSeq });
    chat.conversation = joined.conversation;
    chat.visitorRead = Math.max(chat.visitorRead, joined.conversation.read?.visitor || 0);
    chat.agentRead = Math.max(chat.agentRead, joined.conversation.read?.agent || 0);
    const { notes } = await call("note:list", { conversation_id: conversation.id });
    for (const note of notes) chat.notes.set(note.id, note);
  } catch (error) {
    showAlert(errorText(error));
  } finally {
    chat.replaying = false;
  }
  if (isNew) loadPast(chat);
  render();
  if (focus) $("composer-text").focus();
  return isNew;
}

/** The customer's earlier conversations (GET /api/customers/{id}/conversations), newest first. */
async function loadPast(chat) {
  try {
    const transcript = await rest("GET", `/api/conversations/${encodeURIComponent(chat.conversation.id)}`);
    const { conversation } = transcript;
    if (transcript.tags?.length || transcript.resolution_note) {
      chat.wrapUp = { tags: transcript.tags, note: transcript.resolution_note }; // wrapped up before a reload
      if (state.active === chat.conversation.id) renderChatHead();
    }
    if (!conversation.customer_id) return;
    const { conversations } = await rest("GET",
      `/api/customers/${encodeURIComponent(conversation.customer_id)}/conversations?limit=20`);
    chat.past = conversations.filter((c) => c.id !== chat.conversation.id);
  } catch {
    chat.past = []; // customer records unavailable: the sidebar shows the pre-chat fields only
  }
  if (state.active === chat.conversation.id) renderCustomer();
}

async function showPast(past) {
  const list = $("past-dialog-timeline");
  list.replaceChildren();
  setText($("past-dialog-summary"), "");
  $("past-dialog").showModal();
  try {
    const transcript = await rest("GET", `/api/conversations/${encodeURIComponent(past.id)}`);
    const when = new Date(transcript.conversation.created_at * 1000).toLocaleString();
    const tags = transcript.tags?.length ? ` · tags: ${transcript.tags.join(", ")}` : "";
    const note = transcript.resolution_note ? ` · ${transcript.resolution_note}` : "";
    setText($("past-dialog-summary"), `${when} · ${transcript.conversation.status}${tags}${note}`);
    const fake = { visitorRead: transcript.conversation.read?.visitor || 0 };
    list.replaceChildren(...[
      ...transcript.messages.map((m) => ({ at: m.created_at, order: m.seq, item: messageItem(fake, m, null) })),
      ...(transcript.notes || []).map((n) => ({ at: n.created_at, order: Infinity, item: noteItem(n) })),
    ].sort((a, b) => a.at - b.at || a.order - b.order).map((e) => e.item));
  } catch (error) {
    setText($("past-dialog-summary"), errorText(error));
  }
}

/** Open a conversation by id (a link #c=<id>): only one assigned to this agent opens. */
async function openById(conversationId) {
  try {
    const joined = await call("conversation:join", { conversation_id: conversationId, after_seq: 0 });
    await openChat(joined.conversation, { focus: true });
  } catch (error) {
    showAlert(errorText(error));
  }
}

function conversationUpdated(conversation) {
  const me = state.session.agent.id;
  const chat = state.chats.get(conversation.id);
  if (conversation.status === "assigned" && conversation.agent_id === me) {
    if (!chat) {
      openChat(conversation, { focus: !state.active });
      notify(t("console.newChatAssigned"), t("console.newChatBody", { name: conversation.prechat.name,
        question: conversation.prechat.question }));
    } else {
      chat.conversation = conversation;
      render();
    }
  } else if (chat && conversation.status === "closed") {
    chat.conversation = conversation;
    setVisitorTyping(chat, false);
    stopTyping(chat);
    cobrowse.conversationGone(conversation.id);
    render();
  } else if (chat && conversation.agent_id !== me) {
    const to = conversation.agent?.name || conversation.prechat.department || t("console.theQueue");
    dropChat(conversation.id, t("console.movedTo", { name: conversation.prechat.name, to }), "info");
  }
}

function dropChat(conversationId, message, kind) {
  cobrowse.conversationGone(conversationId);
  const chat = state.chats.get(conversationId);
  if (chat) {
    clearTimeout(chat.typingTimer);
    clearTimeout(chat.visitorTypingTimer);
  }
  state.chats.delete(conversationId);
  for (const key of fileViews.keys()) if (key.startsWith(`${conversationId}/`)) fileViews.delete(key);
  state.order = state.order.filter((id) => id !== conversationId);
  if (state.active === conversationId) {
    state.active = null;
    activate(state.order[0] || null);
  }
  if (message) showAlert(message, kind);
  render();
}

function messageArrived(message) {
  const chat = state.chats.get(message.conversation_id);
  if (!chat || chat.messages.has(message.seq)) return;
  chat.messages.set(message.seq, message);
  chat.lastSeq = Math.max(chat.lastSeq, message.seq);
  if (message.sender.kind === "visitor") {
    setVisitorTyping(chat, false);
    if ((message.conversation_id !== state.active || document.hidden) && !chat.replaying) {
      notify(t("console.messageFrom", { name: message.sender.name || t("console.theCustomer") }),
        message.kind === "file" ? `Sent a file: ${fileLabel(message.meta, message.body)}` : message.body);
    }
  }
  if (message.conversation_id === state.active) {
    renderTimeline();
    renderTyping();
    markRead();
  }
  renderTabs();
}

function noteArrived(note) {
  const chat = state.chats.get(note.conversation_id);
  if (!chat) return;
  chat.notes.set(note.id, note);
  if (note.conversation_id === state.active) renderTimeline();
}

function markRead() {
  const chat = state.chats.get(state.active);
  if (!chat || document.hidden || !document.hasFocus()) return;
  const unread = unreadCount(chat.messages.values(), chat.agentRead) > 0;
  // Read here, whatever the server answers: the count follows what the agent has seen.
  chat.agentRead = Math.max(chat.agentRead, chat.lastSeq);
  if (unread) renderTabs();
  if (chat.lastSeq > chat.readSent && chat.conversation.status !== "closed") {
    chat.readSent = chat.lastSeq;
    call("message:read", { conversation_id: chat.conversation.id, seq: chat.lastSeq }).catch(() => {
      chat.readSent = 0;
    });
  }
}

/**
 * Show another chat: the composer keeps each chat's own draft, and the chat left behind stops
 * "typing" for its shopper.
 */
function activate(conversationId) {
  if (state.active === conversationId) return;
  const previous = state.chats.get(state.active);
  if (previous) {
    previous.draft = $("composer-text").value;
    stopTyping(previous);
  }
  state.active = conversationId;
  $("composer-text").value = state.chats.get(conversationId)?.draft || "";
  cannedIndex = 0;
  setText($("composer-hint"), "");
  renderCanned();
}

function setVisitorTyping(chat, typing) {
  clearTimeout(chat.visitorTypingTimer);
  // A typing:false can be lost (the shopper's tab closed): "is typing" ends by itself.
  if (typing) chat.visitorTypingTimer = setTimeout(() => setVisitorTyping(chat, false), TYPING_TIMEOUT_MS);
  chat.visitorTyping = typing;
  if (chat.conversation.id === state.active) renderTyping();
}

function selectChat(conversationId, { focusTab = false } = {}) {
  activate(conversationId);
  render();
  markRead();
  if (focusTab) document.querySelector(`[role=tab][data-id="${CSS.escape(conversationId)}"]`)?.focus();
}

// -- composer -----------------------------------------------------------------------------------

let cannedIndex = 0;

function composerMode() {
  return document.querySelector("input[name=mode]:checked").value;
}

/** The agent is typing in this chat: typing:true now and every few seconds while it lasts. */
function typingIn(chat) {
  if (chat.conversation.status === "closed") return;
  clearTimeout(chat.typingTimer);
  chat.typingTimer = setTimeout(() => stopTyping(chat), TYPING_IDLE_MS);
  if (Date.now() - chat.typingSentAt < TYPING_REPEAT_MS) return;
  chat.typingSentAt = Date.now();
  call("typing:update", { conversation_id: chat.conversation.id, typing: true }).catch(() => {});
}

function stopTyping(chat) {
  clearTimeout(chat.typingTimer);
  if (!chat.typingSentAt) return;
  chat.typingSentAt = 0;
  if (chat.conversation.status === "closed") return;
  call("typing:update", { conversation_id: chat.conversation.id, typing: false }).catch(() => {});
}

function composerInput() {
  renderCanned();
  setText($("composer-hint"), "");
  const chat = state.chats.get(state.active);
  if (!chat) return;
  chat.draft = $("composer-text").value;
  if (composerMode() === "reply" && chat.draft.trim()) typingIn(chat);
  else stopTyping(chat);
}

function composerKey(event) {
  const matches = cannedMatches(state.canned, $("composer-text").value);
  if (matches.length) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      cannedIndex = (cannedIndex + (event.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
      renderCanned();
      return;
    }
    if ((event.key === "Enter" && !event.shiftKey) || event.key === "Tab") {
      event.preventDefault();
      insertCanned(matches[Math.min(cannedIndex, matches.length - 1)]);
      return;
    }
    if (event.key === "Escape") {
      $("canned-list").hidden = true;
      return;
    }
  }
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    sendComposer();
  }
}

function insertCanned(canned) {
  const box = $("composer-text");
  box.value = canned.body;
  cannedIndex = 0;
  renderCanned();
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
  composerInput();
}

let clientCounter = 0;
function clientId(prefix) {
  clientCounter += 1;
  return `${prefix}-${Date.now().toString(36)}-${clientCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

async function sendComposer() {
  const chat = state.chats.get(state.active);
  const box = $("composer-text");
  const body = box.value;
  if (!chat || !body.trim()) return;
  if (chat.conversation.status === "closed") {
    setText($("composer-hint"), t("error.conversation_closed"));
    return;
  }
  const mode = composerMode();
  box.value = "";
  chat.draft = "";
  renderCanned();
  stopTyping(chat);
  try {
    if (mode === "note") {
      const { note } = await call("note:add", { conversation_id: chat.conversation.id, body, client_note_id: clientId("n") });
      noteArrived(note);
    } else {
      const id = clientId("a");
      const reply = await call("message:send", { conversation_id: chat.conversation.id, client_msg_id: id, body });
      messageArrived({
        conversation_id: chat.conversation.id, seq: reply.seq, kind: "text", body, meta: null, client_msg_id: id,
        sender: { kind: "agent", name: state.session.agent.name }, created_at: reply.created_at,
      });
    }
  } catch (error) {
    // Back in its chat's composer (the agent may have moved to another chat meanwhile).
    chat.draft = body;
    if (state.active === chat.conversation.id) {
      box.value = body;
      setText($("composer-hint"), errorText(error));
    } else {
      showAlert(t("console.notSentTo", { name: chat.conversation.prechat.name, error: errorText(error) }));
    }
  }
}

// -- files ----------------------------------------------------------------------------------------

/** Files go to the customer of the open chat, as replies (never as internal notes). */
function canAttach() {
  const chat = state.chats.get(state.active);
  return Boolean(chat) && chat.conversation.status !== "closed" && composerMode() === "reply";
}

/** Upload a file to the open chat (attachments.js upload()); the stored message joins its timeline. */
function sendFile(file, name, onProgress) {
  const chat = state.chats.get(state.active);
  if (!chat || chat.conversation.status === "closed") throw { code: "conversation_closed", message: t("error.conversation_closed") };
  const sending = upload({
    url: uploadUrl("/", chat.conversation.id, name, clientId("f")), token: state.session.token, body: file, onProgress,
  });
  const done = sending.done.then(({ message }) => {
    messageArrived(message);
    return message;
  }, (error) => {
    if (error.code === "file_too_large") learnAttachmentLimit(Number(error.details?.limit));
    if (SESSION_ERRORS.has(error.code)) sessionLost(error.code);
    throw error;
  });
  return { done, cancel: sending.cancel };
}

/** The largest file the server takes (files over it are refused before a byte is sent). */
function learnAttachmentLimit(limit) {
  if (Number.isInteger(limit) && limit > 0) state.attachmentLimit = limit;
}

const attach = new AttachControls({
  dropTarget: $("chat"),
  pasteTarget: $("composer-text"),
  canAttach,
  limit: () => state.attachmentLimit,
  send: sendFile,
  destination: () => state.chats.get(state.active)?.conversation.prechat.name ?? "",
  onProblem: (text) => setText($("composer-hint"), text),
  onSent: () => setText($("composer-hint"), ""),
});
$("composer").prepend(attach.list);
$("composer-buttons").prepend(attach.button, attach.input);

// -- transfer and end ---------------------------------------------------------------------------

async function openTransfer() {
  const select = $("transfer-target");
  select.replaceChildren();
  setText($("transfer-message"), "");
  try {
    const targets = await rest("GET", "/api/transfer-targets");
    const agents = h("optgroup", { label: t("console.agents") },
      targets.agents.map((a) => h("option", { value: `agent:${a.id}`, disabled: a.status === "offline" },
        `${a.name} (${a.status})`)));
    const departments = h("optgroup", { label: t("console.departments") },
      targets.departments.map((d) => h("option", { value: `department:${d}` }, d)));
    select.append(agents, departments);
  } catch (error) {
    setText($("transfer-message"), errorText(error));
  }
  $("transfer-dialog").showModal();
}

async function submitTransfer(event) {
  event.preventDefault();
  const chat = state.chats.get(state.active);
  const value = $("transfer-target").value;
  if (!chat || !value) return;
  const [kind, target] = [value.slice(0, value.indexOf(":")), value.slice(value.indexOf(":") + 1)];
  const payload = { conversation_id: chat.conversation.id };
  if (kind === "agent") payload.to_agent_id = target;
  else payload.to_department = target;
  try {
    await call("conversation:transfer", payload);
    $("transfer-dialog").close();
  } catch (error) {
    setText($("transfer-message"), errorText(error));
  }
}

function openEnd() {
  const closed = state.chats.get(state.active)?.conversation.status === "closed";
  setText($("end-heading"), t(closed ? "console.wrapUpHeading" : "console.endHeading"));
  setText($("end-submit"), t(closed ? "console.saveWrapUp" : "console.endChat"));
  setText($("end-message"), "");
  $("end-dialog").showModal();
  $("end-tags").focus();
}

async function submitEnd(event) {
  event.preventDefault();
  const chat = state.chats.get(state.active);
  if (!chat) return;
  try {
    const reply = await call("conversation:end", {
      conversation_id: chat.conversation.id,
      tags: parseTags($("end-tags").value),
      resolution_note: $("end-note").value.trim() || null,
    });
    chat.conversation = reply.conversation;
    chat.wrapUp = { tags: reply.tags, note: reply.resolution_note };
    $("end-tags").value = "";
    $("end-note").value = "";
    $("end-dialog").close();
    render();
  } catch (error) {
    setText($("end-message"), errorText(error));
  }
}

// -- tickets (offline messages) -----------------------------------------------------------------

const TICKETS_SHOWN = 100;

async function loadTickets() {
  try {
    state.tickets = (await rest("GET", `/api/tickets?status=open&limit=${TICKETS_SHOWN}`)).tickets;
  } catch {
    // Keep the list shown; the next reconnect reads it again.
  }
  renderTickets();
}

/** A ticket was left or answered (by anyone): the list keeps the open ones, newest first. */
function ticketChanged(ticket) {
  state.tickets = state.tickets.filter((t) => t.id !== ticket.id);
  if (ticket.status === "open") state.tickets = [ticket, ...state.tickets].sort((a, b) => b.created_at - a.created_at);
  renderTickets();
  if (state.ticketOpen === ticket.id) {
    const last = ticket.answers.at(-1);
    renderTicket(ticket);
    if (last && last.agent_id !== state.session.agent.id) {
      setText($("ticket-message"), t("console.answeredMeanwhile", { name: last.agent.name }));
    }
  }
}

function renderTickets() {
  const shown = state.tickets.length;
  setText($("tickets-total"), `(${shown >= TICKETS_SHOWN ? `${TICKETS_SHOWN}+` : shown})`);
  $("tickets-empty").hidden = shown > 0;
  $("tickets-list").replaceChildren(...state.tickets.map((ticket) => {
    const open = h("button", { type: "button", "aria-label": t("console.answerTicketOf", { name: ticket.name }) },
      t("console.answer"));
    open.addEventListener("click", () => openTicket(ticket));
    return h("li", { "data-id": ticket.id },
      h("span", { class: "who" }, ticket.name, h("span", { class: "badge dept" }, ticket.reference)),
      h("span", { class: "question" }, ticket.description),
      h("span", { class: "page" }, new Date(ticket.created_at * 1000).toLocaleString(translator()?.intl)),
      open);
  }));
}

function openTicket(ticket) {
  state.ticketOpen = ticket.id;
  $("ticket-answer").value = "";
  setText($("ticket-message"), "");
  renderTicket(ticket);
  $("ticket-dialog").showModal();
  $("ticket-answer").focus();
}

function renderTicket(ticket) {
  setText($("ticket-heading"), t("console.ticketHeading", { reference: ticket.reference,
    status: t(`console.ticketStatus.${ticket.status}`) }));
  const url = ticket.page_url ? safeUrl(ticket.page_url) : null;
  const rows = [
    [t("console.field.name"), ticket.name],
    [t("console.field.email"), ticket.email],
    [t("console.field.orderNumber"), ticket.order_number],
    [t("console.field.page"),
      url ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, ticket.page_url) : ticket.page_url],
    [t("console.field.leftAt"), new Date(ticket.created_at * 1000).toLocaleString(translator()?.intl)],
  ];
  $("ticket-fields").replaceChildren(...rows.filter(([, value]) => value).flatMap(([label, value]) =>
    [h("dt", {}, label), h("dd", {}, value)]));
  setText($("ticket-description"), ticket.description);
  $("ticket-answers").replaceChildren(...ticket.answers.map((answer) => h("li", { class: "agent" },
    h("span", { class: "meta" }, ...placed(t("console.answerBy", { name: answer.agent.name, time: "\u0000" }),
      stamp(answer.created_at))),
    h("span", { class: "body" }, answer.body))));
}

async function submitTicketAnswer(event) {
  event.preventDefault();
  const ticketId = state.ticketOpen;
  const body = $("ticket-answer").value;
  if (!ticketId) return;
  if (!body.trim()) {
    setText($("ticket-message"), t("console.answerFirst"));
    return;
  }
  try {
    const { ticket, emailed } = await rest("POST", `/api/tickets/${encodeURIComponent(ticketId)}/answers`, { body });
    state.ticketOpen = null;
    $("ticket-dialog").close();
    ticketChanged(ticket);
    showAlert(emailed
      ? t("console.answerMailed", { name: ticket.name, email: ticket.email })
      : t("console.answerSaved", { name: ticket.name }), "info");
  } catch (error) {
    setText($("ticket-message"), error.code === "not_found" ? t("console.ticketGone") : errorText(error));
  }
}

// -- canned responses ---------------------------------------------------------------------------

async function loadCanned() {
  try {
    state.canned = (await rest("GET", "/api/canned-responses")).canned_responses;
  } catch {
    state.canned = [];
  }
  renderCannedAdmin();
}

async function saveCanned(event) {
  event.preventDefault();
  const body = { shortcut: $("canned-shortcut").value, body: $("canned-body").value };
  try {
    if (state.cannedEditing) await rest("PUT", `/api/canned-responses/${encodeURIComponent(state.cannedEditing)}`, body);
    else await rest("POST", "/api/canned-responses", body);
    editCanned(null);
    await loadCanned();
    $("canned-shortcut").focus();
  } catch (error) {
    setText($("canned-message"), errorText(error));
  }
}

/** Put a canned response in the form to change it (null: back to adding a new one). */
function editCanned(canned) {
  state.cannedEditing = canned?.id || null;
  $("canned-shortcut").value = canned ? canned.shortcut : "";
  $("canned-body").value = canned ? canned.body : "";
  setText($("canned-form-heading"), canned ? t("console.changeShortcut", { shortcut: canned.shortcut })
    : t("console.addCanned"));
  setText($("canned-submit"), t(canned ? "console.save" : "console.add"));
  $("canned-edit-cancel").hidden = !canned;
  setText($("canned-message"), "");
  if (canned) $("canned-body").focus();
}

async function deleteCanned(canned) {
  try {
    await rest("DELETE", `/api/canned-responses/${encodeURIComponent(canned.id)}`);
    if (state.cannedEditing === canned.id) editCanned(null);
    await loadCanned();
  } catch (error) {
    setText($("canned-message"), errorText(error));
  }
}

// -- agents (admins) ----------------------------------------------------------------------------

async function loadAgents() {
  try {
    state.agents = (await rest("GET", "/api/agents")).agents;
    if (state.departments === null) {
      const { settings } = await rest("GET", "/api/settings");
      state.departments = settings.find((s) => s.name === "departments")?.value || [];
    }
  } catch (error) {
    setText($("agent-message"), errorText(error));
  }
  renderAgents();
}

function renderAgents() {
  const me = state.session.agent.id;
  $("agents-list").replaceChildren(...state.agents.map((a) => {
    const edit = h("button", { type: "button", class: "secondary", "aria-label": t("console.changeName", { name: a.name }) },
      t("console.change"));
    edit.addEventListener("click", () => editAgent(a));
    const toggle = h("button", { type: "button", class: "secondary",
      "aria-label": t(a.disabled ? "console.enableName" : "console.disableName", { name: a.name }) },
    t(a.disabled ? "console.enable" : "console.disable"));
    toggle.addEventListener("click", () => changeAgent(a, { disabled: !a.disabled }));
    // An admin's own password is changed with the current one (Change password, in the top bar).
    const password = h("button", { type: "button", class: "secondary",
      "aria-label": t("console.setPasswordFor", { name: a.name }) }, t("console.password"));
    password.addEventListener("click", () => editAgentPassword(a));
    return h("tr", { class: a.disabled ? "disabled" : null, "data-id": a.id },
      h("td", {}, a.name), h("td", {}, a.email), h("td", {}, a.role), h("td", {}, a.capacity),
      h("td", {}, a.departments.join(", ")), h("td", {}, a.disabled ? t("console.disabled") : a.status),
      h("td", { class: "actions" }, edit, ...(a.id === me ? [] : [password, toggle])));
  }));
}

/** Show the form that changes an agent's capacity and departments (null hides it). */
function editAgent(agent) {
  state.agentEditing = agent?.id || null;
  const form = $("agent-edit-form");
  form.hidden = !agent;
  setText($("agent-edit-message"), "");
  if (!agent) return;
  setText($("agent-edit-heading"), t("console.changeName", { name: agent.name }));
  $("edit-agent-capacity").value = agent.capacity;
  const box = $("edit-agent-departments");
  box.replaceChildren(box.querySelector("legend"), ...state.departments.map((d) => h("label", {},
    h("input", { type: "checkbox", value: d, checked: agent.departments.includes(d) }), ` ${d}`)));
  if (!state.departments.length) box.append(h("span", { class: "hint-text" }, t("console.noDepartments")));
  $("edit-agent-capacity").focus();
}

async function saveAgentEdit(event) {
  event.preventDefault();
  const agent = state.agents.find((a) => a.id === state.agentEditing);
  if (!agent) return;
  const departments = [...$("edit-agent-departments").querySelectorAll("input:checked")].map((i) => i.value);
  if (await changeAgent(agent, { capacity: Number($("edit-agent-capacity").value), departments }, "agent-edit-message")) {
    editAgent(null);
  }
}

/** Show the form that sets another agent's password (null hides it). */
function editAgentPassword(agent) {
  state.agentPassword = agent?.id || null;
  const form = $("agent-password-form");
  form.hidden = !agent;
  $("agent-new-password").value = "";
  setText($("agent-password-message"), "");
  if (!agent) return;
  setText($("agent-password-heading"), t("console.newPasswordFor", { name: agent.name }));
  $("agent-new-password").focus();
}

async function saveAgentPassword(event) {
  event.preventDefault();
  const agent = state.agents.find((a) => a.id === state.agentPassword);
  if (!agent) return;
  const password = $("agent-new-password").value;
  if (password.length < 8) {
    setText($("agent-password-message"), t("console.passwordTooShort"));
    $("agent-new-password").focus();
    return;
  }
  try {
    const { agent: changed } = await rest("PUT", `/api/agents/${encodeURIComponent(agent.id)}/password`, { password });
    state.agents = state.agents.map((a) => (a.id === changed.id ? changed : a));
    editAgentPassword(null);
    renderAgents();
    setText($("agent-message"), t("console.passwordSet", { name: changed.name }));
  } catch (error) {
    setText($("agent-password-message"), errorText(error));
  }
}

/** PATCH an agent; the table shows the result, the message line the reason for a refusal. */
async function changeAgent(agent, change, messageId = "agent-message") {
  try {
    const { agent: changed } = await rest("PATCH", `/api/agents/${encodeURIComponent(agent.id)}`, change);
    state.agents = state.agents.map((a) => (a.id === changed.id ? changed : a));
    setText($(messageId), "");
    renderAgents();
    return true;
  } catch (error) {
    setText($(messageId), errorText(error));
    return false;
  }
}

// -- settings (admins) --------------------------------------------------------------------------

async function showSettings() {
  setText($("settings-message"), "");
  $("settings-dialog").showModal();
  try {
    const { settings, secrets, email_configured: emailConfigured } = await rest("GET", "/api/settings");
    $("settings-email").hidden = emailConfigured;
    const shown = (value) => (value === null ? "—" : Array.isArray(value) ? value.join(", ") || "—" : String(value));
    $("settings-list").replaceChildren(...settings.map((s) => h("tr", {},
      h("td", {}, s.name), h("td", {}, shown(s.value)), h("td", {}, h("code", {}, s.env)))));
    $("secrets-list").replaceChildren(...secrets.map((s) => h("tr", {},
      h("td", {}, s.name), h("td", {}, t(s.configured ? "console.secretSet" : "console.secretNotSet")), h("td", {}, h("code", {}, s.env)))));
  } catch (error) {
    setText($("settings-message"), errorText(error));
  }
}

async function addAgent(event) {
  event.preventDefault();
  const body = {
    name: $("new-agent-name").value.trim(),
    email: $("new-agent-email").value.trim(),
    password: $("new-agent-password").value,
    role: $("new-agent-role").value,
    capacity: Number($("new-agent-capacity").value) || 3,
    departments: $("new-agent-departments").value.split(",").map((d) => d.trim()).filter(Boolean),
  };
  try {
    await rest("POST", "/api/agents", body);
    for (const id of ["new-agent-name", "new-agent-email", "new-agent-password", "new-agent-departments"]) $(id).value = "";
    setText($("agent-message"), "");
    await loadAgents();
    $("new-agent-name").focus();
  } catch (error) {
    setText($("agent-message"), errorText(error));
  }
}

// -- notifications ------------------------------------------------------------------------------

function askNotificationPermissionOnce() {
  if (!("Notification" in window) || Notification.permission !== "default") return;
  if (localStorage.getItem(ASKED_KEY)) return;
  localStorage.setItem(ASKED_KEY, "1");
  Notification.requestPermission().catch(() => {});
}

// Browsers play sound only from an AudioContext made or resumed during a user gesture (a context
// made later, in the background, stays suspended and silent): it is made at the sign-in, or at
// the first key or click of a session restored from storage, and resumed at any gesture after.
let audio = null;
function unlockAudio() {
  if (audio?.state === "running") return;
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume().catch(() => {});
  } catch {
    audio = null; // no Web Audio here
  }
}

/**
 * A new chat, or a customer's message in a chat not shown: a system notification and a tone while
 * the console is hidden; while it is shown, the polite #announcer region (screen readers read it
 * once; the chat shown announces its own messages through its log).
 */
function notify(title, body) {
  const text = body.length > 140 ? `${body.slice(0, 139)}…` : body;
  if (!document.hidden) {
    // New nodes each time: the same words twice (two chats from one name) are read twice. Two
    // paragraphs, not one string pieced together: each language words them on its own.
    $("announcer").replaceChildren(h("p", {}, title), h("p", {}, text));
    return;
  }
  if ("Notification" in window && Notification.permission === "granted") {
    new Notification(title, { body: text, tag: "chatserver-console" });
  }
  if (audio?.state !== "running") return; // not unlocked by a gesture yet: it would be silent
  const tone = audio.createOscillator();
  const gain = audio.createGain();
  tone.frequency.value = 880;
  gain.gain.setValueAtTime(0.15, audio.currentTime);
  gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.25);
  tone.connect(gain).connect(audio.destination);
  tone.start();
  tone.stop(audio.currentTime + 0.25);
}

// -- rendering ----------------------------------------------------------------------------------

let alertTimer = null;
function showAlert(message, kind = "error") {
  const alert = $("alert");
  alert.classList.toggle("info", kind === "info");
  setText(alert, message);
  clearTimeout(alertTimer);
  alertTimer = setTimeout(clearAlert, 15_000);
}

function clearAlert() {
  setText($("alert"), "");
}

function render() {
  if (!state.session) return;
  renderConnection();
  renderQueue();
  renderTabs();
  renderChat();
  renderCustomer();
}

function renderConnection() {
  const line = $("connection");
  const presence = $("presence");
  if (state.connected) {
    // A closed shop: nobody takes chats, whatever their status.
    const closed = state.availability?.reason === "closed";
    const opens = closed ? openingText(state.availability.opens_at) : "";
    setText(line, closed ? (opens ? t("console.connectedClosedOpens", { opens }) : t("console.connectedClosed"))
      : t(state.status === "away" ? "console.connectedAway" : "console.connectedTaking"));
    line.classList.toggle("closed", closed);
    line.classList.remove("down");
    presence.disabled = false;
    presence.value = state.status === "away" ? "away" : "online";
  } else {
    setText(line, t("console.offline"));
    line.classList.add("down");
    line.classList.remove("closed");
    presence.disabled = true;
  }
}

function renderQueue() {
  const list = $("queue-list");
  const elapsed = (performance.now() - state.queue.receivedAt) / 1000;
  setText($("queue-total"), `(${state.queue.total})`);
  $("queue-empty").hidden = state.queue.entries.length > 0;
  const focusedId = document.activeElement?.closest?.("#queue-list li")?.dataset.id;
  list.replaceChildren(...state.queue.entries.map((entry) => {
    const p = entry.prechat;
    const button = h("button", { type: "button", "aria-label": t("console.takeChatWith", { name: p.name }) },
      t("console.take"));
    button.addEventListener("click", () => take(entry.id, button));
    const page = p.page_title || p.page_url;
    return h("li", { "data-id": entry.id, class: entry.priority ? "priority" : null },
      h("span", { class: "who" }, p.name, entry.priority ? h("span", { class: "badge" }, t("console.checkout")) : null,
        p.department ? h("span", { class: "badge dept" }, p.department) : null),
      h("span", { class: "question" }, p.question),
      page ? h("span", { class: "page" }, page) : null,
      h("span", { class: "wait" }, ...placed(t("console.waiting", { time: "\u0000" }),
        h("time", { class: "waited", "data-waited": entry.waited_s }, formatWait(entry.waited_s + elapsed)))),
      button);
  }));
  if (focusedId) list.querySelector(`li[data-id="${CSS.escape(focusedId)}"] button`)?.focus();
}

function tickWaits() {
  const elapsed = (performance.now() - state.queue.receivedAt) / 1000;
  for (const time of document.querySelectorAll("#queue-list time.waited")) {
    setText(time, formatWait(Number(time.dataset.waited) + elapsed));
  }
}

function renderTabs() {
  const tabs = $("tabs");
  const buttons = state.order.map((id) => {
    const chat = state.chats.get(id);
    const selected = id === state.active;
    const closed = chat.conversation.status === "closed";
    const name = chat.conversation.prechat.name;
    const label = closed ? t("console.tabEnded", { name }) : name;
    const unread = unreadCount(chat.messages.values(), chat.agentRead);
    const button = h("button", {
      type: "button", role: "tab", "data-id": id, "aria-selected": selected ? "true" : "false",
      "aria-controls": "chat", tabindex: selected ? "0" : "-1",
    }, label, unread
      ? [h("span", { class: "unread", "aria-hidden": "true" }, unread),
        h("span", { class: "visually-hidden" }, ` ${t("console.unread", { count: unread })}`)]
      : null);
    button.addEventListener("click", () => selectChat(id));
    return button;
  });
  const focused = document.activeElement?.getAttribute?.("role") === "tab" ? document.activeElement.dataset.id : null;
  tabs.replaceChildren(...buttons);
  if (focused) tabs.querySelector(`[data-id="${CSS.escape(focused)}"]`)?.focus();
  renderTitle();
}

/** "(2) Agent console · chatserver": the chats with messages the agent has not read. */
function renderTitle() {
  let withUnread = 0;
  for (const chat of state.chats.values()) if (unreadCount(chat.messages.values(), chat.agentRead)) withUnread += 1;
  const title = titleWithUnread(pageTitle, withUnread);
  if (document.title !== title) document.title = title;
}

function tabKeys(event) {
  const index = state.order.indexOf(state.active);
  if (index < 0) return;
  let next = null;
  if (event.key === "ArrowRight") next = state.order[(index + 1) % state.order.length];
  else if (event.key === "ArrowLeft") next = state.order[(index - 1 + state.order.length) % state.order.length];
  else if (event.key === "Home") next = state.order[0];
  else if (event.key === "End") next = state.order.at(-1);
  if (next) {
    event.preventDefault();
    selectChat(next, { focusTab: true });
  }
}

function renderChat() {
  const chat = state.chats.get(state.active);
  knowledge.showChat(chat ?? null);
  $("chat").hidden = !chat;
  $("no-chat").hidden = Boolean(chat);
  if (!chat) return;
  $("chat").setAttribute("aria-labelledby", "chat-title");
  renderChatHead();
  renderTimeline();
  renderTyping();
}

function renderChatHead() {
  const chat = state.chats.get(state.active);
  if (!chat) return;
  const closed = chat.conversation.status === "closed";
  setText($("chat-title"), chat.conversation.prechat.name);
  let line = t(closed ? "console.chatEnded" : chat.visitorOnline ? "console.customerOnline" : "console.customerOffline");
  if (closed && chat.wrapUp?.tags?.length) line += ` · tags: ${chat.wrapUp.tags.join(", ")}`;
  setText($("chat-state"), line);
  $("transfer").hidden = closed;
  $("cobrowse-start").hidden = closed || chat.conversation.status !== "assigned";
  // A chat the shopper ended still gets its tags and resolution note: "Wrap up" until it has them.
  $("end").hidden = closed && Boolean(chat.wrapUp);
  setText($("end"), t(closed ? "console.wrapUp" : "console.endChat"));
  $("close-tab").hidden = !closed;
  $("composer-text").disabled = closed;
  attach.setEnabled(canAttach());
}

function renderCobrowse() {
  $("console-screen").classList.toggle("cobrowsing", cobrowse.open);
  const live = cobrowse.open && ["requested", "active", "paused"].includes(cobrowse.session?.status);
  setText($("cobrowse-start"), live && cobrowse.conversationId === state.active ? t("console.cobrowsing") : t("console.cobrowse"));
}

function startCobrowse() {
  const chat = state.chats.get(state.active);
  if (!chat || chat.conversation.status !== "assigned") return;
  cobrowse.start(chat.conversation.id, chat.conversation.prechat.name);
  renderCobrowse();
}

// The timeline on screen: its chat, and its items by key ("message:<seq>", "note:<id>").
let shownTimeline = { id: null, items: new Map() };

function renderTimeline() {
  const chat = state.chats.get(state.active);
  if (!chat) return;
  const entries = [
    ...[...chat.messages.values()].map((m) => ({ at: m.created_at, order: m.seq, message: m })),
    ...[...chat.notes.values()].map((n) => ({ at: n.created_at, order: Infinity, note: n })),
  ].sort((a, b) => a.at - b.at || a.order - b.order);
  // Only what changed is touched: the log announces its additions, and redrawing every item
  // would read the whole chat again at each new message. A read receipt changes in place.
  const list = $("timeline");
  if (shownTimeline.id !== chat.conversation.id) {
    shownTimeline = { id: chat.conversation.id, items: new Map() };
    list.replaceChildren();
  }
  let index = 0;
  for (const entry of entries) {
    const key = entry.note ? `note:${entry.note.id}` : `message:${entry.message.seq}`;
    let element = shownTimeline.items.get(key);
    if (!element) {
      element = entry.note ? noteItem(entry.note) : messageItem(chat, entry.message);
      shownTimeline.items.set(key, element);
    } else if (entry.message) {
      const receipt = element.querySelector(".receipt");
      if (receipt) setText(receipt, receiptText(chat, entry.message));
    }
    if (list.children[index] !== element) list.insertBefore(element, list.children[index] ?? null);
    index += 1;
  }
  while (list.children.length > index) list.lastElementChild.remove();
  const log = list.parentElement; // the log region scrolls, around the list
  log.scrollTop = log.scrollHeight;
}

function stamp(epochSeconds) {
  return h("time", { datetime: new Date(epochSeconds * 1000).toISOString() }, formatClock(epochSeconds));
}

/**
 * A file message's view; those of the open chats are kept (``views``), so a redraw neither asks
 * for their links again nor reloads their thumbnails.
 */
function fileItem(message, views) {
  const key = `${message.conversation_id}/${message.meta?.attachment_id}`;
  let view = views?.get(key);
  if (!view) {
    view = fileView({ message, links, base: new URL("/", location.href).href });
    views?.set(key, view);
  }
  return view;
}

function messageItem(chat, message, views = fileViews) {
  if (message.kind === "system") {
    return h("li", { class: "system" }, h("span", { class: "body" }, systemText(message)), " ", stamp(message.created_at));
  }
  const mine = message.sender.kind === "agent";
  const receipt = receiptText(chat, message);
  return h("li", { class: mine ? "agent" : "visitor" },
    h("span", { class: "meta" }, message.sender.name || t(mine ? "console.agent" : "console.customer"), " · ", stamp(message.created_at),
      receipt ? h("span", { class: "receipt" }, receipt) : null),
    message.kind === "file" ? fileItem(message, views) : h("span", { class: "body" }, linkedText(message.body)));
}

/** " · Sent" or " · Read" after the agents' own messages; "" after the customer's. */
function receiptText(chat, message) {
  if (message.sender?.kind !== "agent") return "";
  return chat.visitorRead >= message.seq ? " · Read" : " · Sent";
}

function noteItem(note) {
  return h("li", { class: "note" },
    h("span", { class: "meta" }, ...placed(t("console.noteBy", { name: note.agent.name, time: "\u0000" }),
      stamp(note.created_at))),
    h("span", { class: "body" }, note.body));
}

function renderTyping() {
  const chat = state.chats.get(state.active);
  setText($("typing"), chat?.visitorTyping ? t("console.typing", { name: chat.conversation.prechat.name }) : "");
}

function renderCanned() {
  const list = $("canned-list");
  const matches = cannedMatches(state.canned, $("composer-text").value);
  list.hidden = matches.length === 0;
  if (cannedIndex >= matches.length) cannedIndex = 0;
  list.replaceChildren(...matches.map((canned, i) => {
    const item = h("li", { role: "option", id: `canned-${i}`, "aria-selected": i === cannedIndex ? "true" : "false" },
      `/${canned.shortcut} — ${canned.body.length > 80 ? `${canned.body.slice(0, 79)}…` : canned.body}`);
    item.addEventListener("mousedown", (event) => {
      event.preventDefault();
      insertCanned(canned);
    });
    return item;
  }));
  const box = $("composer-text");
  if (matches.length) box.setAttribute("aria-activedescendant", `canned-${cannedIndex}`);
  else box.removeAttribute("aria-activedescendant");
}

function renderCannedAdmin() {
  $("canned-admin-list").replaceChildren(...state.canned.map((canned) => {
    const edit = h("button", { type: "button", class: "secondary", "aria-label": t("console.changeShortcut", { shortcut: canned.shortcut }) },
      t("console.change"));
    edit.addEventListener("click", () => editCanned(canned));
    const remove = h("button", { type: "button", class: "secondary", "aria-label": t("console.deleteShortcut", { shortcut: canned.shortcut }) },
      t("console.delete"));
    remove.addEventListener("click", () => deleteCanned(canned));
    return h("li", {}, h("strong", {}, `/${canned.shortcut}`), h("span", {}, canned.body), edit, remove);
  }));
}

function renderCustomer() {
  const fields = $("customer-fields");
  const chat = state.chats.get(state.active);
  if (!chat) {
    fields.replaceChildren();
    setText($("customer-empty"), t("console.openChatToSee"));
    $("past-heading").hidden = true;
    $("past-list").replaceChildren();
    return;
  }
  setText($("customer-empty"), "");
  const c = chat.conversation;
  const p = c.prechat;
  const rows = [
    [t("console.field.name"), p.name],
    [t("console.field.email"), p.email],
    [t("console.field.orderNumber"), p.order_number],
    [t("console.field.question"), p.question],
    [t("console.field.department"), p.department],
    [t("console.field.page"), p.page_title],
    [t("console.field.address"), p.page_url],
    [t("console.field.inCheckout"), t(c.priority || p.checkout ? "console.yes" : "console.no")],
    [t("console.field.cartValue"), typeof p.cart_value === "number" ? formatAmount(p.cart_value) : null],
    [t("console.field.started"), c.created_at ? formatClock(c.created_at) : null],
  ];
  fields.replaceChildren(...rows.filter(([, value]) => value != null && value !== "").flatMap(([label, value]) => {
    const url = label === t("console.field.address") ? safeUrl(value) : null;
    const content = url ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, value) : value;
    return [h("dt", {}, label), h("dd", {}, content)];
  }));
  $("past-heading").hidden = chat.past.length === 0;
  $("past-list").replaceChildren(...chat.past.map((past) => {
    const open = h("button", { type: "button", class: "secondary",
      "aria-label": t("console.readConversationOf", {
        when: new Date(past.created_at * 1000).toLocaleString(translator()?.intl) }) }, t("console.read"));
    open.addEventListener("click", () => showPast(past));
    return h("li", {},
      h("span", {}, new Date(past.created_at * 1000).toLocaleDateString(translator()?.intl), " · ",
        t(`console.conversationStatus.${past.status}`),
        past.tags?.length ? ` · ${past.tags.join(", ")}` : ""),
      h("span", { class: "question" }, past.prechat.question),
      open);
  }));
}

// -- wiring -------------------------------------------------------------------------------------

function wire() {
  $("login-form").addEventListener("submit", signIn);
  $("logout").addEventListener("click", signOut);
  $("presence").addEventListener("change", async (event) => {
    const wanted = event.target.value;
    try {
      const reply = await call("presence:set", { status: wanted });
      state.status = reply.status;
      chooseStatus(reply.status);
    } catch (error) {
      showAlert(errorText(error));
    }
    renderConnection();
  });
  $("tabs").addEventListener("keydown", tabKeys);
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    sendComposer();
  });
  $("composer-text").addEventListener("input", composerInput);
  $("composer-text").addEventListener("keydown", composerKey);
  $("composer-text").addEventListener("focus", markRead);
  for (const radio of document.querySelectorAll("input[name=mode]")) {
    radio.addEventListener("change", () => {
      const note = composerMode() === "note";
      $("composer").classList.toggle("note", note);
      $("composer-text").placeholder = note
        ? t("console.notePlaceholder")
        : t("console.replyPlaceholder");
      attach.setEnabled(canAttach());
      const chat = state.chats.get(state.active);
      if (note && chat) stopTyping(chat);
    });
  }
  $("transfer").addEventListener("click", openTransfer);
  $("cobrowse-start").addEventListener("click", startCobrowse);
  $("transfer-form").addEventListener("submit", submitTransfer);
  $("end").addEventListener("click", openEnd);
  $("end-form").addEventListener("submit", submitEnd);
  $("close-tab").addEventListener("click", () => dropChat(state.active));
  $("manage-canned").addEventListener("click", () => {
    editCanned(null);
    $("canned-dialog").showModal();
  });
  $("canned-form").addEventListener("submit", saveCanned);
  $("canned-edit-cancel").addEventListener("click", () => editCanned(null));
  $("manage-agents").addEventListener("click", () => {
    setText($("agent-message"), "");
    editAgent(null);
    editAgentPassword(null);
    $("agents-dialog").showModal();
    loadAgents();
  });
  $("agent-form").addEventListener("submit", addAgent);
  $("agent-edit-form").addEventListener("submit", saveAgentEdit);
  $("agent-edit-cancel").addEventListener("click", () => editAgent(null));
  $("agent-password-form").addEventListener("submit", saveAgentPassword);
  $("agent-password-cancel").addEventListener("click", () => editAgentPassword(null));
  $("change-password").addEventListener("click", openPasswordDialog);
  $("password-form").addEventListener("submit", changeOwnPassword);
  $("show-settings").addEventListener("click", showSettings);
  $("ticket-form").addEventListener("submit", submitTicketAnswer);
  $("ticket-dialog").addEventListener("close", () => {
    state.ticketOpen = null;
  });
  for (const cancel of document.querySelectorAll("dialog .cancel")) {
    cancel.addEventListener("click", () => cancel.closest("dialog").close());
  }
  document.addEventListener("keydown", unlockAudio, { capture: true });
  document.addEventListener("pointerdown", unlockAudio, { capture: true });
  document.addEventListener("visibilitychange", markRead);
  window.addEventListener("focus", markRead);
  window.addEventListener("hashchange", () => {
    const wanted = new URLSearchParams(location.hash.slice(1)).get("c");
    if (!state.session || !wanted) return;
    if (state.chats.has(wanted)) selectChat(wanted);
    else openById(wanted);
  });
  setInterval(tickWaits, 1000);
}

wire();
await languageReady;
const saved = loadSession();
if (saved) start(saved);
else showLogin();
