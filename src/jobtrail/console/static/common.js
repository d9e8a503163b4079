// Shared by the console's pages: the session, the API client, safe DOM building, time formats.
// Every piece of user data is rendered with textContent, never as HTML.

export const API = "/api/msc/v1";
const SESSION = "jobtrail.session";

export const $ = (id) => document.getElementById(id);

export function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  return node;
}

export function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

// --- session: the token lives in sessionStorage only, never in a URL ------------------------

export function loadSession() {
  try { return JSON.parse(sessionStorage.getItem(SESSION)); } catch { return null; }
}

export function saveSession(session) { sessionStorage.setItem(SESSION, JSON.stringify(session)); }

export function forgetSession() { sessionStorage.removeItem(SESSION); }

export async function mintToken(org, keyId, key) {
  const resp = await fetch(`${API}/organizations/${encodeURIComponent(org)}/credentials/v3/token`, {
    headers: { "X-API-Key-ID": keyId, "X-API-Key": key },
  });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(body.message || `The server answered ${resp.status}.`);
  return { org, keyId, key, token: body.accessToken, expiresAt: Date.parse(body.expiresAt) };
}

export async function api(path, params, init = {}) {
  let session = loadSession();
  if (!session) throw new Error("Not signed in.");
  if (Date.now() > session.expiresAt - 60000) {  // re-mint shortly before expiry
    session = await mintToken(session.org, session.keyId, session.key);
    saveSession(session);
  }
  const url = new URL(`${API}/organizations/${encodeURIComponent(session.org)}${path}`, location.origin);
  for (const [name, value] of Object.entries(params || {})) if (value) url.searchParams.set(name, value);
  const send = (token) => fetch(url, { ...init,
    headers: { ...(init.headers || {}), Authorization: `Bearer ${token}` } });
  let resp = await send(session.token);
  if (resp.status === 401) {  // revoked or expired early: one fresh token, then give up
    session = await mintToken(session.org, session.keyId, session.key);
    saveSession(session);
    resp = await send(session.token);
  }
  return resp;
}

// An endpoint another part of the server may not offer yet (catalog, alerts, organization):
// its JSON, or null when it is not there or not allowed, so the page works before and after.
export async function optional(path, params) {
  try {
    const resp = await api(path, params);
    return resp.ok ? await resp.json() : null;
  } catch {
    return null;
  }
}

export async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Select and copy";  // no clipboard access (http, permissions)
  }
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
}

// --- lists: arrow keys (and j/k) move between rows, Enter opens the row's link -----------------

export function keyboardList(table) {
  if (table.dataset.keys) return;
  table.dataset.keys = "on";
  table.addEventListener("keydown", (event) => {
    const row = event.target.closest("tbody tr");
    if (!row) return;
    const next = { ArrowDown: "nextElementSibling", j: "nextElementSibling",
      ArrowUp: "previousElementSibling", k: "previousElementSibling" }[event.key];
    if (next && row[next]) {
      event.preventDefault();
      row[next].focus();
    } else if (event.key === "Enter" && event.target === row) {
      row.querySelector("a")?.click();
    }
  });
}

export function focusableRow(row) {
  row.tabIndex = 0;
  return row;
}

// --- time and duration as people read them ---------------------------------------------------

// Relative times tick: elements made by timeAgo() are refreshed every few seconds.
export function timeAgo(iso, tag = "span") {
  const node = element(tag, relative(iso));
  if (iso) {
    node.dataset.ago = iso;
    node.title = iso;
  }
  return node;
}

setInterval(() => {
  for (const node of document.querySelectorAll("[data-ago]")) node.textContent = relative(node.dataset.ago);
}, 5000);

export function relative(iso) {
  if (!iso) return "";
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  const steps = [[60, "s"], [60, "min"], [24, "h"], [Infinity, "d"]];
  let value = seconds;
  for (const [size, unit] of steps) {
    if (Math.abs(value) < size) return value < 0 ? `in ${-value} ${unit}` : `${value} ${unit} ago`;
    value = Math.round(value / size);
  }
  return iso;
}

// ISO 8601 duration (PT2H5M0.086S, as the API writes them) → milliseconds, or null.
export function durationMs(iso) {
  if (!iso) return null;
  const match = /^(-)?PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?$/.exec(iso);
  if (!match) return null;
  const [, minus, h, m, s] = match;
  const ms = ((Number(h || 0) * 60 + Number(m || 0)) * 60 + Number(s || 0)) * 1000;
  return minus ? -ms : ms;
}

// As people read them: 86 ms, 4.2 s, 42 s, 4 min 12 s, 2 h 5 min.
export function formatMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  if (ms < 0) return `-${formatMs(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 ? `${minutes} min ${seconds % 60} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
}

export function humanDuration(iso) {
  const ms = durationMs(iso);
  return ms === null ? (iso || "") : formatMs(ms);
}

export function toLocalInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

