/* The task lane beside the chat: notices, the active fix, what we confirmed (facts), the
 * diagnostic checks the assistant proposed (each result becomes a fact), similar resolved
 * tickets, and Resolve / Escalate (a KB article once the session is closed). */

import { api } from "./api.js";
import { $, act, clear, el, richText } from "./dom.js";
import { KIND_NAMES, openWrapup, retryWriteback } from "./notes.js";
import { afterWrite, isActive, sessionPath, store } from "./state.js";

export function renderNotices(openSession) {
  const s = store.get().session;
  const box = clear($("notices"));
  const notice = (tone, ...content) => box.append(el("div", { class: `notice ${tone}` }, content));
  if (!isActive()) {
    const what = s.status.replace("_local", " (in Fixpilot only)").replace("_", " ");
    notice("info", `This session is ${what}.`,
      s.psa_ticket_id ? el("button", { type: "button", class: "btn small", text: "Start a new session", onclick: (e) => act(e.currentTarget, () => openSession(true)) }) : null);
  }
  const ticket = s.ticket || {};
  const outside = {
    closed_outside: "This ticket was closed in ConnectWise outside Fixpilot.",
    merged: `This ticket was merged into #${ticket.merged_parent_id || "?"} in ConnectWise.`,
    moved_board: `This ticket was moved to ${ticket.board_name ? `the ${ticket.board_name} board` : "another board"} in ConnectWise.`,
    deleted: "This ticket was deleted in ConnectWise.",
  }[s.ticket_state];
  if (outside) notice("warn", outside);
  const wb = s.latest_writeback;
  const writing = ["pending", "note_posted", "status_requested"];
  if (wb && (writing.includes(wb.state) || ["waiting_retry", "failed"].includes(wb.state))) {
    const name = KIND_NAMES[wb.kind] || "The note";
    const text = writing.includes(wb.state)
      ? `${name} is being written to the ticket…`
      : {
        waiting_retry: `${name} is waiting to be written: ConnectWise was unreachable, Fixpilot keeps retrying.`,
        failed: `${name} could not be written to the ticket.`,
      }[wb.state];
    notice(wb.state === "failed" ? "error" : "warn", el("span", {}, text),
      wb.last_error ? el("span", { class: "muted" }, ` Last error: ${wb.last_error}`) : null,
      writing.includes(wb.state) ? null : el("button", { type: "button", class: "btn small", text: "Retry", onclick: (e) => act(e.currentTarget, () => retryWriteback(wb.kind)) }));
  }
}

export function renderFacts() {
  const facts = store.get().facts;
  const list = clear($("facts"));
  $("facts-count").textContent = facts.length ? String(facts.length) : "";
  if (!facts.length) list.append(el("li", { class: "muted small empty", text: "Nothing confirmed yet." }));
  for (const fact of facts) {
    list.append(el("li", { class: "fact" },
      el("span", { class: "fact-text" }, richText(fact.text, fact.redactions || [])),
      isActive()
        ? el("button", {
            type: "button",
            class: "btn link small",
            text: "Delete",
            "aria-label": `Delete fact: ${fact.text}`,
            onclick: (e) => act(e.currentTarget, async () => {
              await api("DELETE", sessionPath(`/facts/${fact.id}`));
              await afterWrite({ facts: true });
            }),
          })
        : null));
  }
  $("fact-input").disabled = !isActive();
}

export async function addFact(text) {
  await api("POST", sessionPath("/facts"), { text });
  await afterWrite({ facts: true });
}

function openCheck(check) {
  const id = `check-${check.id}`;
  const input = el("input", { id: `${id}-result`, type: "text", maxlength: "2000", placeholder: "What did it show?", autocomplete: "off" });
  const form = el("form", { class: "check-form" },
    el("label", { for: `${id}-result`, class: "visually-hidden", text: `Result of: ${check.text}` }),
    input,
    el("button", { type: "submit", class: "btn small primary", text: "Record" }),
    el("button", {
      type: "button",
      class: "btn link small",
      text: "Not relevant",
      "aria-label": `Set aside: ${check.text}`,
      onclick: (e) => act(e.currentTarget, async () => {
        await api("POST", sessionPath(`/checks/${check.id}/dismiss`));
        await afterWrite({ checks: true });
      }),
    }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const result = input.value.trim();
    if (!result) return input.focus();
    act(event.submitter, async () => {
      await api("POST", sessionPath(`/checks/${check.id}/result`), { result });
      await afterWrite({ facts: true, checks: true });
    });
  });
  return el("li", { class: "check open", id }, el("p", { class: "check-text", text: check.text }), isActive() ? form : null);
}

export function renderChecks() {
  const checks = store.get().checks.filter((c) => c.status !== "dismissed");
  const list = clear($("checks"));
  if (!checks.length) list.append(el("li", { class: "muted small empty", text: "The assistant proposes checks when the evidence is thin." }));
  for (const check of checks) {
    if (check.status === "done") {
      list.append(el("li", { class: "check done" }, el("span", { class: "tick", "aria-hidden": "true", text: "✓" }),
        el("span", { class: "check-text", text: check.text }), el("span", { class: "check-result", text: ` — ${check.result}` })));
    } else {
      list.append(openCheck(check));
    }
  }
}

function similarItem(item) {
  const fixed = item.fixed_by ? `Fixed by: ${item.fixed_by.title}` : item.outcome === "escalated" ? "Escalated" : "Resolved";
  const age = item.age_days === 0 ? "today" : `${item.age_days} day${item.age_days === 1 ? "" : "s"} ago`;
  return el("li", { class: "similar-item" },
    el("details", {},
      el("summary", {}, el("strong", { text: item.ticket_id ? `#${item.ticket_id}` : "Session" }), ` ${item.summary} `, el("span", { class: "muted small", text: `· ${age}` })),
      el("p", { class: "small" }, el("span", { class: `chip outcome-${item.outcome}`, text: item.outcome }), " ", fixed),
      item.failed_fixes && item.failed_fixes.length
        ? el("p", { class: "small" }, "Didn't work there: ", item.failed_fixes.map((f) => f.title).join("; "))
        : null,
      item.tried && item.tried.length
        ? el("ol", { class: "small tried" }, item.tried.map((f) => el("li", { text: `${f.title} — ${f.status.replace("applied_", "").replace("_", " ")}${f.notes ? ` (${f.notes})` : ""}` })))
        : null,
      item.root_cause ? el("p", { class: "small" }, el("strong", { text: "Cause: " }), item.root_cause) : null));
}

export function renderSimilar() {
  const items = store.get().similar;
  const list = clear($("similar"));
  if (items === null) list.append(el("li", { class: "muted small", text: "Looking for similar tickets…" }));
  else if (!items.length) list.append(el("li", { class: "muted small empty", text: "No similar resolved tickets yet." }));
  else for (const item of items) list.append(similarItem(item));
}

export function renderLaneActions() {
  const active = isActive();
  $("resolve-btn").disabled = !active;
  $("escalate-btn").disabled = !active;
  $("resolve-btn").hidden = !active;
  $("escalate-btn").hidden = !active;
  $("kb-btn").hidden = active;
}

export function wireLane() {
  $("fact-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("fact-input");
    const text = input.value.trim();
    if (!text || !isActive()) return;
    act(event.submitter, async () => {
      await addFact(text);
      input.value = "";
    });
  });
  $("resolve-btn").addEventListener("click", () => openWrapup("resolution"));
  $("escalate-btn").addEventListener("click", () => openWrapup("escalation"));
  $("kb-btn").addEventListener("click", () => openWrapup("kb"));
}
