// @ts-check
/** The operator console: queue, my chats, chat view with live updates, reply box with canned
 *  replies and internal notes, claim / transfer / close, alerts and shortcuts. Public API only. */
import { t, lang } from "./i18n.js";
import {
  Api, ApiError, call, categoryName, claimsOf, connectSocket, dropToken, duration, el, expired, initLang,
  languageSelect, loadToken, renderMessage, renderSignIn, saveToken,
} from "./common.js";

const root = /** @type {HTMLElement} */ (document.getElementById("app"));
const STAFF = ["operator", "admin"];
const DEPARTMENTS = ["trading", "account", "funds", "system_error", "security", "other"];
const PAGE = 50;

/** @type {any} */ let socket = null;
/** @type {Api} */ let api;
/** @type {import("./common.js").Claims} */ let claims;
/** @type {any[]} */ let queue = [];
/** @type {any[]} */ let mine = [];
/** @type {Set<string>} */ let knownWaiting = new Set();
let listsLoaded = false;
/** The chat on screen. */
/** @type {null | {session: any, messages: Map<number, any>, notes: Map<number, any>, maxSeq: number, minSeq: number,
 *   maxNoteSeq: number, userReadSeq: number, typingTimer: any, viewers: any[]}} */
let open = null;
let everConnected = false;
let refreshTimer = /** @type {any} */ (null);
let expiryTimer = /** @type {any} */ (null);
let renewTimer = /** @type {any} */ (null);
const RENEW_BEFORE_MS = 60_000;
let typingSentAt = 0;
/** @type {any[]} */ let cannedItems = [];
let cannedActive = -1;
const prefs = {
  sound: localStorage.getItem("support_api.alert.sound") !== "off",
  desktop: localStorage.getItem("support_api.alert.desktop") === "on",
};
/** @type {Record<string, any>} */ const ui = {};

function start(message = "") {
  const token = loadToken();
  const parsed = token ? claimsOf(token) : null;
  initLang(parsed);
  if (!token || !parsed) return renderSignIn(root, "console.title", message, () => start());
  if (!STAFF.includes(parsed.role)) {
    dropToken();
    return renderSignIn(root, "console.title", t("signin.wrongRole", { role: "operator / admin" }), () => start());
  }
  if (expired(parsed)) {
    dropToken();
    return renderSignIn(root, "console.title", t("signin.expired"), () => start());
  }
  claims = parsed;
  api = new Api(token, signOut);
  armExpiry();
  renderShell();
  connect(token);
  loadLists();
  loadStatus();
}

/** Ask for a new token when this one runs out, instead of failing call after call.
 *  (setTimeout fires at once beyond 2^31-1 ms: a long-lived token is looked at again later.) */
function armExpiry() {
  clearTimeout(expiryTimer);
  clearTimeout(renewTimer);
  if (!claims.exp) return;
  expiryTimer = setTimeout(() => (expired(claims) ? signOut("expired") : armExpiry()),
                           Math.min(2 ** 31 - 1, Math.max(0, claims.exp * 1000 - Date.now())));
  const warnIn = claims.exp * 1000 - RENEW_BEFORE_MS - Date.now();
  if (warnIn < 2 ** 31 - 1) renewTimer = setTimeout(askForRenewal, Math.max(0, warnIn));
}

/** A minute before the token expires: a paste box in the page, so the operator keeps the
 *  open chat. A new token reconnects the socket with it and resumes (asyncapi.yaml, Token expiry). */
function askForRenewal() {
  const box = el("textarea", { id: "renew-token", rows: 2, cols: 60, autocomplete: "off", spellcheck: "false" });
  const error = el("span", { class: "form-error", role: "alert" });
  ui.renew.replaceChildren(el("form", { class: "renew", onsubmit: (/** @type {Event} */ event) => {
    event.preventDefault();
    const token = box.value.trim();
    const fresh = claimsOf(token);
    if (!fresh || expired(fresh) || fresh.sub !== claims.sub || !STAFF.includes(fresh.role)) {
      error.textContent = t("signin.invalid");
      return;
    }
    saveToken(token);
    claims = fresh;
    api.token = token;
    ui.renew.replaceChildren();
    armExpiry();
    // The handshake carries the token: reconnect with the new one; `connect` resumes everything.
    socket.auth = { token };
    socket.disconnect().connect();
  } },
  el("p", { role: "alert", text: t("renew.prompt") }),
  el("label", { for: "renew-token", text: t("signin.token") }), box,
  el("button", { type: "submit", text: t("renew.submit") }), error));
}

