/* ConnectWise's Hosted API (postMessage), the framed page's side: every message a JSON
 * string, every incoming one checked against the account's ConnectWise origins and the
 * parent window. It hands over the member authentication; events are acknowledged (the
 * screen won't save until beforeSave is). */

import { config } from "./api.js";

export const framed = window.parent !== window;
const hosted = { parentOrigin: null, frameId: null };
const handlers = { onFrameId: [], onMemberAuthentication: [], onScreenLoad: [] };

export function parseMessage(data) {
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

/** Where our messages may go: the parent's origin once it spoke, else the allowed one the
 * browser reports as our parent (or every allowed origin when it can't say). */
function parentTargets() {
  if (hosted.parentOrigin) return [hosted.parentOrigin];
  const ancestors = window.location.ancestorOrigins;
  if (ancestors && ancestors.length) return config.origins.has(ancestors[0]) ? [ancestors[0]] : [];
  return Array.from(config.origins);
}

export function postToParent(message) {
  if (!framed) return;
  const text = JSON.stringify(message);
  for (const origin of parentTargets()) window.parent.postMessage(text, origin);
}

export const hasFrameId = () => hosted.frameId !== null;

export function requestMemberAuthentication() {
  if (hosted.frameId === null) return;
  postToParent({ hosted_request: "getMemberAuthentication", frameID: hosted.frameId });
}

export function requestRefreshScreen() {
  postToParent({ hosted_request: "refreshScreen", frameID: hosted.frameId });
}

export function on(name, handler) {
  handlers[name].push(handler);
}

function emit(name, value) {
  for (const handler of handlers[name]) handler(value);
}

window.addEventListener("message", (event) => {
  // Only the ConnectWise screen that frames us: right origin and really our parent.
  if (!framed || event.source !== window.parent || !config.origins.has(event.origin)) return;
  const message = parseMessage(event.data);
  if (!message) return;
  hosted.parentOrigin = event.origin;
  if (message.MessageFrameID !== undefined && message.MessageFrameID !== null) {
    hosted.frameId = String(message.MessageFrameID);
    emit("onFrameId", hosted.frameId);
    return;
  }
  const response = typeof message.response === "string" ? message.response.toLowerCase() : "";
  if (response === "getmemberauthentication") {
    emit("onMemberAuthentication", parseMessage(message.data) || {});
    return;
  }
  if (typeof message.event === "string") {
    postToParent({ event: message.event, _id: message._id, result: "success", frameID: hosted.frameId });
    if (message.event.toLowerCase() === "onload") emit("onScreenLoad", parseMessage(message.data));
  }
});

/** Tell the screen we are here: it answers with our frame id. */
export function announce() {
  postToParent({ message: "ready" });
}
