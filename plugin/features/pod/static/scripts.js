/* The inline script generator: a library template's parameters (drafted from the session,
 * a sensitive one filled from a pasted secret) rendered by the service; or, for a fix with
 * a one-off script, the three ways to run it, which lock once one is chosen. */

import { ApiFailure, api, fieldErrors, pageUrl } from "./api.js";
import { $, act, clear, el, findingsList, scriptOutput, toast } from "./dom.js";
import { afterWrite, isActive, sessionPath, store } from "./state.js";

function openDialog(title) {
  const body = clear($("script-body"));
  $("script-title").textContent = title;
  body.append(el("p", { class: "muted", text: "Loading…" }));
  if (!$("script-dialog").open) $("script-dialog").showModal();
  return body;
}

function failed(body) {
  return (error) => clear(body).append(el("p", { class: "field-error", text: error.message || "Could not load the script." }));
}

export function openScriptPanel(fix) {
  const body = openDialog(fix.template_id ? "Script from the library" : "Proposed script");
  const build = fix.template_id
    ? api("GET", `api/v1/scripts/templates/${fix.template_id}`).then((t) => templatePanel(t, body, fix.ai_drafted_parameters || {}))
    : optionsPanel(fix, body);
  build.catch(failed(body));
}

/** The generator from the palette: the active fix's template, or any template. */
export async function openGenerator() {
  const fix = store.get().session && store.get().session.active_fix;
  if (fix && fix.template_id && isActive()) return openScriptPanel(fix);
  const body = openDialog("Script Generator");
  try {
    const page = await api("GET", "api/v1/scripts/templates?limit=500");
    const picker = el("select", { id: "generator-template" }, el("option", { value: "", text: "— choose a template —" }),
      (page.items || []).map((t) => el("option", { value: String(t.id), text: `${t.name} (${t.language})` })));
    const slot = el("div");
    picker.addEventListener("change", () => {
      const template = (page.items || []).find((t) => String(t.id) === picker.value);
      clear(slot);
      if (template) templatePanel(template, slot, {}).catch(failed(slot));
    });
    clear(body).append(el("label", { for: "generator-template", class: "field-label", text: "Template" }), picker, slot);
    picker.focus();
  } catch (error) {
    failed(body)(error);
  }
}

function parameterInput(spec, id, drafted) {
  const has = drafted !== undefined && drafted !== null && !spec.sensitive;
  const initial = has ? drafted : spec.default;
  const common = { id, name: spec.name, "aria-describedby": `${id}-hint ${id}-error` };
  if (spec.type === "boolean") return el("input", Object.assign({ type: "checkbox", checked: initial === true }, common));
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

function inputValue(spec, input, secretPick) {
  if (secretPick && secretPick.value) return { secret_ref: Number(secretPick.value) };
  if (spec.type === "boolean") return input.checked;
  const raw = input.value.trim();
  if (raw === "") return undefined;
  if (spec.type === "integer" && /^-?\d+$/.test(raw)) return Number(raw);
  return raw;
}

async function pastedSecrets() {
  const s = store.get().session;
  if (!s) return [];
  try {
    return (await api("GET", sessionPath("/secrets"))).items || [];
  } catch (_) {
    return [];
  }
}

/** A sensitive parameter may be filled by a secret the engineer pasted into the session. */
function secretPicker(id, secrets, input) {
  if (!secrets.length) return null;
  const select = el("select", { id: `${id}-secret`, "aria-label": "Use a secret pasted into this session" },
    el("option", { value: "", text: "— type it, or use a pasted secret —" }),
    secrets.map((s) => el("option", { value: String(s.id), text: s.label || `${s.kind} from ${s.source}` })));
  select.addEventListener("change", () => {
    input.disabled = Boolean(select.value);
    if (select.value) input.value = "";
  });
  return select;
}

function parameterField(spec, drafted, secrets) {
  const id = `param-${spec.name}`;
  const input = parameterInput(spec, id, drafted[spec.name]);
  const fromSession = drafted[spec.name] !== undefined && drafted[spec.name] !== null && !spec.sensitive;
  const tag = fromSession ? el("span", { class: "tag from-session", text: "from session" }) : null;
  const picker = spec.sensitive ? secretPicker(id, secrets, input) : null;
  const field = { spec, input, picker };
  if (tag) {
    input.addEventListener("input", () => {
      const same = String(inputValue(spec, input)) === String(drafted[spec.name]);
      tag.textContent = same ? "from session" : "edited";
      tag.className = same ? "tag from-session" : "tag edited";
    });
  }
  field.node = el("div", { class: `field${fromSession ? " drafted" : ""}` },
    el("label", { for: id, class: "field-label" },
      el("code", { text: spec.name }),
      spec.required ? el("span", { class: "required", "aria-label": "required", text: " *" }) : null,
      spec.sensitive ? el("span", { class: "tag sensitive", text: "sensitive" }) : null,
      tag
    ),
    input,
    picker,
    el("p", { id: `${id}-hint`, class: "hint", text: spec.description || "" }),
    el("p", { id: `${id}-error`, class: "field-error" })
  );
  return field;
}

async function templatePanel(template, body, drafted) {
  const schema = template.parameters_schema || [];
  const secrets = schema.some((p) => p.sensitive) ? await pastedSecrets() : [];
  const fields = schema.map((spec) => parameterField(spec, drafted, secrets));
  const form = el("form", { class: "param-form", novalidate: true }, fields.map((f) => f.node));
  if (!schema.length) form.append(el("p", { class: "muted", text: "This template takes no parameters." }));
  const output = el("div", { class: "output-slot", "aria-live": "polite" });
  const generate = el("button", { type: "submit", class: "btn primary", text: "Generate" });
  form.append(el("div", { class: "actions" }, generate,
    el("button", { type: "button", class: "btn", text: "Close", onclick: () => $("script-dialog").close() })));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(generate, async () => {
      for (const { input } of fields) $(`${input.id}-error`).textContent = "";
      const parameters = {};
      for (const { spec, input, picker } of fields) {
        const value = inputValue(spec, input, picker);
        if (value !== undefined) parameters[spec.name] = value;
      }
      const s = store.get().session;
      let result;
      try {
        result = await api("POST", "api/v1/scripts/generate", { template_id: template.id, parameters, ai_session_id: s ? s.id : undefined });
      } catch (error) {
        if (error instanceof ApiFailure && error.status === 422 && showFieldErrors(error, fields)) return;
        throw error;
      }
      clear(output).append(scriptOutput("Rendered script", result.rendered_script, result));
      if (s) await afterWrite();
    }, { busyText: "Generating…" });
  });
  clear(body).append(
    el("div", { class: "template-head" }, el("strong", { text: template.name }), el("span", { class: "chip", text: template.language })),
    el("p", { class: "muted small", text: template.description }),
    findingsList(template.findings, { title: "This template does something dangerous: read before running" }),
    form,
    output
  );
}