/** Back to the sign-in box, saying why. @param {string} reason */
function signOut(reason) {
  if (socket) { socket.off(); socket.disconnect(); socket = null; }
  clearTimeout(expiryTimer);
  clearTimeout(renewTimer);
  dropToken();
  open = null;
  everConnected = false;
  const message = reason === "expired" ? t("signin.expired") : reason === "manual" ? "" : t("signin.invalid");
  renderSignIn(root, "console.title", message, () => start());
}

// ---- layout ------------------------------------------------------------------------------

function renderShell() {
  document.title = t("console.title");
  ui.status = el("select", { id: "status", onchange: () => setStatus(ui.status.value) },
    ...["online", "away", "offline"].map((s) => el("option", { value: s, text: t(`status.${s}`) })));
  ui.banner = el("div", { id: "conn-banner", class: "banner", role: "status", "aria-live": "polite" });
  ui.renew = el("div", { id: "renew", class: "renew-box" });
  ui.queue = el("ul", { id: "queue", class: "chat-list", "aria-label": t("queue.label") });
  ui.mine = el("ul", { id: "mine", class: "chat-list", "aria-label": t("mine.label") });
  ui.chat = el("section", { id: "chat", class: "chat", "aria-labelledby": "chat-title" });
  ui.customer = el("aside", { id: "customer", class: "customer", "aria-labelledby": "customer-title" });
  ui.help = el("dialog", { id: "shortcuts", "aria-labelledby": "shortcuts-title" },
    el("h2", { id: "shortcuts-title", text: t("shortcuts.heading") }),
    el("p", { text: t("shortcuts.list") }),
    el("button", { type: "button", text: t("cancel"), onclick: () => ui.help.close() }));
  const soundBox = el("input", { type: "checkbox", id: "alert-sound", checked: prefs.sound,
    onchange: () => { prefs.sound = soundBox.checked; localStorage.setItem("support_api.alert.sound", prefs.sound ? "on" : "off"); } });
  const desktopBox = el("input", { type: "checkbox", id: "alert-desktop", checked: prefs.desktop,
    onchange: async () => {
      prefs.desktop = desktopBox.checked;
      // Browsers only grant the permission from a click: this change is one.
      if (prefs.desktop && "Notification" in window && Notification.permission === "default") await Notification.requestPermission();
      localStorage.setItem("support_api.alert.desktop", prefs.desktop ? "on" : "off");
    } });
  const who = `${claims.name || claims.sub} (${claims.role})`;
  root.replaceChildren(
    el("header", { class: "bar" },
      el("h1", { text: t("console.title") }),
      el("span", { class: "who", text: who }),
      claims.role === "operator" ? el("label", { for: "status", text: t("status.label") }) : null,
      claims.role === "operator" ? ui.status : null,
      el("fieldset", { class: "alerts" }, el("legend", { text: t("alerts.heading") }),
        el("label", {}, soundBox, t("alerts.sound")), el("label", {}, desktopBox, t("alerts.desktop"))),
      claims.role === "admin" ? el("a", { href: "/console/stats", text: t("stats.title") }) : null,
      languageSelect(() => { renderShell(); renderLists(); renderChat(); }),
      el("button", { type: "button", text: t("shortcuts.button"), onclick: () => ui.help.showModal() }),
      el("button", { type: "button", text: t("signout"), onclick: () => signOut("manual") })),
    ui.banner,
    ui.renew,
    el("div", { class: "layout" },
      el("nav", { class: "lists", "aria-label": t("queue.label") },
        el("h2", { text: t("queue.heading") }), ui.queue,
        el("h2", { text: t("mine.heading") }), ui.mine),
      el("main", { class: "main" }, ui.chat),
      ui.customer),
    ui.help);
  renderChat();
}

// ---- queue and my chats ------------------------------------------------------------------

async function loadLists() {
  try {
    const [waiting, held] = await Promise.all([
      api.get("/sessions?status=waiting&order=asc&limit=100"),
      api.get("/sessions?status=active&assigned=me&order=asc&limit=100"),
    ]);
    const fresh = waiting.items.filter((/** @type {any} */ s) => !knownWaiting.has(s.id));
    if (listsLoaded) for (const session of fresh) alertUser(t("alerts.newChat", { category: categoryName(session.category) }));
    knownWaiting = new Set(waiting.items.map((/** @type {any} */ s) => s.id));
    queue = waiting.items;
    mine = held.items;
    listsLoaded = true;
    renderLists();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) showBanner(t("error", { message: String(error) }));
  }
}

/** Many events can arrive at once (a burst of new chats): refetch once. */
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(loadLists, 100);
}

