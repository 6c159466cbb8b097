/* The command palette (Ctrl/Cmd+K): a fuzzy-filtered list of what can be done now; arrows
 * move, Enter runs, Escape closes. Keyboard only is enough. */

import { $, clear, el } from "./dom.js";

/** How well `query` matches `text` as a subsequence (higher is better), or -1. */
export function fuzzyScore(query, text) {
  const q = query.toLowerCase().replace(/\s+/g, "");
  const t = text.toLowerCase();
  if (!q) return 0;
  let score = 0;
  let at = -1;
  let run = 0;
  for (const char of q) {
    const next = t.indexOf(char, at + 1);
    if (next < 0) return -1;
    run = next === at + 1 ? run + 1 : 0;
    score += 1 + run * 2 + (next === 0 || t[next - 1] === " " ? 3 : 0);
    at = next;
  }
  return score - t.length / 100;
}

let commands = () => [];
let shown = [];
let selected = 0;

function render() {
  const query = $("palette-input").value;
  shown = commands()
    .map((command) => ({ command, score: fuzzyScore(query, `${command.label} ${command.keywords || ""}`) }))
    .filter((entry) => entry.score >= 0)
    .sort((a, b) => b.score - a.score)
    .map((entry) => entry.command);
  selected = Math.min(selected, Math.max(0, shown.length - 1));
  const list = clear($("palette-list"));
  shown.forEach((command, index) => {
    list.append(el("li", {
      id: `palette-item-${index}`,
      role: "option",
      class: `palette-item${index === selected ? " selected" : ""}`,
      "aria-selected": String(index === selected),
      onclick: () => run(index),
    }, el("span", { text: command.label }), command.hint ? el("span", { class: "muted small", text: command.hint }) : null));
  });
  if (!shown.length) list.append(el("li", { class: "muted small empty", role: "presentation", text: "No command matches." }));
  const input = $("palette-input");
  if (shown.length) input.setAttribute("aria-activedescendant", `palette-item-${selected}`);
  else input.removeAttribute("aria-activedescendant");
  const current = $(`palette-item-${selected}`);
  if (current) current.scrollIntoView({ block: "nearest" });
}

function run(index) {
  const command = shown[index];
  if (!command) return;
  $("palette-dialog").close();
  command.run();
}

export function openPalette() {
  const dialog = $("palette-dialog");
  if (dialog.open) return;
  $("palette-input").value = "";
  selected = 0;
  render();
  dialog.showModal();
  $("palette-input").focus();
}

/** `provide()` lists the commands available now: {label, hint?, keywords?, run}. */
export function wirePalette(provide) {
  commands = provide;
  $("palette-input").addEventListener("input", () => {
    selected = 0;
    render();
  });
  $("palette-input").addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      selected = shown.length ? (selected + step + shown.length) % shown.length : 0;
      render();
    } else if (event.key === "Enter") {
      event.preventDefault();
      run(selected);
    }
  });
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k") {
      event.preventDefault();
      openPalette();
    }
  });
  const button = $("palette-btn");
  if (button) button.addEventListener("click", openPalette);
}
