/* The Fixpilot API from the pages: where it is (relative to the page, so a path prefix
 * works), the bearer token, JSON errors as ApiFailure, and one retry after signing in again
 * when a pod token expired. */

function meta(name) {
  const node = document.querySelector(`meta[name="${name}"]`);
  return node ? node.getAttribute("content") || "" : "";
}

export const config = {
  origins: new Set(meta("fixpilot-cw-origins").split(/\s+/).filter(Boolean)),
  account: meta("fixpilot-account") || "default",
  root: meta("fixpilot-root"),
};

export const params = new URLSearchParams(window.location.search);

/** A URL of the service (path relative to its root), for fetch and for links. */
export function apiUrl(path) {
  return new URL(config.root + path.replace(/^\//, ""), document.baseURI).toString();
}

/** A page of the service, keeping the account. */
export function pageUrl(path, query) {
  const url = new URL(apiUrl(path));
  if (config.account !== "default") url.searchParams.set("account", config.account);
  // Within the PSA's frame, the next page is told who frames it (our pages send no Referer).
  if (window.parent !== window && config.origins.size === 1) url.searchParams.set("embed", Array.from(config.origins)[0]);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined) url.searchParams.set(key, String(value));
  }
  return url.toString();
}

export class ApiFailure extends Error {
  constructor(status, error) {
    super((error && error.message) || `Request failed (${status}).`);
    this.status = status;
    this.code = (error && error.code) || "http_" + status;
    this.details = (error && error.details) || {};
  }
}

// Who is signed in: set by the sign-in (auth.js); `renew` signs in again (null: can't).
export const session = { token: null, role: null, member: null, mayAdmin: false, renew: null };

/** fetch with the token; once, on an expired token, signs in again and retries. */
export async function authedFetch(path, init, retried) {
  const headers = Object.assign({ Accept: "application/json" }, init.headers || {});
  headers.Authorization = `Bearer ${session.token}`;
  const response = await fetch(apiUrl(path), Object.assign({}, init, { headers, credentials: "omit" }));
  if (response.status === 401 && !retried && session.renew) {
    try {
      await session.renew();
    } catch (_) {
      return response;
    }
    return authedFetch(path, init, true);
  }
  return response;
}

export async function api(method, path, body) {
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

/** The field errors of a 422, as {path: message}. */
export function fieldErrors(error) {
  return (error instanceof ApiFailure && error.details && error.details.fields) || {};
}
