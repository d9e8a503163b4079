// The jobtrail console: sign-in, the header and the router. Uses only the public API.

import { $, forgetSession, loadSession, mintToken, optional, saveSession } from "./common.js";
import { showJob, showOverview } from "./overview.js";
import { showRun, stopRun } from "./run.js";
import { showRuns, stopRuns } from "./runs.js";
import { showSettings } from "./settings.js";
import { showAlerts } from "./alerts.js";

const PAGES = ["sign-in", "overview", "job", "runs-page", "run", "settings", "alerts"];

// The view lives in the URL hash, so a link can be shared; it survives signing in because
// signing in never touches the hash.
function viewFromHash() {
  const [route, query] = location.hash.replace(/^#/, "").split("?");
  return { path: route || "/jobs", params: new URLSearchParams(query || "") };
}

let orgName = null;

async function showWho(session) {
  $("who").textContent = orgName && orgName.id === session.org ? orgName.name : session.org;
  if (orgName?.id === session.org) return;
  const org = await optional("");  // GET /organizations/{org}; absent on older servers
  orgName = { id: session.org, name: org?.name || session.org };
  $("who").textContent = orgName.name;
  $("who").title = `Organization ${session.org}`;
}

function show(page, nav) {
  for (const id of PAGES) $(id).hidden = id !== page;
  const session = loadSession();
  $("sign-out").hidden = !session;
  $("nav").hidden = !session;
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("current", link.dataset.nav === nav);
  }
  if (session) showWho(session);
  else $("who").textContent = "";
}

async function route() {
  stopRuns();
  stopRun();
  if (!loadSession()) {
    show("sign-in");
    return;
  }
  const { path, params } = viewFromHash();
  if (path.startsWith("/runs/")) {
    show("run", "runs");
    await showRun(decodeURIComponent(path.slice("/runs/".length)));
  } else if (path === "/runs") {
    show("runs-page", "runs");
    await showRuns(params);
  } else if (path.startsWith("/jobs/")) {
    show("job", "jobs");
    await showJob(decodeURIComponent(path.slice("/jobs/".length)));
  } else if (path === "/alerts") {
    show("alerts", "alerts");
    await showAlerts();
  } else if (path === "/settings") {
    show("settings", "settings");
    await showSettings();
  } else {
    show("overview", "jobs");
    await showOverview(params);
  }
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
  orgName = null;
  stopRuns();
  stopRun();
  history.replaceState(null, "", location.pathname);
  show("sign-in");
});

window.addEventListener("hashchange", route);
route();