function renderLists() {
  if (!ui.queue) return;
  const now = Date.now();
  fillList(ui.queue, queue, t("queue.empty"), (session, index) => [t("queue.item", {
    pos: session.queue_position ?? index + 1, category: categoryName(session.category),
    user: session.user_name || session.user_id, wait: duration((now - Date.parse(session.created_at)) / 1000) })]);
  fillList(ui.mine, mine, t("mine.empty"), (session) => [
    `${session.user_name || session.user_id} · ${categoryName(session.category)}`,
    session.unread_count ? el("span", { class: "unread", text: t("mine.unread", { n: session.unread_count }) }) : null]);
  const unread = mine.reduce((sum, s) => sum + (s.unread_count || 0), 0);
  document.title = unread ? `(${unread}) ${t("console.title")}` : t("console.title");
  setFavicon(unread);
}

/** One button per chat. The same chats in the same order keep their elements (only the text
 *  changes), so the 5 s redraw never takes the keyboard focus away.
 * @param {HTMLElement} list @param {any[]} sessions @param {string} empty
 * @param {(session: any, index: number) => any[]} content */
function fillList(list, sessions, empty, content) {
  const buttons = /** @type {HTMLElement[]} */ ([...list.querySelectorAll("button.chat-link")]);
  const same = sessions.length > 0 && buttons.length === sessions.length && buttons.every((b, i) => b.dataset.session === sessions[i].id);
  if (!same) {
    list.replaceChildren(...(sessions.length ? sessions.map((session) => el("li", {},
      el("button", { type: "button", class: "chat-link", "data-session": session.id, onclick: () => openChat(session.id) })))
      : [el("li", { class: "empty", text: empty })]));
  }
  list.querySelectorAll("button.chat-link").forEach((button, i) => {
    button.replaceChildren(...content(sessions[i], i).filter(Boolean));
    /** @type {HTMLElement} */ (button.parentElement).classList.toggle("current", open?.session.id === sessions[i].id);
  });
}

/** Redraw the queue's waiting times every few seconds. */
setInterval(() => { if (listsLoaded && document.visibilityState === "visible") renderLists(); }, 5000);

/** @param {number} unread */
function setFavicon(unread) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 32;
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  ctx.fillStyle = "#0b5cad";
  ctx.beginPath(); ctx.arc(16, 16, 15, 0, Math.PI * 2); ctx.fill();
  if (unread) {
    ctx.fillStyle = "#c62828";
    ctx.beginPath(); ctx.arc(22, 10, 10, 0, Math.PI * 2); ctx.fill();
    ctx.fillStyle = "#fff"; ctx.font = "bold 14px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
    ctx.fillText(unread > 9 ? "9+" : String(unread), 22, 11);
  }
  let link = /** @type {HTMLLinkElement | null} */ (document.querySelector("link[rel=icon]"));
  if (!link) { link = el("link", { rel: "icon" }); document.head.append(/** @type {any} */ (link)); }
  /** @type {HTMLLinkElement} */ (link).href = canvas.toDataURL("image/png");
}

// ---- operator status ----------------------------------------------------------------------

async function loadStatus() {
  if (claims.role !== "operator") return;
  try {
    const list = await api.get("/operators");
    const me = list.items.find((/** @type {any} */ o) => o.id === claims.sub);
    ui.status.value = me ? me.chosen_status : "offline";
  } catch { ui.status.value = "offline"; }
}

/** @param {string} status */
async function setStatus(status) {
  try { await api.put("/operators/me/status", { status }); } catch (error) { showBanner(t("error", { message: String(error) })); }
}

// ---- socket -----------------------------------------------------------------------------

