// The Jobs overview (home) and a job's page, on the insights API. Next expected run and open
// alerts come from the catalog and alerts endpoints when the server has them.

import {
  $, api, durationMs, element, focusableRow, formatMs, humanDuration, keyboardList, optional,
  svg, timeAgo,
} from "./common.js";
import { runRow } from "./runs.js";

const DAY = 24 * 3600 * 1000;
let jobs = [];
let sort = { key: "jobName", desc: false };

const jobKey = (name, environment) => `${name}\u0000${environment}`;

async function loadOverview() {
  const [resp, definitions, alerts] = await Promise.all([
    api("/insights/v1/jobs", { recent: "30" }),
    optional("/jobs/v1/definitions"),
    optional("/alerts/v1/alerts", { state: "open" }),
  ]);
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(body.message || `The server answered ${resp.status}.`);
  const next = new Map((Array.isArray(definitions) ? definitions : [])
    .map((d) => [jobKey(d.jobName, d.environment), d.nextExpectedRun]));
  const open = new Map();
  for (const alert of Array.isArray(alerts) ? alerts : []) {
    const key = jobKey(alert.jobName, alert.environment);
    open.set(key, (open.get(key) || 0) + 1);
  }
  return body.map((job) => ({
    ...job,
    p50: durationMs(job.durationP50),
    nextExpectedRun: next.get(jobKey(job.jobName, job.environment)) ?? null,
    openAlerts: Array.isArray(alerts) ? open.get(jobKey(job.jobName, job.environment)) || 0 : null,
  }));
}

function squares(job) {
  const cell = element("td");
  const strip = element("div", null, "squares");
  cell.append(strip);
  for (const run of [...job.recentRuns].reverse()) {  // oldest left, newest right
    const square = element("a", null, `sq ${run.state}`);
    square.href = `#/runs/${encodeURIComponent(run.runId)}`;
    square.title = `${run.state} · ${run.startTime || ""}${run.duration ? ` · ${humanDuration(run.duration)}` : ""}`;
    square.setAttribute("aria-label", square.title);
    square.tabIndex = -1;
    strip.append(square);
  }
  return cell;
}

function sparkline(job) {
  const values = [...job.recentRuns].reverse().map((r) => durationMs(r.duration)).filter((v) => v !== null);
  const cell = element("td", null, "median");
  const inner = element("div", null, "median-row");
  cell.append(inner);
  inner.append(element("span", job.p50 === null ? "—" : formatMs(job.p50)));
  if (values.length < 2) return cell;
  const max = Math.max(...values, 1);
  const points = values.map((v, i) => `${(i / (values.length - 1)) * 60},${18 - (v / max) * 16}`);
  const line = svg("svg", { viewBox: "0 0 60 20", class: "spark", "aria-hidden": "true" });
  line.append(svg("polyline", { points: points.join(" ") }));
  inner.append(line);
  return cell;
}

function jobRow(job) {
  const row = focusableRow(element("tr"));
  row.dataset.jobId = job.jobId;
  const name = element("td", null, "name");
  const link = element("a", job.jobName);
  link.href = `#/jobs/${encodeURIComponent(job.jobId)}`;
  name.append(link);
  const rate = job.successRate === null ? "—" : `${Math.round(job.successRate * 1000) / 10}%`;
  const last = element("td");
  if (job.lastSuccess) last.append(timeAgo(job.lastSuccess)); else last.textContent = "never";
  const next = element("td");
  if (job.nextExpectedRun) next.append(timeAgo(job.nextExpectedRun));
  const alerts = element("td", job.openAlerts ? String(job.openAlerts) : "", job.openAlerts ? "alerts" : "");
  row.append(name, element("td", job.environment, "name"), squares(job),
    element("td", rate, "rate"), sparkline(job), last, next, alerts);
  return row;
}

function compare(a, b) {
  const x = a[sort.key];
  const y = b[sort.key];
  if (x === y) return a.jobName.localeCompare(b.jobName) || a.environment.localeCompare(b.environment);
  if (x === null || x === undefined) return 1;  // empty values last, either direction
  if (y === null || y === undefined) return -1;
  const order = typeof x === "string" ? x.localeCompare(y) : x - y;
  return sort.desc ? -order : order;
}

function renderOverview() {
  const form = $("overview-filters");
  const q = form.q.value.trim().toLowerCase();
  const env = form.environment.value;
  const state = form.state.value;
  const rows = jobs.filter((job) => (!q || job.jobName.toLowerCase().includes(q)) &&
    (!env || job.environment === env) && (!state || job.recentRuns[0]?.state === state));
  rows.sort(compare);
  $("jobs-table").querySelector("tbody").replaceChildren(...rows.map(jobRow));
  keyboardList($("jobs-table"));
  $("overview-empty").hidden = jobs.length > 0;
  for (const th of $("jobs-table").querySelectorAll("th[data-sort]")) {
    if (th.dataset.sort === sort.key) th.setAttribute("aria-sort", sort.desc ? "descending" : "ascending");
    else th.removeAttribute("aria-sort");
  }
  const query = new URLSearchParams({ q: form.q.value, environment: env, state, sort: sort.key,
    desc: sort.desc ? "1" : "" });
  for (const [name, value] of [...query]) if (!value) query.delete(name);
  history.replaceState(null, "", `#/jobs?${query}`);
}

