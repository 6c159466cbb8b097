/* The script library page: search and filter the templates, each with its track record and
 * the lint's findings; drafts to review (admins publish — acknowledging high findings
 * explicitly — edit in the Script Builder, or discard). */

import { ApiFailure, api, fieldErrors, pageUrl, params, session } from "./api.js";
import { $, act, clear, el, findingsList, toast } from "./dom.js";
import { fuzzyScore } from "./palette.js";
import { startPage } from "./page.js";

const state = { templates: [], drafts: [] };

function matches(template, query) {
  if (!query.trim()) return 1;
  const text = [template.name, template.slug, template.description, ...(template.keywords || [])].join(" ");
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.every((w) => text.toLowerCase().includes(w))) return 1000;
  return fuzzyScore(query, template.name);
}

function trackRecord(record) {
  const runs = record.applied || 0;
  return el("p", { class: "record" },
    el("strong", { text: `${runs} run${runs === 1 ? "" : "s"}` }), " · ",
    el("span", { class: "worked", text: `${record.worked} worked` }), " · ",
    el("span", { class: "failed", text: `${record.failed} failed` }),
    record.partial ? ` · ${record.partial} partly` : "", record.pending ? ` · ${record.pending} waiting` : "",
    ` · suggested ${record.suggested}×`);
}

function templateCard(template) {
  return el("article", { class: "card template-card", "data-slug": template.slug, "aria-labelledby": `t-${template.id}` },
    el("div", { class: "template-head" }, el("h3", { id: `t-${template.id}`, class: "fix-title", text: template.name }),
      el("span", { class: "chip", text: template.language }), el("span", { class: "chip", text: template.origin })),
    el("p", { class: "muted small", text: template.description }),
    template.keywords && template.keywords.length ? el("p", { class: "keywords" }, template.keywords.map((k) => el("span", { class: "chip", text: k }))) : null,
    trackRecord(template.track_record),
    findingsList(template.findings),
    el("details", {}, el("summary", { text: "Script and parameters" }),
      el("p", { class: "small" }, (template.parameters_schema || []).map((p) => el("code", { class: "param-name", text: `${p.name}${p.sensitive ? " (sensitive)" : ""} ` }))),
      el("pre", { class: "script", tabindex: "0", "aria-label": `${template.name} script` }, el("code", { text: template.body }))));
}

function renderTemplates() {
  const query = $("search").value;
  const language = $("language").value;
  const shown = state.templates
    .filter((t) => !language || t.language === language)
    .map((t) => ({ t, score: matches(t, query) }))
    .filter((x) => x.score >= 0)
    .sort((a, b) => b.score - a.score || a.t.name.localeCompare(b.t.name))
    .map((x) => x.t);
  $("count").textContent = `${shown.length} of ${state.templates.length} templates`;
  clear($("templates")).append(...shown.map(templateCard));
  if (!shown.length) $("templates").append(el("p", { class: "muted", text: "No template matches." }));
}

