// @ts-check
/** The demo app: what the mobile app does, in a browser. Pick a category, chat in real time,
 *  attach a screenshot, see the queue position, rate the chat after it closes, resume after a
 *  reconnect. Public REST + Socket.IO API only. */
import { t } from "./i18n.js";
import {
  Api, call, categoryName, claimsOf, connectSocket, dropToken, duration, el, expired, initLang, languageSelect,
  loadToken, renderMessage, renderSignIn,
} from "./common.js";

const root = /** @type {HTMLElement} */ (document.getElementById("app"));
const CATEGORIES = ["trading", "account", "funds", "system_error", "security", "other"];
/** @type {Api} */ let api;
/** @type {any} */ let socket = null;
/** @type {any} */ let session = null;
/** @type {Map<number, any>} */ let messages = new Map();
let maxSeq = 0;
let everConnected = false;
let typingSentAt = 0;
/** @type {any} */ let typingTimer = null;
/** @type {Record<string, any>} */ const ui = {};

function start(message = "") {
  const token = loadToken();
  const claims = token ? claimsOf(token) : null;
  initLang(claims);
  if (!token || !claims) return renderSignIn(root, "demo.title", message, () => start());
  if (claims.role !== "user") { dropToken(); return renderSignIn(root, "demo.title", t("signin.wrongRole", { role: "user" }), () => start()); }
  if (expired(claims)) { dropToken(); return renderSignIn(root, "demo.title", t("signin.expired"), () => start()); }
  api = new Api(token, signOut);
  socket = connectSocket(token);
  socket.on("connect", async () => {
    ui.banner && (ui.banner.textContent = everConnected ? t("conn.back") : "");
    ui.banner?.classList.remove("down");
    everConnected = true;
    if (session) await join();
  });
  socket.on("disconnect", () => { if (ui.banner) { ui.banner.textContent = t("conn.down"); ui.banner.classList.add("down"); } });
  socket.on("connect_error", (/** @type {any} */ error) => { if (error?.data?.code === "unauthorized") signOut(error.data.details?.reason || "invalid"); });
  socket.on("message:new", (/** @type {any} */ message) => { if (session && message.session_id === session.id) { add([message]); markRead(); } });
  socket.on("session:updated", (/** @type {any} */ state) => {
    if (!session || state.id !== session.id) return;
    const wasClosed = session.status === "closed";
    session = { ...session, ...state };
    if (state.status !== "waiting") session.queue_position = null;
    if (state.status === "closed" && !wasClosed) renderChat(); else renderStatus();
  });
  socket.on("queue:updated", (/** @type {any} */ data) => {
    if (session && data.session_id === session.id) { Object.assign(session, data); renderStatus(); }
  });
  socket.on("typing", (/** @type {any} */ data) => {
    if (!session || data.session_id !== session.id || !ui.typing) return;
    clearTimeout(typingTimer);
    ui.typing.textContent = data.is_typing ? t("typing", { name: data.sender.name || t("sender.operator") }) : "";
    if (data.is_typing) typingTimer = setTimeout(() => { ui.typing.textContent = ""; }, 10000);
  });
  resumeLatest();
}

/** @param {string} reason */
function signOut(reason) {
  if (socket) { socket.off(); socket.disconnect(); socket = null; }
  dropToken();
  session = null;
  renderSignIn(root, "demo.title", reason === "expired" ? t("signin.expired") : reason === "manual" ? "" : t("signin.invalid"), () => start());
}

function frame(/** @type {Node[]} */ ...content) {
  document.title = t("demo.title");
  ui.banner = el("div", { class: "banner", role: "status", "aria-live": "polite" });
  root.replaceChildren(
    el("header", { class: "bar" }, el("h1", { text: t("demo.title") }),
      languageSelect(() => (session ? renderChat() : renderPicker())),
      el("button", { type: "button", text: t("signout"), onclick: () => signOut("manual") })),
    ui.banner,
    el("main", { class: "demo-main" }, ...content));
}

