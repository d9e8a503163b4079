// The Run page: job, state and times; the job DAG; a timeline of steps; a step's logs.

import {
  $, api, element, focusableRow, formatMs, humanDuration, keyboardList, timeAgo,
} from "./common.js";
import { drawDag } from "./dag.js";
import {
  dbtNode, displayOrder, fitNames, groupState, groupSummary, stepLabel, testGroups,
} from "./dbt.js";

const POLL_MS = 2000;
const FINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);
let tailController = null;
let pollTimer = null;
let current = null;  // { runId, etag, selected, dagShape, folds, run }

// Steps in the order they started (the API's order), on a time axis; steps that never started
// (pending, skipped) are listed after them as what they are, without a bar in time. A dbt
// node's tests follow it as a group with one bar over their span, folded or not.
function drawTimeline(run, rows, view) {
  const holder = $("timeline");
  holder.replaceChildren();
  const steps = rows.filter((r) => r.step).map((r) => r.step);
  const started = steps.filter(ran);
  const now = Date.now();
  const t0 = started.length ? Math.min(...started.map((s) => Date.parse(s.startTime))) : now;
  const ends = started.map((s) => (s.endTime ? Date.parse(s.endTime) : now));
  const t1 = Math.max(t0 + 1, ...ends, run.endTime ? Date.parse(run.endTime) : t0 + 1);
  const scale = { t0, span: t1 - t0, now };
  if (started.length) holder.append(timeAxis(scale.span));
  for (const row of rows) {
    if (row.group) {
      holder.append(groupLane(row, scale, view));
      continue;
    }
    const step = row.step;
    const lane = element("div", null, row.in ? "lane in-group" : "lane");
    lane.dataset.step = step.name;
    lane.hidden = Boolean(row.in) && !view.open(row.in);
    const name = element("button", null, "lane-name");
    name.append(stepLabel(step.name));
    name.type = "button";
    name.addEventListener("click", () => view.onSelect(step.name));
    const track = element("div", null, "track");
    if (ran(step)) {
      const end = step.endTime ? Date.parse(step.endTime) : now;
      track.append(bar(step.state, Date.parse(step.startTime), end, scale,
        `${step.startTime} → ${step.endTime || "running"} (${humanDuration(step.duration) || "running"})`));
    } else {
      track.append(element("span", step.state === "SKIPPED" ? "skipped" : "not started",
        `unstarted ${step.state}`));
    }
    lane.append(name, track);
    holder.append(lane);
  }
  // Long dbt names lose their middle, not their distinguishing end, to the lane's width.
  const names = [...holder.querySelectorAll(".lane:not([hidden]) .lane-name .step-label .name")];
  fitNames(names.map((name) => {
    const button = name.closest(".lane-name");
    const right = button.getBoundingClientRect().right - parseFloat(getComputedStyle(button).paddingRight);
    return { name, room: right - name.getBoundingClientRect().left };
  }));
}

// A skipped or pending step has a first event but never ran: no bar for it.
const ran = (s) => s.startTime && s.state !== "SKIPPED" && s.state !== "PENDING";

function bar(state, start, end, { t0, span }, title) {
  const node = element("div", null, `bar ${state}`);
  node.style.left = `${((start - t0) / span) * 100}%`;
  node.style.width = `${Math.max(((end - start) / span) * 100, 0.5)}%`;
  node.title = title;
  return node;
}

function groupLane(row, scale, view) {
  const lane = element("div", null, "lane group");
  lane.dataset.group = row.group;
  lane.append(foldButton(row, view, "lane-name"));
  const track = element("div", null, "track");
  const tests = row.tests.filter(ran);
  if (tests.length) {
    const start = Math.min(...tests.map((t) => Date.parse(t.startTime)));
    const end = Math.max(...tests.map((t) => (t.endTime ? Date.parse(t.endTime) : scale.now)));
    track.append(bar(groupState(row.tests), start, end, scale, groupSummary(row.tests)));
  }
  lane.append(track);
  return lane;
}

