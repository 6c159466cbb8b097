/* Fixpilot pod: the page ConnectWise embeds in the Service Ticket screen. Signs the member in
 * through the Hosted API, opens the ticket's AI session and lays it out: the chat, and the
 * task lane beside it (below it on a narrow screen). ES modules, no build step; one store
 * (state.js) that every part renders from. */

import { api, pageUrl, params, session } from "./api.js";
import { signInPage } from "./auth.js";
import { loadMessages, pasteSecret, wireChat } from "./chat.js";
import { $, act, el, toast, wireToast } from "./dom.js";
import { OUTCOMES, activeFix, fixIsOpen, renderBanner, renderFix } from "./fix.js";
import {
  renderChecks,
  renderFacts,
  renderLaneActions,
  renderNotices,
  renderSimilar,
  wireLane,
} from "./lane.js";
import { openWrapup, wireNotes } from "./notes.js";
import { wirePalette } from "./palette.js";
import * as hosted from "./protocol.js";
import { openGenerator } from "./scripts.js";
import { isActive, loadChecks, loadFacts, loadSimilar, refreshSession, store } from "./state.js";

const recordId = /^\d{1,15}$/.test(params.get("id") || "") ? Number(params.get("id")) : null;
store.set({ ticketId: recordId });

function setConnection(message, action) {
  const box = $("connection");
  box.replaceChildren();
  box.hidden = !message;
  if (message) box.append(message, ...(action ? [" ", action] : []));
}

async function openSession(forceNew) {
  const ticketId = store.get().ticketId;
  let found = null;
  if (!forceNew) {
    const page = await api("GET", `api/v1/ai-sessions?psa_ticket_id=${ticketId}&limit=20`);
    const items = page.items || [];
    found = items.find((s) => s.status === "active") || items[0] || null;
  }
  if (!found) found = await api("POST", "api/v1/ai-sessions", { title: `Ticket #${ticketId}`, psa_ticket_id: ticketId });
  store.set({ session: found, facts: [], checks: [], similar: null });
  // Shown once the conversation is in: a message sent before would be overwritten by it.
  await Promise.all([loadMessages(), loadFacts(), loadChecks()]);
  setConnection("");
  $("main").hidden = false;
}

let starting = false;
async function maybeStart() {
  if (!session.token || store.get().session || starting) return;
  if (store.get().ticketId === null) {
    setConnection("Open Fixpilot from a service ticket.");
    return;
  }
  starting = true;
  setConnection("Opening the ticket's session…");
  try {
    await openSession(false);
  } catch (error) {
    setConnection(error.message || "Could not open the ticket's session.",
      el("button", { type: "button", class: "btn small", text: "Retry", onclick: () => maybeStart() }));
  } finally {
    starting = false;
  }
}

function renderSession(state, changed) {
  const s = state.session;
  if (!s) return;
  const ticket = s.ticket || {};
  const title = s.psa_ticket_id ? `#${s.psa_ticket_id}${ticket.summary ? " · " + ticket.summary : ""}` : s.title;
  $("ticket-title").textContent = title;
  $("ticket-title").title = title;
  renderNotices(openSession);
  renderBanner();
  renderFix();
  renderLaneActions();
  if (changed.has("session")) {
    renderFacts(); // deletable only while active
    loadSimilar();
  }
}

function commands() {
  const fix = activeFix();
  const open = fixIsOpen(fix);
  const list = [
    { label: "Open inline Script Generator", keywords: "script template generate run", run: () => openGenerator() },
    { label: "Open the script library", keywords: "templates library", run: () => window.location.assign(pageUrl("scripts", { ticket: store.get().ticketId })) },
    { label: "Open the Script Builder", keywords: "template build new", run: () => window.location.assign(pageUrl("scripts/builder", { ticket: store.get().ticketId })) },
  ];
  if (isActive()) {
    list.push(
      { label: "Resolve", hint: "resolution note", keywords: "close done", run: () => openWrapup("resolution") },
      { label: "Escalate", hint: "escalation package", keywords: "hand over", run: () => openWrapup("escalation") },
      { label: "Add a fact", keywords: "confirmed observation", run: () => $("fact-input").focus() },
      { label: "Paste a secret", keywords: "password credential", run: () => act(null, pasteSecret) }
    );
  } else if (store.get().session) {
    list.push({ label: "Write a KB article", keywords: "knowledge base", run: () => openWrapup("kb") });
  }
  if (open) {
    list.push(
      { label: "Mark the fix: worked", keywords: "outcome success", run: () => act(null, () => OUTCOMES.worked(fix)) },
      { label: "Mark the fix: didn't work", keywords: "outcome failed", run: () => act(null, () => OUTCOMES.failed(fix)) },
      { label: "Mark the fix: partly worked", keywords: "outcome partial", run: () => act(null, () => OUTCOMES.partly(fix)) },
      { label: "Mark the fix: waiting to verify", keywords: "outcome pending", run: () => act(null, () => OUTCOMES.waiting(fix)) }
    );
  }
  if (session.mayAdmin) list.push({ label: "Open the admin page", keywords: "settings", run: () => window.location.assign(pageUrl("admin", { ticket: store.get().ticketId })) });
  return list;
}

function wire() {
  wireToast();
  wireChat();
  wireLane();
  wireNotes();
  wirePalette(commands);
  for (const button of document.querySelectorAll("dialog [data-close]")) {
    button.addEventListener("click", () => button.closest("dialog").close());
  }
  store.subscribe((state, changed) => {
    if (changed.has("session")) renderSession(state, changed);
    if (changed.has("facts")) renderFacts();
    if (changed.has("checks")) renderChecks();
    if (changed.has("similar")) renderSimilar();
  });
  hosted.on("onScreenLoad", (data) => {
    const screen = data && hosted.parseMessage(data.screenObject);
    const id = screen ? Number(screen.id) : NaN;
    if (store.get().ticketId === null && Number.isInteger(id) && id > 0) {
      store.set({ ticketId: id });
      maybeStart();
    }
  });
  // Keep up with changes made elsewhere (callbacks, the writeback worker, the nudge).
  setInterval(() => {
    if (document.visibilityState === "visible" && store.get().session && !store.get().streaming) refreshSession();
  }, 30000);
}

async function start() {
  wire();
  let signedIn;
  try {
    signedIn = await signInPage("engineer");
  } catch (error) {
    setConnection(error.message, hosted.framed
      ? el("button", { type: "button", class: "btn small", text: "Retry", onclick: () => window.location.reload() })
      : null);
    return;
  }
  $("member").textContent = signedIn.member ? signedIn.member.name || signedIn.member.id : "";
  if (signedIn.member) $("member").title = `Signed in as ${signedIn.member.id}`;
  $("admin-link").hidden = !session.mayAdmin;
  $("admin-link").href = pageUrl("admin", { ticket: store.get().ticketId });
  $("library-link").href = pageUrl("scripts", { ticket: store.get().ticketId });
  await maybeStart();
}

start().catch((error) => toast(error.message || "Something went wrong.", "error"));
