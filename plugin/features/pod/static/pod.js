/* Fixpilot pod: the page ConnectWise embeds in the Service Ticket screen.
 *
 * Speaks ConnectWise's Hosted API postMessage protocol with the parent screen (every
 * message a JSON string, every incoming one checked against the account's ConnectWise
 * origins), trades the member authentication for a Fixpilot token, then drives the
 * ticket's AI session through the /api/v1 routes.
 *
 * Plain JS, no build step. Server text only ever reaches the page as text nodes.
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------------------------------
  // Small DOM helpers

  const $ = (id) => document.getElementById(id);

  /** el("button", {class: "btn", onclick: fn, "aria-label": "x"}, "text", child...) */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on") && typeof value === "function") {
        node.addEventListener(key.slice(2), value);
      } else if (key in node && typeof value !== "string") node[key] = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  /** A tiny, safe subset of markdown: paragraphs, **bold** and `code`, as DOM nodes. */
  function richText(text) {
    const fragment = document.createDocumentFragment();
    for (const paragraph of String(text || "").split(/\n{2,}/)) {
      if (!paragraph.trim()) continue;
      const p = el("p");
      for (const part of paragraph.split(/(\*\*[^*\n]+\*\*|`[^`\n]+`)/)) {
        if (!part) continue;
        if (part.startsWith("**") && part.endsWith("**") && part.length > 4) {
          p.append(el("strong", { text: part.slice(2, -2) }));
        } else if (part.startsWith("`") && part.endsWith("`") && part.length > 2) {
          p.append(el("code", { text: part.slice(1, -1) }));
        } else {
          p.append(document.createTextNode(part));
        }
      }
      fragment.append(p);
    }
    return fragment;
  }

  function timeOf(iso) {
    const date = new Date(iso);
    return isNaN(date) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  let toastTimer = null;
  function toast(message) {
    $("toast-text").textContent = message;
    $("toast").hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => ($("toast").hidden = true), 10000);
  }

  function setConnection(message, action) {
    const box = clear($("connection"));
    box.hidden = !message;
    if (message) append(box, [message, action ? [" ", action] : null]);
  }

  // ---------------------------------------------------------------------------------------
  // Configuration the server put in the page

  function meta(name) {
    const node = document.querySelector(`meta[name="${name}"]`);
    return node ? node.getAttribute("content") || "" : "";
  }

  const params = new URLSearchParams(window.location.search);
  const config = {
    origins: new Set(meta("fixpilot-cw-origins").split(/\s+/).filter(Boolean)),
    account: meta("fixpilot-account") || "default",
    recordId: /^\d{1,15}$/.test(params.get("id") || "") ? Number(params.get("id")) : null,
    screen: params.get("screen") || "",
  };

  const state = {
    token: null,
    ticketId: config.recordId,
    session: null,
    facts: [],
    starting: false,
    streaming: false,
    reauth: null, // {promise, resolve, reject} while waiting for a fresh member authentication
  };

  // ---------------------------------------------------------------------------------------
  // ConnectWise Hosted API (postMessage) — the pod's side

  const hosted = { parentOrigin: null, frameId: null };
  const framed = window.parent !== window;

  function parseMessage(data) {
    let value = data;
    if (typeof data === "string") {
      try {
        value = JSON.parse(data);
      } catch (_) {
        return null;
      }
    }
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  }

  /** Where our messages may go: the parent's origin once it spoke, else the allowed one
   * the browser reports as our parent (or every allowed origin when it can't say). */
  function parentTargets() {
    if (hosted.parentOrigin) return [hosted.parentOrigin];
    const ancestors = window.location.ancestorOrigins;
    if (ancestors && ancestors.length) {
      return config.origins.has(ancestors[0]) ? [ancestors[0]] : [];
    }
    return Array.from(config.origins);
  }

  function postToParent(message) {
    if (!framed) return;
    const text = JSON.stringify(message);
    for (const origin of parentTargets()) window.parent.postMessage(text, origin);
  }

  function requestMemberAuthentication() {
    if (hosted.frameId === null) return;
    postToParent({ hosted_request: "getMemberAuthentication", frameID: hosted.frameId });
  }

  function requestRefreshScreen() {
    postToParent({ hosted_request: "refreshScreen", frameID: hosted.frameId });
  }

  window.addEventListener("message", (event) => {
    // Only the ConnectWise screen that frames us: right origin and really our parent.
    if (!framed || event.source !== window.parent || !config.origins.has(event.origin)) return;
    const message = parseMessage(event.data);
    if (!message) return;
    hosted.parentOrigin = event.origin;

    if (message.MessageFrameID !== undefined && message.MessageFrameID !== null) {
      hosted.frameId = String(message.MessageFrameID);
      requestMemberAuthentication();
      return;
    }
    const response = typeof message.response === "string" ? message.response.toLowerCase() : "";
    if (response === "getmemberauthentication") {
      onMemberAuthentication(parseMessage(message.data) || {});
      return;
    }
    if (typeof message.event === "string") {
      // Every event is acknowledged: ConnectWise won't save the screen until beforeSave is.
      postToParent({
        event: message.event,
        _id: message._id,
        result: "success",
        frameID: hosted.frameId,
      });
      if (message.event.toLowerCase() === "onload") onScreenLoad(parseMessage(message.data));
    }
  });

  function onScreenLoad(data) {
    const screen = data && parseMessage(data.screenObject);
    const id = screen ? Number(screen.id) : NaN;
    if (state.ticketId === null && Number.isInteger(id) && id > 0) {
      state.ticketId = id;
      maybeStart();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Sign-in: the member authentication → a Fixpilot token

  async function onMemberAuthentication(data) {
    const fields = {};
    for (const [key, value] of Object.entries(data)) fields[key.toLowerCase()] = value;
    const text = (v) => (typeof v === "string" || typeof v === "number" ? String(v) : undefined);
    const body = {
      account: config.account,
      member_id: text(fields.memberid),
      member_hash: text(fields.memberhash),
      memberContext: text(fields.membercontext),
      memberEmail: text(fields.memberemail),
      site: text(fields.site),
      companyid: text(fields.companyid),
    };
    if (!body.member_id || !body.member_hash) {
      failReauth(new Error("no member authentication"));
      setConnection("ConnectWise did not say who you are. Reload the ticket to try again.");
      return;
    }
    if (!state.token) setConnection("Signing in…");
    let response;
    let payload;
    try {
      response = await fetch(apiUrl("api/v1/pod/session"), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
        credentials: "omit",
      });
      payload = await response.json().catch(() => ({}));
    } catch (_) {
      failReauth(new Error("network"));
      setConnection("Fixpilot is unreachable.", retrySignInButton());
      return;
    }
    if (!response.ok) {
      failReauth(new Error("sign-in failed"));
      const error = (payload && payload.error) || {};
      if (response.status === 401) {
        setConnection("ConnectWise did not confirm who you are. Reload the ticket to sign in again.");
      } else if (response.status === 503 || response.status === 429) {
        setConnection(error.message || "ConnectWise is unreachable right now.", retrySignInButton());
      } else {
        setConnection(error.message || `Sign-in failed (${response.status}).`);
      }
      return;
    }
    state.token = payload.token;
    $("member").textContent = payload.member.name || payload.member.id;
    $("member").title = `Signed in as ${payload.member.id}`;
    if (state.reauth) {
      state.reauth.resolve();
      state.reauth = null;
    }
    maybeStart();
  }

  function retrySignInButton() {
    return el("button", {
      type: "button",
      class: "btn small",
      text: "Retry",
      onclick: () => {
        setConnection("Signing in…");
        requestMemberAuthentication();
      },
    });
  }

  /** A fresh member authentication (the token expired): ask ConnectWise again. */
  function reauthenticate() {
    if (!state.reauth) {
      let resolve;
      let reject;
      const promise = new Promise((ok, fail) => {
        resolve = ok;
        reject = fail;
      });
      const pending = { promise, resolve, reject };
      state.reauth = pending;
      setTimeout(() => state.reauth === pending && failReauth(new Error("timeout")), 15000);
      requestMemberAuthentication();
    }
    return state.reauth.promise;
  }

  function failReauth(error) {
    if (state.reauth) {
      state.reauth.reject(error);
      state.reauth = null;
    }
  }

  // ---------------------------------------------------------------------------------------
  // The Fixpilot API

  class ApiFailure extends Error {
    constructor(status, error) {
      super((error && error.message) || `Request failed (${status}).`);
      this.status = status;
      this.code = (error && error.code) || "http_" + status;
      this.details = (error && error.details) || {};
    }
  }

  function apiUrl(path) {
    return new URL(path, document.baseURI).toString();
  }

  /** fetch with the token; once, on an expired token, signs in again and retries. */
  async function authedFetch(path, init, retried) {
    const headers = Object.assign({ Accept: "application/json" }, init.headers || {});
    headers.Authorization = `Bearer ${state.token}`;
    const response = await fetch(apiUrl(path), Object.assign({}, init, { headers, credentials: "omit" }));
    if (response.status === 401 && !retried && framed) {
      try {
        await reauthenticate();
      } catch (_) {
        return response;
      }
      return authedFetch(path, init, true);
    }
    return response;
  }

  async function api(method, path, body) {
    const init = { method };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { "Content-Type": "application/json" };
    }
    const response = await authedFetch(path, init);
    if (response.status === 204) return null;
    const payload = await response.json().catch(() => null);
    if (!response.ok) throw new ApiFailure(response.status, payload && payload.error);
    return payload;
  }

  const sessionPath = (suffix) => `api/v1/ai-sessions/${state.session.id}${suffix || ""}`;

  /** Runs an action from a button: disables it meanwhile, reports failures. */
  async function act(button, action) {
    if (button) button.disabled = true;
    try {
      return await action();
    } catch (error) {
      toast(error.message || "Something went wrong.");
      if (error instanceof ApiFailure && error.status === 409) await refreshSession();
      return undefined;
    } finally {
      if (button && button.isConnected) button.disabled = false;
    }
  }

  // ---------------------------------------------------------------------------------------
  // The ticket's AI session

  async function maybeStart() {
    if (!state.token || state.session || state.starting) return;
    if (state.ticketId === null) {
      setConnection("Open Fixpilot from a service ticket.");
      return;
    }
    state.starting = true;
    setConnection("Opening the ticket's session…");
    try {
      await openSession(false);
    } catch (error) {
      setConnection(error.message || "Could not open the ticket's session.", el("button", {
        type: "button",
        class: "btn small",
        text: "Retry",
        onclick: () => maybeStart(),
      }));
    } finally {
      state.starting = false;
    }
  }

  async function openSession(forceNew) {
    let session = null;
    if (!forceNew) {
      const page = await api("GET", `api/v1/ai-sessions?psa_ticket_id=${state.ticketId}&limit=20`);
      const items = page.items || [];
      session = items.find((s) => s.status === "active") || items[0] || null;
    }
    if (!session) {
      session = await api("POST", "api/v1/ai-sessions", {
        title: `Ticket #${state.ticketId}`,
        psa_ticket_id: state.ticketId,
      });
    }
    state.session = session;
    setConnection("");
    $("main").hidden = false;
    renderSession();
    await Promise.all([loadMessages(), loadFacts()]);
  }

  async function refreshSession() {
    if (!state.session) return;
    try {
      state.session = await api("GET", sessionPath());
    } catch (error) {
      toast(error.message);
      return;
    }
    renderSession();
  }

  const isActive = () => state.session && state.session.status === "active";

  function renderSession() {
    const s = state.session;
    const ticket = s.ticket || {};
    $("ticket-title").textContent = s.psa_ticket_id
      ? `#${s.psa_ticket_id}${ticket.summary ? " · " + ticket.summary : ""}`
      : s.title;
    $("ticket-title").title = $("ticket-title").textContent;
    $("resolve-btn").disabled = !isActive();
    $("escalate-btn").disabled = !isActive();
    $("composer-input").disabled = !isActive();
    $("send-btn").disabled = !isActive() || state.streaming;
    $("fact-input").disabled = !isActive();
    renderNotices();
    renderBanner();
    renderFix();
  }

  // --- notices: the ticket outside Fixpilot, the writeback ---------------------------------

  const KIND_NAMES = { resolution: "The resolution note", escalation: "The escalation package" };

  function renderNotices() {
    const s = state.session;
    const box = clear($("notices"));
    const notice = (tone, ...content) => box.append(el("div", { class: `notice ${tone}` }, content));

    if (!isActive()) {
      const what = s.status.replace("_local", " (in Fixpilot only)").replace("_", " ");
      notice(
        "info",
        `This session is ${what}.`,
        s.psa_ticket_id
          ? el("button", {
              type: "button",
              class: "btn small",
              text: "Start a new session",
              onclick: (e) => act(e.currentTarget, () => openSession(true)),
            })
          : null
      );
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
    if (wb && (wb.state === "queued" || wb.state === "failed" || wb.state === "in_progress")) {
      const name = KIND_NAMES[wb.kind] || "The note";
      const text = {
        queued: `${name} is queued: ConnectWise was unreachable, Fixpilot keeps retrying.`,
        failed: `${name} could not be written to the ticket.`,
        in_progress: `${name} is being written to the ticket…`,
      }[wb.state];
      notice(
        wb.state === "failed" ? "error" : "warn",
        el("span", {}, text),
        wb.last_error ? el("span", { class: "muted" }, ` Last error: ${wb.last_error}`) : null,
        wb.state !== "in_progress"
          ? el("button", {
              type: "button",
              class: "btn small",
              text: "Retry",
              onclick: (e) => act(e.currentTarget, () => retryWriteback(wb.kind)),
            })
          : null
      );
    }
  }

  // --- the active fix and its banner -------------------------------------------------------

  const STATUS_NAMES = {
    suggested: "Suggested",
    applied_success: "Worked",
    applied_failed: "Didn't work",
    applied_partial: "Partly worked",
    applied_pending: "Waiting to verify",
    dismissed: "Dismissed",
  };
  const fixStatusName = (fix) =>
    fix.status === "suggested" && fix.applied_at ? "Applied" : STATUS_NAMES[fix.status] || fix.status;
  const OPEN_FIX = new Set(["suggested", "applied_partial", "applied_pending"]);

  function confidenceBadge(confidence) {
    if (confidence === null || confidence === undefined) return null;
    const level = confidence >= 75 ? "high" : confidence >= 50 ? "medium" : "low";
    return el("span", {
      class: `badge confidence ${level}`,
      title: "How confident the assistant is in this fix",
      text: `${confidence}% confidence`,
    });
  }

  function outcomeButtons(fix, { partly = true } = {}) {
    return [
      el("button", {
        type: "button",
        class: "btn good",
        text: "Worked",
        onclick: (e) => act(e.currentTarget, () => setOutcome(fix, "applied_success")),
      }),
      el("button", {
        type: "button",
        class: "btn bad",
        text: "Didn't work",
        onclick: (e) => act(e.currentTarget, () => setOutcome(fix, "applied_failed")),
      }),
      partly
        ? el("button", {
            type: "button",
            class: "btn",
            text: "Partly",
            onclick: (e) => act(e.currentTarget, () => askPartial(fix)),
          })
        : null,
    ];
  }

  function renderFix() {
    const card = clear($("fix-card"));
    const fix = state.session.active_fix;
    card.hidden = !fix;
    if (!fix) return;
    const open = isActive() && OPEN_FIX.has(fix.status);
    const summary = el("p", { class: "fix-summary clamped", text: fix.summary, title: "Show all" });
    summary.addEventListener("click", () => summary.classList.toggle("clamped"));
    append(card, [
      el(
        "div",
        { class: "fix-head" },
        el("span", { class: "eyebrow", text: "Suggested fix" }),
        confidenceBadge(fix.confidence),
        el("span", { class: `chip status-${fix.status}`, text: fixStatusName(fix) })
      ),
      el("h2", { id: "fix-title", class: "fix-title", text: fix.title }),
      summary,
      el(
        "div",
        { class: "actions" },
        isActive()
          ? el("button", {
              type: "button",
              class: "btn",
              text: "Open script",
              onclick: () => openScriptPanel(fix),
            })
          : null,
        open && !fix.applied_at
          ? el("button", {
              type: "button",
              class: "btn primary",
              text: "Mark applied",
              onclick: (e) => act(e.currentTarget, () => markApplied(fix)),
            })
          : null,
        open && fix.status === "suggested" && !fix.applied_at
          ? el("button", {
              type: "button",
              class: "btn link",
              text: "Dismiss",
              onclick: (e) => act(e.currentTarget, () => dismissFix(fix)),
            })
          : null
      ),
      // Outcome buttons live in the banner once there is one.
      open && !state.session.banner_mode
        ? el("div", { class: "actions outcome" }, el("span", { class: "muted", text: "How did it go?" }), outcomeButtons(fix))
        : null,
    ]);
  }

  function renderBanner() {
    const banner = clear($("banner"));
    const fix = state.session.active_fix;
    const mode = isActive() && fix ? state.session.banner_mode : null;
    banner.hidden = !mode;
    banner.className = `banner ${mode || ""}`;
    if (!mode) return;
    banner.setAttribute("data-mode", mode);

    const waitingItem = (label) =>
      el("details", { class: "menu" },
        el("summary", { "aria-label": "More options", title: "More options" }, "⋯"),
        el("div", { class: "menu-items" },
          el("button", {
            type: "button",
            class: "menu-item",
            text: label,
            onclick: (e) => {
              e.currentTarget.closest("details").open = false;
              act(null, () => askPending(fix));
            },
          })
        )
      );

    if (mode === "verifying") {
      append(banner, [
        el("div", { class: "banner-text" }, el("strong", { text: "Verifying. " }), `Applied at ${timeOf(fix.applied_at)}: did it work?`),
        el("div", { class: "actions" }, outcomeButtons(fix), waitingItem("Waiting to verify…")),
      ]);
    } else if (mode === "nudge") {
      append(banner, [
        el("div", { class: "banner-text" }, el("strong", { text: "Still checking? " }), `Applied at ${timeOf(fix.applied_at)} and not verified yet.`),
        el("div", { class: "actions" },
          el("button", {
            type: "button",
            class: "btn primary",
            text: "Still checking?",
            onclick: (e) => act(e.currentTarget, () => askPending(fix)),
          }),
          outcomeButtons(fix)
        ),
      ]);
    } else if (mode === "partial") {
      append(banner, [
        el("div", { class: "banner-text" }, el("strong", { text: "Partly worked. " }), el("span", { class: "quote", text: fix.partial_notes || "" })),
        el("div", { class: "actions" },
          outcomeButtons(fix, { partly: false }),
          el("button", {
            type: "button",
            class: "btn",
            text: "Update notes",
            onclick: (e) => act(e.currentTarget, () => askPartial(fix)),
          }),
          waitingItem("Waiting to verify…")
        ),
      ]);
    } else if (mode === "pending") {
      append(banner, [
        el("div", { class: "banner-text" }, el("strong", { text: "Waiting to verify. " }), "Waiting on: ", el("span", { class: "quote", text: fix.pending_reason || "" })),
        el("div", { class: "actions" },
          outcomeButtons(fix, { partly: false }),
          el("button", {
            type: "button",
            class: "btn",
            text: "Update reason",
            onclick: (e) => act(e.currentTarget, () => askPending(fix)),
          })
        ),
      ]);
    }
  }

  async function markApplied(fix) {
    await api("POST", sessionPath(`/suggested-fixes/${fix.id}/apply`));
    await refreshSession();
  }

  async function dismissFix(fix) {
    await api("POST", sessionPath(`/suggested-fixes/${fix.id}/decision`), { decision: "dismissed" });
    await refreshSession();
  }

  async function setOutcome(fix, outcome, extra) {
    await api("PATCH", sessionPath(`/suggested-fixes/${fix.id}/outcome`), Object.assign({ outcome }, extra || {}));
    await refreshSession();
  }

  async function askPending(fix) {
    const reason = await ask({
      title: "Waiting to verify",
      label: "What are you waiting on?",
      value: fix.pending_reason || "",
      placeholder: "e.g. The user is testing after lunch",
      maxLength: 1000,
    });
    if (reason !== null) await setOutcome(fix, "applied_pending", { pending_reason: reason });
  }

  async function askPartial(fix) {
    const notes = await ask({
      title: "Partly worked",
      label: "What worked, and what is still wrong?",
      value: fix.partial_notes || "",
      maxLength: 4000,
    });
    if (notes !== null) await setOutcome(fix, "applied_partial", { notes });
  }

  // --- a small modal prompt ----------------------------------------------------------------

  function ask({ title, label, value, placeholder, maxLength }) {
    const dialog = $("ask-dialog");
    const input = $("ask-input");
    $("ask-title").textContent = title;
    $("ask-label").textContent = label;
    $("ask-error").hidden = true;
    input.value = value || "";
    input.placeholder = placeholder || "";
    input.maxLength = maxLength || 1000;
    return new Promise((resolve) => {
      const finish = (result) => {
        $("ask-form").removeEventListener("submit", onSubmit);
        $("ask-cancel").removeEventListener("click", onCancel);
        dialog.removeEventListener("cancel", onCancel);
        if (dialog.open) dialog.close();
        resolve(result);
      };
      const onSubmit = (event) => {
        event.preventDefault();
        if (!input.value.trim()) {
          $("ask-error").hidden = false;
          input.focus();
          return;
        }
        finish(input.value.trim());
      };
      const onCancel = (event) => {
        event.preventDefault();
        finish(null);
      };
      $("ask-form").addEventListener("submit", onSubmit);
      $("ask-cancel").addEventListener("click", onCancel);
      dialog.addEventListener("cancel", onCancel);
      dialog.showModal();
      input.focus();
    });
  }

  // --- the script panel --------------------------------------------------------------------

  function copyButton(getText) {
    return el("button", {
      type: "button",
      class: "btn small",
      text: "Copy",
      onclick: async (e) => {
        const button = e.currentTarget;
        const text = getText();
        let copied = false;
        try {
          await navigator.clipboard.writeText(text);
          copied = true;
        } catch (_) {
          // Clipboard API blocked in the frame: fall back to a selected textarea.
          const area = el("textarea", { class: "offscreen", "aria-hidden": "true" });
          area.value = text;
          button.closest("dialog").append(area);
          area.select();
          try {
            copied = document.execCommand("copy");
          } catch (__) {
            copied = false;
          }
          area.remove();
        }
        button.textContent = copied ? "Copied" : "Select and copy";
        setTimeout(() => (button.textContent = "Copy"), 2000);
      },
    });
  }

  function scriptOutput(title, script) {
    const code = el("code", { text: script });
    return el(
      "div",
      { class: "script-output" },
      el("div", { class: "output-head" }, el("strong", { text: title }), copyButton(() => code.textContent)),
      el("pre", { class: "script", tabindex: "0", "aria-label": title }, code)
    );
  }

  function openScriptPanel(fix) {
    const dialog = $("script-dialog");
    const body = clear($("script-body"));
    $("script-title").textContent = fix.template_id ? "Script from the library" : "Proposed script";
    body.append(el("p", { class: "muted", text: "Loading…" }));
    dialog.showModal();
    const build = fix.template_id ? buildTemplatePanel : buildScriptOptionsPanel;
    build(fix, body).catch((error) => {
      clear(body).append(el("p", { class: "field-error", text: error.message || "Could not load the script." }));
    });
  }

  function parameterInput(spec, id, drafted) {
    const has = drafted !== undefined && drafted !== null && !spec.sensitive;
    const initial = has ? drafted : spec.default;
    const common = { id, name: spec.name, "aria-describedby": `${id}-hint ${id}-error` };
    if (spec.type === "boolean") {
      return el("input", Object.assign({ type: "checkbox", checked: initial === true }, common));
    }
    if (spec.type === "choice") {
      const select = el("select", common, el("option", { value: "", text: "— choose —" }));
      for (const choice of spec.choices || []) select.append(el("option", { value: String(choice), text: String(choice) }));
      select.value = initial === undefined || initial === null ? "" : String(initial);
      return select;
    }
    const input = el("input", Object.assign({
      type: spec.sensitive ? "password" : spec.type === "integer" ? "number" : "text",
      autocomplete: "off",
      spellcheck: "false",
      required: spec.required,
    }, common));
    if (spec.type === "integer") input.step = "1";
    if (initial !== undefined && initial !== null && !spec.sensitive) input.value = String(initial);
    return input;
  }

  function inputValue(spec, input) {
    if (spec.type === "boolean") return input.checked;
    const raw = input.value.trim();
    if (raw === "") return undefined;
    if (spec.type === "integer" && /^-?\d+$/.test(raw)) return Number(raw);
    return raw;
  }

  async function buildTemplatePanel(fix, body) {
    const template = await api("GET", `api/v1/scripts/templates/${fix.template_id}`);
    const drafted = fix.ai_drafted_parameters || {};
    const schema = template.parameters_schema || [];
    const inputs = [];
    const form = el("form", { class: "param-form", novalidate: true });
    for (const spec of schema) {
      const id = `param-${spec.name}`;
      const input = parameterInput(spec, id, drafted[spec.name]);
      const fromSession = drafted[spec.name] !== undefined && drafted[spec.name] !== null && !spec.sensitive;
      const tag = fromSession ? el("span", { class: "tag from-session", text: "from session" }) : null;
      if (tag) {
        input.addEventListener("input", () => {
          const same = String(inputValue(spec, input)) === String(drafted[spec.name]);
          tag.textContent = same ? "from session" : "edited";
          tag.className = same ? "tag from-session" : "tag edited";
        });
      }
      inputs.push({ spec, input });
      form.append(
        el("div", { class: `field${fromSession ? " drafted" : ""}` },
          el("label", { for: id, class: "field-label" },
            el("code", { text: spec.name }),
            spec.required ? el("span", { class: "required", "aria-label": "required", text: " *" }) : null,
            spec.sensitive ? el("span", { class: "tag sensitive", text: "sensitive" }) : null,
            tag
          ),
          input,
          el("p", { id: `${id}-hint`, class: "hint", text: spec.description || "" }),
          el("p", { id: `${id}-error`, class: "field-error" })
        )
      );
    }
    if (!schema.length) form.append(el("p", { class: "muted", text: "This template takes no parameters." }));
    const output = el("div", { class: "output-slot" });
    const generate = el("button", { type: "submit", class: "btn primary", text: "Generate" });
    form.append(el("div", { class: "actions" }, generate, el("button", { type: "button", class: "btn", text: "Close", onclick: () => $("script-dialog").close() })));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(generate, async () => {
        for (const { input } of inputs) $(`${input.id}-error`).textContent = "";
        const parameters = {};
        for (const { spec, input } of inputs) {
          const value = inputValue(spec, input);
          if (value !== undefined) parameters[spec.name] = value;
        }
        let result;
        try {
          result = await api("POST", "api/v1/scripts/generate", {
            template_id: template.id,
            parameters,
            ai_session_id: state.session.id,
          });
        } catch (error) {
          if (error instanceof ApiFailure && error.status === 422 && showFieldErrors(error, inputs)) return;
          throw error;
        }
        clear(output).append(scriptOutput("Rendered script", result.rendered_script));
      });
    });
    clear(body).append(
      el("div", { class: "template-head" },
        el("strong", { text: template.name }),
        el("span", { class: "chip", text: template.language })
      ),
      el("p", { class: "muted small", text: template.description }),
      form,
      output
    );
  }

  function showFieldErrors(error, inputs) {
    const fields = (error.details && error.details.fields) || {};
    let shown = false;
    for (const [path, message] of Object.entries(fields)) {
      const match = inputs.find(({ spec }) => path === spec.name || path.endsWith("." + spec.name));
      if (match) {
        $(`${match.input.id}-error`).textContent = message;
        shown = true;
      }
    }
    if (!shown) toast(error.message);
    return true;
  }

  function highlightedTemplate(body) {
    // The draft's {{placeholders}}, marked so the engineer sees what became a parameter.
    return el("pre", { class: "script" },
      el("code", {}, String(body).split(/(\{\{\s*\w+\s*\}\})/).map((part) =>
        /^\{\{\s*\w+\s*\}\}$/.test(part) ? el("mark", { class: "param", text: part }) : part
      ))
    );
  }

  /** The saved draft, with the parameters it proposes highlighted in its body. */
  async function draftSummary(draftId) {
    const box = el("div", { class: "draft" }, el("p", { class: "result ok", text: `Saved draft template #${draftId} for the library.` }));
    let draft;
    try {
      draft = await api("GET", `api/v1/scripts/draft-templates/${draftId}`);
    } catch (_) {
      return box; // The script to run is what matters now; the draft stays in the library.
    }
    const names = (draft.parameters_schema || []).map((p) => el("mark", { class: "param", text: p.name }));
    if (!names.length) {
      box.append(el("p", { class: "muted small", text: "No parameters were proposed: the draft is the script as written." }));
      return box;
    }
    box.append(
      el("p", { class: "small" }, "Proposed parameters: ", names.flatMap((n, i) => (i ? [", ", n] : [n]))),
      highlightedTemplate(draft.templated_body)
    );
    return box;
  }

  async function buildScriptOptionsPanel(fix, body) {
    const original = fix.edited_script || fix.ai_drafted_script || "";
    const area = el("textarea", { id: "proposed-script", class: "script-edit", rows: "9", spellcheck: "false" });
    area.value = original;
    const output = el("div", { class: "output-slot" });
    const edited = () => (area.value.trim() && area.value !== (fix.ai_drafted_script || "") ? area.value : undefined);

    const decide = async (decision, button) =>
      act(button, async () => {
        const result = await api("POST", sessionPath(`/suggested-fixes/${fix.id}/decision`), {
          decision,
          edited_script: decision === "build_template" ? undefined : edited(),
        });
        clear(output);
        if (decision === "build_template") {
          const link = el("a", { href: apiUrl(result.redirect_path.replace(/^\//, "")), target: "_blank", rel: "noopener", text: result.redirect_path });
          output.append(el("p", { class: "result ok" }, "Continue in the template builder: ", link));
        } else {
          output.append(scriptOutput("Script to run", result.rendered_script || ""));
          if (result.draft_template_id) output.append(await draftSummary(result.draft_template_id));
        }
        await refreshSession();
      });

    const option = (label, help, decision, primary) => {
      const button = el("button", { type: "button", class: `btn${primary ? " primary" : ""}`, text: label });
      button.addEventListener("click", () => decide(decision, button));
      return el("div", { class: "option" }, button, el("span", { class: "muted small", text: help }));
    };

    clear(body).append(
      el("p", { class: "muted small", text: "No library template matches this fix. Review the proposed script, then choose how to run it." }),
      el("label", { for: "proposed-script", class: "field-label", text: "Proposed script (editable)" }),
      area,
      el("div", { class: "options", role: "group", "aria-label": "How to run it" },
        option("Run once", "Use this script for this ticket only.", "one_off", true),
        option("Save as draft template", "Run it, and keep a parameterised draft for the library.", "draft_template"),
        option("Build template", "Open the template builder with this script.", "build_template")
      ),
      output
    );
  }

  // ---------------------------------------------------------------------------------------
  // Chat

  async function loadMessages() {
    const page = await api("GET", sessionPath("/messages?limit=200"));
    const list = clear($("messages"));
    for (const message of page.items || []) list.append(messageItem(message.role, message.content, message.created_at, message.generator));
    if (!list.children.length) {
      list.append(el("li", { class: "msg hint-msg", text: "Describe the problem and what you have checked; the assistant suggests a fix." }));
    }
    scrollChat();
  }

  function messageItem(role, content, createdAt, generator) {
    const who = role === "user" ? "You" : "Assistant";
    const meta = [who, createdAt ? ` · ${timeOf(createdAt)}` : "", generator && generator !== "anthropic" ? ` · ${generator}` : ""].join("");
    return el("li", { class: `msg ${role}` },
      el("div", { class: "msg-meta", text: meta }),
      el("div", { class: "msg-body" }, richText(content))
    );
  }

  function scrollChat() {
    const list = $("messages");
    list.scrollTop = list.scrollHeight;
  }

  function removeHint() {
    const hint = $("messages").querySelector(".hint-msg");
    if (hint) hint.remove();
  }

  async function sendMessage(content) {
    removeHint();
    $("messages").append(messageItem("user", content, new Date().toISOString()));
    await runTurn({ content });
  }

  /** One assistant turn, streamed (SSE over fetch) with a JSON fallback. */
  async function runTurn(body) {
    state.streaming = true;
    $("send-btn").disabled = true;
    const list = $("messages");
    list.setAttribute("aria-busy", "true");
    const textNode = document.createTextNode("");
    const reply = el("li", { class: "msg assistant streaming" },
      el("div", { class: "msg-meta", text: "Assistant · typing…" }),
      el("div", { class: "msg-body" }, el("p", {}, textNode))
    );
    list.append(reply);
    scrollChat();
    let userMessageId = body.retry_of || null;
    let turn = null;
    let failure = null;
    try {
      const response = await authedFetch(sessionPath("/messages"), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream, application/json" },
        body: JSON.stringify(body),
      });
      const type = response.headers.get("Content-Type") || "";
      if (response.ok && type.includes("text/event-stream") && response.body && response.body.getReader) {
        await readEvents(response, (event, data) => {
          if (event === "accepted") userMessageId = data.user_message_id || userMessageId;
          else if (event === "delta") {
            textNode.data += data.text || "";
            scrollChat();
          } else if (event === "done") turn = data;
          else if (event === "error") failure = new ApiFailure(503, data.error);
        });
        if (!turn && !failure) failure = new ApiFailure(503, { message: "The reply was cut off." });
      } else {
        const payload = await response.json().catch(() => null);
        if (response.ok) turn = payload;
        else failure = new ApiFailure(response.status, payload && payload.error);
      }
    } catch (error) {
      failure = error instanceof ApiFailure ? error : new ApiFailure(0, { message: "The connection to Fixpilot was lost." });
    }
    if (failure && failure.details && failure.details.user_message_id) userMessageId = failure.details.user_message_id;
    reply.remove();
    if (turn) {
      list.append(messageItem("assistant", turn.assistant_message.content, turn.assistant_message.created_at, turn.assistant_message.generator));
    } else if (failure) {
      showUnavailable(failure, userMessageId, body.content);
    }
    list.removeAttribute("aria-busy");
    state.streaming = false;
    $("send-btn").disabled = !isActive();
    scrollChat();
    if (turn && (turn.suggested_fix || turn.fix_outcome)) await refreshSession();
  }

  function showUnavailable(failure, userMessageId, content) {
    const list = $("messages");
    if (!userMessageId) {
      // The message was not stored: give it back to the composer.
      toast(failure.message);
      if (content && !$("composer-input").value) $("composer-input").value = content;
      const last = list.lastElementChild;
      if (last && last.classList.contains("user")) last.remove();
      return;
    }
    const item = el("li", { class: "msg error" },
      el("div", { class: "msg-body" },
        el("p", {}, el("strong", { text: "Assistant unavailable. " }), "Your message is saved; you can ask again."),
        el("button", {
          type: "button",
          class: "btn small",
          text: "Retry",
          onclick: () => {
            if (state.streaming) return;
            item.remove();
            runTurn({ content: "", retry_of: userMessageId });
          },
        })
      )
    );
    list.append(item);
  }

  async function readEvents(response, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    const dispatch = (block) => {
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (!data.length) return;
      let parsed = null;
      try {
        parsed = JSON.parse(data.join("\n"));
      } catch (_) {
        return;
      }
      onEvent(event, parsed || {});
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let index;
      while ((index = buffer.indexOf("\n\n")) >= 0) {
        dispatch(buffer.slice(0, index));
        buffer = buffer.slice(index + 2);
      }
    }
    buffer += decoder.decode();
    if (buffer.trim()) dispatch(buffer);
  }

  // ---------------------------------------------------------------------------------------
  // Facts

  async function loadFacts() {
    const page = await api("GET", sessionPath("/facts"));
    state.facts = page.items || [];
    renderFacts();
  }

  function renderFacts() {
    const list = clear($("facts"));
    $("facts-count").textContent = state.facts.length ? String(state.facts.length) : "";
    if (!state.facts.length) list.append(el("li", { class: "muted small empty", text: "No facts yet." }));
    for (const fact of state.facts) {
      list.append(
        el("li", { class: "fact" },
          el("span", { class: "fact-text", text: fact.text }),
          isActive()
            ? el("button", {
                type: "button",
                class: "btn link small",
                text: "Delete",
                "aria-label": `Delete fact: ${fact.text}`,
                onclick: (e) =>
                  act(e.currentTarget, async () => {
                    await api("DELETE", sessionPath(`/facts/${fact.id}`));
                    await loadFacts();
                  }),
              })
            : null
        )
      );
    }
  }

  // ---------------------------------------------------------------------------------------
  // Resolve / Escalate

  const WRAPUPS = {
    resolution: {
      path: "resolution-note",
      title: "Resolve: resolution note",
      label: "Resolution note (customer-visible; edit before posting)",
      about: "Posted as a customer-visible resolution note, then the ticket moves to the resolved status.",
    },
    escalation: {
      path: "escalation-package",
      title: "Escalate: escalation package",
      label: "Escalation package (internal; edit before posting)",
      about: "Posted as an internal analysis note, then the ticket moves to the escalated status.",
    },
  };
  const wrapup = { kind: null };
  const postedMarkdown = {};

  function rememberMarkdown(kind, markdown) {
    postedMarkdown[`${state.session.id}:${kind}`] = markdown;
    try {
      sessionStorage.setItem(`fixpilot:${state.session.id}:${kind}`, markdown);
    } catch (_) {
      // Storage can be blocked in third-party frames; memory is enough for this page.
    }
  }

  function recalledMarkdown(kind) {
    const key = `${state.session.id}:${kind}`;
    if (postedMarkdown[key]) return postedMarkdown[key];
    try {
      return sessionStorage.getItem(`fixpilot:${key}`);
    } catch (_) {
      return null;
    }
  }

  async function openWrapup(kind) {
    const spec = WRAPUPS[kind];
    wrapup.kind = kind;
    $("wrapup-title").textContent = spec.title;
    $("wrapup-label").textContent = spec.label;
    $("wrapup-about").textContent = spec.about + " Drafting…";
    clear($("wrapup-result")).className = "result";
    const text = $("wrapup-text");
    text.value = "";
    text.disabled = true;
    $("wrapup-confirm").disabled = true;
    $("wrapup-confirm").hidden = false;
    $("wrapup-cancel").textContent = "Cancel";
    $("wrapup-dialog").showModal();
    try {
      const draft = await api("POST", sessionPath(`/${spec.path}/preview`));
      if (wrapup.kind !== kind) return;
      text.value = draft.markdown;
      text.disabled = false;
      $("wrapup-confirm").disabled = false;
      $("wrapup-about").textContent = `${spec.about} Drafted by ${draft.generator}${draft.from_cache ? " (unchanged since the last draft)" : ""}.`;
      text.focus();
    } catch (error) {
      $("wrapup-about").textContent = spec.about;
      showResult("error", error.message || "Could not draft the document.");
    }
  }

  function showResult(tone, ...content) {
    const box = clear($("wrapup-result"));
    box.className = `result ${tone}`;
    append(box, content);
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
    showResult("info", "Posting to the ticket…");
    rememberMarkdown(kind, markdown);
    const outcome = await postWriteback(kind, markdown);
    if (outcome.ok) {
      $("wrapup-confirm").hidden = true;
      $("wrapup-cancel").textContent = "Close";
    } else {
      $("wrapup-confirm").disabled = false;
      $("wrapup-text").disabled = false;
    }
    showResult(outcome.tone, ...outcome.message);
  }

  /** Posts a document; reports what happened as {ok, tone, message}. */
  async function postWriteback(kind, markdown) {
    const spec = WRAPUPS[kind];
    let result;
    try {
      result = await api("POST", sessionPath(`/${spec.path}/post`), { markdown });
    } catch (error) {
      const changedTicket = error instanceof ApiFailure && error.code === "status_not_applied";
      if (changedTicket) requestRefreshScreen();
      await refreshSession();
      return { ok: false, tone: "error", message: [describeFailure(error)] };
    }
    if (result.outcome === "resolved" || result.outcome === "escalated") requestRefreshScreen();
    await refreshSession();
    return { ok: true, tone: result.outcome === "queued" ? "warn" : "ok", message: describeResult(result) };
  }

  function describeResult(result) {
    const posted = result.note && result.note.external_id ? `Posted (note ${result.note.external_id}).` : "Posted.";
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

  async function retryWriteback(kind) {
    const markdown = recalledMarkdown(kind);
    if (!markdown) {
      // Without the text that was posted, let the engineer confirm it again.
      await openWrapup(kind);
      return;
    }
    const outcome = await postWriteback(kind, markdown);
    toast(outcome.message.map((part) => (part instanceof Node ? part.textContent : part)).join(""));
  }

  // ---------------------------------------------------------------------------------------
  // Wiring

  function selectTab(name) {
    for (const tab of ["chat", "facts"]) {
      const selected = tab === name;
      $(`tab-${tab}`).setAttribute("aria-selected", String(selected));
      $(`tab-${tab}`).tabIndex = selected ? 0 : -1;
      $(`panel-${tab}`).hidden = !selected;
    }
  }

  function wire() {
    $("toast-close").addEventListener("click", () => ($("toast").hidden = true));
    $("tab-chat").addEventListener("click", () => selectTab("chat"));
    $("tab-facts").addEventListener("click", () => selectTab("facts"));
    document.querySelector(".tabs").addEventListener("keydown", (event) => {
      if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
      const next = $("tab-chat").getAttribute("aria-selected") === "true" ? "facts" : "chat";
      selectTab(next);
      $(`tab-${next}`).focus();
    });

    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("composer-input");
      const content = input.value.trim();
      if (!content || state.streaming || !isActive()) return;
      input.value = "";
      sendMessage(content);
    });
    $("composer-input").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $("composer").requestSubmit();
      }
    });

    $("fact-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("fact-input");
      const text = input.value.trim();
      if (!text || !isActive()) return;
      act(event.submitter, async () => {
        await api("POST", sessionPath("/facts"), { text });
        input.value = "";
        await loadFacts();
      });
    });

    $("resolve-btn").addEventListener("click", () => openWrapup("resolution"));
    $("escalate-btn").addEventListener("click", () => openWrapup("escalation"));
    $("wrapup-confirm").addEventListener("click", () => confirmWrapup());
    for (const button of document.querySelectorAll("dialog [data-close]")) {
      button.addEventListener("click", () => button.closest("dialog").close());
    }
    $("wrapup-dialog").addEventListener("close", () => (wrapup.kind = null));

    // Keep up with changes made elsewhere (callbacks, the writeback worker, the nudge).
    setInterval(() => {
      if (document.visibilityState === "visible" && state.session && !state.streaming) refreshSession();
    }, 30000);
  }

  function start() {
    wire();
    if (!framed) {
      setConnection("Fixpilot runs inside a ConnectWise service ticket. Open a ticket in ConnectWise to use it.");
      return;
    }
    if (!config.origins.size) {
      setConnection("This Fixpilot account has no ConnectWise connection configured.");
      return;
    }
    postToParent({ message: "ready" });
    setTimeout(() => {
      if (hosted.frameId === null) setConnection("Waiting for ConnectWise… If this persists, reload the ticket.");
    }, 10000);
  }

  start();
})();
