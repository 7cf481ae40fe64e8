// sessionward example front-end: plain JavaScript, no build step, no
// framework, nothing inline (the page's CSP allows scripts and styles from
// the app only). Every piece of server data reaches the page through
// textContent or attribute values, never as HTML.
//
// Bearer transport keeps tokens in localStorage (the SPA case of the
// original finding) and removes them on logout / 401, and binds them to a
// key the page cannot read (DPoP, below), so copies of them are useless
// elsewhere; cookie transport keeps them in HttpOnly cookies and sends the
// CSRF double-submit header.
// Either way the page refreshes before the access token runs out (while the
// user is active) and whenever a request finds it missing or expired, so an
// active user is never signed out while the session lives. A browser whose
// session was ended elsewhere is told so, with the reason, the moment any
// view opens, public ones included.
"use strict";

const ACCESS = "sw_access";
const REFRESH = "sw_refresh";
const TOKEN_TYPE = "sw_token_type";
const state = { cfg: null, me: null, sessions: [], open: new Set() };
const $ = (id) => document.getElementById(id);

/** The session is gone; the login page with the reason is already shown. */
class SessionEnded extends Error {}
/** The user dismissed a prompt: nothing happens and nothing is said. */
class Cancelled extends Error {}
/** fetch itself failed (offline, server down). */
class Unreachable extends Error {}

const UNREACHABLE = "Can't reach the server — try again.";

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)__Host-sw_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : null;
}

function bearer() { return state.cfg && state.cfg.transport === "bearer"; }

// Proactive refresh: a timer fires at 80% of the access token's life and
// refreshes if the user did something since the token was issued; an idle
// page lets the token lapse (the server's idle timeout keeps meaning
// something) and refreshes on its next request instead.
let refreshTimer = null;
let tokenIssuedAt = 0;
let lastActivity = Date.now();
for (const ev of ["pointerdown", "keydown"]) {
  addEventListener(ev, () => { lastActivity = Date.now(); }, { capture: true, passive: true });
}

function scheduleRefresh(accessExpiresAt) {
  clearTimeout(refreshTimer);
  refreshTimer = null;
  const exp = Date.parse(accessExpiresAt);
  if (!exp) return;
  tokenIssuedAt = Date.now();
  const left = exp - tokenIssuedAt;
  refreshTimer = setTimeout(async () => {
    if (lastActivity > tokenIssuedAt) {
      try { await refreshTokens(); } catch (_) { /* the next request retries */ }
    }
  }, Math.max(500, left * 0.8));
}

function storeTokens(data) {
  if (bearer() && data && data.access_token) {
    localStorage.setItem(ACCESS, data.access_token);
    localStorage.setItem(REFRESH, data.refresh_token);
    localStorage.setItem(TOKEN_TYPE, data.token_type === "DPoP" ? "DPoP" : "Bearer");
  }
  if (data && data.access_expires_at) scheduleRefresh(data.access_expires_at);
}

// Explicit client-side wipe (the server also sends Clear-Site-Data).
function wipeTokens() {
  clearTimeout(refreshTimer);
  refreshTimer = null;
  localStorage.removeItem(ACCESS);
  localStorage.removeItem(REFRESH);
  localStorage.removeItem(TOKEN_TYPE);
  if (bearer()) keepKey(null);
  sessionStorage.clear();
  state.me = null;
  state.sessions = [];
  state.open.clear();
}

// How a session ended, from the "reason" of a 401 invalid_token
// (RevokeReason::as_str, or idle_timeout / absolute_timeout), completing
// "This device was signed out …".
const ENDED_WHY = {
  user: "by you from another device",
  evicted: "because you signed in on another device and the device limit was reached",
  logout: "here",
  admin: "by an administrator",
  password_change: "because the password was changed",
  idle_timeout: "because of inactivity",
  absolute_timeout: "because the session reached its maximum age",
  account_disabled: "because the account was disabled",
  reauthenticated: "because you signed in again",
  refresh_token_reuse: "for your security: its sign-in was used twice, which can mean someone copied it",
  not_me: "for your security: a sign-in was reported with \"This wasn't me\"",
  risk: "for your security: the sign-in looked unusual",
  key_proof_failed: "for your security: its tokens were used without this device's key, which means they were copied",
  anomaly: "for your security: it was used from a different browser or place, which can mean it was stolen",
  suspicious_use: "for your security: this browser or place does not match the one that signed in",
};

function endedMessage(reason) {
  // Eviction is told from the user's side, as Kibana does: it was their own sign-in.
  if (reason === "evicted") return "You were signed out " + ENDED_WHY.evicted + ". Sign in again to continue.";
  const why = ENDED_WHY[reason];
  return "This device was signed out" + (why ? " " + why : "") + ". Sign in again to continue.";
}

// ---------- DPoP key (bearer transport) ----------
//
// With bearer transport every request carries a DPoP proof (RFC 9449): a
// JWT signed by a P-256 key the page made with WebCrypto as
// non-extractable, so no script, this one included, can read its private
// half. The key pair lives in IndexedDB so a reload keeps it. The login
// binds the session to the key; from then on the server refuses its
// tokens without a fresh proof by it, so tokens copied out of localStorage
// are useless elsewhere. A login without a session makes a new key; a
// re-authentication keeps the current one; logout and wipes delete it.
// Without WebCrypto or IndexedDB the page sends plain bearer tokens.

const KEY_DB = "sessionward-dpop";
const KEY_STORE = "keys";
const KEY_NAME = "current";

/** Runs `op(store)` in a `mode` transaction of the key store; resolves to its request's result. */
function keyStore(mode, op) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(KEY_DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(KEY_STORE);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(KEY_STORE, mode);
      const req = op(tx.objectStore(KEY_STORE));
      tx.oncomplete = () => { db.close(); resolve(req.result); };
      tx.onabort = () => { db.close(); reject(tx.error); };
    };
  });
}

