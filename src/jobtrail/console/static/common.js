// Shared by the console's pages: the session, the API client, safe DOM building, time formats.
// Every piece of user data is rendered with textContent, never as HTML.

export const API = "/api/msc/v1";
const SESSION = "jobtrail.session";

export const $ = (id) => document.getElementById(id);

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

export async function api(path, params) {
  let session = loadSession();
  if (!session) throw new Error("Not signed in.");
  if (Date.now() > session.expiresAt - 60000) {  // re-mint shortly before expiry
    session = await mintToken(session.org, session.keyId, session.key);
    saveSession(session);
  }
  const url = new URL(`${API}/organizations/${encodeURIComponent(session.org)}${path}`, location.origin);
  for (const [name, value] of Object.entries(params || {})) if (value) url.searchParams.set(name, value);
  let resp = await fetch(url, { headers: { Authorization: `Bearer ${session.token}` } });
  if (resp.status === 401) {  // revoked or expired early: one fresh token, then give up
    session = await mintToken(session.org, session.keyId, session.key);
    saveSession(session);
    resp = await fetch(url, { headers: { Authorization: `Bearer ${session.token}` } });
  }
  return resp;
}

// --- time and duration as people read them ---------------------------------------------------

export function relative(iso) {
  if (!iso) return "";
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  const steps = [[60, "s"], [60, "min"], [24, "h"], [Infinity, "d"]];
  let value = seconds;
  for (const [size, unit] of steps) {
    if (Math.abs(value) < size) return `${value} ${unit} ago`;
    value = Math.round(value / size);
  }
  return iso;
}

export function humanDuration(iso) {
  if (!iso) return "";
  const match = /^-?PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?$/.exec(iso);
  if (!match) return iso;
  const [, h, m, s] = match;
  const parts = [];
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (s || !parts.length) parts.push(`${Math.round(Number(s || 0))}s`);
  return parts.join(" ");
}

export function toLocalInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export async function apiStream(path, params, signal) {
  // The same as api(), for a streamed response (the live tail); the token is fresh enough
  // because api() was just used to load the page.
  const session = loadSession();
  const url = new URL(`${API}/organizations/${encodeURIComponent(session.org)}${path}`, location.origin);
  for (const [name, value] of Object.entries(params || {})) if (value) url.searchParams.set(name, value);
  return fetch(url, { headers: { Authorization: `Bearer ${session.token}` }, signal });
}
