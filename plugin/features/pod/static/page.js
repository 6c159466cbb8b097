/* What the library, the Script Builder and the admin page share: the header's links, the
 * sign-in, and the way back to the ticket when opened from the pod. */

import { pageUrl, params, session } from "./api.js";
import { elevate, signInPage } from "./auth.js";
import { $, toast, wireToast } from "./dom.js";

/** Signs the page in; `wantAdmin` asks for an admin session when the member may have one. */
export async function startPage({ role = "engineer", wantAdmin = false, adminOnly = false } = {}) {
  wireToast();
  for (const [id, path] of [["nav-library", "scripts"], ["nav-builder", "scripts/builder"], ["nav-admin", "admin"]]) {
    const link = $(id);
    if (link) link.href = pageUrl(path, { ticket: params.get("ticket") });
  }
  const back = $("nav-back");
  const ticket = params.get("ticket");
  if (back && ticket) {
    back.href = pageUrl("pod", { id: ticket });
    back.hidden = false;
  }
  await signInPage(role, { adminOnly });
  if (wantAdmin && session.mayAdmin && session.role !== "admin") {
    try {
      await elevate();
    } catch (error) {
      toast(`Signed in as an engineer: ${error.message}`, "warn");
    }
  }
  const member = $("member");
  if (member && session.member) member.textContent = `${session.member.name || session.member.id}${session.role === "admin" ? " (admin)" : ""}`;
  if ($("nav-admin")) $("nav-admin").hidden = !session.mayAdmin;
  document.body.classList.toggle("is-admin", session.role === "admin");
  return session;
}
