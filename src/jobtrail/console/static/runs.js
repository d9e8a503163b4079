// The Runs list: any window within the last week. The API answers at most 96 hours and at most
// the latest 10,000 events per request; the console splits the window itself (96-hour pieces,
// and a trimmed piece again below its oldest kept event) and merges the runs by id.

import { $, api, element, focusableRow, humanDuration, keyboardList, timeAgo } from "./common.js";

const AUTO_REFRESH_MS = 30000;
const HOUR = 3600 * 1000;
const MAX_SPAN = 96 * HOUR;
const MAX_AGE = 7 * 24 * HOUR;
const PAGE = 100;
const STATES = ["RUNNING", "FAILED", "SUCCEEDED", "PENDING", "CANCELLED"];

let refreshTimer = null;
let shown = [];  // the filtered, ordered runs of the last load
let page = 0;

export function stopRuns() { clearInterval(refreshTimer); refreshTimer = null; }

function readForm(form) {
  return {
    window: form.window.value, from: form.from.value, to: form.to.value,
    job: form.job.value.trim(), environment: form.environment.value.trim(), state: form.state.value,
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

function setHash(state) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(state)) if (value) query.set(name, value);
  const hash = `#/runs?${query}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

// The window as two Dates, the start kept within the week the server answers for.
function windowDates(form) {
  const now = new Date();
  let from;
  let to = now;
  if (form.window.value === "custom") {
    from = form.from.value ? new Date(form.from.value) : new Date(now - 24 * HOUR);
    to = form.to.value ? new Date(form.to.value) : now;
  } else {
    from = new Date(now - parseInt(form.window.value, 10) * HOUR);
  }
  const oldest = new Date(now - MAX_AGE + 60000);
  if (to <= oldest) {
    throw new Error("This window ended more than 7 days ago; jobtrail answers for the last 7 days.");
  }
  if (from >= to) throw new Error("The window's start must be before its end.");
  const clipped = from < oldest;
  return { from: clipped ? oldest : from, to: to > now ? now : to, clipped };
}

export function pieces(from, to) {
  const out = [];
  for (let end = to.getTime(); end > from.getTime(); end -= MAX_SPAN) {
    out.push([new Date(Math.max(from.getTime(), end - MAX_SPAN)), new Date(end)]);
  }
  return out;
}

// Every run of [from, to): one request per piece, more for trimmed pieces. `onPiece` sees the
// runs so far after each response but the last (the newest come first).
export async function fetchWindow(from, to, filters, onPiece = null) {
  const byId = new Map();
  const queue = pieces(from, to);
  let requests = 0;
  while (queue.length) {
    const [start, end] = queue.shift();
    const resp = await api("/jobs/v1/runs", { from: start.toISOString(), to: end.toISOString(),
      jobName: filters.job, environment: filters.environment });
    requests += 1;
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(body.message || `The server answered ${resp.status}.`);
    for (const run of body) byId.set(run.runId, run);
    if (resp.headers.get("X-Jobtrail-Truncated") === "true") {
      // The server kept the newest 10,000 events; ask again for what lies before the oldest
      // kept one (1 ms past it, so events sharing its timestamp are not lost).
      const below = new Date(Date.parse(resp.headers.get("X-Jobtrail-Oldest-Event")) + 1);
      if (below < end && below > start) queue.unshift([start, below]);
      else throw new Error("More than 10,000 events share one millisecond; narrow the filters.");
    }
    if (onPiece && queue.length) onPiece(order([...byId.values()]), requests);
  }
  return { runs: order([...byId.values()]), requests };
}

function order(runs) {
  const key = (run) => (run.startTime ? Date.parse(run.startTime) : -Infinity);
  return runs.sort((a, b) => key(b) - key(a) || a.jobName.localeCompare(b.jobName) ||
    a.environment.localeCompare(b.environment) || a.runId.localeCompare(b.runId));
}

function renderCounts(runs) {
  const counts = {};
  for (const run of runs) counts[run.state] = (counts[run.state] || 0) + 1;
  $("counts").replaceChildren(...STATES.map((state) => {
    const item = element("li");
    item.append(element("span", state, `badge ${state}`), element("span", ` ${counts[state] || 0}`));
    item.dataset.state = state;
    return item;
  }));
}

export function runRow(run, withJob = true) {
  const row = focusableRow(element("tr"));
  row.dataset.runId = run.runId;
  const state = element("td");
  state.append(element("span", run.state, `badge ${run.state}`));
  const link = element("a", withJob ? run.jobName : run.runId);
  link.href = `#/runs/${encodeURIComponent(run.runId)}`;
  const first = element("td", null, "name");
  first.append(link);
  const cells = [first];
  if (withJob) cells.push(element("td", run.environment, "name"));
  cells.push(state, _time(run.startTime), _time(run.endTime),
    element("td", run.duration ? humanDuration(run.duration) : "running"));
  if (withJob) cells.push(element("td", run.runId, "mono"));
  row.append(...cells);
  return row;
}

