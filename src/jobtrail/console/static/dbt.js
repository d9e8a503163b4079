// dbt node steps, recognised by the shape of their name (the runner names each node's step
// after its unique id): a short label with the resource type, and tests grouped under the node
// they test, so twenty tests do not read as twenty copies of one truncated id.

import { element } from "./common.js";

const SHAPES = [
  // model.shop.orders, seed.shop.countries, snapshot.shop.orders_snap, model.shop.orders.v2
  [/^(model|seed|snapshot)\.[^.\s]+\.([^.\s]+(?:\.v\d+)?)$/, (m) => [m[1], m[2]]],
  // test.shop.not_null_orders_id.0a1b2c3d4e (generic, hashed) or test.shop.assert_x (singular)
  [/^test\.[^.\s]+\.([^.\s]+?)(?:\.[0-9a-f]{10})?$/, (m) => ["test", m[1]]],
  // source.shop.raw.orders: the source and its table
  [/^source\.[^.\s]+\.([^.\s]+)\.([^.\s]+)$/, (m) => ["source", `${m[1]}.${m[2]}`]],
];

// { type, short } for a dbt node's step name; null for any other name (shown as it is).
export function dbtNode(name) {
  for (const [pattern, parts] of SHAPES) {
    const match = pattern.exec(name);
    if (match) {
      const [type, short] = parts(match);
      return { type, short };
    }
  }
  return null;
}

// A step's label: "model orders" (the type as a tag) with the full id on hover, or its name.
export function stepLabel(name) {
  const node = dbtNode(name);
  const label = element("span", null, "step-label");
  if (!node) {
    label.textContent = name;
    return label;
  }
  label.title = name;
  label.append(element("span", node.type, `kind ${node.type}`), " ", element("span", node.short, "name"));
  return label;
}

// A name cut to `keep` characters in the middle, so names that share a long start (six
// accepted_values tests of one model) still differ where they differ: at the end.
export function trimMiddle(full, keep) {
  if (keep >= full.length) return full;
  const head = Math.ceil(keep * 0.55);
  return `${full.slice(0, head)}…${full.slice(full.length - (keep - head))}`;
}

// Cuts each { name, room } label's name (in the middle) to its room in pixels; the title keeps
// it whole. Measured on a canvas in the label's font: a live run of hundreds of nodes redraws
// every poll, and measuring in the page would lay it out once per try.
const pen = document.createElement("canvas").getContext("2d");

export function fitNames(labels) {
  const fonts = labels.map(({ name }) => getComputedStyle(name).font);  // all reads first
  labels.forEach(({ name, room }, i) => {
    pen.font = fonts[i];
    const full = name.textContent;
    let keep = full.length;
    while (keep > 2 && pen.measureText(trimMiddle(full, keep)).width > room) keep -= 1;
    name.textContent = trimMiddle(full, keep);
  });
}

// The node a test tests: among its dbt dependencies that are steps of this run and not tests,
// the one named first in the test's name (relationships_orders_customer_id__ref_customers_
// tests orders, not customers); null when it tests nothing in the run (a source dbt did not run).
function testedNode(step, byName) {
  const short = dbtNode(step.name).short;
  const candidates = (step.dependencies || []).filter((d) => {
    const node = byName.has(d) && dbtNode(d);
    return node && node.type !== "test";
  });
  const at = (d) => {
    const index = short.indexOf(dbtNode(d).short.split(".").pop());
    return index < 0 ? Infinity : index;
  };
  return candidates.sort((a, b) => at(a) - at(b))[0] || null;
}

// Map of a tested node's step name → its test steps, in the run's order.
export function testGroups(steps) {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const groups = new Map();
  for (const step of steps) {
    if (dbtNode(step.name)?.type !== "test") continue;
    const parent = testedNode(step, byName);
    if (parent) (groups.get(parent) || groups.set(parent, []).get(parent)).push(step);
  }
  return groups;
}

// One state for a group of tests: the one that needs attention first.
export function groupState(tests) {
  for (const state of ["FAILED", "RUNNING", "PENDING", "SUCCEEDED"]) {
    if (tests.some((t) => t.state === state)) return state;
  }
  return tests[0].state;
}

// "20 tests", "20 tests · 1 failed"
export function groupSummary(tests) {
  const failed = tests.filter((t) => t.state === "FAILED").length;
  const noun = tests.length === 1 ? "test" : "tests";
  return `${tests.length} ${noun}${failed ? ` · ${failed} failed` : ""}`;
}

// The steps in display order: each tested node is followed by its group, then its tests.
// Entries are { step } or { group: parent, tests }.
export function displayOrder(steps, groups) {
  const grouped = new Set([...groups.values()].flat().map((t) => t.name));
  const rows = [];
  for (const step of steps) {
    if (grouped.has(step.name)) continue;
    rows.push({ step });
    const tests = groups.get(step.name);
    if (!tests) continue;
    rows.push({ group: step.name, tests });
    for (const test of tests) rows.push({ step: test, in: step.name });
  }
  return rows;
}
