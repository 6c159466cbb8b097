/* Signing a page in. Framed by ConnectWise: the member authentication from the Hosted API,
 * verified by the service, for a short-lived token (an admin one for a member listed in
 * admin_members). Not framed: an API token pasted once. A token is kept for the tab
 * (sessionStorage, where the frame may use it), so moving between the pod, the library,
 * the builder and the admin page signs in once. */

import { ApiFailure, api, apiUrl, config, session } from "./api.js";
import { $, clear, el } from "./dom.js";
import * as hosted from "./protocol.js";

const storageKey = (role) => `fixpilot:${config.account}:token:${role}`;
let lastAuthBody = null; // the member authentication, to ask for another role

function remember(role, value) {
  try {
    sessionStorage.setItem(storageKey(role), JSON.stringify(value));
  } catch (_) {
    // Storage may be blocked in a third-party frame: this page keeps it in memory.
  }
}

function recalled(role) {
  try {
    const value = JSON.parse(sessionStorage.getItem(storageKey(role)) || "null");
    if (value && (!value.expires_at || Date.parse(value.expires_at) > Date.now() + 60000)) return value;
  } catch (_) {
    return null;
  }
  return null;
}

function forget(role) {
  try {
    sessionStorage.removeItem(storageKey(role));
  } catch (_) {
    // nothing kept
  }
}

function adopt(value) {
  Object.assign(session, {
    token: value.token,
    role: value.role,
    member: value.member,
    mayAdmin: Boolean(value.may_admin || value.role === "admin"),
  });
  return value;
}

function memberBody(data, role) {
  const fields = {};
  for (const [key, value] of Object.entries(data)) fields[key.toLowerCase()] = value;
  const text = (v) => (typeof v === "string" || typeof v === "number" ? String(v) : undefined);
  return {
    account: config.account,
    member_id: text(fields.memberid),
    member_hash: text(fields.memberhash),
    memberContext: text(fields.membercontext),
    memberEmail: text(fields.memberemail),
    site: text(fields.site),
    companyid: text(fields.companyid),
    role,
  };
}

async function exchange(body) {
  let response;
  try {
    response = await fetch(apiUrl("api/v1/pod/session"), {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
    });
  } catch (_) {
    throw new ApiFailure(0, { message: "Fixpilot is unreachable." });
  }
  const payload = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiFailure(response.status, payload.error);
  remember(body.role, payload);
  return adopt(payload);
}

/** The member authentication from the screen (asking for a frame id first if needed). */
function memberAuthentication() {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => finish(null), 15000);
    const finish = (data) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (data) resolve(data);
      else reject(new ApiFailure(0, { message: "Waiting for ConnectWise… If this persists, reload the ticket." }));
    };
    hosted.on("onMemberAuthentication", (data) => finish(data));
    if (hosted.hasFrameId()) hosted.requestMemberAuthentication();
    else {
      hosted.on("onFrameId", () => hosted.requestMemberAuthentication());
      hosted.announce();
    }
  });
}

async function handshake(role) {
  const data = await memberAuthentication();
  const body = memberBody(data, role);
  if (!body.member_id || !body.member_hash) {
    throw new ApiFailure(401, { message: "ConnectWise did not say who you are. Reload the ticket to try again." });
  }
  lastAuthBody = body;
  return exchange(body);
}

/** Sign the page in with `role`; rejects with {needsToken: true} when not framed. */
export async function signIn(role = "engineer") {
  session.renew = hosted.framed ? () => (forget(role), handshake(role)) : null;
  const kept = recalled(role) || (role === "engineer" ? recalled("admin") : null);
  if (kept) {
    if (hosted.framed && !hosted.hasFrameId()) hosted.announce(); // for events and refreshes
    return adopt(kept);
  }
  if (hosted.framed) {
    if (!config.origins.size) throw new ApiFailure(0, { message: "Not framed by this account's ConnectWise: open the ticket in ConnectWise again (or the account has no ConnectWise connection yet)." });
    return handshake(role);
  }
  const error = new ApiFailure(401, { message: "Sign in with an API token." });
  error.needsToken = true;
  throw error;
}

/** An admin session for a member who may have one (admin_members), from the same sign-in. */
export async function elevate() {
  if (session.role === "admin") return session;
  const kept = recalled("admin");
  if (kept) return adopt(kept);
  if (!lastAuthBody) return handshake("admin");
  return exchange(Object.assign({}, lastAuthBody, { role: "admin" }));
}

/** A form for an API token (pages opened outside ConnectWise); resolves once one works. */
export function tokenForm(container, { adminOnly } = {}) {
  return new Promise((resolve) => {
    const input = el("input", { id: "token-input", type: "password", autocomplete: "off", spellcheck: "false", required: true });
    const error = el("p", { id: "token-error", class: "field-error", role: "alert" });
    const form = el("form", { class: "card signin", "aria-labelledby": "signin-title" },
      el("h2", { id: "signin-title", text: adminOnly ? "Sign in as an admin" : "Sign in" }),
      el("p", { class: "muted small", text: "Open this page from a ConnectWise ticket to sign in as yourself, or paste a Fixpilot API token (fixpilot tokens create)." }),
      el("label", { for: "token-input", class: "field-label", text: "API token" }),
      input,
      error,
      el("div", { class: "actions" }, el("button", { type: "submit", class: "btn primary", text: "Sign in" }))
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      session.token = input.value.trim();
      try {
        const me = await api("GET", "api/v1/me");
        if (adminOnly && me.role !== "admin") throw new ApiFailure(403, { message: "This token is not an admin token." });
        const value = { token: session.token, role: me.role, member: { id: me.actor, name: me.actor }, may_admin: me.role === "admin" };
        remember(me.role, value);
        adopt(value);
        clear(container);
        resolve(value);
      } catch (failure) {
        session.token = null;
        error.textContent = failure.status === 401 ? "That token is not valid." : failure.message;
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
    });
    clear(container).append(form);
    input.focus();
  });
}

/** Signs a page in whatever way it can, showing progress in #connection. */
export async function signInPage(role, { adminOnly } = {}) {
  const status = $("connection");
  const say = (text) => {
    if (!status) return;
    status.hidden = !text;
    status.textContent = text || "";
  };
  say(hosted.framed ? "Connecting to ConnectWise…" : "Signing in…");
  try {
    const value = await signIn(role);
    say("");
    return value;
  } catch (error) {
    if (!error.needsToken) {
      say(error.message);
      throw error;
    }
    say("");
    return tokenForm($("signin"), { adminOnly });
  }
}
