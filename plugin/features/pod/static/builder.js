/* The Script Builder: a script becomes a template. The extraction's proposal pre-marks
 * parameters; the engineer selects a value to make another (name, type, required, default,
 * choices, sensitive, description); a live preview renders it with example values through
 * the service's injection-safe renderer (a sensitive value never leaves the browser), with
 * the lint's findings and whether the template gives back the script. Engineers save a
 * draft; admins publish, acknowledging high-severity findings explicitly. */

import { ApiFailure, api, fieldErrors, pageUrl, params, session } from "./api.js";
import { $, act, clear, el, findingsList, toast } from "./dom.js";
import { startPage } from "./page.js";

const TYPES = ["string", "name", "integer", "boolean", "choice"];
const state = { source: null, draftId: null, language: "powershell", params: [], checkTimer: null, checkSeq: 0 };

// --- values and literals ---------------------------------------------------------------

const snake = (text) => text.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/[^A-Za-z0-9_]+/g, "_").replace(/^_+|_+$/g, "").toLowerCase();
const SECRET_NAME = /pass|secret|token|key|cred|pwd/i;

function unquote(literal) {
  const inner = literal.slice(1, -1);
  if (state.language === "powershell") return inner.replace(/''/g, "'");
  if (state.language === "bash") return inner.replace(/'\\''/g, "'");
  return inner.replace(/%%/g, "%");
}

/** The literal the selection stands for: a quoted one whole, with its quotes. */
function literalAt(value, start, end) {
  while (start < end && /\s/.test(value[start])) start += 1;
  while (end > start && /\s/.test(value[end - 1])) end -= 1;
  const quote = value[start - 1];
  if ((quote === "'" || quote === '"') && value[end] === quote) {
    start -= 1;
    end += 1;
  }
  const literal = value.slice(start, end);
  const quoted = literal.length >= 2 && /^(['"])[\s\S]*\1$/.test(literal);
  return { literal, quoted, original: quoted ? unquote(literal) : literal, start };
}

function guessName(value, start) {
  const before = value.slice(Math.max(0, start - 80), start);
  const match = before.match(/-([A-Za-z][A-Za-z0-9]*)\s*:?\s*$/) || before.match(/\$([A-Za-z_][A-Za-z0-9_]*)\s*=\s*$/) || before.match(/([A-Za-z_][A-Za-z0-9_]*)\s*=\s*$/);
  let name = match ? snake(match[1]) : "value";
  if (!/^[A-Za-z_]/.test(name)) name = `p_${name}`;
  let unique = name;
  for (let n = 2; state.params.some((p) => p.name === unique); n += 1) unique = `${name}_${n}`;
  return unique.slice(0, 64);
}

function guessType(found, name) {
  if (!found.quoted && /^-?\d+$/.test(found.literal)) return "integer";
  if (!found.quoted && /^\$?(true|false)$/i.test(found.literal)) return "boolean";
  // One host, service or account: the name type refuses wildcards and leading dashes.
  if (/computer|host|server|service|user|account/i.test(name) && !SECRET_NAME.test(name)) return "name";
  return "string";
}

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const placeholderRe = (name) => new RegExp(`\\{\\{[ \\t]*${escapeRegExp(name)}[ \\t]*\\}\\}`, "g");

function coerce(type, raw) {
  if (raw === "" || raw === null || raw === undefined) return null;
  if (type === "integer") return /^-?\d+$/.test(String(raw).trim()) ? Number(raw) : raw;
  if (type === "boolean") return raw === true || String(raw).toLowerCase() === "true" || raw === "$true";
  return raw;
}

function schema() {
  return state.params.map((p) => ({
    name: p.name,
    type: p.type,
    required: p.required,
    default: p.sensitive ? null : coerce(p.type, p.default),
    choices: p.type === "choice" ? p.choices.split(",").map((c) => c.trim()).filter(Boolean) : null,
    sensitive: p.sensitive,
    description: p.description,
  }));
}

function examples() {
  const out = {};
  for (const p of state.params) {
    // A sensitive parameter has no example: its value stays out of every request.
    if (!p.sensitive && p.example !== "" && p.example !== null && p.example !== undefined) out[p.name] = coerce(p.type, p.example);
  }
  return out;
}

// --- parameters ------------------------------------------------------------------------

function paramFromSpec(spec, example) {
  return {
    name: spec.name,
    type: spec.type,
    required: Boolean(spec.required),
    default: spec.default === null || spec.default === undefined ? "" : String(spec.default),
    choices: (spec.choices || []).join(", "),
    sensitive: Boolean(spec.sensitive),
    description: spec.description || "",
    example: example === undefined || example === null ? "" : String(example),
    literal: null,
  };
}

function field(id, label, input, hint) {
  return el("div", { class: "field" }, el("label", { for: id, class: "field-label", text: label }), input, hint ? el("p", { class: "hint", text: hint }) : null);
}

/** The editor of one parameter's declaration (also the form for a new one). */
function paramEditor(p, prefix, onChange) {
  const id = (what) => `${prefix}-${what}`;
  const text = (what, value, extra) => {
    const input = el("input", Object.assign({ id: id(what), type: "text", value, autocomplete: "off", spellcheck: "false" }, extra || {}));
    input.addEventListener("input", () => onChange(what, input.value));
    return input;
  };
  const type = el("select", { id: id("type") }, TYPES.map((t) => el("option", { value: t, text: t })));
  type.value = p.type;
  type.addEventListener("change", () => onChange("type", type.value, true));
  const box = (what, label) => {
    const input = el("input", { id: id(what), type: "checkbox", checked: p[what] });
    input.addEventListener("change", () => onChange(what, input.checked, true));
    return el("label", { for: id(what) }, input, ` ${label}`);
  };
  return [
    el("div", { class: "row" },
      field(id("name"), "Name", text("name", p.name, { maxlength: "64", pattern: "[A-Za-z_][A-Za-z0-9_]*" })),
      field(id("type"), "Type", type),
      box("required", "required"),
      box("sensitive", "sensitive (a secret)")),
    el("div", { class: "row" },
      p.sensitive ? null : field(id("example"), "Example value (for the preview)", text("example", p.example)),
      p.sensitive ? null : field(id("default"), "Default", text("default", p.default)),
      p.type === "choice" ? field(id("choices"), "Choices (comma-separated)", text("choices", p.choices)) : null),
    field(id("description"), "Description", text("description", p.description, { maxlength: "2000" })),
  ];
}

function renderParams() {
  const list = clear($("params"));
  if (!state.params.length) list.append(el("p", { class: "muted small", text: "No parameters yet: select a value in the script." }));
  state.params.forEach((p, index) => {
    const prefix = `param-${index}`;
    const card = el("div", { class: "param-card", "data-name": p.name },
      el("div", { class: "row" }, el("code", { text: `{{${p.name}}}` }), p.sensitive ? el("span", { class: "tag sensitive", text: "sensitive" }) : null,
        el("span", { class: "spacer" }),
        el("button", { type: "button", class: "btn link small", text: "Remove", "aria-label": `Remove parameter ${p.name}`, onclick: () => removeParam(index) })),
      paramEditor(p, prefix, (what, value, rerender) => {
        if (what === "name") {
          const old = p.name;
          $("body").value = $("body").value.replace(placeholderRe(old), `{{${value}}}`);
        }
        if (what === "sensitive" && value) p.example = "";
        p[what] = value;
        if (rerender) renderParams();
        scheduleCheck();
      }),
      el("p", { id: `perr-${index}`, class: "field-error", role: "alert" }));
    list.append(card);
  });
}

function removeParam(index) {
  const [p] = state.params.splice(index, 1);
  // Put back what the parameter replaced (or its example, quoted as the script wrote it).
  const back = p.literal !== null ? p.literal : p.example !== "" ? p.example : `${p.name}`;
  $("body").value = $("body").value.replace(placeholderRe(p.name), back);
  renderParams();
  scheduleCheck();
}

function newParamForm() {
  const area = $("body");
  const found = literalAt(area.value, area.selectionStart, area.selectionEnd);
  if (!found.literal || /\{\{|\}\}/.test(found.literal)) {
    toast("Select a value in the script first (not a parameter).", "warn");
    return;
  }
  const name = guessName(area.value, found.start);
  // A value the service redacted is a secret by definition.
  const secret = SECRET_NAME.test(name) || found.literal.includes("[REDACTED]");
  const p = paramFromSpec({ name, type: guessType(found, name), required: true, sensitive: secret }, found.original);
  if (p.sensitive) p.example = "";
  const slot = clear($("new-param"));
  const render = () => {
    clear(slot).append(el("div", { class: "param-card new", role: "group", "aria-label": "New parameter" },
      el("p", { class: "small" }, "New parameter for ", el("code", { text: p.sensitive ? "(a secret value)" : found.literal })),
      paramEditor(p, "new", (what, value, rerender) => {
        p[what] = value;
        if (what === "sensitive" && value) p.example = "";
        if (rerender) render();
      }),
      el("div", { class: "actions" },
        el("button", { type: "button", class: "btn primary", text: "Add parameter", onclick: () => addParam(p, found) }),
        el("button", { type: "button", class: "btn", text: "Cancel", onclick: () => clear(slot) }))));
    const first = $("new-name");
    if (first) first.focus();
  };
  render();
  // The selected value itself is not kept for a secret: only the literal to put back.
  if (p.sensitive) found.original = null;
}

function addParam(p, found) {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(p.name) || state.params.some((q) => q.name === p.name)) {
    toast("Give the parameter a new name: letters, digits and _, starting with a letter.", "warn");
    return;
  }
  const area = $("body");
  const pattern = found.quoted ? new RegExp(escapeRegExp(found.literal), "g") : new RegExp(`(?<![\\w$-])${escapeRegExp(found.literal)}(?![\\w-])`, "g");
  area.value = area.value.replace(pattern, `{{${p.name}}}`);
  p.literal = found.literal;
  state.params.push(p);
  clear($("new-param"));
  renderParams();
  scheduleCheck();
}

// --- the live check --------------------------------------------------------------------

function scheduleCheck() {
  clearTimeout(state.checkTimer);
  state.checkTimer = setTimeout(runCheck, 250);
}

function showErrors(errors) {
  $("body-error").textContent = "";
  state.params.forEach((_, i) => ($(`perr-${i}`) ? ($(`perr-${i}`).textContent = "") : null));
  const other = [];
  for (const [path, message] of Object.entries(errors)) {
    const name = path.split(".").slice(1).join(".");
    const index = state.params.findIndex((p) => p.name === name);
    if (index >= 0 && $(`perr-${index}`)) $(`perr-${index}`).textContent = `${path.startsWith("examples") ? "Example: " : ""}${message}`;
    else if (/body|language/.test(path) || !name) $("body-error").textContent = message;
    else other.push(`${name}: ${message}`);
  }
  if (other.length) $("body-error").textContent = other.join("; ");
}

async function runCheck() {
  const seq = ++state.checkSeq;
  $("check-status").textContent = "Checking…";
  let result;
  try {
    result = await api("POST", "api/v1/scripts/builder/check", {
      language: state.language,
      body: $("body").value,
      parameters_schema: schema(),
      examples: examples(),
      source: state.source || undefined,
    });
  } catch (error) {
    if (seq !== state.checkSeq) return;
    $("check-status").textContent = error.message;
    return;
  }
  if (seq !== state.checkSeq) return;
  showErrors(result.errors);
  $("check-status").textContent = result.valid ? "The template is valid." : "Fix the problems marked beside the parameters.";
  $("preview").firstChild.textContent = result.preview || "";
  clear($("preview-findings")).append(findingsList(result.findings) || "");
  const trip = result.round_trip;
  $("round-trip").textContent = trip ? `Round trip: ${trip.detail}` : "";
  $("round-trip").className = `round-trip small ${trip ? (trip.reproduces ? "ok" : "off") : ""}`;
}

// --- save and publish ------------------------------------------------------------------

function templateFields() {
  return {
    name: $("name").value.trim(),
    description: $("description").value.trim(),
    keywords: $("keywords").value.split(",").map((k) => k.trim()).filter(Boolean),
  };
}

function saved(...content) {
  const box = clear($("save-result"));
  box.className = "result ok";
  box.append(...content);
}

async function saveDraft() {
  const { name } = templateFields();
  if (!name) {
    $("name-error").textContent = "Give the template a name.";
    $("name").focus();
    return;
  }
  $("name-error").textContent = "";
  const draft = await guarded(() => api("POST", "api/v1/scripts/draft-templates", {
    name,
    language: state.language,
    templated_body: $("body").value,
    parameters_schema: schema(),
    source: state.source || undefined,
  }));
  if (!draft) return;
  state.draftId = draft.id;
  saved(`Saved draft #${draft.id} for the library. `, el("a", { href: pageUrl("scripts", { ticket: params.get("ticket") }), text: "Open the library" }));
}

/** Runs a save; 422 field errors land beside their fields (null then). */
async function guarded(request) {
  try {
    return await request();
  } catch (error) {
    const fields = fieldErrors(error);
    if (error instanceof ApiFailure && error.status === 422 && Object.keys(fields).length && error.code !== "unacknowledged_findings") {
      showErrors(fields);
      return null;
    }
    throw error;
  }
}

async function publish(acknowledged) {
  const fields = templateFields();
  if (!fields.name) {
    $("name-error").textContent = "Give the template a name.";
    return;
  }
  const ack = { acknowledge_findings: Boolean(acknowledged) };
  let template;
  try {
    template = await guarded(async () => {
      if (state.draftId) {
        await api("PUT", `api/v1/scripts/draft-templates/${state.draftId}`, { name: fields.name, templated_body: $("body").value, parameters_schema: schema() });
        return api("POST", `api/v1/scripts/draft-templates/${state.draftId}/promote`, Object.assign({}, fields, ack));
      }
      return api("POST", "api/v1/scripts/templates", Object.assign({ language: state.language, body: $("body").value, parameters_schema: schema() }, fields, ack));
    });
  } catch (error) {
    if (error instanceof ApiFailure && error.code === "unacknowledged_findings") return askAcknowledgement(error.details.findings || []);
    throw error;
  }
  if (!template) return;
  $("acknowledge").hidden = true;
  saved(`Published "${template.name}" to the library. `, el("a", { href: pageUrl("scripts", { ticket: params.get("ticket") }), text: "Open the library" }));
  $("publish-btn").disabled = true;
  $("publish-btn").dataset.keepDisabled = "1";
}

/** The explicit step before publishing a script with high-severity findings. */
function askAcknowledgement(findings) {
  const box = clear($("acknowledge"));
  box.hidden = false;
  const check = el("input", { id: "ack-check", type: "checkbox" });
  const go = el("button", { type: "button", class: "btn primary", text: "Publish anyway", disabled: true });
  check.addEventListener("change", () => (go.disabled = !check.checked));
  go.addEventListener("click", () => act(go, () => publish(true)));
  box.append(findingsList(findings, { title: "Before publishing: this script does something dangerous" }),
    el("label", { for: "ack-check" }, check, " I have read these findings and the template must do this"), el("div", { class: "actions" }, go));
  check.focus();
}

// --- loading ---------------------------------------------------------------------------

function open(proposal) {
  state.language = proposal.language;
  $("language-name").textContent = proposal.language;
  $("body").value = proposal.templated_body;
  $("name").value = proposal.name || "";
  state.params = (proposal.parameters_schema || []).map((spec) => paramFromSpec(spec, (proposal.examples || {})[spec.name]));
  $("start").hidden = true;
  $("workspace").hidden = false;
  renderParams();
  runCheck();
}

function describeProposal(proposal, where) {
  const count = (proposal.parameters_schema || []).length;
  $("builder-source").textContent = `${where}. ${proposal.fell_back
    ? `No parameters were proposed (${proposal.reason || "the extraction fell back"}): mark them yourself.`
    : `The extraction proposed ${count} parameter${count === 1 ? "" : "s"}, marked below.`}`;
}

async function load() {
  const fromSession = params.get("from_session");
  const fix = params.get("fix");
  const draft = params.get("draft");
  if (fromSession && fix) {
    state.source = { session_id: Number(fromSession), fix_id: Number(fix) };
    $("builder-source").textContent = "Proposing parameters…";
    const proposal = await api("POST", "api/v1/scripts/builder/proposal", state.source);
    describeProposal(proposal, `From fix #${fix} of session #${fromSession}`);
    open(proposal);
  } else if (draft) {
    const found = await api("GET", `api/v1/scripts/draft-templates/${Number(draft)}`);
    state.draftId = found.id;
    $("builder-source").textContent = `Editing draft #${found.id}.`;
    open({ language: found.language, templated_body: found.templated_body, parameters_schema: found.parameters_schema, name: found.name });
  } else {
    $("start").hidden = false;
    $("builder-source").textContent = "Paste a script to build a template from.";
  }
}

function wire() {
  const area = $("body");
  const selectionChanged = () => ($("mark-btn").disabled = area.selectionStart === area.selectionEnd);
  for (const event of ["select", "keyup", "mouseup", "focus"]) area.addEventListener(event, selectionChanged);
  area.addEventListener("input", scheduleCheck);
  $("mark-btn").addEventListener("click", newParamForm);
  $("save-draft-btn").addEventListener("click", (e) => act(e.currentTarget, saveDraft, { busyText: "Saving…" }));
  $("publish-btn").addEventListener("click", (e) => act(e.currentTarget, () => publish(false), { busyText: "Publishing…" }));
  $("start-btn").addEventListener("click", (e) => act(e.currentTarget, async () => {
    const script = $("start-script").value;
    if (!script.trim()) return;
    state.source = { script, language: $("start-language").value || undefined };
    const proposal = await api("POST", "api/v1/scripts/builder/proposal", state.source);
    describeProposal(proposal, "From your script");
    open(proposal);
  }, { busyText: "Proposing…" }));
}

async function main() {
  await startPage({ wantAdmin: true });
  $("main").hidden = false;
  $("publish-btn").hidden = session.role !== "admin";
  wire();
  await load();
}

main().catch((error) => toast(error.message || "Something went wrong.", "error"));