/** Proofs need the origin the server checks them against, WebCrypto and IndexedDB. */
function dpopPossible() {
  return bearer() && typeof state.cfg.public_origin === "string" && !!state.cfg.public_origin &&
    !!(window.crypto && crypto.subtle) && typeof indexedDB !== "undefined";
}

// The key requests are signed with: a promise of {privateKey, publicKey, jwk} or null.
let dpopKey = null;

/** The stored key, or null (none, or no WebCrypto / IndexedDB). */
function currentKey() {
  if (!dpopKey) {
    dpopKey = dpopPossible()
      ? keyStore("readonly", (s) => s.get(KEY_NAME)).then((k) => (k && k.privateKey ? k : null), () => null)
      : Promise.resolve(null);
  }
  return dpopKey;
}

/** A new key for a login, not stored yet; null when the page can't keep one. */
async function newKey() {
  if (!dpopPossible()) return null;
  try {
    await keyStore("readonly", (s) => s.count());
    const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
    return { privateKey: pair.privateKey, publicKey: pair.publicKey, jwk: { kty, crv, x, y } };
  } catch (_) {
    return null;
  }
}

/** Signs with `key` from now on and keeps it in IndexedDB; `null` deletes the stored key. */
async function keepKey(key) {
  dpopKey = Promise.resolve(key);
  try {
    await keyStore("readwrite", (s) => (key ? s.put(key, KEY_NAME) : s.delete(KEY_NAME)));
  } catch (_) { /* no IndexedDB: nothing stored, nothing to delete */ }
}

// The latest server nonce (`DPoP-Nonce`), included in every proof.
let dpopNonce = null;

const utf8 = (s) => new TextEncoder().encode(s);

function base64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A DPoP proof by `key` for `method` `path`, tied to `accessToken` (`ath`) when one is sent. */
async function dpopProof(key, method, path, accessToken) {
  const claims = {
    jti: base64url(crypto.getRandomValues(new Uint8Array(18))),
    htm: method,
    htu: state.cfg.public_origin.replace(/\/+$/, "") + path.split(/[?#]/)[0],
    iat: Math.floor(Date.now() / 1000),
  };
  if (accessToken) claims.ath = base64url(await crypto.subtle.digest("SHA-256", utf8(accessToken)));
  if (dpopNonce) claims.nonce = dpopNonce;
  const header = { typ: "dpop+jwt", alg: "ES256", jwk: key.jwk };
  const input = base64url(utf8(JSON.stringify(header))) + "." + base64url(utf8(JSON.stringify(claims)));
  // WebCrypto's ECDSA signature is r || s, what ES256 wants.
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.privateKey, utf8(input));
  return input + "." + base64url(signature);
}

// One request as the page makes it. With bearer transport it sends the
// access token (`DPoP` or `Bearer`, as the login or refresh answer said)
// and a proof by `key` (default: the stored key; null: none), retrying
// once with the server's nonce when it asks for one.
async function rawFetch(method, path, body, key) {
  const signer = bearer() ? (key === undefined ? await currentKey() : key) : null;
  let r = await fetchOnce(method, path, body, signer);
  if (signer && (r.status === 400 || r.status === 401) && r.data && r.data.error === "use_dpop_nonce" && r.nonce) {
    r = await fetchOnce(method, path, body, signer);
  }
  return { status: r.status, data: r.data };
}

async function fetchOnce(method, path, body, signer) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (bearer()) {
    const t = localStorage.getItem(ACCESS);
    if (t) headers.Authorization = (localStorage.getItem(TOKEN_TYPE) === "DPoP" ? "DPoP " : "Bearer ") + t;
    if (signer) headers.DPoP = await dpopProof(signer, method, path, t);
  } else if (method !== "GET") {
    const c = csrfToken();
    if (c) headers["X-CSRF-Token"] = c;
  }
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (_) {
    throw new Unreachable(UNREACHABLE);
  }
  const nonce = res.headers.get("DPoP-Nonce");
  if (nonce) dpopNonce = nonce;
  let data = null;
  try { data = await res.json(); } catch (_) { /* empty body */ }
  return { status: res.status, data, nonce };
}

// Single-flight refresh; resolves to the refresh answer ({status, data}).
let refreshing = null;
async function refreshTokens() {
  if (!refreshing) {
    refreshing = (async () => {
      const prefix = state.cfg.prefix;
      let r;
      if (bearer()) {
        const rt = localStorage.getItem(REFRESH);
        if (!rt) return { status: 401, data: { error: "missing_token" } };
        r = await rawFetch("POST", prefix + "/refresh", { refresh_token: rt });
      } else {
        r = await rawFetch("POST", prefix + "/refresh");
      }
      if (r.status === 200) storeTokens(r.data);
      return r;
    })().finally(() => { setTimeout(() => { refreshing = null; }, 0); });
  }
  return refreshing;
}

/** The session is gone: wipe, and say why (nothing for a visitor who never signed in). */
function signedOut(reason, wasSignedIn = true) {
  wipeTokens();
  if (reason) showLogin(endedMessage(reason), "warn");
  else if (wasSignedIn) showLogin("Your session has ended. Sign in again to continue.", "warn");
  else showLogin();
}

// Authenticated API call: on a missing or refused access token (expired,
// or its cookie gone) refreshes once and retries; asks for the password
// again on reauthentication_required (a dismissed prompt throws Cancelled);
// when the session is really gone, wipes the tokens and shows the login
// page with the reason. Tokens whose key proofs are refused (the key is
// gone from this browser) are of no use to the page either.
async function api(method, path, body, retried = false) {
  const r = await rawFetch(method, path, body);
  const code = r.data && r.data.error;
  if (r.status === 401 && code === "invalid_dpop_proof") {
    signedOut(null, !!state.me);
    throw new SessionEnded();
  }
  if (r.status === 401 && (code === "invalid_token" || code === "missing_token")) {
    let why = r.data;
    if (!retried && !why.reason) {
      const refreshed = await refreshTokens();
      // A device-bound (DBSC) session: the browser renews its cookie with
      // its device key before it sends the retry.
      const deviceBound = refreshed.data && refreshed.data.error === "device_bound_session";
      if (refreshed.status === 200 || deviceBound) return api(method, path, body, true);
      why = refreshed.data;
    }
    signedOut(why && why.reason, !!state.me);
    throw new SessionEnded();
  }
  if (r.status === 401 && code === "reauthentication_required" && !retried) {
    if (await reauthenticate()) return api(method, path, body, true);
    throw new Cancelled();
  }
  return r;
}

