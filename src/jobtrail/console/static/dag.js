// The job DAG of the Run page: boxes left to right by dependency, pan and zoom. A dbt node's
// tests are one box under it (folded), or that box with the tests stacked below it (unfolded).

import { $, svg } from "./common.js";
import { dbtNode, fitNames, groupState, groupSummary } from "./dbt.js";

const BOX_W = 220;
const BOX_H = 34;
const GAP_X = 70;
const GAP_Y = 16;
const INDENT = 14;
const STACK = BOX_H + 6;

// Each item sits one layer after its deepest dependency, left to right; items are
// { key, dependencies, height } and a column stacks them by height.
export function layout(items) {
  const byKey = new Map(items.map((i) => [i.key, i]));
  const depth = new Map();
  const level = (key, seen = new Set()) => {
    if (depth.has(key)) return depth.get(key);
    if (seen.has(key)) return 0;  // a cycle cannot come from the runner; be safe anyway
    seen.add(key);
    const deps = (byKey.get(key)?.dependencies || []).filter((d) => byKey.has(d) && d !== key);
    const value = deps.length ? 1 + Math.max(...deps.map((d) => level(d, seen))) : 0;
    depth.set(key, value);
    return value;
  };
  const columns = [];
  for (const item of items) (columns[level(item.key)] ||= []).push(item);
  const position = new Map();
  const heights = columns.map((column, col) => column.reduce((y, item) => {
    position.set(item.key, { x: col * (BOX_W + GAP_X), y });
    return y + (item.height || BOX_H) + GAP_Y;
  }, 0) - GAP_Y);
  const width = columns.length * (BOX_W + GAP_X) - GAP_X;
  return { position, width: Math.max(width, BOX_W), height: Math.max(...heights, BOX_H) };
}

// The boxes to draw: steps not in a group, and one item per group of tests (its key is
// "tests of <node>"); an edge into a folded test points at its group.
function dagItems(steps, groups, open) {
  const home = new Map();  // test step name → its group's key
  const items = [];
  for (const [parent, tests] of groups) {
    const key = `tests of ${parent}`;
    for (const t of tests) home.set(t.name, key);
    const deps = new Set(tests.flatMap((t) => t.dependencies || []));
    const height = open(parent) ? BOX_H + tests.length * STACK : BOX_H;
    items.push({ key, parent, tests, dependencies: [...deps], height });
  }
  const anchor = (name) => home.get(name) || name;
  const plain = steps.filter((s) => !home.has(s.name)).map((s) => ({ key: s.name, step: s,
    dependencies: (s.dependencies || []).map(anchor) }));
  for (const item of items) item.dependencies = item.dependencies.map(anchor);
  return { items: [...plain, ...items], anchor };
}

export function drawDag(steps, groups, { open, onSelect, onToggle, keepView }) {
  const holder = $("dag");
  const previous = keepView && holder.querySelector("svg")?.getAttribute("viewBox");
  holder.replaceChildren();
  if (!steps.length) return;
  const { items } = dagItems(steps, groups, open);
  const { position, width, height } = layout(items);
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
  for (const item of items) scene.append(...edges(item, position));
  for (const item of items) {
    const { x, y } = position.get(item.key);
    if (item.step) scene.append(stepBox(item.step, x, y, BOX_W, onSelect));
    else scene.append(groupBox(item, x, y, open(item.parent), onSelect, onToggle));
  }
  root.style.maxWidth = `${(width + 2 * pad) * 1.2}px`;  // small DAGs are not blown up
  holder.append(root);
  fitLabels(root);
  // A DAG wider than the box opens at 1:1 from its start, labels readable; drag and wheel
  // to explore it. A smaller one is shown whole. Folding a group keeps the viewer's view.
  const box = holder.getBoundingClientRect();
  const fits = width + 2 * pad <= box.width;
  const view = fits ? { x: -pad, y: -pad, w: width + 2 * pad, h: height + 2 * pad }
    : { x: -pad, y: -pad, w: box.width, h: box.height };
  if (previous) {
    const [vx, vy, vw, vh] = previous.split(" ").map(Number);
    panZoom(root, { x: vx, y: vy, w: vw, h: vh });
  } else {
    panZoom(root, view);
  }
}

