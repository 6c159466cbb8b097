/* A small modal prompt (the #ask-dialog): a text, optional or required, and for secrets a
 * password field beside it. Resolves with the text ({text, secret} for secrets), or null. */

import { $, el } from "./dom.js";

export function ask({ title, label, value, placeholder, maxLength, optional, secret, okText, hint }) {
  const dialog = $("ask-dialog");
  const input = $("ask-input");
  const extra = $("ask-extra");
  $("ask-title").textContent = title;
  $("ask-label").textContent = label;
  $("ask-hint").textContent = hint || "";
  $("ask-error").hidden = true;
  $("ask-ok").textContent = okText || "Save";
  input.value = value || "";
  input.placeholder = placeholder || "";
  input.maxLength = maxLength || 1000;
  input.rows = secret ? 1 : 3;
  extra.replaceChildren();
  let secretInput = null;
  if (secret) {
    secretInput = el("input", { id: "ask-secret", type: "password", autocomplete: "off", spellcheck: "false", maxlength: "10000" });
    extra.append(el("label", { for: "ask-secret", class: "field-label", text: secret.label }), secretInput);
  }
  return new Promise((resolve) => {
    const finish = (result) => {
      $("ask-form").removeEventListener("submit", onSubmit);
      $("ask-cancel").removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      if (dialog.open) dialog.close();
      if (secretInput) secretInput.value = "";
      resolve(result);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      const text = input.value.trim();
      const missing = (!text && !optional) || (secretInput && secretInput.value.length < 4);
      if (missing) {
        $("ask-error").textContent = secretInput && text ? "The secret is too short." : "Please write something.";
        $("ask-error").hidden = false;
        (text || !secretInput ? secretInput || input : input).focus();
        return;
      }
      finish(secretInput ? { text, secret: secretInput.value } : text);
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