/** The newest chat, unless it is closed and rated: then a new one starts. */
async function resumeLatest() {
  const page = await api.get("/sessions?limit=1");
  const latest = page.items[0];
  if (latest && !(latest.status === "closed" && latest.rating)) {
    session = latest;
    renderChat();
    if (socket.connected) await join();
  } else renderPicker();
}

function renderPicker() {
  session = null;
  const first = el("textarea", { id: "first", rows: 3, required: true });
  const error = el("p", { class: "form-error", role: "alert" });
  frame(el("form", { class: "start", onsubmit: async (/** @type {Event} */ e) => {
    e.preventDefault();
    const picked = /** @type {HTMLInputElement | null} */ (root.querySelector("input[name=category]:checked"));
    if (!picked || !first.value.trim()) return;
    try {
      session = await api.post("/sessions", {
        category: picked.value,
        message: { body: first.value, client_msg_id: crypto.randomUUID() },
        client_context: { app_version: "demo-web", os: navigator.platform || "web", device_model: "browser", locale: navigator.language },
      });
      messages = new Map();
      maxSeq = 0;
      renderChat();
      if (session.first_message) add([session.first_message]);
      await join();
    } catch (err) { error.textContent = t("refused", { message: String(/** @type {any} */ (err).message || err) }); }
  } },
  el("fieldset", { class: "categories" }, el("legend", { text: t("demo.pick") }),
    ...CATEGORIES.map((c, i) => el("label", {}, el("input", { type: "radio", name: "category", value: c, checked: i === 0 }), categoryName(c)))),
  el("label", { for: "first", text: t("demo.first") }), first,
  el("p", { class: "warning", text: t("demo.warning") }),
  error,
  el("button", { type: "submit", text: t("demo.start") })));
}

async function join() {
  if (!session) return;
  for (;;) {
    const ack = await call(socket, "session:join", { session_id: session.id, after_seq: maxSeq, limit: 200 });
    if (!ack.ok) { ui.error && (ui.error.textContent = t("error", { message: ack.error.message })); return; }
    const wasClosed = session.status === "closed";
    session = ack.session;
    add(ack.messages);
    if (session.status === "closed" && !wasClosed) renderChat(); else renderStatus();
    if (!ack.has_more) break;
  }
  markRead();
}

/** @param {any[]} list */
function add(list) {
  for (const message of list) {
    if (messages.has(message.seq)) continue;
    messages.set(message.seq, message);
    maxSeq = Math.max(maxSeq, message.seq);
    if (!ui.log) continue;
    const item = renderMessage(message, { mine: message.sender.type === "user" });
    item.dataset.key = String(message.seq);
    const next = [...ui.log.children].find((c) => Number(c.dataset.key) > message.seq);
    ui.log.insertBefore(item, next || null);
    ui.log.scrollTop = ui.log.scrollHeight;
  }
}

function markRead() {
  if (session && maxSeq && document.visibilityState === "visible" && socket?.connected) call(socket, "session:read", { session_id: session.id, seq: maxSeq });
}
document.addEventListener("visibilitychange", markRead);

function renderChat() {
  ui.status = el("p", { id: "chat-status", class: "chat-state", role: "status" });
  ui.log = el("div", { class: "log", role: "log", "aria-label": t("messages.label"), tabindex: 0 });
  ui.typing = el("p", { class: "typing", "aria-live": "polite" });
  ui.error = el("p", { class: "form-error", role: "alert" });
  const content = [el("h2", { text: categoryName(session.category) }), ui.status, ui.log, ui.typing];
  if (session.status === "closed") content.push(session.rating ? closedDone() : ratingForm());
  else content.push(composer());
  content.push(ui.error);
  frame(...content);
  const held = [...messages.values()];
  messages = new Map();
  add(held);
  renderStatus();
}

function composer() {
  ui.input = el("textarea", { id: "message", rows: 2, "aria-label": t("demo.message"),
    oninput: () => typing(ui.input.value.length > 0),
    onkeydown: (/** @type {KeyboardEvent} */ e) => { if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); } } });
  ui.file = el("input", { type: "file", id: "attach", accept: "image/png,image/jpeg,image/webp,image/heic", class: "visually-hidden",
    onchange: () => { if (ui.file.files[0]) sendImage(ui.file.files[0]); ui.file.value = ""; } });
  return el("form", { class: "reply", onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); send(); } },
    el("p", { class: "warning", text: t("demo.warning") }), ui.input,
    el("div", { class: "reply-actions" },
      el("label", { for: "attach", class: "button-like", text: t("attach") }), ui.file,
      el("button", { type: "submit", text: t("send") })));
}