// What a browser holding (or maybe holding) tokens learns before it shows
// anything: {state: "active", me} | {state: "ended", reason} | {state: "none"}.
async function sessionState() {
  const heldRefresh = bearer() ? !!localStorage.getItem(REFRESH) : !!csrfToken();
  if (bearer() && !localStorage.getItem(ACCESS) && !heldRefresh) return { state: "none" };
  let r = await rawFetch("GET", "/api/me");
  if (r.status === 200) return { state: "active", me: r.data };
  const code = r.data && r.data.error;
  if (r.status !== 401) return { state: "none" };
  if (r.data && r.data.reason) return { state: "ended", reason: r.data.reason };
  if (code === "invalid_dpop_proof") return { state: "ended", reason: null };
  if (code === "invalid_token" || (code === "missing_token" && heldRefresh)) {
    const f = await refreshTokens();
    if (f.status === 200 || (f.data && f.data.error === "device_bound_session")) {
      r = await rawFetch("GET", "/api/me");
      if (r.status === 200) return { state: "active", me: r.data };
    }
    if (f.data && f.data.reason) return { state: "ended", reason: f.data.reason };
    if (f.data && f.data.error === "invalid_dpop_proof") return { state: "ended", reason: null };
    if (f.status === 401 && code === "invalid_token") return { state: "ended", reason: null };
  }
  return { state: "none" };
}

function flash(text, kind = "ok") {
  const f = $("flash");
  f.className = "flash " + (text ? kind : "");
  f.textContent = text || "";
}

function report(e) {
  if (e instanceof SessionEnded || e instanceof Cancelled) return;
  if (e instanceof Unreachable) { flash(UNREACHABLE, "bad"); return; }
  flash(String((e && e.message) || e), "bad");
}

// ---------- views ----------

const VIEWS = ["login", "sessions", "notifications", "events", "policy"];

function showView(name) {
  for (const v of VIEWS) $("view-" + v).hidden = v !== name;
  for (const a of document.querySelectorAll("nav a")) {
    const here = a.dataset.view === name;
    a.classList.toggle("active", here);
    if (here) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const signedIn = name !== "login";
  $("nav").hidden = !signedIn;
  $("who").hidden = !signedIn;
}

function showLogin(message, kind = "info") {
  showView("login");
  $("login-error").hidden = true;
  const n = $("login-notice");
  n.textContent = message || "";
  n.className = "notice-box " + (message ? kind : "");
  if (location.hash !== "#/login") history.replaceState(null, "", "#/login");
}

async function route() {
  const view = (location.hash.replace(/^#\//, "") || "sessions").split("?")[0];
  try {
    if (!state.me) {
      // Before any view, public ones included: did this browser's session end elsewhere?
      const s = await sessionState();
      if (s.state === "ended") { signedOut(s.reason); return; }
      if (s.state !== "active") {
        if (view !== "login" || $("view-login").hidden) showLogin();
        return;
      }
      state.me = s.me;
      if (!refreshTimer) scheduleRefresh(state.me.access_expires_at);
    } else {
      // Every view change checks again, so a session ended elsewhere is
      // noticed on the next action even on a view with public data.
      const r = await api("GET", "/api/me");
      if (r.status === 200) state.me = r.data;
    }
    if (view === "login") { showLogin(); return; }
    $("who-name").textContent = state.me.user;
    const renders = { sessions: renderSessions, notifications: renderNotifications, events: renderEvents, policy: renderPolicy };
    const name = renders[view] ? view : "sessions";
    showView(name);
    await renders[name]();
    refreshNotificationCount();
  } catch (e) {
    if (e instanceof Unreachable && VIEWS.every((v) => $("view-" + v).hidden)) showLogin(UNREACHABLE, "bad");
    else report(e);
  }
}

// ---------- formatting ----------

const RTF = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const EXACT = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });
const SHORT = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function capitalise(s) { return s ? s[0].toUpperCase() + s.slice(1) : s; }

function startOfDay(d) { return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime(); }

/** "Just now", "5 minutes ago", "3 hours ago", "Yesterday", "4 days ago", "in 11 hours", or a date. */
function relative(date, now = new Date()) {
  const secs = Math.round((date.getTime() - now.getTime()) / 1000);
  const abs = Math.abs(secs);
  if (abs < 60) return secs <= 0 ? "Just now" : "In a moment";
  if (abs < 3600) return capitalise(RTF.format(Math.trunc(secs / 60), "minute"));
  const days = Math.round((startOfDay(date) - startOfDay(now)) / 86400000);
  if (abs < 6 * 3600 || days === 0) return capitalise(RTF.format(Math.trunc(secs / 3600), "hour"));
  if (Math.abs(days) < 30) return capitalise(RTF.format(days, "day"));
  return SHORT.format(date);
}

/** <time datetime="…" title="exact local time">5 minutes ago</time>, or null for a bad timestamp. */
function timeEl(ts, text) {
  const d = new Date(ts);
  if (!ts || isNaN(d.getTime())) return null;
  return el("time", { datetime: d.toISOString(), title: EXACT.format(d) }, text === undefined ? relative(d) : text(d));
}

function major(v) { return v ? String(v).split(".")[0] : ""; }

function deviceText(s) {
  const d = s.device || {};
  const browser = d.browser && d.browser !== "Other" ? (d.browser + (d.browser_version ? " " + major(d.browser_version) : "")) : null;
  const os = d.os && d.os !== "Other" ? (d.os + (d.os_version ? " " + major(d.os_version) : "")) : null;
  if (browser && os) return browser + " on " + os;
  return browser || os || d.device_family || "Unknown device";
}

/** The server's `device_name` when it sends one, else built from the parsed device. */
function deviceName(s) { return (typeof s.device_name === "string" && s.device_name) || deviceText(s); }

function locationText(l) {
  if (!l) return null;
  const parts = [l.city, l.region && l.region !== l.city ? l.region : null, l.country_name].filter(Boolean);
  return parts.length ? parts.join(", ") : null;
}

function placeOf(p) { return (p && (p.place || locationText(p.location))) || "Unknown location"; }

function ipText(ip) { return typeof ip === "string" && ip ? ip : null; }

/** "London, United Kingdom · 81.2.69.0/24" */
function whereText(p) { return [placeOf(p), ipText(p && p.ip)].filter(Boolean).join(" · "); }

function lastSeen(s) {
  return s.last_seen && s.last_seen.at ? s.last_seen : { at: s.last_seen_at, ip: s.ip, place: s.place, location: s.location };
}

const SIGNALS = {
  new_country: ["New country", "bad", "Signed in from a country this account had not used"],
  impossible_travel: ["Impossible travel", "bad", "Too far from the previous sign-in for the time between them"],
  new_device: ["New device", "warn", "Signed in from a device this account had not used"],
  new_asn: ["New network", "info", "Signed in from a network this account had not used"],
  anonymous_ip: ["Anonymous IP", "bad", "Signed in through an anonymiser (VPN, proxy or Tor)"],
  many_sessions: ["Many sessions", "warn", "The account had many sessions open at once"],
  login_burst: ["Login burst", "warn", "Many sign-ins in a short time"],
};

function signal(sig) {
  const name = String((sig && sig.name) || "signal");
  const [label, kind, words] = SIGNALS[name] || [capitalise(name.replace(/_/g, " ")), "info", null];
  return { label, kind, words: capitalise(String(sig.reason || words || label)) };
}

const METHODS = { password: "Password", passkey: "Passkey", webauthn: "Security key", otp: "One-time code", sso: "Single sign-on", oauth: "Single sign-on", magic_link: "Email link", step_up: "Password and second factor" };

function methodText(m) { return METHODS[m] || capitalise(String(m).replace(/_/g, " ")); }

// ---------- DOM helpers ----------

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

// Device icons, drawn with DOM calls (no markup strings).
const ICONS = {
  desktop: [["rect", { x: 3, y: 4, width: 18, height: 12, rx: 1.5 }], ["path", { d: "M8 20h8M12 16v4" }]],
  mobile: [["rect", { x: 7, y: 2.5, width: 10, height: 19, rx: 2 }], ["path", { d: "M11 18.5h2" }]],
  tablet: [["rect", { x: 4, y: 3, width: 16, height: 18, rx: 2 }], ["path", { d: "M11 18h2" }]],
  bot: [["rect", { x: 5, y: 8, width: 14, height: 11, rx: 2 }], ["path", { d: "M12 4v4M9 13h.01M15 13h.01" }]],
  other: [["circle", { cx: 12, cy: 12, r: 8.5 }], ["path", { d: "M3.5 12h17M12 3.5c3 3.5 3 13.5 0 17M12 3.5c-3 3.5-3 13.5 0 17" }]],
};

function deviceIcon(cls) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  for (const [k, v] of Object.entries({ viewBox: "0 0 24 24", width: 24, height: 24, "aria-hidden": "true", focusable: "false" })) svg.setAttribute(k, v);
  for (const [tag, attrs] of ICONS[cls] || ICONS.other) {
    const part = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) part.setAttribute(k, v);
    svg.append(part);
  }
  return el("div", { class: "device-icon" }, svg);
}