/** @param {string} token */
function connect(token) {
  socket = connectSocket(token);
  socket.on("connect", async () => {
    hideBanner(everConnected ? t("conn.back") : "");
    // (Re)fetch the queue on every connect: events sent before this socket joined its rooms,
    // or while it was away, are not replayed. The open chat catches up from its highest seq.
    loadLists();
    if (everConnected && open) await resume(open.session.id);
    everConnected = true;
  });
  socket.on("disconnect", () => {
    showBanner(t("conn.down"));
    // Who else is viewing is unknown while down; the rejoin on reconnect sends it afresh.
    if (open) { open.viewers = []; renderViewers(); }
  });
  // Collision detection: the staff who have this chat open (docs/asyncapi.yaml session:viewers).
  socket.on("session:viewers", (/** @type {any} */ data) => {
    if (!open || data.session_id !== open.session.id) return;
    open.viewers = data.viewers;
    renderViewers();
  });
  socket.on("connect_error", (/** @type {any} */ error) => {
    if (error?.data?.code === "unauthorized") signOut(error.data.details?.reason || "invalid");
    else showBanner(t("conn.down"));
  });
  socket.on("session:updated", (/** @type {any} */ session) => {
    scheduleRefresh();
    if (open && open.session.id === session.id) {
      open.session = { ...open.session, ...session };
      renderChatHeader();
    }
  });
  socket.on("message:new", (/** @type {any} */ message) => {
    if (open && open.session.id === message.session_id) {
      if (message.sender.type === "user") { clearTimeout(open.typingTimer); ui.typing.textContent = ""; }
      addMessages([message]);
      markRead();
    } else if (mine.some((s) => s.id === message.session_id)) {
      scheduleRefresh();
    }
    const held = mine.find((s) => s.id === message.session_id);
    const looking = open?.session.id === message.session_id && document.visibilityState === "visible" && document.hasFocus();
    if (message.sender.type === "user" && (held || open?.session.operator?.id === claims.sub) && !looking) {
      alertUser(t("alerts.newMessage", { user: message.sender.name || message.sender.id }));
    }
  });
  socket.on("note:new", (/** @type {any} */ note) => {
    if (open && open.session.id === note.session_id) addNotes([note]);
  });
  socket.on("typing", (/** @type {any} */ data) => {
    if (!open || open.session.id !== data.session_id || data.sender.type !== "user") return;
    clearTimeout(open.typingTimer);
    ui.typing.textContent = data.is_typing ? t("typing", { name: data.sender.name || data.sender.id }) : "";
    // Receivers expire an indicator after ~10 s without a refresh (asyncapi.yaml).
    if (data.is_typing && open) open.typingTimer = setTimeout(() => { ui.typing.textContent = ""; }, 10000);
  });
  socket.on("session:read", (/** @type {any} */ data) => {
    if (open && open.session.id === data.session_id && data.reader.type === "user") {
      open.userReadSeq = Math.max(open.userReadSeq, data.last_read_seq);
      renderReceipt();
    }
  });
}

/** @param {string} text */
function showBanner(text) { ui.banner.textContent = text; ui.banner.classList.add("down"); }
/** @param {string} text */
function hideBanner(text) {
  ui.banner.classList.remove("down");
  ui.banner.textContent = text;
  if (text) setTimeout(() => { if (!ui.banner.classList.contains("down")) ui.banner.textContent = ""; }, 3000);
}

// ---- alerts -------------------------------------------------------------------------------

/** A sound and a desktop notification, each switchable, also while the tab has the focus.
 * @param {string} text */
function alertUser(text) {
  if (prefs.sound) beep();
  if (prefs.desktop && "Notification" in window && Notification.permission === "granted") {
    new Notification(t("console.title"), { body: text, tag: "support-console" });
  }
}

/** @type {AudioContext | null} */ let audio = null;
function beep() {
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.3);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.3);
  } catch { /* no audio device: the notification and the title still tell */ }
}

// ---- the chat view ------------------------------------------------------------------------

/** @param {string} sessionId */
async function openChat(sessionId) {
  // Leave the room of the chat going off screen, so its replies are pushed again.
  if (open && open.session.id !== sessionId && socket?.connected) call(socket, "session:leave", { session_id: open.session.id });
  const listed = [...queue, ...mine].find((s) => s.id === sessionId);
  open = { session: listed || { id: sessionId, last_seq: 0 }, messages: new Map(), notes: new Map(), maxSeq: 0,
           minSeq: Infinity, maxNoteSeq: 0, userReadSeq: 0, typingTimer: null, viewers: [] };
  renderChat();
  renderLists();
  // Start near the end of a long chat; older pages come with the "earlier messages" button.
  await resume(sessionId, Math.max(0, (open.session.last_seq || 0) - PAGE));
}

/** Join (again) and take every message after the highest seq held, then the notes.
 * @param {string} sessionId @param {number} [from] */
async function resume(sessionId, from) {
  if (!open || open.session.id !== sessionId) return;
  let after = from ?? open.maxSeq;
  for (;;) {
    const ack = await call(socket, "session:join", { session_id: sessionId, after_seq: after, limit: 200 });
    if (!open || open.session.id !== sessionId) return;
    if (!ack.ok) { showError(ack.error); return; }
    open.session = { ...open.session, ...ack.session };
    if (from !== undefined && open.minSeq === Infinity) open.minSeq = after + 1;
    addMessages(ack.messages);
    if (!ack.has_more || !ack.messages.length) break;
    after = ack.messages[ack.messages.length - 1].seq;
  }
  renderChatHeader();
  await loadNotes();
  markRead();
}

async function loadNotes() {
  if (!open) return;
  const id = open.session.id;
  try {
    for (;;) {
      const page = await api.get(`/sessions/${id}/notes?after_seq=${open.maxNoteSeq}&limit=200`);
      if (!open || open.session.id !== id) return;
      addNotes(page.items);
      if (!page.has_more) break;
    }
  } catch (error) { showError(error); }
}

