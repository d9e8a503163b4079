// The Alerts page: open and recent alerts with their deliveries, from GET .../alerts/v1/alerts.
// Every piece of user data is rendered with textContent (see common.js).

import { $, api, element, relative } from "./common.js";

function deliveries(alert) {
  const cell = element("td");
  if (!alert.deliveries.length) cell.textContent = "none (silenced or no channel)";
  for (const d of alert.deliveries) {
    const line = element("div", `${d.channel}: ${d.status} (${d.attempts} attempt${d.attempts === 1 ? "" : "s"})`);
    line.className = `delivery ${d.status}`;
    if (d.lastError) line.title = d.lastError;
    cell.append(line);
  }
  return cell;
}

function row(alert) {
  const tr = element("tr");
  const job = element("td");
  if (alert.runId) {
    const link = element("a", alert.jobName);
    link.href = `#/runs/${encodeURIComponent(alert.runId)}`;
    job.append(link);
  } else {
    job.textContent = alert.jobName;
  }
  const raised = element("td", relative(alert.raisedAt));
  raised.title = alert.raisedAt;
  const message = element("td");
  const details = element("details");
  details.append(element("summary", alert.message.split("\n")[1] || alert.condition));
  details.append(element("pre", alert.message, "log"));
  message.append(details);
  tr.append(
    job, element("td", alert.environment), element("td", alert.condition, "badge"),
    element("td", alert.state), raised, deliveries(alert), message,
  );
  return tr;
}

export async function showAlerts() {
  const state = $("alerts-all").checked ? "all" : "open";
  $("alerts-error").textContent = "";
  const resp = await api("/alerts/v1/alerts", { state });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    $("alerts-error").textContent = body.message || `The server answered ${resp.status}.`;
    return;
  }
  $("alerts-rows").replaceChildren(...body.map(row));
  $("alerts-empty").hidden = body.length > 0;
}

$("alerts-all").addEventListener("change", () => { showAlerts(); });
