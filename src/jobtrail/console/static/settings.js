// The organization page: its name and id (with a copy button) and, for an admin key, the
// organization's API keys: create (the secret shown once), revoke (after a confirmation).

import { $, api, copyText, element, focusableRow, keyboardList, loadSession, optional } from "./common.js";

const KEYS = "/keys/v1/keys";

function when(iso) {
  const cell = element("td", iso ? new Date(iso).toLocaleString() : "—");
  if (iso) cell.title = iso;
  return cell;
}

function revokeCell(key) {
  const cell = element("td");
  if (key.revokedAt) {
    cell.textContent = "revoked";
    return cell;
  }
  const revoke = element("button", "Revoke", "small danger");
  revoke.type = "button";
  revoke.addEventListener("click", () => {
    const sure = element("span", `Revoke ${key.name || key.keyId}? `, "confirm");
    const yes = element("button", "Yes, revoke", "small danger");
    const no = element("button", "Keep", "small plain");
    yes.type = no.type = "button";
    yes.addEventListener("click", async () => {
      const resp = await api(`${KEYS}/${encodeURIComponent(key.keyId)}`, null, { method: "DELETE" });
      if (!resp.ok && resp.status !== 404) {
        const body = await resp.json().catch(() => ({}));
        $("key-error").textContent = body.message || `The server answered ${resp.status}.`;
      }
      await loadKeys();
    });
    no.addEventListener("click", () => cell.replaceChildren(revoke));
    sure.append(yes, " ", no);
    cell.replaceChildren(sure);
    yes.focus();
  });
  cell.append(revoke);
  return cell;
}

function keyRow(key) {
  const row = focusableRow(element("tr"));
  row.dataset.keyId = key.keyId;
  row.append(element("td", key.keyId, "mono"), element("td", key.name || "", "name"),
    element("td", key.role), element("td", key.kind), when(key.createdAt), when(key.lastUsedAt),
    when(key.expiresAt), revokeCell(key));
  return row;
}

async function loadKeys() {
  const resp = await api(KEYS);
  if (resp.status === 403) {
    $("keys-note").textContent = "Only an admin key can see and manage the organization's API keys.";
    $("keys-admin").hidden = true;
    return;
  }
  if (!resp.ok) {
    $("keys-note").textContent = resp.status === 404
      ? "This server does not offer key management yet; use `jobtrail keys` on the server."
      : `The server answered ${resp.status}.`;
    $("keys-admin").hidden = true;
    return;
  }
  const keys = await resp.json();
  $("keys-note").textContent = "";
  $("keys-admin").hidden = false;
  $("keys").querySelector("tbody").replaceChildren(...keys.map(keyRow));
  keyboardList($("keys"));
}

function showSecret(created) {
  $("new-secret").hidden = false;
  $("new-key-id").textContent = created.keyId;
  $("new-key-secret").textContent = created.key;
  const ol = created.openLineageApiKey;
  for (const node of document.querySelectorAll("#new-secret .ol")) node.hidden = !ol;
  $("new-ol-key").textContent = ol || "";
}

export async function showSettings() {
  const session = loadSession();
  $("org-id").textContent = session.org;
  $("new-secret").hidden = true;
  $("key-error").textContent = "";
  const org = await optional("");
  $("org-name").textContent = org?.name || "—";
  await loadKeys();
}

$("copy-org").addEventListener("click", (e) => copyText($("org-id").textContent, e.target));
$("copy-secret").addEventListener("click", (e) => copyText($("new-key-secret").textContent, e.target));
$("copy-ol").addEventListener("click", (e) => copyText($("new-ol-key").textContent, e.target));
$("new-key").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const body = { role: form.role.value, kind: form.kind.value };
  if (form.name.value.trim()) body.name = form.name.value.trim();
  if (form.expiresIn.value) body.expiresIn = form.expiresIn.value;
  $("key-error").textContent = "";
  const resp = await api(KEYS, null, { method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json" } });
  const created = await resp.json().catch(() => ({}));
  if (resp.status !== 201) {
    $("key-error").textContent = created.message || `The server answered ${resp.status}.`;
    return;
  }
  form.reset();
  showSecret(created);
  await loadKeys();
});
