// The jobtrail console: sign-in, the Jobs page and the router. Uses only the public Jobs API.

import {
  $, api, element, forgetSession, humanDuration, loadSession, mintToken, relative, saveSession,
  toLocalInput,
} from "./common.js";
import { showRun } from "./run.js";

const AUTO_REFRESH_MS = 30000;

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
    const job = element("td", null, "name");
    const link = element("a", run.jobName);
    link.href = `#/runs/${encodeURIComponent(run.runId)}`;
    job.append(link);
    row.append(job, element("td", run.environment, "name"), state,
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
  for (const id of ["sign-in", "jobs", "run"]) $(id).hidden = id !== page;
  const session = loadSession();
  $("sign-out").hidden = !session;
  $("who").textContent = session ? `Organization ${session.org}` : "";
}

async function route() {
  if (!loadSession()) {
    show("sign-in");
    return;
  }
  const { route: path, params } = viewFromHash();
  clearInterval(refreshTimer);
  if (path.startsWith("/runs/")) {
    show("run");
    await showRun(decodeURIComponent(path.slice("/runs/".length)));
    return;
  }
  show("jobs");
  fillForm($("filters"), params);
  scheduleRefresh();
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