function safeId(s) { return String(s).replace(/[^A-Za-z0-9_-]/g, "_"); }

// ---------- sessions ----------

function skeletons(list) {
  list.setAttribute("aria-busy", "true");
  const one = () => el("div", { class: "skeleton-card", "aria-hidden": "true" },
    el("div", { class: "sk sk-icon" }),
    el("div", { class: "sk-lines" }, el("div", { class: "sk sk-line w60" }), el("div", { class: "sk sk-line w40" }), el("div", { class: "sk sk-line w30" })));
  list.replaceChildren(el("p", { class: "visually-hidden" }, "Loading your sessions…"), one(), one());
}

/** Sessions of the same non-null `device_group` together, in first-seen order. */
function groupSessions(sessions) {
  const groups = new Map();
  for (const s of sessions) {
    const key = typeof s.device_group === "string" && s.device_group ? "g:" + s.device_group : "s:" + s.id;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(s);
  }
  return [...groups.values()];
}

function detailRow(term, ...value) {
  const v = value.filter((x) => x !== null && x !== undefined && x !== "");
  if (!v.length) return null;
  return el("div", { class: "detail-row" }, el("dt", {}, term), el("dd", {}, ...v));
}

function joinNodes(parts, sep = " · ") {
  const out = [];
  for (const p of parts.filter(Boolean)) { if (out.length) out.push(sep); out.push(p); }
  return out;
}

/** "Bound to a key on this device" for a session tied to its device's key (DPoP), else null. */
function bindingText(s) { return typeof s.binding_text === "string" && s.binding_text ? s.binding_text : null; }

/** Mid-session anomaly signals of the session's last use, in words. */
const ANOMALY_WORDS = {
  device_changed: "Used from a different browser or device than it signed in with",
  impossible_travel: "Used from two places too far apart for the time between them",
  network_alternation: "Used from two networks taking turns",
};
function anomalies(s) {
  const list = s.last_seen && Array.isArray(s.last_seen.anomalies) ? s.last_seen.anomalies : [];
  return list.map((a) => ANOMALY_WORDS[a] || "Unusual use").filter((w, i, all) => all.indexOf(w) === i);
}

