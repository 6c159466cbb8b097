/* Resolve, Escalate and the KB article: the draft (opened at its top, edited), then posted
 * to the ticket; the writeback's failures are reported and retried. */

import { ApiFailure, api } from "./api.js";
import { $, append, clear, draftedBy, el, toast } from "./dom.js";
import { requestRefreshScreen } from "./protocol.js";
import { afterWrite, sessionPath, store } from "./state.js";

export const WRAPUPS = {
  resolution: {
    path: "resolution-note",
    title: "Resolve: resolution note",
    label: "Resolution note (customer-visible; edit before posting)",
    about: "Posted as a customer-visible resolution note, then the ticket moves to the resolved status.",
    confirm: "Confirm & post",
  },
  escalation: {
    path: "escalation-package",
    title: "Escalate: escalation package",
    label: "Escalation package (internal; edit before posting)",
    about: "Posted as an internal analysis note, then the ticket moves to the escalated status.",
    confirm: "Confirm & post",
  },
  kb: {
    path: "kb-article",
    title: "KB article",
    label: "Knowledge base article (internal; edit before saving)",
    about: "Kept in Fixpilot's knowledge, and posted to the PSA's knowledge base where the account enables it.",
    confirm: "Save article",
  },
};
export const KIND_NAMES = { resolution: "The resolution note", escalation: "The escalation package" };
const wrapup = { kind: null };
const postedMarkdown = {};

function rememberMarkdown(kind, markdown) {
  const id = store.get().session.id;
  postedMarkdown[`${id}:${kind}`] = markdown;
  try {
    sessionStorage.setItem(`fixpilot:${id}:${kind}`, markdown);
  } catch (_) {
    // Storage can be blocked in third-party frames; memory is enough for this page.
  }
}

function recalledMarkdown(kind) {
  const key = `${store.get().session.id}:${kind}`;
  if (postedMarkdown[key]) return postedMarkdown[key];
  try {
    return sessionStorage.getItem(`fixpilot:${key}`);
  } catch (_) {
    return null;
  }
}

function showResult(tone, ...content) {
  const box = clear($("wrapup-result"));
  box.className = `result ${tone}`;
  append(box, content);
}

export async function openWrapup(kind) {
  const spec = WRAPUPS[kind];
  wrapup.kind = kind;
  $("wrapup-title").textContent = spec.title;
  $("wrapup-label").textContent = spec.label;
  $("wrapup-about").textContent = `${spec.about} Drafting…`;
  $("wrapup-about").classList.add("busy-text");
  clear($("wrapup-result")).className = "result";
  const text = $("wrapup-text");
  text.value = "";
  text.disabled = true;
  const confirm = $("wrapup-confirm");
  confirm.textContent = spec.confirm;
  confirm.disabled = true;
  confirm.hidden = false;
  $("wrapup-cancel").textContent = "Cancel";
  if (!$("wrapup-dialog").open) $("wrapup-dialog").showModal();
  try {
    const draft = await api("POST", sessionPath(`/${spec.path}/preview`));
    if (wrapup.kind !== kind) return;
    text.value = draft.markdown;
    text.disabled = false;
    confirm.disabled = false;
    $("wrapup-about").textContent = `${spec.about} ${draftedBy(draft.generator)}${draft.from_cache ? " (unchanged since the last draft)" : ""}.`;
    // The editor opens at the top of the document, where it starts.
    text.setSelectionRange(0, 0);
    text.scrollTop = 0;
    text.focus({ preventScroll: true });
  } catch (error) {
    $("wrapup-about").textContent = spec.about;
    showResult("error", error.message || "Could not draft the document.");
  } finally {
    $("wrapup-about").classList.remove("busy-text");
  }
}