async function loadOlder() {
  if (!open || open.minSeq <= 1) return;
  const id = open.session.id;
  const page = await api.get(`/sessions/${id}/messages?before_seq=${open.minSeq}&limit=${PAGE}`);
  if (!open || open.session.id !== id) return;
  const first = ui.log.firstElementChild;
  addMessages(page.items);
  open.minSeq = page.items.length ? Math.min(open.minSeq, page.items[0].seq) : 1;
  if (!page.has_more) open.minSeq = 1;
  first?.scrollIntoView();
  renderOlderButton();
}

/** Messages and notes sorted by position in the conversation: a note sits after the message
 *  whose seq is its `after_seq`. @param {number} key @param {HTMLElement} item */
function place(key, item) {
  item.dataset.key = String(key);
  const stick = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40;
  const next = [...ui.log.children].find((child) => Number(/** @type {HTMLElement} */ (child).dataset.key) > key);
  ui.log.insertBefore(item, next || null);
  if (stick && !next) ui.log.scrollTop = ui.log.scrollHeight;
}

/** @param {any[]} messages */
function addMessages(messages) {
  if (!open) return;
  let gap = false;
  for (const message of messages) {
    if (open.messages.has(message.seq)) continue;  // a message can come in the ack and as message:new
    if (open.maxSeq && message.seq > open.maxSeq + 1 && open.minSeq !== Infinity) gap = true;
    open.messages.set(message.seq, message);
    open.maxSeq = Math.max(open.maxSeq, message.seq);
    open.minSeq = Math.min(open.minSeq, message.seq);
    place(message.seq, renderMessage(message, { mine: message.sender.type === "operator" && message.sender.id === claims.sub }));
  }
  if (gap) resume(open.session.id);  // a skipped seq: fill the hole from the server
  renderReceipt();
  renderOlderButton();
}

/** @param {any[]} notes */
function addNotes(notes) {
  if (!open) return;
  for (const note of notes) {
    if (open.notes.has(note.seq)) continue;
    open.notes.set(note.seq, note);
    open.maxNoteSeq = Math.max(open.maxNoteSeq, note.seq);
    place(note.after_seq + 0.5 + note.seq / 1e6, renderMessage(note, { note: true }));
  }
}

function markRead() {
  if (!open || !open.maxSeq || document.visibilityState !== "visible" || !socket?.connected) return;
  call(socket, "session:read", { session_id: open.session.id, seq: open.maxSeq }).then((ack) => {
    if (ack.ok) {
      const held = mine.find((s) => s.id === ack.session_id);
      if (held && held.unread_count !== ack.unread_count) { held.unread_count = ack.unread_count; renderLists(); }
    }
  });
}
document.addEventListener("visibilitychange", markRead);

function renderReceipt() {
  if (!open || !ui.log) return;
  for (const old of ui.log.querySelectorAll(".receipt")) old.classList.remove("receipt");
  const seen = [...open.messages.values()].filter((m) => m.sender.type !== "user" && m.seq <= open.userReadSeq).pop();
  ui.log.querySelector(`[data-seq="${seen?.seq}"]`)?.classList.add("receipt");
  ui.receipt.textContent = seen ? t("read.receipt") + ` (#${seen.seq})` : "";
}

function renderOlderButton() {
  if (ui.older) ui.older.hidden = !open || open.minSeq <= 1 || open.minSeq === Infinity;
}