function edges(item, position) {
  const to = position.get(item.key);
  const drawn = [];
  for (const dep of new Set(item.dependencies)) {
    const from = position.get(dep);
    if (!from || dep === item.key) continue;
    const x1 = from.x + BOX_W, y1 = from.y + BOX_H / 2, x2 = to.x, y2 = to.y + BOX_H / 2;
    const mid = (x1 + x2) / 2;
    const edge = svg("path", { d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`,
      class: "edge", "marker-end": "url(#arrow)" });
    edge.dataset.from = dep;
    edge.dataset.to = item.key;
    drawn.push(edge);
  }
  return drawn;
}

// A step's box: a dbt node shows its type and short name, its full id in the hover title.
function stepBox(step, x, y, width, onSelect) {
  const box = svg("g", { class: `step ${step.state}`, transform: `translate(${x} ${y})`,
    tabindex: 0, role: "button" });
  box.dataset.step = step.name;
  const title = svg("title");
  title.textContent = `${step.name}: ${step.state}`;
  const label = svg("text", { x: 10, y: BOX_H / 2 + 4 });
  const node = dbtNode(step.name);
  if (node) {
    label.dataset.room = width - 16;  // trimmed to fit once drawn (fitLabels)
    const kind = svg("tspan", { class: `kind ${node.type}` });
    const name = svg("tspan", { class: "name" });
    kind.textContent = `${node.type} `;
    name.textContent = node.short;
    label.append(kind, name);
  } else {
    label.textContent = step.name.length > 24 ? `${step.name.slice(0, 23)}…` : step.name;
  }
  box.append(title, svg("rect", { width, height: BOX_H, rx: 5 }), label);
  box.addEventListener("click", () => onSelect(step.name));
  box.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") onSelect(step.name); });
  return box;
}

// A group of tests: a header box that folds and unfolds, and, unfolded, the tests below it.
function groupBox(item, x, y, isOpen, onSelect, onToggle) {
  const holder = svg("g", { class: `test-group${isOpen ? " open" : ""}` });
  holder.dataset.group = item.parent;
  if (isOpen) {
    holder.append(svg("rect", { class: "frame", x: x - 4, y: y - 4, width: BOX_W + 8,
      height: item.height + 8, rx: 7 }));
  }
  const header = svg("g", { class: `step group-head ${groupState(item.tests)}`,
    transform: `translate(${x} ${y})`, tabindex: 0, role: "button", "aria-expanded": String(isOpen) });
  const title = svg("title");
  title.textContent = `Tests of ${item.parent}: ${isOpen ? "fold" : "unfold"}`;
  const label = svg("text", { x: 10, y: BOX_H / 2 + 4 });
  label.textContent = `${isOpen ? "▾" : "▸"} ${groupSummary(item.tests)}`;
  header.append(title, svg("rect", { width: BOX_W, height: BOX_H, rx: 5 }), label);
  header.addEventListener("click", () => onToggle(item.parent));
  header.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onToggle(item.parent); }
  });
  holder.append(header);
  if (isOpen) {
    item.tests.forEach((test, i) => {
      holder.append(stepBox(test, x + INDENT, y + (i + 1) * STACK, BOX_W - INDENT, onSelect));
    });
  }
  return holder;
}

// A label longer than its box loses the middle of its name to "…" (the title keeps it);
// measured in the page, as the font draws it.
function fitLabels(root) {
  fitNames([...root.querySelectorAll("text[data-room]")].map((label) => ({
    name: label.querySelector(".name"),
    room: Number(label.dataset.room) - label.querySelector(".kind").getComputedTextLength(),
  })));
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
