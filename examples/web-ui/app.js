// sessionward example front-end: plain JavaScript, no build step.
// Bearer transport keeps tokens in localStorage (the SPA case of the
// original finding) and removes them on logout / 401; cookie transport
// keeps them in HttpOnly cookies and sends the CSRF double-submit header.
// Either way the page refreshes before the access token runs out (while the
// user is active) and whenever a request finds it missing or expired, so an
// active user is never signed out while the session lives.
"use strict";

const ACCESS = "sw_access";
const REFRESH = "sw_refresh";
const state = { cfg: null, me: null };
const $ = (id) => document.getElementById(id);

class SessionEnded extends Error {}

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
    if (lastActivity > tokenIssuedAt) await refreshTokens();
  }, Math.max(500, left * 0.8));
}

function storeTokens(data) {
  if (bearer() && data && data.access_token) {
    localStorage.setItem(ACCESS, data.access_token);
    localStorage.setItem(REFRESH, data.refresh_token);
  }
  if (data && data.access_expires_at) scheduleRefresh(data.access_expires_at);
}

// Explicit client-side wipe (the server also sends Clear-Site-Data).
function wipeTokens() {
  clearTimeout(refreshTimer);
  refreshTimer = null;
  localStorage.removeItem(ACCESS);
  localStorage.removeItem(REFRESH);
  sessionStorage.clear();
  state.me = null;
}

// Why the session ended, from the "reason" of a 401 invalid_token.
const ENDED = {
  idle_timeout: "You were signed out after a period of inactivity.",
  absolute_timeout: "Your session reached its maximum lifetime.",
  logout: "This session was logged out.",
  user: "This session was ended from your session list (possibly on another device).",
  admin: "An administrator ended this session.",
  evicted: "You were signed out because your account signed in on too many devices.",
  refresh_token_reuse: "This session was ended because its refresh token was used twice (possible theft).",
  password_change: "You were signed out because the password changed.",
  account_disabled: "This account was disabled.",
  reauthenticated: "This session was replaced by a newer sign-in.",
  not_me: "All sessions were ended from a \"this wasn't me\" link.",
  risk: "This session was ended for security reasons.",
};

function endedMessage(data, wasSignedIn) {
  const reason = data && data.reason;
  if (reason) return (ENDED[reason] || "Your session has ended.") + " Please sign in again.";
  return wasSignedIn ? "Your session has expired. Please sign in again." : "";
}

async function rawFetch(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (bearer()) {
    const t = localStorage.getItem(ACCESS);
    if (t) headers.Authorization = "Bearer " + t;
  } else if (method !== "GET") {
    const c = csrfToken();
    if (c) headers["X-CSRF-Token"] = c;
  }
  const res = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch (_) { /* empty body */ }
  return { status: res.status, data };
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

// Authenticated API call: on a missing or refused access token (expired,
// or its cookie gone) refreshes once and retries; asks for the password
// again on reauthentication_required; when the session is really gone,
// wipes the tokens and shows the login page with the reason.
async function api(method, path, body, retried = false) {
  const r = await rawFetch(method, path, body);
  const code = r.data && r.data.error;
  if (r.status === 401 && (code === "invalid_token" || code === "missing_token")) {
    let why = r.data;
    if (!retried && !why.reason) {
      const refreshed = await refreshTokens();
      if (refreshed.status === 200) return api(method, path, body, true);
      why = refreshed.data;
    }
    const wasSignedIn = !!state.me;
    wipeTokens();
    showLogin(endedMessage(why, wasSignedIn));
    throw new SessionEnded();
  }
  if (r.status === 401 && code === "reauthentication_required" && !retried) {
    if (await reauthenticate()) return api(method, path, body, true);
    throw new Error("reauthentication cancelled");
  }
  return r;
}

function flash(text, kind = "") {
  const f = $("flash");
  f.textContent = text;
  f.className = "flash " + kind;
  f.hidden = !text;
}

// ---------- views ----------

const VIEWS = ["login", "sessions", "notifications", "events", "policy"];

function showView(name) {
  for (const v of VIEWS) $("view-" + v).hidden = v !== name;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === name);
  const signedIn = name !== "login";
  $("nav").hidden = !signedIn;
  $("who").hidden = !signedIn;
}