// The toggle of a group of tests: "▸ 20 tests · 1 failed", the tested node in its title.
function foldButton(row, view, className) {
  const open = view.open(row.group);
  const button = element("button", `${open ? "▾" : "▸"} ${groupSummary(row.tests)}`,
    `fold ${className}`);
  button.type = "button";
  button.title = `Tests of ${row.group}`;
  button.setAttribute("aria-expanded", String(open));
  button.addEventListener("click", () => view.onToggle(row.group));
  return button;
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

function drawStepList(rows, view) {
  const body = $("step-list").querySelector("tbody");
  body.replaceChildren(...rows.map((row) => (row.group ? groupRow(row, view) : stepRow(row, view))));
  keyboardList($("step-list"));
}

function stepRow({ step, in: group }, view) {
  const row = focusableRow(element("tr", null, group ? "in-group" : ""));
  row.dataset.step = step.name;
  row.hidden = Boolean(group) && !view.open(group);
  const link = element("a");
  link.append(stepLabel(step.name));
  link.href = "#";
  link.addEventListener("click", (event) => { event.preventDefault(); view.onSelect(step.name); });
  const name = element("td", null, "name");
  name.append(link);
  const state = element("td");
  state.append(element("span", step.state, `badge ${step.state}`));
  const start = element("td");
  if (step.startTime) start.append(timeAgo(step.startTime));
  row.append(name, state, start, element("td", step.duration ? humanDuration(step.duration)
    : step.startTime ? "running" : ""), element("td", String(step.attempt)));
  return row;
}

function groupRow(row, view) {
  const tr = element("tr", null, "group");
  tr.dataset.group = row.group;
  const cell = element("td", null, "name");
  cell.colSpan = 5;
  cell.append(foldButton(row, view, "plain small"));
  tr.append(cell);
  return tr;
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
  const decoder = new TextDecoder();  // one for all responses: a character cut between two is joined
  try {
    // A followed response closes while the step runs when its token expires (or after an
    // hour): go on from the bytes received, with a fresh token, until the step had ended.
    for (let ended = false; !ended && !signal.aborted;) {
      const resp = await api(path, { follow: "true", offset: String(offset) }, { signal });
      if (!resp.ok || !resp.body) return;
      ended = resp.headers.get("X-Jobtrail-Step-Ended") === "true";
      const reader = resp.body.getReader();
      $(`${stream}-follow`).hidden = false;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        offset += value.byteLength;
        renderAnsi(target, decoder.decode(value, { stream: true }));
        target.scrollTop = target.scrollHeight;
      }
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
  if (current?.selected === name) current.selectedState = stepMark(step);
  $("step-name").replaceChildren(stepLabel(step.name));
  if (dbtNode(step.name)) $("step-name").append(element("code", step.name, "muted full-id"));
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
    // Offsets count the bytes the server keeps (received minus what the cap dropped).
    const kept = step[`${stream}Bytes`] - step[`${stream}DroppedBytes`];
    const shown = new TextEncoder().encode(step[stream]).length;
    renderOutput(target, step[stream], Math.max(0, kept - shown), step, stream);
    showEarlier(runId, step, stream, Math.max(0, kept - shown));
    if (live) liveTail(runId, name, stream, target, kept);
  }
}

// What a poll compares to know the open step moved on: its state, or a new attempt of it.
const stepMark = (step) => `${step.state}#${step.attempt}`;

// Long logs come in pieces: the step shows the most recent part; older parts load on demand.
const PIECE = 256 * 1024;

function showEarlier(runId, step, stream, from) {
  const name = step.name;
  const note = $(`${stream}-note`);
  note.replaceChildren();
  if (from <= 0) return;
  note.append(element("span", `Showing the last part of ${step[`${stream}Bytes`]} bytes. `));
  const more = element("button", "Load earlier output");
  more.type = "button";
  more.addEventListener("click", async () => {
    const start = Math.max(0, from - PIECE);
    const path = `/jobs/v1/runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(name)}/logs/${stream}`;
    const resp = await api(path, { offset: String(start), limit: String(from - start) });
    const holder = element("span");
    renderOutput(holder, await resp.text(), start, step, stream);
    $(stream).prepend(holder);
    showEarlier(runId, step, stream, start);
  });
  note.append(more);
}

// A step that ran more than once: a header where each attempt's output begins. The server
// says where, in the stream's bytes (each chunk carries the attempt that wrote it); `start` is
// the offset of `text` in the stream, so a piece loaded later gets its headers too.
function renderOutput(target, text, start, step, stream) {
  const starts = step.attempt > 1 ? step[`${stream}Attempts`] || [] : [];
  const bytes = new TextEncoder().encode(text);
  const inside = starts.filter((s) => s.offset >= start && s.offset < start + bytes.length);
  if (!inside.length) { renderAnsi(target, text); return; }
  const decoder = new TextDecoder();
  let at = 0;
  for (const s of inside) {
    renderAnsi(target, decoder.decode(bytes.subarray(at, s.offset - start)));
    const began = step.stateHistory.find((h) => h.state === "RUNNING" && h.attempt === s.attempt);
    const when = began ? ` · started ${began.timestamp}` : "";
    target.append(element("div", `── attempt ${s.attempt}${when} ──`, "attempt"));
    at = s.offset - start;
  }
  renderAnsi(target, decoder.decode(bytes.subarray(at)));
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
  current.run = run;
  drawSteps(run, false);
}

// The DAG, timeline and list; a group of tests starts folded unless one of them failed, and
// stays as the viewer left it.
function drawSteps(run, keepView) {
  const runId = run.runId;
  const groups = testGroups(run.steps);
  const folds = current.folds;
  const view = {
    open: (group) => folds.get(group) ?? groups.get(group).some((t) => t.state === "FAILED"),
    onSelect: (name) => showStep(runId, name),
    onToggle: (group) => {
      folds.set(group, !view.open(group));
      current.dagShape = null;
      const where = document.activeElement?.closest("#dag, #timeline, #step-list")?.id;
      drawSteps(current.run, true);
      // A keyboard user stays on the toggle they pressed, though it was drawn anew.
      const toggle = where === "dag" ? ".group-head" : "button.fold";
      if (where) document.querySelector(`#${where} [data-group="${CSS.escape(group)}"] ${toggle}`)?.focus();
    },
  };
  // Redraw the DAG only when its shape, a state or a fold changed, so pan and zoom survive.
  const shape = JSON.stringify([run.steps.map((s) => [s.name, s.state, s.dependencies]),
    [...groups.keys()].map(view.open)]);
  if (current.dagShape !== shape) {
    drawDag(run.steps, groups, { ...view, keepView });
    current.dagShape = shape;
  }
  const rows = displayOrder(run.steps, groups);
  drawTimeline(run, rows, view);
  drawStepList(rows, view);
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
    current.selectedState = selected && stepMark(selected);
    // The open step changed state: show its new facts (and, once it ended, its whole output).
    if (selected && before !== undefined && before !== stepMark(selected)) showStep(runId, selected.name);
    if (FINAL.has(run.state)) return;
  }
  pollTimer = setTimeout(() => poll(runId), POLL_MS);
}

export async function showRun(runId) {
  stopRun();
  $("step-panel").hidden = true;
  current = { runId, etag: null, selected: null, dagShape: null, folds: new Map(), run: null };
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
