/* The pod's one store and the reads that fill it: the ticket's session, its facts, checks
 * and similar resolved tickets. Renderers subscribe; actions call the loaders. */

import { api } from "./api.js";
import { toast } from "./dom.js";
import { createStore } from "./store.js";

export const store = createStore({
  ticketId: null,
  session: null, // SessionOut: status, state_version, active_fix, banner_mode, ticket…
  facts: [],
  checks: [],
  similar: null, // null: not loaded; else the items
  streaming: false,
});

export const sessionPath = (suffix) => `api/v1/ai-sessions/${store.get().session.id}${suffix || ""}`;
export const isActive = () => {
  const s = store.get().session;
  return Boolean(s && s.status === "active");
};

export async function refreshSession() {
  if (!store.get().session) return;
  try {
    store.set({ session: await api("GET", sessionPath()) });
  } catch (error) {
    toast(error.message, "error");
  }
}

export async function loadFacts() {
  const page = await api("GET", sessionPath("/facts"));
  store.set({ facts: page.items || [] });
}

export async function loadChecks() {
  const page = await api("GET", sessionPath("/checks"));
  store.set({ checks: page.items || [] });
}

let similarVersion = null;

/** Similar resolved tickets, fetched again only when the session's state changed. */
export async function loadSimilar() {
  const s = store.get().session;
  if (!s || similarVersion === s.state_version) return;
  similarVersion = s.state_version;
  try {
    const page = await api("GET", sessionPath("/similar"));
    store.set({ similar: page.items || [] });
  } catch (_) {
    store.set({ similar: [] }); // the lane says there are none; chat goes on
  }
}

/** After a write: the session, and whatever its new state_version may have changed. */
export async function afterWrite({ facts = false, checks = false } = {}) {
  await Promise.all([refreshSession(), facts ? loadFacts() : null, checks ? loadChecks() : null]);
}