function renderChat() {
  if (!ui.chat) return;
  if (!open) {
    ui.chat.replaceChildren(el("h2", { id: "chat-title", text: t("chat.none") }));
    ui.customer.replaceChildren(el("h2", { id: "customer-title", text: t("customer.heading") }));
    return;
  }
  ui.title = el("h2", { id: "chat-title" });
  ui.state = el("p", { class: "chat-state" });
  // Always in the page (a live region that appears only with its text is not announced).
  ui.viewers = el("p", { id: "viewers", class: "viewers", role: "status" });
  ui.claim = el("button", { type: "button", id: "claim", text: t("claim"), onclick: claim });
  ui.transfer = el("button", { type: "button", id: "transfer", text: t("transfer"), onclick: () => openTransfer() });
  ui.close = el("button", { type: "button", id: "close", text: t("close"), onclick: closeChat });
  ui.older = el("button", { type: "button", class: "older", text: t("chat.older"), onclick: loadOlder, hidden: true });
  ui.log = el("div", { id: "messages", class: "log", role: "log", "aria-label": t("messages.label"), "aria-live": "polite", tabindex: 0 });
  ui.typing = el("p", { class: "typing", "aria-live": "polite" });
  ui.receipt = el("p", { class: "receipt-line" });
  ui.error = el("p", { class: "form-error", role: "alert" });
  ui.reply = el("textarea", { id: "reply", rows: 3, "aria-label": t("reply.label"), "aria-describedby": "reply-help",
    "aria-autocomplete": "list", "aria-controls": "canned", oninput: onReplyInput, onkeydown: onReplyKey, onpaste: onPaste });
  ui.note = el("input", { type: "checkbox", id: "note-toggle", onchange: () => ui.reply.classList.toggle("note-mode", ui.note.checked) });
  ui.file = el("input", { type: "file", id: "attach", accept: "image/png,image/jpeg,image/webp,image/heic", class: "visually-hidden",
    onchange: () => { if (ui.file.files[0]) sendImage(ui.file.files[0]); ui.file.value = ""; } });
  ui.canned = el("ul", { id: "canned", role: "listbox", "aria-label": t("canned.label"), class: "canned", hidden: true });
  const form = el("form", { class: "reply", onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); sendReply(); },
    ondragover: (/** @type {DragEvent} */ e) => e.preventDefault(),
    ondrop: (/** @type {DragEvent} */ e) => { e.preventDefault(); const f = e.dataTransfer?.files[0]; if (f) sendImage(f); } },
  ui.canned, ui.reply,
  el("p", { id: "reply-help", class: "help", text: t("reply.help") }),
  el("div", { class: "reply-actions" },
    el("label", {}, ui.note, t("note.toggle")),
    el("label", { for: "attach", class: "button-like", text: t("attach") }), ui.file,
    el("button", { type: "submit", id: "send", text: t("send") })),
  ui.error);
  ui.chat.replaceChildren(
    el("div", { class: "chat-head" }, ui.title, ui.state, ui.viewers,
      el("div", { class: "actions" }, ui.claim, ui.transfer, ui.close)),
    ui.older, ui.log, ui.typing, ui.receipt, form, transferDialog());
  for (const m of [...open.messages.values()]) place(m.seq, renderMessage(m, { mine: m.sender.id === claims.sub }));
  for (const n of [...open.notes.values()]) place(n.after_seq + 0.5 + n.seq / 1e6, renderMessage(n, { note: true }));
  renderChatHeader();
  renderViewers();
  renderReceipt();
  renderOlderButton();
}

/** "Also viewing: …": the other staff with this chat open (the list the server sends names us too). */
function renderViewers() {
  if (!open || !ui.viewers) return;
  const others = open.viewers.filter((v) => v.id !== claims.sub).map((v) => v.name || v.id);
  ui.viewers.textContent = others.length ? t("chat.viewers", { names: others.join(", ") }) : "";
}

function renderChatHeader() {
  if (!open || !ui.title) return;
  const s = open.session;
  ui.title.textContent = t("chat.heading", { user: s.user_name || s.user_id || "", category: s.category ? categoryName(s.category) : "" });
  ui.state.textContent = s.status === "closed" ? t("chat.closed")
    : s.operator ? t("chat.heldBy", { name: s.operator.name || s.operator.id }) : t("chat.waiting");
  ui.claim.disabled = s.status !== "waiting";
  ui.close.disabled = s.status === "closed";
  ui.transfer.disabled = s.status === "closed";
  renderCustomer();
}

function renderCustomer() {
  if (!open) return;
  const s = open.session;
  const ctx = s.client_context || {};
  /** @type {[string, any][]} */
  const rows = [["customer.category", s.category && categoryName(s.category)], ["customer.department", s.department && categoryName(s.department)],
    ["customer.app", ctx.app_version], ["customer.os", ctx.os], ["customer.device", ctx.device_model],
    ["customer.locale", ctx.locale], ["customer.error", ctx.error_code]];
  ui.history = ui.history?.dataset.user === s.user_id ? ui.history : el("ul", { id: "history", "data-user": s.user_id, "aria-labelledby": "history-title" });
  ui.customer.replaceChildren(
    el("h2", { id: "customer-title", text: t("customer.heading") }),
    el("p", { class: "customer-name", text: `${s.user_name || ""} (${s.user_id || ""})` }),
    el("dl", {}, ...rows.filter(([, v]) => v).flatMap(([k, v]) => [el("dt", { text: t(k) }), el("dd", { text: String(v) })])),
    el("h3", { id: "history-title", text: t("customer.history") }), ui.history);
  if (s.user_id && ui.history.dataset.loaded !== s.id) loadHistory(s.user_id, s.id);
}

/** The user's other chats (those this operator may see), with their ratings.
 * @param {string} userId @param {string} current */