function showFieldErrors(error, fields) {
  let shown = false;
  for (const [path, message] of Object.entries(fieldErrors(error))) {
    const match = fields.find(({ spec }) => path === spec.name || path.endsWith("." + spec.name));
    if (match) {
      $(`${match.input.id}-error`).textContent = message;
      shown = true;
    }
  }
  if (!shown) toast(error.message, "error");
  return true;
}

const OPTIONS = [
  ["one_off", "Run once", "Use this script for this ticket only."],
  ["draft_template", "Save as draft template", "Run it, and keep a parameterised draft for the library."],
  ["build_template", "Build template", "Open the Script Builder with this script."],
];

async function optionsPanel(fix, body) {
  const original = fix.edited_script || fix.ai_drafted_script || "";
  const area = el("textarea", { id: "proposed-script", class: "script-edit", rows: "9", spellcheck: "false" });
  area.value = original;
  const output = el("div", { class: "output-slot", "aria-live": "polite" });
  const chosen = el("p", { class: "small chosen", role: "status" });
  const buttons = [];
  const lock = (decision) => {
    const label = (OPTIONS.find((o) => o[0] === decision) || [])[1];
    for (const button of buttons) {
      button.disabled = true;
      button.dataset.keepDisabled = "1";
    }
    area.readOnly = true;
    chosen.textContent = label ? `Chosen: ${label}.` : "";
  };
  const edited = () => (area.value.trim() && area.value !== (fix.ai_drafted_script || "") ? area.value : undefined);
  const decide = (decision, button) => act(button, async () => {
    const result = await api("POST", sessionPath(`/suggested-fixes/${fix.id}/decision`), {
      decision,
      edited_script: decision === "build_template" ? undefined : edited(),
    });
    lock(decision);
    if (decision === "build_template") {
      window.location.assign(pageUrl("scripts/builder", { from_session: fix.session_id, fix: fix.id, ticket: store.get().ticketId }));
      return;
    }
    clear(output).append(scriptOutput("Script to run", result.rendered_script || "", result));
    if (result.draft_template_id) {
      output.append(el("p", { class: "result ok" }, `Saved draft template #${result.draft_template_id} for the library. `,
        el("a", { href: pageUrl("scripts", { ticket: store.get().ticketId }), text: "Review drafts" })));
    }
    await afterWrite();
  }, { busyText: decision === "draft_template" ? "Drafting the template…" : undefined });
  for (const [decision, label] of OPTIONS) {
    const button = el("button", { type: "button", class: `btn${decision === "one_off" ? " primary" : ""}`, text: label });
    button.addEventListener("click", () => decide(decision, button));
    buttons.push(button);
  }
  clear(body).append(
    el("p", { class: "muted small", text: "No library template matches this fix. Review the proposed script, then choose how to run it." }),
    findingsList(fix.findings),
    el("label", { for: "proposed-script", class: "field-label", text: "Proposed script (editable)" }),
    area,
    el("div", { class: "options", role: "group", "aria-label": "How to run it" },
      OPTIONS.map(([, , help], i) => el("div", { class: "option" }, buttons[i], el("span", { class: "muted small", text: help })))),
    chosen,
    output
  );
  if (fix.decision && fix.decision !== "dismissed") {
    lock(fix.decision);
    output.append(fix.decision === "build_template"
      ? el("p", {}, el("a", { href: pageUrl("scripts/builder", { from_session: fix.session_id, fix: fix.id, ticket: store.get().ticketId }), text: "Continue in the Script Builder" }))
      : scriptOutput("Script to run", original, { findings: [] }));
  }
}
