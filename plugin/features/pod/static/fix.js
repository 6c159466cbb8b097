/* The active fix in the lane: its card (findings before anything runs), the banner while it
 * is verified, and the outcome flow — Worked, Didn't work (what happened?), Partly, Waiting
 * to verify — as labelled buttons. */

import { api } from "./api.js";
import { $, act, append, clear, el, findingsList, timeOf } from "./dom.js";
import { ask } from "./ask.js";
import { openScriptPanel } from "./scripts.js";
import { afterWrite, isActive, sessionPath, store } from "./state.js";

const STATUS_NAMES = {
  suggested: "Suggested",
  applied_success: "Worked",
  applied_failed: "Didn't work",
  applied_partial: "Partly worked",
  applied_pending: "Waiting to verify",
  dismissed: "Dismissed",
};
const OPEN_FIX = new Set(["suggested", "applied_partial", "applied_pending"]);
const fixStatusName = (fix) => (fix.status === "suggested" && fix.applied_at ? "Applied" : STATUS_NAMES[fix.status] || fix.status);

export const activeFix = () => (store.get().session ? store.get().session.active_fix : null);
export const fixIsOpen = (fix) => Boolean(fix && isActive() && OPEN_FIX.has(fix.status));

function confidenceBadge(confidence) {
  if (confidence === null || confidence === undefined) return null;
  const level = confidence >= 75 ? "high" : confidence >= 50 ? "medium" : "low";
  return el("span", { class: `badge confidence ${level}`, title: "How confident the assistant is in this fix", text: `${confidence}% confidence` });
}

async function setOutcome(fix, outcome, extra) {
  await api("PATCH", sessionPath(`/suggested-fixes/${fix.id}/outcome`), Object.assign({ outcome }, extra || {}));
  await afterWrite();
}

export const OUTCOMES = {
  worked: (fix) => setOutcome(fix, "applied_success"),
  failed: async (fix) => {
    const reason = await ask({
      title: "Didn't work",
      label: "What happened? (optional)",
      hint: "The escalation package quotes it, so the next engineer does not try blind.",
      placeholder: "e.g. The service starts, then stops again after a minute",
      maxLength: 4000,
      optional: true,
      okText: "Mark as didn't work",
    });
    if (reason === null) return;
    await setOutcome(fix, "applied_failed", reason ? { failure_reason: reason } : {});
  },
  partly: async (fix) => {
    const notes = await ask({ title: "Partly worked", label: "What worked, and what is still wrong?", value: fix.partial_notes || "", maxLength: 4000 });
    if (notes !== null) await setOutcome(fix, "applied_partial", { notes });
  },
  waiting: async (fix) => {
    const reason = await ask({
      title: "Waiting to verify",
      label: "What are you waiting on?",
      value: fix.pending_reason || "",
      placeholder: "e.g. The user is testing after lunch",
      maxLength: 1000,
    });
    if (reason !== null) await setOutcome(fix, "applied_pending", { pending_reason: reason });
  },
};

function outcomeButtons(fix) {
  const button = (label, kind, tone) =>
    el("button", { type: "button", class: `btn ${tone || ""}`, text: label, onclick: (e) => act(e.currentTarget, () => OUTCOMES[kind](fix)) });
  return el("div", { class: "outcome-buttons", role: "group", "aria-label": "How did the fix go?" },
    button("Worked", "worked", "good"),
    button("Didn't work", "failed", "bad"),
    fix.status !== "applied_partial" ? button("Partly", "partly") : button("Update what's left", "partly"),
    button(fix.status === "applied_pending" ? "Update what we wait on" : "Waiting to verify", "waiting")
  );
}

export function renderFix() {
  const card = clear($("fix-card"));
  const fix = activeFix();
  card.hidden = !fix;
  if (!fix) return;
  const open = fixIsOpen(fix);
  const summary = el("p", { class: "fix-summary clamped", text: fix.summary, title: "Show all" });
  summary.addEventListener("click", () => summary.classList.toggle("clamped"));
  append(card, [
    el("div", { class: "fix-head" },
      el("span", { class: "eyebrow", text: "Active fix" }),
      confidenceBadge(fix.confidence),
      el("span", { class: `chip status-${fix.status}`, text: fixStatusName(fix) })
    ),
    el("h2", { id: "fix-title", class: "fix-title", text: fix.title }),
    summary,
    fix.failure_reason ? el("p", { class: "small" }, el("strong", { text: "What happened: " }), fix.failure_reason) : null,
    findingsList(fix.findings),
    el("div", { class: "actions" },
      isActive() && (fix.template_id || fix.ai_drafted_script || fix.edited_script)
        ? el("button", { type: "button", class: "btn", text: "Open script", onclick: () => openScriptPanel(fix) })
        : null,
      open && !fix.applied_at
        ? el("button", {
            type: "button",
            class: "btn primary",
            text: "Mark applied",
            onclick: (e) => act(e.currentTarget, async () => {
              await api("POST", sessionPath(`/suggested-fixes/${fix.id}/apply`));
              await afterWrite();
            }),
          })
        : null,
      open && fix.status === "suggested" && !fix.applied_at
        ? el("button", {
            type: "button",
            class: "btn link",
            text: "Dismiss",
            onclick: (e) => act(e.currentTarget, async () => {
              await api("POST", sessionPath(`/suggested-fixes/${fix.id}/decision`), { decision: "dismissed" });
              await afterWrite();
            }),
          })
        : null
    ),
    // Outcome buttons live in the banner once there is one.
    open && !store.get().session.banner_mode
      ? el("div", { class: "outcome" }, el("p", { class: "muted small", text: "How did it go?" }), outcomeButtons(fix))
      : null,
  ]);
}

const BANNERS = {
  verifying: (fix) => [el("strong", { text: "Verifying. " }), `Applied at ${timeOf(fix.applied_at)}: did it work?`],
  nudge: (fix) => [el("strong", { text: "Still checking? " }), `Applied at ${timeOf(fix.applied_at)} and not verified yet.`],
  partial: (fix) => [el("strong", { text: "Partly worked. " }), el("span", { class: "quote", text: fix.partial_notes || "" })],
  pending: (fix) => [el("strong", { text: "Waiting to verify. " }), "Waiting on: ", el("span", { class: "quote", text: fix.pending_reason || "" })],
};

export function renderBanner() {
  const banner = clear($("banner"));
  const fix = activeFix();
  const mode = isActive() && fix ? store.get().session.banner_mode : null;
  banner.hidden = !mode;
  banner.className = `banner ${mode || ""}`;
  if (!mode) return;
  banner.setAttribute("data-mode", mode);
  append(banner, [el("div", { class: "banner-text" }, BANNERS[mode](fix)), outcomeButtons(fix)]);
}