async function loadHistory(userId, current) {
  ui.history.dataset.loaded = current;
  try {
    const page = await api.get(`/sessions?user_id=${encodeURIComponent(userId)}&limit=20`);
    const earlier = page.items.filter((/** @type {any} */ x) => x.id !== current);
    ui.history.replaceChildren(...(earlier.length ? earlier.map((/** @type {any} */ x) => el("li", {},
      el("button", { type: "button", class: "chat-link", onclick: () => openChat(x.id) },
        `${new Date(x.created_at).toLocaleDateString(lang() === "ja" ? "ja-JP" : "en-GB")} · ${categoryName(x.category)} · ${t(`status.${x.status}`)}`,
        x.rating ? ` · ${t("customer.rating", { score: x.rating.score })}` : "")))
      : [el("li", { class: "empty", text: t("customer.noHistory") })]));
  } catch { ui.history.replaceChildren(); }
}

/** @param {any} error */
function showError(error) {
  const message = error?.message || String(error);
  ui.error.textContent = error?.code === "sensitive_content" ? t("refused", { message }) : t("error", { message });
}

// ---- actions ------------------------------------------------------------------------------

async function claim() {
  if (!open) return;
  try {
    open.session = { ...open.session, ...(await api.post(`/sessions/${open.session.id}/claim`)) };
    renderChatHeader();
    loadLists();
    ui.reply.focus();
  } catch (error) { showError(error); }
}

async function closeChat() {
  if (!open) return;
  try {
    open.session = { ...open.session, ...(await api.post(`/sessions/${open.session.id}/close`)) };
    renderChatHeader();
    loadLists();
  } catch (error) { showError(error); }
}

function transferDialog() {
  ui.transferDept = el("select", { id: "transfer-dept" }, ...DEPARTMENTS.map((d) => el("option", { value: d, text: categoryName(d) })));
  ui.transferOp = el("select", { id: "transfer-op" }, el("option", { value: "", text: t("transfer.anyOperator") }));
  ui.transferNote = el("textarea", { id: "transfer-note", rows: 3 });
  ui.transferDialog = el("dialog", { id: "transfer-dialog", "aria-labelledby": "transfer-title" },
    el("form", { method: "dialog", onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); doTransfer(); } },
      el("h2", { id: "transfer-title", text: t("transfer.heading") }),
      el("label", { for: "transfer-dept", text: t("transfer.department") }), ui.transferDept,
      el("label", { for: "transfer-op", text: t("transfer.operator") }), ui.transferOp,
      el("label", { for: "transfer-note", text: t("transfer.note") }), ui.transferNote,
      el("div", { class: "actions" },
        el("button", { type: "submit", text: t("transfer.confirm") }),
        el("button", { type: "button", text: t("cancel"), onclick: () => ui.transferDialog.close() }))));
  return ui.transferDialog;
}

async function openTransfer() {
  if (!open) return;
  ui.transferDept.value = open.session.department || open.session.category;
  ui.transferDialog.showModal();
  try {
    const operators = await api.get("/operators");
    ui.transferOp.replaceChildren(el("option", { value: "", text: t("transfer.anyOperator") }),
      ...operators.items.filter((/** @type {any} */ o) => o.id !== claims.sub && o.status !== "offline")
        .map((/** @type {any} */ o) => el("option", { value: o.id, text: `${o.name || o.id} (${t(`status.${o.status}`)}, ${o.load})` })));
  } catch { /* operators cannot always list: department transfer still works */ }
}

async function doTransfer() {
  if (!open) return;
  /** @type {Record<string, string>} */
  const body = { department: ui.transferDept.value };
  if (ui.transferOp.value) body.operator_id = ui.transferOp.value;
  if (ui.transferNote.value.trim()) body.note = ui.transferNote.value.trim();
  try {
    open.session = { ...open.session, ...(await api.post(`/sessions/${open.session.id}/transfer`, body)) };
    ui.transferDialog.close();
    renderChatHeader();
    loadLists();
  } catch (error) { ui.transferDialog.close(); showError(error); }
}

async function sendReply() {
  if (!open) return;
  const body = ui.reply.value;
  if (!body.trim()) return;
  const internal = ui.note.checked;
  const ack = await call(socket, "message:send", {
    session_id: open.session.id, body, client_msg_id: crypto.randomUUID(), ...(internal ? { visibility: "internal" } : {}),
  });
  if (!ack.ok) { showError(ack.error); return; }  // the draft stays in the box
  ui.error.textContent = ack.masked_kinds ? t("masked") : "";
  ui.reply.value = "";
  sendTyping(false);
  if (internal) addNotes([ack.message]); else addMessages([ack.message]);
}

/** @param {File} file */
async function sendImage(file) {
  if (!open) return;
  const form = new FormData();
  form.append("file", file);
  try {
    const attachment = await api.post("/attachments", form);
    const ack = await call(socket, "message:send", { session_id: open.session.id, client_msg_id: crypto.randomUUID(),
                                                     attachment_ids: [attachment.id] });
    if (!ack.ok) showError(ack.error); else addMessages([ack.message]);
  } catch (error) { showError(error); }
}

