/* The admin page: per board the resolved and escalated statuses (loaded from ConnectWise)
 * and auto-open; who may frame the pod; the members who are admins; API tokens (the new
 * one shown once); the doctor's checks. Saved with PATCH /api/v1/settings; each
 * validation error beside its field. */

import { ApiFailure, api, fieldErrors } from "./api.js";
import { $, act, clear, el, toast } from "./dom.js";
import { startPage } from "./page.js";

const state = { preferences: {}, boards: [], statuses: {} };

function statusOptions(select, statuses, emptyLabel, value) {
  clear(select).append(el("option", { value: "", text: emptyLabel }));
  for (const status of statuses) {
    select.append(el("option", { value: String(status.id), text: `${status.name}${status.closed ? " (closed)" : ""}${status.inactive ? " (inactive)" : ""}` }));
  }
  select.value = value ? String(value) : "";
  if (value && select.value !== String(value)) {
    select.append(el("option", { value: String(value), text: `#${value} (not on this board)` }));
    select.value = String(value);
  }
}

function accountWideSelect(select, value) {
  clear(select).append(el("option", { value: "", text: "— no status change —" }));
  for (const board of state.boards) {
    select.append(el("optgroup", { label: board.name }, (state.statuses[board.id] || []).map((s) => el("option", { value: String(s.id), text: s.name }))));
  }
  select.value = value ? String(value) : "";
}

function renderBoards() {
  const prefs = state.preferences;
  const overrides = prefs.board_overrides || {};
  const auto = new Set(prefs.auto_open_boards || []);
  const rows = state.boards.map((board) => {
    const override = overrides[String(board.id)] || {};
    const cell = (role) => {
      const key = `board_overrides.${board.id}.${role}`;
      const select = el("select", { id: key, "data-field": key, "aria-label": `${role === "resolved" ? "Resolved" : "Escalated"} status on ${board.name}`, "aria-describedby": `err-${key}` });
      statusOptions(select, state.statuses[board.id] || [], "— account default —", override[role]);
      return el("td", {}, select, el("p", { id: `err-${key}`, class: "field-error", role: "alert" }));
    };
    const autoBox = el("input", { id: `auto-${board.id}`, type: "checkbox", checked: auto.has(board.id), "data-board": String(board.id) });
    return el("tr", { "data-board": String(board.id) },
      el("th", { scope: "row", text: `${board.name} (#${board.id})` }),
      cell("resolved"), cell("escalated"),
      el("td", {}, el("label", { for: `auto-${board.id}` }, autoBox, el("span", { class: "visually-hidden", text: ` Open sessions automatically on ${board.name}` }))));
  });
  clear($("boards")).append(...rows);
  if (!rows.length) $("boards").append(el("tr", {}, el("td", { colspan: "4", class: "muted", text: "No boards (is ConnectWise connected?)." })));
  accountWideSelect($("cw_resolved_status_id"), prefs.cw_resolved_status_id);
  accountWideSelect($("cw_escalated_status_id"), prefs.cw_escalated_status_id);
  $("extra_pod_origins").value = (prefs.extra_pod_origins || []).join("\n");
  $("admin_members").value = (prefs.admin_members || []).join("\n");
}

const lines = (id) => $(id).value.split(/\n/).map((l) => l.trim()).filter(Boolean);
const idOf = (select) => (select.value ? Number(select.value) : null);

function patch() {
  const overrides = {};
  for (const board of state.boards) {
    const resolved = idOf($(`board_overrides.${board.id}.resolved`));
    const escalated = idOf($(`board_overrides.${board.id}.escalated`));
    overrides[String(board.id)] = resolved || escalated ? { resolved, escalated } : null;
  }
  const auto = [...document.querySelectorAll("#boards input[data-board]")].filter((b) => b.checked).map((b) => Number(b.dataset.board));
  const extra = lines("extra_pod_origins");
  const admins = lines("admin_members");
  return {
    cw_resolved_status_id: idOf($("cw_resolved_status_id")),
    cw_escalated_status_id: idOf($("cw_escalated_status_id")),
    board_overrides: overrides,
    auto_open_boards: auto.length ? auto : null,
    extra_pod_origins: extra.length ? extra : null,
    admin_members: admins.length ? admins : null,
  };
}

function clearErrors() {
  for (const node of document.querySelectorAll("#settings-form .field-error")) node.textContent = "";
  for (const node of document.querySelectorAll("#settings-form [aria-invalid]")) node.removeAttribute("aria-invalid");
}