function renderStatus() {
  if (!ui.status || !session) return;
  if (session.status === "waiting") {
    const parts = [];
    if (session.queue_position) parts.push(t("demo.position", { pos: session.queue_position }));
    if (session.estimated_wait_seconds != null) parts.push(t("demo.wait", { wait: duration(session.estimated_wait_seconds) }));
    ui.status.textContent = parts.join(" ") || t("chat.waiting");
  } else if (session.status === "active") {
    ui.status.textContent = t("demo.connected", { name: session.operator?.name || t("sender.operator") });
  } else ui.status.textContent = t("chat.closed");
}

async function send() {
  const body = ui.input.value;
  if (!body.trim() || !session) return;
  const ack = await call(socket, "message:send", { session_id: session.id, body, client_msg_id: crypto.randomUUID() });
  if (!ack.ok) { ui.error.textContent = t("refused", { message: ack.error.message }); return; }
  ui.error.textContent = ack.masked_kinds ? t("masked") : "";
  ui.input.value = "";
  typing(false);
  add([ack.message]);
}

/** @param {File} file */
async function sendImage(file) {
  const form = new FormData();
  form.append("file", file);
  try {
    const attachment = await api.post("/attachments", form);
    const ack = await call(socket, "message:send", { session_id: session.id, client_msg_id: crypto.randomUUID(),
                                                     body: ui.input.value.trim() ? ui.input.value : undefined, attachment_ids: [attachment.id] });
    if (!ack.ok) { ui.error.textContent = t("refused", { message: ack.error.message }); return; }
    ui.input.value = "";
    add([ack.message]);
  } catch (err) { ui.error.textContent = t("error", { message: String(/** @type {any} */ (err).message || err) }); }
}

/** @param {boolean} on */
function typing(on) {
  if (!session || !socket?.connected) return;
  if (on && Date.now() - typingSentAt < 3000) return;
  typingSentAt = on ? Date.now() : 0;
  call(socket, "typing", { session_id: session.id, is_typing: on });
}

function ratingForm() {
  const comment = el("textarea", { id: "comment", rows: 2 });
  return el("form", { class: "rating", onsubmit: async (/** @type {Event} */ e) => {
    e.preventDefault();
    const picked = /** @type {HTMLInputElement | null} */ (root.querySelector("input[name=score]:checked"));
    if (!picked) return;
    try {
      session = await api.post(`/sessions/${session.id}/rating`, { score: Number(picked.value), comment: comment.value.trim() || null });
      renderChat();
    } catch (err) { ui.error.textContent = t("error", { message: String(/** @type {any} */ (err).message || err) }); }
  } },
  el("p", { text: t("demo.closed") }),
  el("fieldset", { class: "stars" }, el("legend", { text: t("demo.rate") }),
    ...[1, 2, 3, 4, 5].map((n) => el("label", {}, el("input", { type: "radio", name: "score", value: String(n) }), t("demo.score", { n })))),
  el("label", { for: "comment", text: t("demo.comment") }), comment,
  el("button", { type: "submit", text: t("demo.submitRating") }),
  el("button", { type: "button", text: t("demo.reopen"), onclick: reopen }));
}

function closedDone() {
  return el("div", {}, el("p", { role: "status", text: t("demo.thanks") }),
    el("button", { type: "button", text: t("demo.new"), onclick: () => { messages = new Map(); maxSeq = 0; renderPicker(); } }));
}

async function reopen() {
  try {
    session = await api.post(`/sessions/${session.id}/reopen`);
    renderChat();
  } catch (err) { ui.error.textContent = t("error", { message: String(/** @type {any} */ (err).message || err) }); }
}

window.addEventListener("support-api:unauthorized", (event) => signOut(/** @type {CustomEvent} */ (event).detail));
start();