function showLogin(message) {
  showView("login");
  $("login-error").hidden = !message;
  $("login-error").textContent = message || "";
  if (location.hash !== "#/login") history.replaceState(null, "", "#/login");
}

async function route() {
  const view = (location.hash.replace(/^#\//, "") || "sessions").split("?")[0];
  if (view === "login") { showLogin(); return; }
  try {
    if (!state.me) {
      const r = await api("GET", "/api/me");
      if (r.status !== 200) { showLogin(); return; }
      state.me = r.data;
      $("who-name").textContent = state.me.user;
      if (!refreshTimer) scheduleRefresh(state.me.access_expires_at);
    }
    const render = { sessions: renderSessions, notifications: renderNotifications, events: renderEvents, policy: renderPolicy }[view] || renderSessions;
    showView(render === renderSessions ? "sessions" : view);
    await render();
    refreshNotificationCount();
  } catch (e) {
    if (!(e instanceof SessionEnded)) flash(String(e.message || e), "bad");
  }
}

// ---------- sessions ----------

const SIGNALS = {
  new_country: ["New country", "bad"],
  impossible_travel: ["Impossible travel", "bad"],
  new_device: ["New device", "warn"],
  new_asn: ["New network", "info"],
  anonymous_ip: ["Anonymous IP", "bad"],
  many_sessions: ["Many sessions", "warn"],
  login_burst: ["Login burst", "warn"],
};

function major(v) { return v ? String(v).split(".")[0] : ""; }

function deviceText(s) {
  const d = s.device || {};
  const browser = d.browser && d.browser !== "Other" ? (d.browser + (d.browser_version ? " " + major(d.browser_version) : "")) : null;
  const os = d.os && d.os !== "Other" ? (d.os + (d.os_version ? " " + major(d.os_version) : "")) : null;
  if (browser && os) return browser + " on " + os;
  return browser || os || d.device_family || "Unknown device";
}

// Inline SVG device icons (no emoji font needed).
const ICONS = {
  desktop: '<rect x="3" y="4" width="18" height="12" rx="1.5"/><path d="M8 20h8M12 16v4"/>',
  mobile: '<rect x="7" y="2.5" width="10" height="19" rx="2"/><path d="M11 18.5h2"/>',
  tablet: '<rect x="4" y="3" width="16" height="18" rx="2"/><path d="M11 18h2"/>',
  bot: '<rect x="5" y="8" width="14" height="11" rx="2"/><path d="M12 4v4M9 13h.01M15 13h.01"/>',
  other: '<circle cx="12" cy="12" r="8.5"/><path d="M3.5 12h17M12 3.5c3 3.5 3 13.5 0 17M12 3.5c-3 3.5-3 13.5 0 17"/>',
};

function deviceIcon(cls) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "26");
  svg.setAttribute("height", "26");
  svg.innerHTML = ICONS[cls] || ICONS.other;
  return svg;
}

function locationText(l) {
  if (!l) return "Unknown location";
  const parts = [l.city, l.country_name].filter(Boolean);
  return parts.length ? parts.join(", ") : "Unknown location";
}