function showFieldErrors(fields) {
  for (const [path, message] of Object.entries(fields)) {
    const [head, index] = [path.split(".")[0], path.split(".")[1]];
    let target = $(`err-${path}`);
    let text = message;
    if (!target && /^\d+$/.test(index || "") && $(`err-${head}`)) {
      target = $(`err-${head}`);
      text = `Line ${Number(index) + 1}: ${message}`;
    }
    target = target || $("err-preferences");
    target.textContent = target.textContent ? `${target.textContent} ${text}` : text;
    const input = document.querySelector(`[data-field="${CSS.escape(target === $("err-preferences") ? "" : path)}"]`) || $(head);
    if (input) input.setAttribute("aria-invalid", "true");
  }
}

async function save(button) {
  clearErrors();
  $("save-status").textContent = "";
  await act(button, async () => {
    try {
      const result = await api("PATCH", "api/v1/settings", { preferences: patch() });
      state.preferences = result.preferences;
      renderBoards();
      $("save-status").textContent = "Saved.";
    } catch (error) {
      const fields = fieldErrors(error);
      if (!Object.keys(fields).length) throw error;
      showFieldErrors(fields);
      $("save-status").textContent = "Not saved: see the messages beside the fields.";
    }
  }, { busyText: "Saving…" });
}

function tokenRow(token, own) {
  return el("tr", { "data-token": String(token.id) },
    el("td", { text: token.name }), el("td", { text: token.role }), el("td", {}, el("code", { text: token.prefix })),
    el("td", { text: token.revoked_at ? "revoked" : token.last_used_at ? new Date(token.last_used_at).toLocaleString() : "never" }),
    el("td", {}, own ? el("span", { class: "muted small", text: "this session" }) : token.revoked_at ? null : el("button", {
      type: "button",
      class: "btn small link",
      text: "Revoke",
      "aria-label": `Revoke token ${token.name}`,
      onclick: (e) => act(e.currentTarget, async () => {
        await api("DELETE", `api/v1/admin/tokens/${token.id}`);
        await loadTokens();
      }),
    })));
}

let ownToken = null; // "token:<id>" when signed in with an API token: not revocable here

async function loadTokens() {
  if (ownToken === null) ownToken = (await api("GET", "api/v1/me")).actor;
  const page = await api("GET", "api/v1/admin/tokens");
  clear($("tokens")).append(...(page.items || []).map((t) => tokenRow(t, ownToken === `token:${t.id}`)));
}

async function runDoctor(button) {
  await act(button, async () => {
    const report = await api("GET", "api/v1/admin/doctor");
    clear($("doctor")).append(...report.lines.map((line) =>
      el("li", { class: `doctor-line ${line.warning ? "warn" : line.ok ? "ok" : "fail"}` }, el("strong", { text: line.warning ? "WARN " : line.ok ? "ok " : "FAIL " }), line.what, line.why ? `: ${line.why}` : "")));
  }, { busyText: "Checking ConnectWise…" });
}

async function load() {
  const [settings, origins] = await Promise.all([api("GET", "api/v1/settings"), api("GET", "api/v1/pod/origins")]);
  state.preferences = settings.preferences || {};
  clear($("origins-from-psa")).append(...(origins.from_psa.length ? origins.from_psa.map((o) => el("li", {}, el("code", { text: o }))) : [el("li", { class: "muted", text: "none: ConnectWise is not connected" })]));
  try {
    state.boards = (await api("GET", "api/v1/psa/boards")).items || [];
    const lists = await Promise.all(state.boards.map((b) => api("GET", `api/v1/psa/boards/${b.id}/statuses`).catch(() => ({ items: [] }))));
    state.boards.forEach((b, i) => (state.statuses[b.id] = lists[i].items || []));
  } catch (error) {
    if (!(error instanceof ApiFailure)) throw error;
    toast(`The boards could not be loaded: ${error.message}`, "warn");
  }
  renderBoards();
  await loadTokens();
}

function wire() {
  $("settings-form").addEventListener("submit", (event) => {
    event.preventDefault();
    save(event.submitter || $("save-btn"));
  });
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act(event.submitter, async () => {
      const created = await api("POST", "api/v1/admin/tokens", { name: $("token-name").value.trim(), role: $("token-role").value });
      $("token-name").value = "";
      clear($("token-created")).append(el("p", { class: "small", text: `Token "${created.name}" — copy it now, it is not shown again:` }),
        el("p", { class: "token-once" }, el("code", { id: "new-token", text: created.token })));
      await loadTokens();
    });
  });
  $("doctor-btn").addEventListener("click", (e) => runDoctor(e.currentTarget));
}

async function main() {
  await startPage({ role: "admin", adminOnly: true });
  $("main").hidden = false;
  wire();
  await load();
}

main().catch((error) => toast(error.message || "Something went wrong.", "error"));