function sessionDetails(s, id) {
  const d = s.device || {};
  const seen = lastSeen(s);
  const places = Array.isArray(s.places) ? s.places : [];
  const risk = s.risk || {};
  const signals = Array.isArray(risk.signals) ? risk.signals : [];
  const browser = d.browser ? d.browser + (d.browser_version ? " " + d.browser_version : "") : null;
  const os = d.os ? d.os + (d.os_version ? " " + d.os_version : "") : null;
  const model = [d.device_brand, d.device_model].filter(Boolean).join(" ") || null;
  const placeList = places.length ? el("ul", { class: "places" }, ...places.map((p) =>
    el("li", {}, ...joinNodes([whereText(p), timeEl(p.at)])))) : null;
  const level = risk.level ? capitalise(String(risk.level)) + " risk" : null;
  const riskParts = signals.length
    ? [level, el("ul", { class: "reasons" }, ...signals.map((sig) => el("li", {}, signal(sig).words)))]
    : [(level ? level + ": " : "") + "nothing unusual about this sign-in"];
  return el("dl", { class: "session-details", id, hidden: true },
    detailRow("Signed in", ...joinNodes([timeEl(s.created_at, (t) => SHORT.format(t)), whereText(s)])),
    detailRow("Last seen", ...joinNodes([s.current ? "Active now" : timeEl(seen.at), s.last_seen ? whereText(seen) : null])),
    detailRow("Recent places", placeList),
    detailRow("Device", deviceName(s) + (s.device_class && s.device_class !== "other" ? " (" + s.device_class + ")" : "")),
    detailRow("Browser", browser),
    detailRow("Operating system", os),
    detailRow("Model", model),
    detailRow("Sign-in method", s.sign_in_method ? methodText(s.sign_in_method) : null),
    detailRow("Protection", bindingText(s)),
    detailRow("Unusual activity", anomalies(s).length
      ? el("ul", { class: "reasons" }, ...anomalies(s).map((w) => el("li", {}, w))) : null),
    detailRow("Security check", ...riskParts),
    detailRow("Expires", timeEl(s.expires_at)),
    detailRow("User agent", s.user_agent ? el("span", { class: "ua" }, s.user_agent) : null));
}

/**
 * One session. In a device group (`groupName` set) its heading says which
 * session it is, unless its device name differs from the group's.
 */
function sessionCard(s, level, groupName) {
  const grouped = !!groupName;
  const name = deviceName(s);
  const hid = "dev-" + safeId(s.id);
  const did = "det-" + safeId(s.id);
  const signals = (s.risk && Array.isArray(s.risk.signals)) ? s.risk.signals : [];
  const badges = el("div", { class: "badges" });
  if (s.current) badges.append(el("span", { class: "badge this" }, "This device"));
  if (bindingText(s)) badges.append(el("span", { class: "badge bound" }, bindingText(s)));
  for (const words of anomalies(s)) {
    badges.append(el("span", { class: "badge bad anomaly", title: words }, "Unusual activity"));
  }
  for (const sig of signals) {
    const g = signal(sig);
    badges.append(el("span", { class: "badge " + g.kind, title: g.words }, g.label));
  }
  const seen = lastSeen(s);
  const status = s.current
    ? el("p", { class: "status" }, el("strong", { class: "active-now" }, "Active now"))
    : el("p", { class: "status" }, "Last active ", timeEl(seen.at, (t) => relative(t).toLowerCase()) || "unknown");
  const when = grouped ? ", signed in " + relative(new Date(s.created_at)).toLowerCase() : "";
  const details = sessionDetails(s, did);
  const who = " for " + name + (s.current ? " (this device)" : when);
  const toggle = el("button", {
    class: "link-btn details-toggle", type: "button", "aria-expanded": "false", "aria-controls": did,
  });
  const showing = (open) => {
    details.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? "Hide details" : "Details";
    toggle.setAttribute("aria-label", toggle.textContent + who);
    if (open) state.open.add(s.id); else state.open.delete(s.id);
  };
  showing(state.open.has(s.id));
  toggle.addEventListener("click", () => showing(details.hidden));
  const button = el("button", {
    class: "btn btn-small revoke-one", type: "button", "data-id": s.id,
    "aria-label": "Sign out " + name + (s.current ? " (this device)" : when),
  }, "Sign out");
  button.addEventListener("click", () => revokeOne(s));
  return el("article", {
    class: "session-card" + (s.current ? " current" : "") + (signals.length || anomalies(s).length ? " risky" : "") + (grouped ? " in-group" : ""),
    "data-current": String(!!s.current), "data-id": s.id, "aria-labelledby": hid,
  },
  grouped ? null : deviceIcon(s.device_class),
  el("div", { class: "session-main" },
    grouped && name === groupName
      ? el("h" + level, { class: "session-title", id: hid },
        s.current ? "This session" : "Signed in " + relative(new Date(s.created_at)).toLowerCase(),
        el("span", { class: "visually-hidden" }, " on " + name))
      : el("h" + level, { class: "device-text", id: hid }, name),
    status,
    el("p", { class: "meta" }, whereText(seen)),
    badges,
    toggle,
    details),
  el("div", { class: "session-actions" }, button));
}

function groupEl(group) {
  if (group.length === 1) return el("section", { class: "device-group single" }, sessionCard(group[0], "h2", null));
  const first = group[0];
  const gid = "grp-" + safeId(first.id);
  return el("section", { class: "device-group multi", "aria-labelledby": gid, "data-group": first.device_group },
    el("div", { class: "group-head" },
      deviceIcon(first.device_class),
      el("div", {},
        el("h2", { id: gid, class: "group-name" }, deviceName(first)),
        el("p", { class: "muted small" }, group.length + " sessions on this device"))),
    ...group.map((s) => sessionCard(s, "h3", deviceName(first))));
}

function endedItem(s) {
  const reason = typeof s.ended_reason === "string" ? s.ended_reason : "";
  const text = (typeof s.ended_text === "string" && s.ended_text) ||
    ("Signed out" + (ENDED_WHY[reason] && reason !== "logout" ? " " + ENDED_WHY[reason] : ""));
  return el("li", { class: "ended-item", "data-id": s.id, "data-reason": reason },
    el("div", { class: "ended-name" }, deviceName(s)),
    el("div", { class: "meta" }, ...joinNodes([whereText(s), "signed in " + relative(new Date(s.created_at)).toLowerCase()])),
    el("div", { class: "ended-how" }, ...joinNodes([el("span", { class: "ended-text" }, text), timeEl(s.ended_at)])));
}