export async function showOverview(params) {
  const form = $("overview-filters");
  form.q.value = params.get("q") || "";
  form.state.value = params.get("state") || "";
  sort = { key: params.get("sort") || "jobName", desc: params.get("desc") === "1" };
  $("overview-error").textContent = "";
  try {
    jobs = await loadOverview();
  } catch (err) {
    $("overview-error").textContent = err.message;
    jobs = [];
  }
  const envs = [...new Set(jobs.map((j) => j.environment))].sort();
  form.environment.replaceChildren(element("option", "Any"), ...envs.map((e) => element("option", e)));
  form.environment.options[0].value = "";
  form.environment.value = envs.includes(params.get("environment")) ? params.get("environment") : "";
  renderOverview();
}

$("overview-filters").addEventListener("input", renderOverview);
$("overview-filters").addEventListener("submit", (event) => event.preventDefault());
for (const th of document.querySelectorAll("#jobs-table th[data-sort]")) {
  th.querySelector("button").addEventListener("click", () => {
    sort = { key: th.dataset.sort, desc: sort.key === th.dataset.sort ? !sort.desc : false };
    renderOverview();
  });
}

// --- a job's page ------------------------------------------------------------------------------

function stat(label, value) {
  const item = element("li");
  item.append(element("span", label, "muted"), element("strong", value));
  return item;
}

function chart(runs) {
  const holder = $("job-chart");
  holder.replaceChildren();
  const points = runs.filter((r) => r.startTime && r.duration);
  if (!points.length) {
    holder.append(element("p", "No finished run in the week.", "muted"));
    return;
  }
  const [W, H, L, B] = [800, 180, 60, 22];
  const t1 = Date.now();
  const t0 = t1 - 7 * DAY;
  const max = Math.max(...points.map((r) => durationMs(r.duration)), 1);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Duration of each run over the week" });
  const x = (iso) => L + ((Date.parse(iso) - t0) / (t1 - t0)) * (W - L - 10);
  const y = (ms) => H - B - (ms / max) * (H - B - 10);
  root.append(svg("line", { x1: L, y1: H - B, x2: W - 10, y2: H - B, class: "axis" }),
    svg("line", { x1: L, y1: 10, x2: L, y2: H - B, class: "axis" }));
  for (const [ms, label] of [[max, formatMs(max)], [max / 2, formatMs(max / 2)]]) {
    const text = svg("text", { x: L - 6, y: y(ms) + 4, class: "tick", "text-anchor": "end" });
    text.textContent = label;
    root.append(text, svg("line", { x1: L, y1: y(ms), x2: W - 10, y2: y(ms), class: "grid" }));
  }
  for (let d = 0; d <= 7; d += 1) {
    const when = new Date(t0 + d * DAY);
    const anchor = d === 0 ? "start" : d === 7 ? "end" : "middle";
    const text = svg("text", { x: x(when.toISOString()), y: H - 6, class: "tick", "text-anchor": anchor });
    text.textContent = when.toLocaleDateString("en", { month: "short", day: "numeric" });
    root.append(text);
  }
  const ordered = [...points].sort((a, b) => Date.parse(a.startTime) - Date.parse(b.startTime));
  root.append(svg("polyline", { class: "trend",
    points: ordered.map((r) => `${x(r.startTime)},${y(durationMs(r.duration))}`).join(" ") }));
  for (const run of ordered) {
    const dot = svg("circle", { cx: x(run.startTime), cy: y(durationMs(run.duration)), r: 3.5,
      class: `dot ${run.state}` });
    const title = svg("title");
    title.textContent = `${run.state} · ${run.startTime} · ${humanDuration(run.duration)}`;
    dot.append(title);
    root.append(dot);
  }
  holder.append(root);
}

function stepRows(id, steps, cells) {
  $(id).querySelector("tbody").replaceChildren(...steps.map((step) => {
    const row = element("tr");
    row.append(element("td", step.name, "name"), ...cells(step).map((v) => element("td", v)));
    return row;
  }));
}

export async function showJob(jobId) {
  $("job-title").textContent = "";
  const resp = await api(`/insights/v1/jobs/${encodeURIComponent(jobId)}`, { limit: "1000" });
  const job = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    $("job-title").textContent = job.message || `The server answered ${resp.status}.`;
    return;
  }
  $("job-title").textContent = `${job.jobName} · ${job.environment}`;
  const rate = job.successRate === null ? "—" : `${Math.round(job.successRate * 1000) / 10}%`;
  $("job-stats").replaceChildren(stat("Runs", String(job.runs)), stat("Success", rate),
    stat("Median", humanDuration(job.durationP50) || "—"), stat("p95", humanDuration(job.durationP95) || "—"),
    stat("Max", humanDuration(job.durationMax) || "—"),
    stat("Last success", job.lastSuccess ? new Date(job.lastSuccess).toLocaleString() : "never"));
  chart(job.lastRuns);
  stepRows("slow-steps", job.slowestSteps, (s) => [humanDuration(s.durationP50),
    humanDuration(s.durationP95), humanDuration(s.durationMax)]);
  stepRows("failing-steps", job.failingSteps, (s) => [String(s.failed), String(s.runs)]);
  $("no-failing").hidden = job.failingSteps.length > 0;
  $("job-runs").querySelector("tbody").replaceChildren(...job.lastRuns.map((run) => runRow(run, false)));
  keyboardList($("job-runs"));
  const query = new URLSearchParams({ window: "168h", job: job.jobName, environment: job.environment });
  $("job-runs-link").href = `#/runs?${query}`;
}