function publishForm(draft) {
  const id = `d-${draft.id}`;
  const high = (draft.findings || []).filter((f) => f.severity === "high");
  const name = el("input", { id: `${id}-name`, type: "text", value: draft.name, maxlength: "200" });
  const description = el("textarea", { id: `${id}-description`, rows: "2", maxlength: "4000" });
  const keywords = el("input", { id: `${id}-keywords`, type: "text", placeholder: "spooler, printer, queue" });
  const acknowledge = el("input", { id: `${id}-ack`, type: "checkbox" });
  const error = el("p", { id: `${id}-error`, class: "field-error", role: "alert" });
  const form = el("form", { class: "publish-form" },
    el("div", { class: "field-row" }, el("label", { for: `${id}-name`, class: "field-label", text: "Name" }), name),
    el("div", { class: "field-row" }, el("label", { for: `${id}-description`, class: "field-label", text: "Description (the assistant matches on it)" }), description),
    el("div", { class: "field-row" }, el("label", { for: `${id}-keywords`, class: "field-label", text: "Keywords (comma-separated)" }), keywords),
    high.length ? el("div", { class: "field-row acknowledge" }, el("label", { for: `${id}-ack` }, acknowledge,
      ` I have read the ${high.length} high-severity finding${high.length > 1 ? "s" : ""} above; publish it anyway`)) : null,
    error,
    el("div", { class: "actions" }, el("button", { type: "submit", class: "btn primary", text: "Publish" })));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(event.submitter, async () => {
      error.textContent = "";
      try {
        await api("POST", `api/v1/scripts/draft-templates/${draft.id}/promote`, {
          name: name.value.trim() || undefined,
          description: description.value.trim(),
          keywords: keywords.value.split(",").map((k) => k.trim()).filter(Boolean),
          acknowledge_findings: acknowledge.checked,
        });
      } catch (failure) {
        if (failure instanceof ApiFailure && failure.code === "unacknowledged_findings") {
          error.textContent = "This script has high-severity findings: tick the acknowledgement to publish it.";
          return;
        }
        const fields = fieldErrors(failure);
        if (Object.keys(fields).length) {
          error.textContent = Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join("; ");
          return;
        }
        throw failure;
      }
      toast(`Published "${name.value.trim() || draft.name}" to the library.`, "ok");
      await load();
    });
  });
  return form;
}

function draftCard(draft) {
  const admin = session.role === "admin";
  return el("article", { class: "card template-card draft-card", "aria-labelledby": `d-${draft.id}-title` },
    el("div", { class: "template-head" }, el("h3", { id: `d-${draft.id}-title`, class: "fix-title", text: draft.name }),
      el("span", { class: "chip", text: draft.language }), el("span", { class: "chip", text: `draft #${draft.id}` })),
    el("p", { class: "small" }, "Parameters: ", (draft.parameters_schema || []).length
      ? draft.parameters_schema.map((p) => el("code", { class: "param-name", text: `${p.name}${p.sensitive ? " (sensitive)" : ""} ` }))
      : "none"),
    findingsList(draft.findings),
    el("details", {}, el("summary", { text: "Template body" }),
      el("pre", { class: "script", tabindex: "0", "aria-label": `${draft.name} template` }, el("code", { text: draft.templated_body }))),
    admin
      ? el("div", { class: "actions" },
          el("a", { class: "btn small", href: pageUrl("scripts/builder", { draft: draft.id, ticket: params.get("ticket") }), text: "Edit in the Builder" }),
          el("button", {
            type: "button",
            class: "btn small link",
            text: "Discard",
            onclick: (e) => act(e.currentTarget, async () => {
              await api("POST", `api/v1/scripts/draft-templates/${draft.id}/discard`);
              await load();
            }),
          }))
      : el("p", { class: "muted small", text: "An admin reviews and publishes drafts." }),
    admin ? el("details", { class: "publish" }, el("summary", { text: "Publish to the library" }), publishForm(draft)) : null);
}

function renderDrafts() {
  clear($("drafts")).append(...state.drafts.map(draftCard));
  if (!state.drafts.length) $("drafts").append(el("p", { class: "muted", text: "No drafts waiting." }));
}

async function load() {
  const [templates, drafts] = await Promise.all([
    api("GET", "api/v1/scripts/templates?limit=500"),
    api("GET", "api/v1/scripts/draft-templates?limit=200"),
  ]);
  state.templates = templates.items || [];
  state.drafts = drafts.items || [];
  renderTemplates();
  renderDrafts();
}

async function main() {
  await startPage({ wantAdmin: true });
  $("main").hidden = false;
  $("filters").addEventListener("submit", (e) => e.preventDefault());
  $("search").addEventListener("input", renderTemplates);
  $("language").addEventListener("change", renderTemplates);
  await load();
}

main().catch((error) => toast(error.message || "Something went wrong.", "error"));