function _time(iso) {
  const cell = element("td");
  if (iso) cell.append(timeAgo(iso));
  return cell;
}

function renderPage() {
  const pages = Math.max(1, Math.ceil(shown.length / PAGE));
  page = Math.min(Math.max(page, 0), pages - 1);
  const slice = shown.slice(page * PAGE, (page + 1) * PAGE);
  $("runs").querySelector("tbody").replaceChildren(...slice.map((run) => runRow(run)));
  keyboardList($("runs"));
  $("empty").hidden = shown.length > 0;
  $("pager").hidden = shown.length <= PAGE;
  $("page-info").textContent = `${page * PAGE + 1}–${page * PAGE + slice.length} of ` +
    `${shown.length.toLocaleString("en")}`;
  $("page-prev").disabled = page === 0;
  $("page-next").disabled = page >= pages - 1;
}

function renderSuggestions(runs) {
  const fill = (id, values) => $(id).replaceChildren(...[...new Set(values)].sort().map((value) => {
    const option = element("option");
    option.value = value;
    return option;
  }));
  fill("job-names", runs.map((run) => run.jobName));
  fill("environments", runs.map((run) => run.environment));
}

let loading = 0;

// A load shows its first page as soon as the newest piece is in, and fills in the rest as it
// arrives (the person may page meanwhile); an automatic refresh swaps the list in once whole.
export async function refreshRuns(progressive = true) {
  const form = $("filters");
  form.classList.toggle("custom", form.window.value === "custom");
  const state = readForm(form);
  setHash(state);
  $("window-error").textContent = "";
  const mine = ++loading;
  $("runs").setAttribute("aria-busy", "true");
  try {
    const { from, to, clipped } = windowDates(form);
    const show = (runs) => {
      renderCounts(runs);
      shown = state.state ? runs.filter((run) => run.state === state.state) : runs;
      renderPage();
    };
    if (progressive) page = 0;
    const onPiece = progressive ? (runs, requests) => {
      if (mine !== loading) return;
      show(runs);
      const so = `${requests} request${requests === 1 ? "" : "s"} so far`;
      $("window-note").textContent = `Loading: ${so}, the newest runs first.`;
    } : null;
    const { runs, requests } = await fetchWindow(from, to, state, onPiece);
    if (mine !== loading) return;  // a newer load started meanwhile
    if (!progressive) page = 0;
    renderSuggestions(runs);
    show(runs);
    $("runs").setAttribute("aria-busy", "false");
    $("window-note").textContent = (clipped ? "jobtrail answers for the last 7 days; the " +
      "window starts there. " : "") + (requests > 1 ? `Loaded in ${requests} requests.` : "");
  } catch (err) {
    if (mine !== loading) return;
    $("runs").setAttribute("aria-busy", "false");
    $("window-error").textContent = err.message;
    shown = [];
    renderPage();
  }
}

function scheduleRefresh() {
  stopRuns();
  if ($("filters").auto.checked) refreshTimer = setInterval(() => refreshRuns(false), AUTO_REFRESH_MS);
}

export async function showRuns(params) {
  fillForm($("filters"), params);
  scheduleRefresh();
  await refreshRuns();
}

$("filters").addEventListener("submit", (event) => { event.preventDefault(); refreshRuns(); });
$("filters").addEventListener("change", (event) => {
  if (event.target.name === "auto") scheduleRefresh();
  else if (["window", "state"].includes(event.target.name)) refreshRuns();
});
$("page-prev").addEventListener("click", () => { page -= 1; renderPage(); });
$("page-next").addEventListener("click", () => { page += 1; renderPage(); });
