// @ts-check
/** Shared by the console, the stats page and the demo app: the token, REST calls, the socket,
 *  DOM building (text always through textContent, never innerHTML) and message rendering. */
import { io } from "./vendor/socket.io.esm.min.js";
import { t, setLang, pickLang, lang } from "./i18n.js";

const TOKEN_KEY = "support_api.token";

/** @typedef {{sub: string, role: string, name?: string, locale?: string, departments?: string[], exp?: number}} Claims */

/** Take `#token=` from the fragment (and wipe it from the address bar and history), else
 *  the token kept in sessionStorage. @returns {string | null} */
export function loadToken() {
  const match = location.hash.match(/(?:^#|&)token=([^&]+)/);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

/** @param {string} token */
export function saveToken(token) { sessionStorage.setItem(TOKEN_KEY, token.trim()); }
export function dropToken() { sessionStorage.removeItem(TOKEN_KEY); }

/** The claims of a JWT, read without verifying (the server verifies).
 * @param {string} token @returns {Claims | null} */
export function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** @param {Claims} claims */
export function expired(claims) { return !!claims.exp && claims.exp * 1000 <= Date.now(); }

export class ApiError extends Error {
  /** @param {number} status @param {{code: string, message: string, details: any}} error */
  constructor(status, error) {
    super(error.message);
    this.status = status;
    this.code = error.code;
    this.details = error.details || {};
  }
}

/** A REST client for one token; a 401 calls `onUnauthorized` (the sign-in prompt). */
export class Api {
  /** @param {string} token @param {(reason: string) => void} onUnauthorized */
  constructor(token, onUnauthorized) {
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  /** @param {string} method @param {string} path @param {any} [body] @returns {Promise<any>} */
  async request(method, path, body) {
    /** @type {Record<string, string>} */
    const headers = { Authorization: `Bearer ${this.token}` };
    let payload;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const response = await fetch(`/v1${path}`, { method, headers, body: payload });
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      const error = data?.error || { code: "error", message: `HTTP ${response.status}`, details: {} };
      if (response.status === 401) this.onUnauthorized(error.details?.reason || "invalid");
      throw new ApiError(response.status, error);
    }
    return data;
  }

  /** @param {string} path */ get(path) { return this.request("GET", path); }
  /** @param {string} path @param {any} [body] */ post(path, body) { return this.request("POST", path, body ?? {}); }
  /** @param {string} path @param {any} body */ put(path, body) { return this.request("PUT", path, body); }
}

/** A Socket.IO connection with the token in the handshake's auth payload; it reconnects on its
 *  own (the caller resumes its sessions on every `connect`). */
export function connectSocket(token) {
  return io({ auth: { token }, transports: ["websocket", "polling"], reconnectionDelayMax: 3000 });
}

/** Emit with an ack, bounded: a lost ack becomes an error instead of a stall.
 * @param {any} socket @param {string} event @param {any} data @returns {Promise<any>} */
export async function call(socket, event, data) {
  try {
    const ack = await socket.timeout(10000).emitWithAck(event, data);
    // A socket outlives its token: the server then refuses every event (asyncapi.yaml, Token expiry).
    if (ack && ack.ok === false && ack.error?.code === "unauthorized") {
      window.dispatchEvent(new CustomEvent("support-api:unauthorized", { detail: ack.error.details?.reason || "expired" }));
    }
    return ack;
  } catch {
    return { ok: false, error: { code: "timeout", message: "No answer from the server", details: {} } };
  }
}

/** Build an element; strings become text nodes (never markup).
 * @param {string} tag @param {Record<string, any>} [attrs] @param {...(Node | string | null | undefined | false)} children
 * @returns {any} */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") /** @type {any} */ (node)[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** @param {number} seconds */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  if (m >= 60) return `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

/** @param {string} iso */
export function clock(iso) {
  return new Date(iso).toLocaleTimeString(lang() === "ja" ? "ja-JP" : "en-GB", { hour: "2-digit", minute: "2-digit" });
}

/** @param {string} category */
export function categoryName(category) { return t(`category.${category}`); }

/** One message or internal note (an item of the `log` region); the body goes in as text.
 * @param {any} message @param {{note?: boolean, mine?: boolean}} [options] */
export function renderMessage(message, options = {}) {
  const type = options.note ? "note" : message.sender.type;
  const who = message.sender.name || t(`sender.${message.sender.type}`);
  const item = el("div", {
    class: `msg msg-${type}${options.mine ? " msg-mine" : ""}`,
    "data-seq": options.note ? undefined : String(message.seq),
    "data-note-seq": options.note ? String(message.seq) : undefined,
  });
  const head = el("div", { class: "msg-head" },
    options.note ? el("strong", { class: "note-badge", text: t("note.badge") }) : null,
    el("span", { class: "msg-who", text: who }),
    el("time", { datetime: message.created_at, text: clock(message.created_at) }));
  const body = el("div", { class: "msg-body" });
  body.textContent = message.body || "";
  item.append(head, body);
  for (const attachment of message.attachments || []) {
    item.append(el("a", { class: "msg-attachment", href: attachment.url, target: "_blank", rel: "noopener" },
      el("img", { src: attachment.thumbnail_url, alt: `${who}: ${attachment.content_type} ${attachment.width}×${attachment.height}`,
                  width: Math.min(240, attachment.width || 240), loading: "lazy" })));
  }
  return item;
}

/** Language switch (one select), re-rendering the page through `render`.
 * @param {() => void} render */
export function languageSelect(render) {
  const select = el("select", { "aria-label": t("language"), onchange: () => { setLang(select.value); render(); } },
    el("option", { value: "ja", text: "日本語" }), el("option", { value: "en", text: "English" }));
  select.value = lang();
  return select;
}

/** Choose the UI language for these claims. @param {Claims | null} claims */
export function initLang(claims) { setLang(pickLang(claims?.locale)); }

/** The sign-in view: a paste box; `message` says why (expired, invalid, wrong role).
 * @param {HTMLElement} root @param {string} titleKey @param {string} message @param {() => void} onSignedIn */
export function renderSignIn(root, titleKey, message, onSignedIn) {
  document.title = t(titleKey);
  const box = el("textarea", { id: "token-input", rows: 4, cols: 60, autocomplete: "off", spellcheck: "false" });
  const form = el("form", { class: "signin", onsubmit: (/** @type {Event} */ event) => {
    event.preventDefault();
    if (!box.value.trim()) return;
    saveToken(box.value);
    onSignedIn();
  } },
  el("label", { for: "token-input", text: t("signin.token") }), box,
  el("button", { type: "submit", text: t("signin.submit") }));
  root.replaceChildren(
    el("header", { class: "bar" }, el("h1", { text: t(titleKey) }), languageSelect(() => renderSignIn(root, titleKey, message, onSignedIn))),
    el("main", { class: "signin-main" },
      el("h2", { text: t("signin.heading") }),
      message ? el("p", { class: "alert", role: "alert", text: message }) : null,
      el("p", { class: "help", text: t("signin.help") }),
      form));
}