async function confirmWrapup() {
  const kind = wrapup.kind;
  const markdown = $("wrapup-text").value;
  if (!markdown.trim()) {
    showResult("error", "The document is empty.");
    return;
  }
  $("wrapup-confirm").disabled = true;
  $("wrapup-text").disabled = true;
  showResult("info", kind === "kb" ? "Saving the article…" : "Posting to the ticket…");
  const outcome = kind === "kb" ? await postArticle(markdown) : (rememberMarkdown(kind, markdown), await postWriteback(kind, markdown));
  if (outcome.ok) {
    $("wrapup-confirm").hidden = true;
    $("wrapup-cancel").textContent = "Close";
  } else {
    $("wrapup-confirm").disabled = false;
    $("wrapup-text").disabled = false;
  }
  showResult(outcome.tone, ...outcome.message);
}

async function postArticle(markdown) {
  try {
    const result = await api("POST", sessionPath("/kb-article/post"), { markdown });
    const where = result.external_id ? ` and in the PSA's knowledge base (article ${result.external_id})` : "";
    const warn = result.external_error ? ` The PSA did not take it: ${result.external_error}` : "";
    return { ok: true, tone: result.external_error ? "warn" : "ok", message: [`Saved in Fixpilot${where}.${warn}`] };
  } catch (error) {
    return { ok: false, tone: "error", message: [error.message] };
  }
}

/** Posts a document; reports what happened as {ok, tone, message}. */
async function postWriteback(kind, markdown) {
  let result;
  try {
    result = await api("POST", sessionPath(`/${WRAPUPS[kind].path}/post`), { markdown });
  } catch (error) {
    if (error instanceof ApiFailure && error.code === "status_not_applied") requestRefreshScreen();
    await afterWrite();
    return { ok: false, tone: "error", message: [describeFailure(error)] };
  }
  if (result.outcome === "resolved" || result.outcome === "escalated") requestRefreshScreen();
  await afterWrite();
  const tone = { queued: "warn", failed: "error" }[result.outcome] || "ok";
  return { ok: result.outcome !== "failed", tone, message: describeResult(result) };
}

function describeResult(result) {
  const posted = result.note && result.note.external_id ? `Posted (note ${result.note.external_id}).` : "Posted.";
  if (result.outcome === "failed") {
    return ["ConnectWise refused the note: it was not written to the ticket.", result.last_error ? ` (${result.last_error})` : ""];
  }
  if (result.outcome === "queued") {
    return ["ConnectWise is unreachable: the note is queued and Fixpilot will post it as soon as it can.", result.last_error ? ` (${result.last_error})` : ""];
  }
  if (result.outcome.endsWith("_local")) {
    return [`${result.outcome === "resolved_local" ? "Resolved" : "Escalated"} in Fixpilot: this session has no ConnectWise ticket.`];
  }
  if (result.status) {
    return [posted, " Ticket status: ", el("strong", { text: result.status.name || `#${result.status.id}` }), result.status.verified ? " (verified)." : "."];
  }
  return [posted, result.status_transition_skipped_reason ? ` Status unchanged: ${result.status_transition_skipped_reason}` : ""];
}

function describeFailure(error) {
  if (!(error instanceof ApiFailure)) return error.message || "Posting failed.";
  if (error.code === "status_not_applied") {
    const name = (s) => (!s ? "an unknown status" : s.name ? `${s.name} (#${s.id})` : `status #${s.id}`);
    return `${error.message} Expected ${name(error.details.expected)}, but the ticket shows ${name(error.details.actual)}. The note is posted; fix the status in ConnectWise or retry.`;
  }
  return error.message;
}

export async function retryWriteback(kind) {
  const markdown = recalledMarkdown(kind);
  if (!markdown) {
    await openWrapup(kind); // without the text that was posted, confirm it again
    return;
  }
  const outcome = await postWriteback(kind, markdown);
  toast(outcome.message.map((part) => (part instanceof Node ? part.textContent : part)).join(""), outcome.tone);
}

export function wireNotes() {
  $("wrapup-confirm").addEventListener("click", () => confirmWrapup());
  $("wrapup-dialog").addEventListener("close", () => (wrapup.kind = null));
}
