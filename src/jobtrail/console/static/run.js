// The Run page: job, state and times; the job DAG; a timeline of steps; a step's logs.

import {
  $, api, apiStream, element, focusableRow, formatMs, humanDuration, keyboardList, svg, timeAgo,
} from "./common.js";

const BOX_W = 190;
const BOX_H = 34;
const GAP_X = 70;
const GAP_Y = 16;
const POLL_MS = 2000;
const FINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);
let tailController = null;
let pollTimer = null;
let current = null;  // { runId, etag, selected, dagShape }

// Each step sits one layer after its deepest dependency, left to right.
export function layout(steps) {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const depth = new Map();
  const level = (name, seen = new Set()) => {
    if (depth.has(name)) return depth.get(name);
    if (seen.has(name)) return 0;  // a cycle cannot come from the runner; be safe anyway
    seen.add(name);
    const deps = (byName.get(name)?.dependencies || []).filter((d) => byName.has(d));
    const value = deps.length ? 1 + Math.max(...deps.map((d) => level(d, seen))) : 0;
    depth.set(name, value);
    return value;
  };
  const columns = [];
  for (const step of steps) {
    const d = level(step.name);
    (columns[d] ||= []).push(step.name);
  }
  const position = new Map();
  columns.forEach((names, col) => names.forEach((name, row) => {
    position.set(name, { x: col * (BOX_W + GAP_X), y: row * (BOX_H + GAP_Y) });
  }));
  const width = columns.length * (BOX_W + GAP_X) - GAP_X;
  const height = Math.max(...columns.map((c) => c.length)) * (BOX_H + GAP_Y) - GAP_Y;
  return { position, width: Math.max(width, BOX_W), height: Math.max(height, BOX_H) };
}

