/* Small DOM helpers shared by every page: elements built from data (server text only ever
 * reaches the page as text nodes), toasts, busy buttons, findings, downloads, copy. */

export const $ = (id) => document.getElementById(id);

/** el("button", {class: "btn", onclick: fn, "aria-label": "x"}, "text", child...) */
export function el(tag, props, ...children) {
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

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

const REDACTION_NAMES = {
  remembered: "a secret this session already knows",
  pasted: "a pasted secret",
};

/** A [REDACTED] chip: its kind shows on hover and focus, never a value. */
export function redactionChip(kind) {
  const label = REDACTION_NAMES[kind] || (kind || "secret").replace(/_/g, " ");
  return el("span", {
    class: "redacted-chip",
    tabindex: "0",
    "data-kind": label,
    title: `Redacted: ${label}`,
    "aria-label": `Redacted ${label}`,
    text: "[REDACTED]",
  });
}

/** Text with each [REDACTED] as a chip of its kind (kinds in order, as the API gives them). */
function withChips(text, kinds) {
  if (!kinds) return [text];
  const parts = text.split("[REDACTED]");
  const out = [];
  parts.forEach((part, index) => {
    if (index) out.push(redactionChip(kinds.shift()));
    if (part) out.push(part);
  });
  return out;
}

/** A tiny, safe subset of markdown: paragraphs, **bold** and `code`, as DOM nodes; with
 * `redactions`, each [REDACTED] becomes a chip naming its kind. */
export function richText(text, redactions) {
  const kinds = redactions ? [...redactions] : null;
  const fragment = document.createDocumentFragment();
  for (const paragraph of String(text || "").split(/\n{2,}/)) {
    if (!paragraph.trim()) continue;
    const p = el("p");
    for (const part of paragraph.split(/(\*\*[^*\n]+\*\*|`[^`\n]+`)/)) {
      if (!part) continue;
      if (part.startsWith("**") && part.endsWith("**") && part.length > 4) {
        p.append(el("strong", {}, withChips(part.slice(2, -2), kinds)));
      } else if (part.startsWith("`") && part.endsWith("`") && part.length > 2) {
        p.append(el("code", {}, withChips(part.slice(1, -1), kinds)));
      } else {
        append(p, withChips(part, kinds));
      }
    }
    fragment.append(p);
  }
  return fragment;
}

export function timeOf(iso) {
  const date = new Date(iso);
  return isNaN(date) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

let toastTimer = null;
export function toast(message, tone) {
  const box = $("toast");
  if (!box) return;
  $("toast-text").textContent = message;
  box.className = `toast ${tone || ""}`;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), 10000);
}

export function wireToast() {
  const close = $("toast-close");
  if (close) close.addEventListener("click", () => ($("toast").hidden = true));
}

const SLOW_MS = 300;

/** Runs an action from a button: disabled at once, a busy state after ~300 ms, failures as
 * a toast (onError may claim them first). Returns the action's result. */
export async function act(button, action, { busyText, onError } = {}) {
  const label = button ? button.textContent : "";
  if (button) button.disabled = true;
  const slow = setTimeout(() => {
    if (!button) return;
    button.classList.add("busy");
    button.setAttribute("aria-busy", "true");
    if (busyText) button.textContent = busyText;
  }, SLOW_MS);
  try {
    return await action();
  } catch (error) {
    if (!(onError && (await onError(error)))) toast(error.message || "Something went wrong.", "error");
    return undefined;
  } finally {
    clearTimeout(slow);
    if (button) {
      button.classList.remove("busy");
      button.removeAttribute("aria-busy");
      if (busyText) button.textContent = label;
      if (button.isConnected && !button.dataset.keepDisabled) button.disabled = false;
    }
  }
}

/** The lint's findings on a script: high ones first, in red, each with its line. */
export function findingsList(findings, { title } = {}) {
  if (!findings || !findings.length) return null;
  const order = { high: 0, medium: 1, low: 2 };
  const sorted = [...findings].sort((a, b) => (order[a.severity] ?? 3) - (order[b.severity] ?? 3) || a.line - b.line);
  const high = sorted.filter((f) => f.severity === "high").length;
  return el("div", { class: `findings${high ? " has-high" : ""}`, role: "note" },
    el("p", { class: "findings-title" },
      el("strong", { text: title || (high ? `⚠ ${high} dangerous operation${high > 1 ? "s" : ""} in this script` : "Things to check in this script") })
    ),
    el("ul", {}, sorted.map((f) =>
      el("li", { class: `finding ${f.severity}` },
        el("span", { class: "finding-severity", text: f.severity }),
        el("span", { class: "finding-line", text: `line ${f.line}` }),
        el("span", { class: "finding-message", text: f.message })
      )
    ))
  );
}

/** A button that saves {filename, media_type, content} as a file. */
export function downloadButton(download) {
  if (!download) return null;
  return el("button", {
    type: "button",
    class: "btn small",
    text: `Download ${download.filename}`,
    onclick: () => {
      const blob = new Blob([download.content], { type: download.media_type });
      const url = URL.createObjectURL(blob);
      const link = el("a", { href: url, download: download.filename, class: "offscreen" });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    },
  });
}

export function copyButton(getText) {
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
        // The Clipboard API is often blocked in a frame: fall back to a selected textarea.
        const area = el("textarea", { class: "offscreen", "aria-hidden": "true" });
        area.value = text;
        (button.closest("dialog") || document.body).append(area);
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

/** A script to run: its findings, Copy and Download. */
export function scriptOutput(title, script, { findings, download } = {}) {
  const code = el("code", { text: script });
  return el("div", { class: "script-output" },
    findingsList(findings),
    el("div", { class: "output-head" }, el("strong", { text: title }),
      el("span", { class: "spacer" }), copyButton(() => code.textContent), downloadButton(download)),
    el("pre", { class: "script", tabindex: "0", "aria-label": title }, code)
  );
}

/** Who drafted a document, in words. */
export function draftedBy(generator) {
  if (generator === "anthropic") return "Drafted by Claude";
  if (generator === "offline") return "Drafted offline (no AI)";
  return `Drafted by ${generator}`;
}