function renderEnded(ended) {
  const box = $("ended-section");
  if (!Array.isArray(ended)) { box.hidden = true; return; }
  box.hidden = false;
  $("ended-count").textContent = "(" + ended.length + ")";
  const list = $("ended");
  list.replaceChildren(...ended.map(endedItem));
  if (!ended.length) list.append(el("li", { class: "muted" }, "No sessions ended in the last 30 days."));
}

function byRecency(a, b) {
  if (!!a.current !== !!b.current) return a.current ? -1 : 1;
  const t = (s) => Date.parse((s.last_seen && s.last_seen.at) || s.last_seen_at) || 0;
  return t(b) - t(a);
}

async function renderSessions() {
  const list = $("sessions");
  if (!state.sessions.length) skeletons(list);
  let r;
  try {
    r = await api("GET", state.cfg.prefix + "/sessions");
  } catch (e) {
    if (!state.sessions.length) list.replaceChildren();
    list.setAttribute("aria-busy", "false");
    throw e;
  }
  list.setAttribute("aria-busy", "false");
  if (r.status !== 200) {
    list.replaceChildren();
    flash("Couldn't load your sessions (" + ((r.data && r.data.error) || r.status) + "). Try again.", "bad");
    return;
  }
  const sessions = (Array.isArray(r.data && r.data.sessions) ? r.data.sessions : []).slice().sort(byRecency);
  state.sessions = sessions;
  if (!sessions.length) list.replaceChildren(el("div", { class: "card empty" }, "No active sessions."));
  else list.replaceChildren(...groupSessions(sessions).map(groupEl));
  $("revoke-others").disabled = !sessions.some((s) => !s.current);
  renderEnded(r.data.ended);
  loadPlan().catch(() => {});
  // A re-render after an action replaced the focused button: keep keyboard users in place.
  if (document.activeElement === document.body && !$("view-sessions").hidden) $("sessions-title").focus();
}

// ---------- confirmation and re-authentication dialogs ----------

/** Focus `opener` again if it is still on the page, else the sessions heading. */
function restoreFocus(opener) {
  if (opener && opener.isConnected && !opener.closest("[hidden]")) opener.focus();
  else if (!$("view-sessions").hidden) $("sessions-title").focus();
}

/**
 * Opens `dlg` as a modal; `wire(finish)` attaches its handlers and returns
 * a function removing them. Resolves to what `finish` was called with, or
 * false when closed any other way (Cancel, Esc).
 */
function modal(dlg, first, wire) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    let result = false;
    const finish = (value) => { result = value; dlg.close(); };
    const unwire = wire(finish);
    dlg.addEventListener("close", () => {
      unwire();
      restoreFocus(opener);
      resolve(result);
    }, { once: true });
    dlg.showModal();
    first.focus();
  });
}

function confirmDialog({ title, text, ok }) {
  const dlg = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = ok;
  return modal(dlg, $("confirm-cancel"), (finish) => {
    const yes = () => finish(true);
    const no = () => finish(false);
    $("confirm-ok").addEventListener("click", yes);
    $("confirm-cancel").addEventListener("click", no);
    return () => {
      $("confirm-ok").removeEventListener("click", yes);
      $("confirm-cancel").removeEventListener("click", no);
    };
  });
}

function reauthenticate() {
  const dlg = $("reauth");
  $("reauth-password").value = "";
  $("reauth-error").hidden = true;
  return modal(dlg, $("reauth-password"), (finish) => {
    const no = () => finish(false);
    const submit = async (ev) => {
      ev.preventDefault();
      let r;
      try {
        r = await rawFetch("POST", "/login", { username: state.me.user, password: $("reauth-password").value });
      } catch (e) {
        $("reauth-error").textContent = UNREACHABLE;
        $("reauth-error").hidden = false;
        return;
      }
      if (r.status === 200) { storeTokens(r.data); state.me.session_id = r.data.session_id; finish(true); }
      else { $("reauth-error").textContent = "Wrong password."; $("reauth-error").hidden = false; }
    };
    $("reauth-cancel").addEventListener("click", no);
    $("reauth-form").addEventListener("submit", submit);
    return () => {
      $("reauth-cancel").removeEventListener("click", no);
      $("reauth-form").removeEventListener("submit", submit);
    };
  });
}

/** "Last used 5 minutes ago in London, United Kingdom." */
function lastUsedText(s) {
  const seen = lastSeen(s);
  const at = new Date(seen.at);
  return "Last used " + (isNaN(at.getTime()) ? "at an unknown time" : relative(at).toLowerCase()) + " in " + placeOf(seen) + ".";
}

function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

async function revokeOne(s) {
  const name = deviceName(s);
  const ok = await confirmDialog(s.current
    ? { title: "Sign out this device?", text: "You'll need to sign in again on " + name + ".", ok: "Sign out" }
    : { title: "Sign out " + name + "?", text: lastUsedText(s) + " It will have to sign in again to use your account.", ok: "Sign out" });
  if (!ok) return;
  try {
    const r = await api("DELETE", state.cfg.prefix + "/sessions/" + encodeURIComponent(s.id));
    if (r.status === 204) {
      if (s.current) { wipeTokens(); showLogin("You signed out this device.", "ok"); return; }
      state.open.delete(s.id);
      flash("Signed out " + name + ".", "ok");
    } else if (r.status === 404) {
      flash(name + " was already signed out.", "warn");
    } else {
      flash("Couldn't sign out " + name + " (" + ((r.data && r.data.error) || r.status) + "). Try again.", "bad");
    }
    await renderSessions();
  } catch (e) { report(e); }
}