/** @param {ClipboardEvent} event */
function onPaste(event) {
  const file = [...(event.clipboardData?.files || [])].find((f) => f.type.startsWith("image/"));
  if (file) { event.preventDefault(); sendImage(file); }
}

/** @param {boolean} typing */
function sendTyping(typing) {
  if (!open || !socket?.connected) return;
  const now = Date.now();
  if (typing && now - typingSentAt < 3000) return;
  typingSentAt = typing ? now : 0;
  call(socket, "typing", { session_id: open.session.id, is_typing: typing });
}

// ---- canned replies: "/" then words ------------------------------------------------------------

let cannedSeq = 0;
async function onReplyInput() {
  const value = ui.reply.value;
  sendTyping(value.length > 0);
  if (!value.startsWith("/")) return closeCanned();
  const q = value.slice(1).trim();
  const mark = ++cannedSeq;
  const params = new URLSearchParams({ limit: "20", session_id: open?.session.id || "" });
  if (q) params.set("q", q);
  try {
    const page = await api.get(`/canned-replies?${params}`);
    // Only the answer to the latest keystroke, and only while the box still asks for one.
    if (mark !== cannedSeq || !ui.reply.value.startsWith("/")) return;
    const lower = q.toLowerCase();
    // Ranked: title starting with the words, then title containing them, then body.
    const rank = (/** @type {any} */ r) => (r.title.toLowerCase().startsWith(lower) ? 0 : r.title.toLowerCase().includes(lower) ? 1 : 2);
    cannedItems = page.items.sort((/** @type {any} */ a, /** @type {any} */ b) => rank(a) - rank(b));
    cannedActive = cannedItems.length ? 0 : -1;
    renderCanned();
  } catch { closeCanned(); }
}

function renderCanned() {
  ui.canned.hidden = false;
  ui.canned.replaceChildren(...(cannedItems.length ? cannedItems.map((item, i) => el("li", {
    id: `canned-${i}`, role: "option", "aria-selected": i === cannedActive ? "true" : "false",
    onmousedown: (/** @type {Event} */ e) => { e.preventDefault(); insertCanned(i); },
  }, el("strong", { text: item.title }), " ", el("span", { text: (item.rendered ?? item.body).slice(0, 80) })))
    : [el("li", { role: "option", "aria-disabled": "true", "aria-selected": "false", text: t("canned.none") })]));
  if (cannedActive >= 0) ui.reply.setAttribute("aria-activedescendant", `canned-${cannedActive}`);
  else ui.reply.removeAttribute("aria-activedescendant");
}

function closeCanned() {
  cannedSeq++;  // a search still in flight must not reopen the list
  cannedItems = [];
  cannedActive = -1;
  if (ui.canned) { ui.canned.hidden = true; ui.canned.replaceChildren(); }
  ui.reply?.removeAttribute("aria-activedescendant");
}

/** @param {number} index */
function insertCanned(index) {
  const item = cannedItems[index];
  if (!item) return;
  ui.reply.value = item.rendered ?? item.body;
  closeCanned();
  ui.reply.focus();
}

/** @param {KeyboardEvent} event */
function onReplyKey(event) {
  if (!ui.canned.hidden && cannedItems.length) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      cannedActive = (cannedActive + (event.key === "ArrowDown" ? 1 : cannedItems.length - 1)) % cannedItems.length;
      return renderCanned();
    }
    if (event.key === "Enter" || event.key === "Tab") { event.preventDefault(); return insertCanned(cannedActive); }
  }
  if (event.key === "Escape") return closeCanned();
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); sendReply(); }
}

// ---- keyboard shortcuts --------------------------------------------------------------------

document.addEventListener("keydown", (event) => {
  const target = /** @type {HTMLElement} */ (event.target);
  if (!claims || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName) || event.ctrlKey || event.metaKey || event.altKey) return;
  const all = [...mine, ...queue];
  const index = all.findIndex((s) => s.id === open?.session.id);
  if (event.key === "j" && all.length) openChat(all[(index + 1) % all.length].id);
  else if (event.key === "k" && all.length) openChat(all[(index - 1 + all.length) % all.length].id);
  else if (event.key === "c" && open) claim();
  else if (event.key === "x" && open) closeChat();
  else if (event.key === "r" && ui.reply && open) { event.preventDefault(); ui.reply.focus(); }
  else if (event.key === "?") ui.help.open ? ui.help.close() : ui.help.showModal();
  else return;
  event.preventDefault();
});

window.addEventListener("support-api:unauthorized", (event) => signOut(/** @type {CustomEvent} */ (event).detail));
start();
