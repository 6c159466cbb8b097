/* The chat: messages (the engineer's own with a chip for each redacted secret), a streamed
 * reply with a live typing indicator, retry when the assistant is unavailable, and secrets
 * handed over without going into the chat. */

import { ApiFailure, api, authedFetch } from "./api.js";
import { $, act, clear, el, richText, timeOf, toast } from "./dom.js";
import { afterWrite, isActive, sessionPath, store } from "./state.js";
import { ask } from "./ask.js";

export async function loadMessages() {
  const page = await api("GET", sessionPath("/messages?limit=200"));
  const list = clear($("messages"));
  for (const message of page.items || []) list.append(messageItem(message));
  if (!list.children.length) {
    list.append(el("li", { class: "msg hint-msg", text: "Describe the problem and what you have checked; the assistant suggests checks and a fix." }));
  }
  scrollChat();
}

function messageItem(message) {
  const { role, content, created_at: createdAt, generator, redactions } = message;
  const who = role === "user" ? "You" : "Assistant";
  const by = generator === "offline" ? " · offline (no AI)" : generator && generator !== "anthropic" ? ` · ${generator}` : "";
  return el("li", { class: `msg ${role}`, "data-id": message.id || "" },
    el("div", { class: "msg-meta", text: `${who}${createdAt ? ` · ${timeOf(createdAt)}` : ""}${by}` }),
    el("div", { class: "msg-body" }, richText(content, role === "user" ? redactions || [] : null))
  );
}

function scrollChat() {
  const list = $("messages");
  list.scrollTop = list.scrollHeight;
}

export async function sendMessage(content) {
  const hint = $("messages").querySelector(".hint-msg");
  if (hint) hint.remove();
  const mine = messageItem({ role: "user", content, created_at: new Date().toISOString() });
  mine.classList.add("pending");
  $("messages").append(mine);
  await runTurn({ content }, mine);
}

function typingIndicator() {
  return el("div", { class: "msg-meta typing", role: "status" },
    "Assistant is typing",
    el("span", { class: "dots", "aria-hidden": "true" }, el("span"), el("span"), el("span"))
  );
}

/** One assistant turn, streamed (SSE over fetch) with a JSON fallback. */
export async function runTurn(body, mine) {
  store.set({ streaming: true });
  const list = $("messages");
  list.setAttribute("aria-busy", "true");
  const textNode = document.createTextNode("");
  const reply = el("li", { class: "msg assistant streaming" }, typingIndicator(), el("div", { class: "msg-body" }, el("p", {}, textNode)));
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
    // The stored message replaces the one shown while sending: its secrets are chips now.
    if (mine && turn.user_message) mine.replaceWith(messageItem(turn.user_message));
    list.append(messageItem(turn.assistant_message));
  } else if (failure) {
    showUnavailable(failure, userMessageId, body.content, mine);
  }
  list.removeAttribute("aria-busy");
  store.set({ streaming: false });
  scrollChat();
  if (turn) await afterWrite({ checks: true });
}

function showUnavailable(failure, userMessageId, content, mine) {
  if (!userMessageId) {
    // The message was not stored: give it back to the composer.
    toast(failure.message, "error");
    if (content && !$("composer-input").value) $("composer-input").value = content;
    if (mine) mine.remove();
    return;
  }
  if (mine) mine.classList.remove("pending");
  const item = el("li", { class: "msg error" },
    el("div", { class: "msg-body" },
      el("p", {}, el("strong", { text: "Assistant unavailable. " }), "Your message is saved; you can ask again."),
      el("button", {
        type: "button",
        class: "btn small",
        text: "Retry",
        onclick: () => {
          if (store.get().streaming) return;
          item.remove();
          runTurn({ content: "", retry_of: userMessageId });
        },
      })
    )
  );
  $("messages").append(item);
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
    try {
      onEvent(event, JSON.parse(data.join("\n")) || {});
    } catch (_) {
      // a malformed event is skipped
    }
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

/** A secret handed to the session: remembered encrypted, never in the chat or the AI's
 * context; it can fill a sensitive script parameter later. */
export async function pasteSecret() {
  if (!isActive()) return;
  const answer = await ask({
    title: "Paste a secret",
    label: "What is it?",
    placeholder: "e.g. svc_backup password",
    maxLength: 200,
    secret: { label: "The secret (never shown again, never sent to the AI)" },
    okText: "Remember it",
  });
  if (!answer) return;
  const saved = await api("POST", sessionPath("/secrets"), { label: answer.text, value: answer.secret });
  toast(`Remembered "${saved.label}": it fills sensitive script parameters and is redacted everywhere.`, "ok");
}

export function wireChat() {
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("composer-input");
    const content = input.value.trim();
    if (!content || store.get().streaming || !isActive()) return;
    input.value = "";
    sendMessage(content);
  });
  $("composer-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("secret-btn").addEventListener("click", (e) => act(e.currentTarget, pasteSecret));
  store.subscribe((state, changed) => {
    if (changed.has("streaming") || changed.has("session")) {
      $("send-btn").disabled = !isActive() || state.streaming;
      $("composer-input").disabled = !isActive();
      $("secret-btn").disabled = !isActive();
    }
  });
}