async function revokeOthers() {
  const n = state.sessions.filter((s) => !s.current).length;
  if (!n) return;
  const ok = await confirmDialog({
    title: "Sign out " + plural(n, "other session", "other sessions") + "?",
    text: "Every device except this one will have to sign in again.",
    ok: "Sign out " + plural(n, "session", "sessions"),
  });
  if (!ok) return;
  try {
    const r = await api("POST", state.cfg.prefix + "/sessions/revoke-others");
    if (r.status === 200) flash("Signed out " + plural(r.data.revoked, "other session", "other sessions") + ".", "ok");
    else flash("Couldn't sign out the other sessions (" + ((r.data && r.data.error) || r.status) + "). Try again.", "bad");
    await renderSessions();
  } catch (e) { report(e); }
}

async function revokeAll() {
  const n = state.sessions.length;
  const ok = await confirmDialog(n > 1
    ? { title: "Sign out all " + n + " sessions?", text: "Every device, this one included, will have to sign in again.", ok: "Sign out everywhere" }
    : { title: "Sign out everywhere?", text: "This is your only session: this device will have to sign in again.", ok: "Sign out everywhere" });
  if (!ok) return;
  try {
    const r = await api("POST", state.cfg.prefix + "/sessions/revoke-all");
    if (r.status === 200) {
      wipeTokens();
      showLogin("You signed out from all devices (" + plural(r.data.revoked, "session", "sessions") + ").", "ok");
    } else flash("Couldn't sign out everywhere (" + ((r.data && r.data.error) || r.status) + "). Try again.", "bad");
  } catch (e) { report(e); }
}

// ---------- notifications, events, policy ----------

async function refreshNotificationCount() {
  try {
    const r = await rawFetch("GET", "/api/notifications");
    const n = ((r.data && r.data.notifications) || []).length;
    $("notif-count").textContent = n;
    $("notif-count").hidden = n === 0;
  } catch (_) { /* the count is a hint only */ }
}

async function renderNotifications() {
  const r = await api("GET", "/api/notifications");
  const box = $("notifications");
  box.replaceChildren();
  const items = (r.data && r.data.notifications) || [];
  if (!items.length) box.append(el("div", { class: "card empty" }, "No notifications yet. Try the demo panel on the Sessions page."));
  for (const n of items) {
    const badges = el("div", { class: "badges" });
    for (const sig of n.reasons || []) {
      const g = signal(sig);
      badges.append(el("span", { class: "badge " + g.kind, title: g.words }, g.label));
    }
    box.append(el("article", { class: "notice" },
      el("h2", { class: "headline" }, n.headline),
      el("p", { class: "meta" }, ...joinNodes([timeEl(n.at), n.ip ? String(n.ip) : null])),
      badges,
      el("p", { class: "notice-links" },
        el("a", { href: n.sessions_url }, "Review your sessions"),
        el("a", { href: n.not_me_url, class: "danger", rel: "noreferrer" }, "This wasn't me"))));
  }
}

async function renderEvents() {
  const r = await api("GET", "/api/events");
  $("events").textContent = r.status === 200 ? r.data.events.join("\n") : "Not available (demo mode is off).";
}

async function renderPolicy() {
  const r = await api("GET", "/api/policy");
  $("policy").textContent = r.data && r.data.text;
}

// ---------- demo panel ----------

function setupDemo() {
  const cat = state.cfg.demo_devices;
  if (!state.cfg.demo || !cat) return;
  for (const d of cat.devices) $("sim-device").append(el("option", { value: d.key }, d.label));
  for (const p of cat.places) $("sim-ip").append(el("option", { value: p.key }, p.label + " (" + p.ip + ")"));
  $("sim-submit").addEventListener("click", () => simulate());
  $("plan-select").addEventListener("change", () => switchPlan($("plan-select").value));
}

/** The demo plan switch: the caller's plan and its limits in words. */
function renderPlan(data) {
  if (!data || !Array.isArray(data.plans)) return;
  const select = $("plan-select");
  if (!select.options.length) for (const p of data.plans) select.append(el("option", { value: p.key }, p.label));
  select.value = data.plan;
  $("plan-text").textContent = data.text || "";
}

async function loadPlan() {
  if (!state.cfg.demo) return;
  const r = await api("GET", "/api/plan");
  if (r.status === 200) renderPlan(r.data);
}

async function switchPlan(plan) {
  try {
    const r = await api("POST", "/demo/plan", { plan });
    if (r.status === 200) {
      renderPlan(r.data);
      flash("Plan switched to " + $("plan-select").selectedOptions[0].textContent + ": it applies from the next sign-in.", "ok");
    } else {
      flash("Couldn't switch the plan (" + ((r.data && r.data.error) || r.status) + ").", "bad");
    }
  } catch (e) { report(e); }
}

async function simulate(stepUpToken) {
  const body = { device: $("sim-device").value, ip: $("sim-ip").value };
  if (stepUpToken) body.step_up_token = stepUpToken;
  const out = $("sim-result");
  try {
    const r = await api("POST", "/demo/simulate-login", body);
    out.hidden = false;
    out.replaceChildren();
    const d = r.data || {};
    if (d.outcome === "created") {
      const sigs = d.session.risk.signals.map((s) => signal(s).label);
      out.append(el("b", {}, "Login created: "), deviceName(d.session) + " in " + placeOf(d.session) +
        ". Risk " + d.session.risk.level + " (" + d.session.risk.score + ")" + (sigs.length ? ": " + sigs.join(", ") : "") +
        (d.evicted ? ". Evicted " + d.evicted + " session(s) to stay within the policy." : "."));
    } else if (d.outcome === "refused") {
      const b = d.body || {};
      if (b.error === "step_up_required") {
        const sigs = ((b.risk && b.risk.signals) || []).map((s) => signal(s).label);
        out.append(el("b", {}, "Step-up required"), " (risk " + (b.risk && b.risk.level) + ": " + sigs.join(", ") + "). The login waits for a second factor. ",
          el("button", { class: "btn btn-small btn-primary", type: "button", onclick: () => simulate(b.step_up_token) }, "Approve second factor (demo)"));
      } else if (b.error === "session_limit_reached") {
        out.append(el("b", {}, "Refused: session limit reached"), " (" + b.limit + ").");
      } else {
        out.append(el("b", {}, "Refused: " + (b.error || d.status)), d.risk ? " (risk " + d.risk.level + ")" : "");
      }
    } else {
      out.append("Error: " + (d.error || r.status));
    }
    await renderSessions();
    refreshNotificationCount();
  } catch (e) { report(e); }
}

