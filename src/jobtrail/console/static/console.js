// The jobtrail console: the Jobs view, powered only by the public Jobs API.
// Every piece of user data is rendered with textContent, never as HTML.

const API = "/api/msc/v1";
const SESSION = "jobtrail.session";
const AUTO_REFRESH_MS = 30000;

const $ = (id) => document.getElementById(id);

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

// --- session: the token lives in sessionStorage only, never in a URL ------------------------

function loadSession() {
  try { return JSON.parse(sessionStorage.getItem(SESSION)); } catch { return null; }
}

function saveSession(session) { sessionStorage.setItem(SESSION, JSON.stringify(session)); }

function forgetSession() { sessionStorage.removeItem(SESSION); }

async function mintToken(org, keyId, key) {
  const resp = await fetch(`${API}/organizations/${encodeURIComponent(org)}/credentials/v3/token`, {
    headers: { "X-API-Key-ID": keyId, "X-API-Key": key },
  });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(body.message || `The server answered ${resp.status}.`);
  return { org, keyId, key, token: body.accessToken, expiresAt: Date.parse(body.expiresAt) };
}

async function api(path, params) {
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

function relative(iso) {
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

function humanDuration(iso) {
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

function toLocalInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

// --- the view's state lives in the URL hash, so a view can be shared ----------------------------

function viewFromHash() {
  const [route, query] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query || "");
  return { route: route || "/jobs", params };
}

function setHash(params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) query.set(name, value);
  const hash = `#/jobs?${query}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

function windowParams(form) {
  const choice = form.window.value;
  if (choice === "custom") {
    const from = form.from.value ? new Date(form.from.value).toISOString() : "";
    const to = form.to.value ? new Date(form.to.value).toISOString() : "";
    return { from, to };
  }
  return { from: `PT-${parseInt(choice, 10)}H`, to: "PT0S" };
}

// --- the Jobs page -----------------------------------------------------------------------------

let refreshTimer = null;

function readForm(form) {
  return {
    window: form.window.value,
    from: form.from.value,
    to: form.to.value,
    job: form.job.value.trim(),
    environment: form.environment.value.trim(),
    state: form.state.value,
  };
}

function fillForm(form, params) {
  form.window.value = params.get("window") || "24h";
  form.from.value = params.get("from") || "";
  form.to.value = params.get("to") || "";
  form.job.value = params.get("job") || "";
  form.environment.value = params.get("environment") || "";
  form.state.value = params.get("state") || "";
  form.classList.toggle("custom", form.window.value === "custom");
}

function renderCounts(runs) {
  const counts = {};
  for (const run of runs) counts[run.state] = (counts[run.state] || 0) + 1;
  const list = $("counts");
  list.replaceChildren();
  for (const state of ["RUNNING", "FAILED", "SUCCEEDED", "PENDING", "CANCELLED"]) {
    const item = element("li");
    item.append(element("span", state, `badge ${state}`), element("span", ` ${counts[state] || 0}`));
    item.dataset.state = state;
    list.append(item);
  }
}

function renderRuns(runs) {
  const body = $("runs").querySelector("tbody");
  body.replaceChildren();
  for (const run of runs) {
    const row = element("tr");
    row.dataset.runId = run.runId;
    const start = element("td", relative(run.startTime));
    start.title = run.startTime || "";
    const state = element("td");
    state.append(element("span", run.state, `badge ${run.state}`));
    row.append(element("td", run.jobName, "name"), element("td", run.environment, "name"), state,
      start, element("td", run.duration ? humanDuration(run.duration) : "running"));
    body.append(row);
  }
  $("empty").hidden = runs.length > 0;
}

function renderSuggestions(runs) {
  const fill = (id, values) => {
    const list = $(id);
    list.replaceChildren(...[...new Set(values)].sort().map((value) => {
      const option = element("option");
      option.value = value;
      return option;
    }));
  };
  fill("job-names", runs.map((run) => run.jobName));
  fill("environments", runs.map((run) => run.environment));
}

function renderTrimmed(resp, form) {
  const trimmed = resp.headers.get("X-Jobtrail-Truncated") === "true";
  $("trimmed").hidden = !trimmed;
  if (!trimmed) return;
  const oldest = resp.headers.get("X-Jobtrail-Oldest-Event");
  $("trimmed-text").textContent = `This window holds more than 10,000 events; only the latest ` +
    `10,000 were used, so runs that started before ${oldest} may be missing.`;
  $("narrow").onclick = () => {
    const to = windowParams(form).to;
    form.window.value = "custom";
    form.from.value = toLocalInput(new Date(oldest));
    form.to.value = to.startsWith("PT") ? toLocalInput(new Date()) : form.to.value;
    refreshJobs();
  };
}

async function refreshJobs() {
  const form = $("filters");
  form.classList.toggle("custom", form.window.value === "custom");
  const state = readForm(form);
  setHash(state);
  const { from, to } = windowParams(form);
  $("window-error").textContent = "";
  const resp = await api("/jobs/v1/runs", { from, to, jobName: state.job, environment: state.environment });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    $("window-error").textContent = body.message || `The server answered ${resp.status}.`;
    renderRuns([]);
    return;
  }
  renderTrimmed(resp, form);
  renderCounts(body);
  renderSuggestions(body);
  renderRuns(state.state ? body.filter((run) => run.state === state.state) : body);
}

function scheduleRefresh() {
  clearInterval(refreshTimer);
  if ($("filters").auto.checked) refreshTimer = setInterval(refreshJobs, AUTO_REFRESH_MS);
}

// --- pages -------------------------------------------------------------------------------------

function show(page) {
  for (const id of ["sign-in", "jobs"]) $(id).hidden = id !== page;
  const session = loadSession();
  $("sign-out").hidden = !session;
  $("who").textContent = session ? `Organization ${session.org}` : "";
}

async function route() {
  if (!loadSession()) {
    show("sign-in");
    return;
  }
  const { params } = viewFromHash();
  show("jobs");
  fillForm($("filters"), params);
  await refreshJobs().catch((err) => { $("window-error").textContent = err.message; });
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  $("sign-in-error").textContent = "";
  try {
    saveSession(await mintToken(form.org.value.trim(), form.keyId.value.trim(), form.key.value));
    form.reset();
    await route();
  } catch (err) {
    $("sign-in-error").textContent = `Sign-in failed: ${err.message}`;
  }
});

$("sign-out").addEventListener("click", () => {
  forgetSession();
  clearInterval(refreshTimer);
  location.hash = "";
  show("sign-in");
});

$("filters").addEventListener("submit", (event) => { event.preventDefault(); refreshJobs(); });
$("filters").addEventListener("change", (event) => {
  if (event.target.name === "auto") scheduleRefresh();
  else if (["window", "state"].includes(event.target.name)) refreshJobs();
});

window.addEventListener("hashchange", route);
route();