function drawDag(steps, onSelect) {
  const holder = $("dag");
  holder.replaceChildren();
  if (!steps.length) return;
  const { position, width, height } = layout(steps);
  const pad = 12;
  const root = svg("svg", { viewBox: `${-pad} ${-pad} ${width + 2 * pad} ${height + 2 * pad}`,
    role: "img", "aria-label": "Job DAG" });
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }));
  defs.append(marker);
  const scene = svg("g", { class: "scene" });
  root.append(defs, scene);
  for (const step of steps) {
    const to = position.get(step.name);
    for (const dep of step.dependencies) {
      const from = position.get(dep);
      if (!from) continue;
      const x1 = from.x + BOX_W, y1 = from.y + BOX_H / 2, x2 = to.x, y2 = to.y + BOX_H / 2;
      const mid = (x1 + x2) / 2;
      const edge = svg("path", { d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`,
        class: "edge", "marker-end": "url(#arrow)" });
      edge.dataset.from = dep;
      edge.dataset.to = step.name;
      scene.append(edge);
    }
  }
  for (const step of steps) {
    const { x, y } = position.get(step.name);
    const box = svg("g", { class: `step ${step.state}`, transform: `translate(${x} ${y})`,
      tabindex: 0, role: "button" });
    box.dataset.step = step.name;
    const title = svg("title");
    title.textContent = `${step.name}: ${step.state}`;
    const label = svg("text", { x: 10, y: BOX_H / 2 + 4 });
    label.textContent = step.name.length > 24 ? `${step.name.slice(0, 23)}…` : step.name;
    box.append(title, svg("rect", { width: BOX_W, height: BOX_H, rx: 5 }), label);
    box.addEventListener("click", () => onSelect(step.name));
    box.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") onSelect(step.name); });
    scene.append(box);
  }
  root.style.maxWidth = `${(width + 2 * pad) * 1.2}px`;  // small DAGs are not blown up
  holder.append(root);
  // A DAG wider than the box opens at 1:1 from its start, labels readable; drag and wheel
  // to explore it. A smaller one is shown whole.
  const box = holder.getBoundingClientRect();
  const fits = width + 2 * pad <= box.width;
  const view = fits ? { x: -pad, y: -pad, w: width + 2 * pad, h: height + 2 * pad }
    : { x: -pad, y: -pad, w: box.width, h: box.height };
  panZoom(root, view);
}

function panZoom(root, initial) {
  let view = initial;
  const apply = () => root.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
  apply();
  root.addEventListener("wheel", (event) => {
    event.preventDefault();
    const factor = event.deltaY > 0 ? 1.15 : 1 / 1.15;
    view = { x: view.x, y: view.y, w: view.w * factor, h: view.h * factor };
    apply();
  }, { passive: false });
  let drag = null;
  root.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY, view }; });
  root.addEventListener("pointerup", () => { drag = null; });
  root.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const scale = view.w / root.clientWidth;
    view = { ...drag.view, x: drag.view.x - (e.clientX - drag.x) * scale,
      y: drag.view.y - (e.clientY - drag.y) * scale };
    apply();
  });
}

// Steps in the order they started (the API's order), on a time axis; steps that never started
// (pending, skipped) are listed after them as what they are, without a bar in time.
function drawTimeline(run, steps, onSelect) {
  const holder = $("timeline");
  holder.replaceChildren();
  // A skipped or pending step has a first event but never ran: no bar for it.
  const ran = (s) => s.startTime && s.state !== "SKIPPED" && s.state !== "PENDING";
  const started = steps.filter(ran);
  const now = Date.now();
  const t0 = started.length ? Math.min(...started.map((s) => Date.parse(s.startTime))) : now;
  const ends = started.map((s) => (s.endTime ? Date.parse(s.endTime) : now));
  const t1 = Math.max(t0 + 1, ...ends, run.endTime ? Date.parse(run.endTime) : t0 + 1);
  const span = t1 - t0;
  if (started.length) holder.append(timeAxis(span));
  for (const step of steps) {
    const row = element("div", null, "lane");
    row.dataset.step = step.name;
    const name = element("button", step.name, "lane-name");
    name.type = "button";
    name.addEventListener("click", () => onSelect(step.name));
    const track = element("div", null, "track");
    if (ran(step)) {
      const bar = element("div", null, `bar ${step.state}`);
      const start = Date.parse(step.startTime) - t0;
      const end = (step.endTime ? Date.parse(step.endTime) : now) - t0;
      bar.style.left = `${(start / span) * 100}%`;
      bar.style.width = `${Math.max(((end - start) / span) * 100, 0.5)}%`;
      bar.title = `${step.startTime} → ${step.endTime || "running"} (${humanDuration(step.duration) || "running"})`;
      track.append(bar);
    } else {
      track.append(element("span", step.state === "SKIPPED" ? "skipped" : "not started",
        `unstarted ${step.state}`));
    }
    row.append(name, track);
    holder.append(row);
  }
}

function timeAxis(span) {
  const axis = element("div", null, "lane axis");
  const ticks = element("div", null, "track ticks");
  for (let i = 0; i <= 4; i += 1) {
    const tick = element("span", i === 0 ? "0" : `+${formatMs((span * i) / 4)}`, "tick");
    tick.style.left = `${i * 25}%`;
    ticks.append(tick);
  }
  axis.append(element("span", ""), ticks);
  return axis;
}

function drawStepList(steps, onSelect) {
  const body = $("step-list").querySelector("tbody");
  body.replaceChildren(...steps.map((step) => {
    const row = focusableRow(element("tr"));
    row.dataset.step = step.name;
    const link = element("a", step.name);
    link.href = "#";
    link.addEventListener("click", (event) => { event.preventDefault(); onSelect(step.name); });
    const name = element("td", null, "name");
    name.append(link);
    const state = element("td");
    state.append(element("span", step.state, `badge ${step.state}`));
    const start = element("td");
    if (step.startTime) start.append(timeAgo(step.startTime));
    row.append(name, state, start, element("td", step.duration ? humanDuration(step.duration)
      : step.startTime ? "running" : ""), element("td", String(step.attempt)));
    return row;
  }));
  keyboardList($("step-list"));
}

// ANSI SGR colours (30–37, 90–97, bold) become spans with classes; the text stays text.
export function renderAnsi(target, text) {
  const pattern = /\x1b\[([0-9;]*)m/g;
  let classes = [];
  let last = 0;
  const flush = (chunk) => {
    if (!chunk) return;
    if (!classes.length) { target.append(document.createTextNode(chunk)); return; }
    target.append(element("span", chunk, classes.join(" ")));
  };
  for (const match of text.matchAll(pattern)) {
    flush(text.slice(last, match.index));
    last = match.index + match[0].length;
    for (const code of (match[1] || "0").split(";").map(Number)) {
      if (code === 0) classes = [];
      else if (code === 1) classes.push("ansi-bold");
      else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) {
        classes = classes.filter((c) => !c.startsWith("ansi-fg")).concat(`ansi-fg${code}`);
      }
    }
  }
  flush(text.slice(last));
}

async function liveTail(runId, name, stream, target, offset) {
  tailController ||= new AbortController();
  const { signal } = tailController;
  const path = `/jobs/v1/runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(name)}/logs/${stream}`;
  try {
    const resp = await apiStream(path, { follow: "true", offset: String(offset) }, signal);
    if (!resp.ok || !resp.body) return;
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    $(`${stream}-follow`).hidden = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      renderAnsi(target, value);
      target.scrollTop = target.scrollHeight;
    }
  } catch (err) {
    if (err.name !== "AbortError") throw err;  // leaving the step or the page ends the tail
  } finally {
    if (!signal.aborted) $(`${stream}-follow`).hidden = true;
  }
}

async function showStep(runId, name, scroll = false) {
  tailController?.abort();
  tailController = null;
  for (const stream of ["stdout", "stderr"]) $(`${stream}-follow`).hidden = true;
  if (current) {
    current.selected = name;
    current.selectedState = undefined;
  }
  for (const node of document.querySelectorAll("#run [data-step]")) {
    node.classList.toggle("selected", node.dataset.step === name);
  }
  const panel = $("step-panel");
  panel.hidden = false;
  if (scroll) document.querySelector(`#step-list tr[data-step="${CSS.escape(name)}"]`)?.scrollIntoView({ block: "center" });
  const resp = await api(`/jobs/v1/runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(name)}`);
  const step = await resp.json();
  if (current?.selected === name) current.selectedState = step.state;
  $("step-name").textContent = step.name;
  const facts = $("step-facts");
  facts.replaceChildren();
  const add = (label, value) => facts.append(element("dt", label), element("dd", value ?? "—"));
  add("State", step.state);
  add("Attempt", step.attempt);
  add("Exit code", step.exitCode);
  add("Message", step.message);
  add("Started", step.startTime);
  add("Duration", humanDuration(step.duration));
  const history = $("step-history");
  history.replaceChildren(...step.stateHistory.map((h) =>
    element("li", `${h.timestamp} ${h.state}${h.attempt ? ` (attempt ${h.attempt})` : ""}` +
      `${h.exitCode !== null ? ` exit ${h.exitCode}` : ""}`)));
  const live = step.state === "RUNNING" || step.state === "PENDING";
  for (const stream of ["stdout", "stderr"]) {
    const target = $(stream);
    target.replaceChildren();
    attemptHeader(target, step);
    renderAnsi(target, step[stream]);
    // Offsets count the bytes the server keeps (received minus what the cap dropped).
    const kept = step[`${stream}Bytes`] - step[`${stream}DroppedBytes`];
    const shown = new TextEncoder().encode(step[stream]).length;
    showEarlier(runId, name, stream, Math.max(0, kept - shown), step[`${stream}Bytes`]);
    if (live) liveTail(runId, name, stream, target, kept);
  }
}

// Long logs come in pieces: the step shows the most recent part; older parts load on demand.
const PIECE = 256 * 1024;

function showEarlier(runId, name, stream, from, total) {
  const note = $(`${stream}-note`);
  note.replaceChildren();
  if (from <= 0) return;
  note.append(element("span", `Showing the last part of ${total} bytes. `));
  const more = element("button", "Load earlier output");
  more.type = "button";
  more.addEventListener("click", async () => {
    const start = Math.max(0, from - PIECE);
    const path = `/jobs/v1/runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(name)}/logs/${stream}`;
    const resp = await api(path, { offset: String(start), limit: String(from - start) });
    const holder = element("span");
    renderAnsi(holder, await resp.text());
    $(stream).prepend(holder);
    showEarlier(runId, name, stream, start, total);
  });
  note.append(more);
}

// Output of all attempts is one stream; when a step ran more than once, a header says which
// attempts the output below spans (chunks carry no attempt number to cut at).
function attemptHeader(target, step) {
  const attempts = step.stateHistory.filter((h) => h.state === "RUNNING" && h.attempt);
  if (attempts.length < 2) return;
  for (const h of attempts) {
    target.append(element("div", `── attempt ${h.attempt} started ${h.timestamp} ──`, "attempt"));
  }
}

export function stopRun() {
  clearTimeout(pollTimer);
  pollTimer = null;
  tailController?.abort();
  tailController = null;
  current = null;
}

function renderRun(run) {
  $("run-title").textContent = `${run.jobName} · ${run.environment}`;
  const badge = $("run-state");
  badge.textContent = run.state;
  badge.className = `badge ${run.state}`;
  $("run-live").hidden = FINAL.has(run.state);
  const times = $("run-times");
  times.replaceChildren(element("span", "started "), timeAgo(run.startTime),
    element("span", ` (${run.startTime || "—"})`), element("span", run.endTime
      ? `, ended ${run.endTime}, took ${humanDuration(run.duration)}` : ", still running"));
  const runId = run.runId;
  const select = (name) => showStep(runId, name);
  // Redraw the DAG only when its shape or a state changed, so a viewer's pan and zoom survive.
  const shape = JSON.stringify(run.steps.map((s) => [s.name, s.state, s.dependencies]));
  if (current.dagShape !== shape) {
    drawDag(run.steps, select);
    current.dagShape = shape;
  }
  drawTimeline(run, run.steps, select);
  drawStepList(run.steps, select);
  for (const node of document.querySelectorAll("#run [data-step]")) {
    node.classList.toggle("selected", node.dataset.step === current.selected);
  }
}

async function poll(runId) {
  if (!current || current.runId !== runId) return;
  const resp = await api(`/jobs/v1/runs/${encodeURIComponent(runId)}`, null,
    { headers: current.etag ? { "If-None-Match": current.etag } : {} }).catch(() => null);
  if (!current || current.runId !== runId) return;
  if (resp?.status === 200) {
    current.etag = resp.headers.get("ETag");
    const run = await resp.json();
    const before = current.selectedState;
    renderRun(run);
    const selected = run.steps.find((s) => s.name === current.selected);
    current.selectedState = selected?.state;
    // The open step changed state: show its new facts (and, once it ended, its whole output).
    if (selected && before !== undefined && before !== selected.state) showStep(runId, selected.name);
    if (FINAL.has(run.state)) return;
  }
  pollTimer = setTimeout(() => poll(runId), POLL_MS);
}

export async function showRun(runId) {
  stopRun();
  $("step-panel").hidden = true;
  current = { runId, etag: null, selected: null, dagShape: null };
  const resp = await api(`/jobs/v1/runs/${encodeURIComponent(runId)}`);
  const run = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    $("run-title").textContent = run.message || `The server answered ${resp.status}.`;
    $("run-state").textContent = "";
    $("run-state").className = "";
    return;
  }
  current.etag = resp.headers.get("ETag");
  renderRun(run);
  const failed = run.steps.find((s) => s.state === "FAILED");
  if (failed) await showStep(runId, failed.name, true);
  if (!FINAL.has(run.state)) pollTimer = setTimeout(() => poll(runId), POLL_MS);
}