function when(ts) {
  const t = new Date(ts);
  const secs = Math.round((Date.now() - t.getTime()) / 1000);
  let rel;
  if (secs < 60) rel = "just now";
  else if (secs < 3600) rel = Math.floor(secs / 60) + " min ago";
  else if (secs < 86400) rel = Math.floor(secs / 3600) + " h ago";
  else rel = Math.floor(secs / 86400) + " d ago";
  return rel;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

async function renderSessions() {
  const r = await api("GET", state.cfg.prefix + "/sessions");
  const list = $("sessions");
  list.replaceChildren();
  const sessions = (r.data && r.data.sessions) || [];
  if (!sessions.length) list.append(el("div", { class: "card empty" }, "No active sessions."));
  for (const s of sessions) {
    const signals = (s.risk && s.risk.signals) || [];
    const badges = el("div", { class: "badges" });
    if (s.current) badges.append(el("span", { class: "badge this" }, "This device"));
    for (const sig of signals) {
      const [label, kind] = SIGNALS[sig.name] || [sig.name.replace(/_/g, " "), "info"];
      badges.append(el("span", { class: "badge " + kind, title: sig.reason || "" }, label));
    }
    const button = el("button", { class: "btn btn-small revoke-one", "data-id": s.id, onclick: () => revokeOne(s) }, "Log out this device");
    const created = new Date(s.created_at);
    list.append(el("div", { class: "session-card" + (s.current ? " current" : "") + (signals.length ? " risky" : ""), "data-current": String(!!s.current), "data-id": s.id },
      el("div", { class: "device-icon", title: s.device_class }, deviceIcon(s.device_class)),
      el("div", {},
        el("div", { class: "device-text" }, deviceText(s)),
        el("div", { class: "meta" }, (s.place || locationText(s.location)) + " · " + (s.ip || "unknown IP")),
        el("div", { class: "meta", title: created.toISOString() }, "Signed in " + created.toLocaleString() + " · Last active " + when(s.last_seen_at)),
        badges),
      button));
  }
}

async function revokeOne(s) {
  const r = await api("DELETE", state.cfg.prefix + "/sessions/" + encodeURIComponent(s.id));
  if (r.status === 204) {
    if (s.current) { wipeTokens(); showLogin("You logged out this device."); return; }
    flash("Logged out " + deviceText(s) + ".");
  } else flash("Could not end that session (" + (r.data && r.data.error) + ").", "bad");
  await renderSessions();
}

async function revokeOthers() {
  try {
    const r = await api("POST", state.cfg.prefix + "/sessions/revoke-others");
    if (r.status === 200) flash("Logged out " + r.data.revoked + " other session(s).");
    else flash("Failed: " + (r.data && r.data.error), "bad");
    await renderSessions();
  } catch (e) { if (!(e instanceof SessionEnded)) flash(String(e.message || e), "bad"); }
}

async function revokeAll() {
  try {
    const r = await api("POST", state.cfg.prefix + "/sessions/revoke-all");
    if (r.status === 200) { wipeTokens(); showLogin("Logged out from all devices (" + r.data.revoked + " session(s))."); }
    else flash("Failed: " + (r.data && r.data.error), "bad");
  } catch (e) { if (!(e instanceof SessionEnded)) flash(String(e.message || e), "bad"); }
}

// ---------- re-authentication ----------

function reauthenticate() {
  return new Promise((resolve) => {
    const dlg = $("reauth");
    $("reauth-password").value = "";
    $("reauth-error").hidden = true;
    const done = (ok) => { dlg.close(); $("reauth-form").onsubmit = null; $("reauth-cancel").onclick = null; resolve(ok); };
    $("reauth-cancel").onclick = () => done(false);
    $("reauth-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const r = await rawFetch("POST", "/login", { username: state.me.user, password: $("reauth-password").value });
      if (r.status === 200) { storeTokens(r.data); state.me.session_id = r.data.session_id; done(true); }
      else { $("reauth-error").textContent = "Wrong password."; $("reauth-error").hidden = false; }
    };
    dlg.showModal();
  });
}

// ---------- notifications, events, policy ----------

async function refreshNotificationCount() {
  try {
    const r = await rawFetch("GET", "/api/notifications");
    const n = (r.data && r.data.notifications || []).length;
    $("notif-count").textContent = n;
    $("notif-count").hidden = n === 0;
  } catch (_) { /* ignore */ }
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
      const [label, kind] = SIGNALS[sig.name] || [sig.name, "info"];
      badges.append(el("span", { class: "badge " + kind }, label));
    }
    box.append(el("div", { class: "notice" },
      el("div", { class: "headline" }, n.headline),
      el("div", { class: "meta" }, new Date(n.at).toLocaleString() + (n.ip ? " · " + n.ip : "")),
      badges,
      el("div", { style: "margin-top:8px" },
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
      const sigs = d.session.risk.signals.map((s) => (SIGNALS[s.name] || [s.name])[0]);
      out.append(el("b", {}, "Login created: "), deviceText(d.session) + " in " + locationText(d.session.location) +
        ". Risk " + d.session.risk.level + " (" + d.session.risk.score + ")" + (sigs.length ? ": " + sigs.join(", ") : "") +
        (d.evicted ? ". Evicted " + d.evicted + " session(s) to stay within the policy." : "."));
    } else if (d.outcome === "refused") {
      const b = d.body || {};
      if (b.error === "step_up_required") {
        const sigs = (b.risk && b.risk.signals || []).map((s) => (SIGNALS[s.name] || [s.name])[0]);
        out.append(el("b", {}, "Step-up required"), " (risk " + (b.risk && b.risk.level) + ": " + sigs.join(", ") + "). The login waits for a second factor. ",
          el("button", { class: "btn btn-small btn-primary", onclick: () => simulate(b.step_up_token) }, "Approve second factor (demo)"));
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
  } catch (e) { if (!(e instanceof SessionEnded)) flash(String(e.message || e), "bad"); }
}

// ---------- login / logout ----------

async function login(ev) {
  ev.preventDefault();
  $("login-error").hidden = true;
  const r = await rawFetch("POST", "/login", { username: $("login-username").value, password: $("login-password").value });
  if (r.status === 200) {
    storeTokens(r.data);
    $("login-password").value = "";
    state.me = null;
    flash("");
    location.hash = "#/sessions";
    await route();
  } else {
    const msg = { invalid_credentials: "Wrong user name or password.", session_limit_reached: "Too many active sessions.", step_up_required: "This login needs a second factor." }[r.data && r.data.error];
    $("login-error").textContent = msg || "Sign-in failed (" + ((r.data && r.data.error) || r.status) + ").";
    $("login-error").hidden = false;
  }
}

// Logout proves the session with whatever the page holds, even an expired
// access token: bearer sends the refresh token too; with cookies the
// browser sends both cookies. The server ends the session either way.
async function logout() {
  const rt = bearer() ? localStorage.getItem(REFRESH) : null;
  try { await rawFetch("POST", state.cfg.prefix + "/logout", rt ? { refresh_token: rt } : undefined); } finally {
    wipeTokens();
    showLogin("You are logged out.");
  }
}

async function init() {
  const r = await rawFetch("GET", "/api/config");
  state.cfg = r.data;
  $("transport-name").textContent = state.cfg.transport;
  $("demo-banner").hidden = !state.cfg.demo;
  for (const e of document.querySelectorAll(".demo-only")) e.hidden = !state.cfg.demo;
  for (const e of document.querySelectorAll(".no-demo-only")) e.hidden = !!state.cfg.demo;
  if (state.cfg.plug_in_users) $("plug-in-users").textContent = "No users are configured: " + state.cfg.plug_in_users + ".";
  setupDemo();
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("revoke-others").addEventListener("click", revokeOthers);
  $("revoke-all").addEventListener("click", revokeAll);
  window.addEventListener("hashchange", () => { flash(""); route(); });
  if (bearer() && !localStorage.getItem(ACCESS) && !localStorage.getItem(REFRESH)) { showLogin(); return; }
  await route();
}

document.addEventListener("DOMContentLoaded", init);