// ---------- login / logout ----------

async function login(ev) {
  ev.preventDefault();
  $("login-error").hidden = true;
  // A new session gets a new key; signed in already, the login replaces the
  // session and keeps its key (the server checks it is the same).
  const fresh = bearer() && !localStorage.getItem(ACCESS) && !localStorage.getItem(REFRESH);
  const key = fresh ? await newKey() : undefined;
  let r;
  try {
    r = await rawFetch("POST", "/login", { username: $("login-username").value, password: $("login-password").value }, key);
  } catch (e) {
    $("login-error").textContent = UNREACHABLE;
    $("login-error").hidden = false;
    return;
  }
  if (r.status === 200) {
    await signedIn(r.data, fresh, key);
  } else if (r.status === 409 && r.data && r.data.ticket) {
    showPicker(r.data, fresh, key);
  } else {
    const msg = { invalid_credentials: "Wrong user name or password.", session_limit_reached: "Too many active sessions.", step_up_required: "This login needs a second factor." }[r.data && r.data.error];
    $("login-error").textContent = msg || "Sign-in failed (" + ((r.data && r.data.error) || r.status) + ").";
    $("login-error").hidden = false;
  }
}

/** A sign-in answered with tokens (or cookies): on to the session list. */
async function signedIn(data, fresh, key) {
  if (fresh) await keepKey(data && data.token_type === "DPoP" ? key : null);
  storeTokens(data);
  $("login-password").value = "";
  hidePicker();
  showLogin();
  state.me = null;
  flash("");
  location.hash = "#/sessions";
}

// ---------- "sign out a device and continue" ----------
//
// A sign-in refused at the plan's device limit answers 409 with the
// account's sessions and a single-use ticket. The picker lists them; the
// chosen one is signed out and this sign-in completes in one step on the
// server, so another device cannot take the seat in between.

function showPicker(refusal, fresh, key) {
  const sessions = (Array.isArray(refusal.active) ? refusal.active : []).slice().sort(byRecency);
  $("login-form").hidden = true;
  $("limit-error").hidden = true;
  $("limit-text").textContent = "Your account is signed in on " + sessions.length +
    (sessions.length === 1 ? " device" : " devices") + ", the most your plan allows. Sign out one of them to sign in here.";
  $("limit-sessions").replaceChildren(...sessions.map((s) => el("li", { class: "limit-item", "data-id": s.id },
    el("div", { class: "limit-name" }, deviceName(s)),
    el("div", { class: "muted small" }, ...joinNodes([placeOf(s), timeEl(s.last_seen_at, (d) => "last active " + relative(d).toLowerCase())])),
    el("button", { class: "btn btn-small btn-danger limit-end", type: "button",
      "aria-label": "Sign out and continue: " + deviceName(s),
      onclick: () => continueLogin(refusal.ticket, s.id, fresh, key) }, "Sign out and continue"))));
  $("limit-picker").hidden = false;
  $("limit-title").focus();
}

function hidePicker() {
  $("limit-picker").hidden = true;
  $("login-form").hidden = false;
}

async function continueLogin(ticket, id, fresh, key) {
  let r;
  try {
    r = await rawFetch("POST", state.cfg.prefix + "/login/continue", { ticket, end: [id] }, key);
  } catch (e) {
    $("limit-error").textContent = UNREACHABLE;
    $("limit-error").hidden = false;
    return;
  }
  if (r.status === 200) {
    await signedIn(r.data, fresh, key);
    flash("Signed out the other device; you're signed in here.", "ok");
  } else if (r.status === 409 && r.data && r.data.ticket) {
    // Another device took the seat meanwhile: choose again.
    showPicker(r.data, fresh, key);
  } else {
    hidePicker();
    $("login-error").textContent = "That took too long or was already used. Sign in again.";
    $("login-error").hidden = false;
  }
}

// Logout proves the session with whatever the page holds, even an expired
// access token: bearer sends the refresh token too; with cookies the
// browser sends both cookies. The server ends the session either way.
async function logout() {
  const rt = bearer() ? localStorage.getItem(REFRESH) : null;
  try {
    await rawFetch("POST", state.cfg.prefix + "/logout", rt ? { refresh_token: rt } : undefined);
  } catch (e) {
    flash(UNREACHABLE, "bad");
    return;
  }
  wipeTokens();
  showLogin("You signed out.", "ok");
}

async function init() {
  let r;
  try {
    r = await rawFetch("GET", "/api/config");
  } catch (e) {
    showView("login");
    showLogin(UNREACHABLE, "bad");
    return;
  }
  state.cfg = r.data;
  $("transport-name").textContent = state.cfg.transport;
  $("demo-banner").hidden = !state.cfg.demo;
  for (const e of document.querySelectorAll(".demo-only")) e.hidden = !state.cfg.demo;
  for (const e of document.querySelectorAll(".no-demo-only")) e.hidden = !!state.cfg.demo;
  if (state.cfg.plug_in_users) $("plug-in-users").textContent = "No users are configured: " + state.cfg.plug_in_users + ".";
  setupDemo();
  $("login-form").addEventListener("submit", login);
  $("limit-cancel").addEventListener("click", () => { hidePicker(); $("login-username").focus(); });
  $("logout").addEventListener("click", logout);
  $("revoke-others").addEventListener("click", revokeOthers);
  $("revoke-all").addEventListener("click", revokeAll);
  window.addEventListener("hashchange", () => { flash(""); route(); });
  // Back to a tab left open: look again (the session may have ended meanwhile).
  document.addEventListener("visibilitychange", () => { if (!document.hidden && state.me) route(); });
  await route();
}

document.addEventListener("DOMContentLoaded", init);
