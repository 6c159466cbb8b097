/* The parent side of ConnectWise's Hosted API, as the simulated ticket screen plays it.
 * Every message is a JSON string; only the framed pod's origin and window are listened to. */
(function () {
  "use strict";

  const body = document.body;
  const ticketId = Number(body.dataset.ticketId);
  const member = body.dataset.member;
  const podUrl = body.dataset.podUrl;
  const podOrigin = new URL(podUrl).origin;
  const frame = document.getElementById("pod-frame");
  const frameId = "pod-" + Math.random().toString(36).slice(2, 10);
  let auth = null;
  let loads = 0;
  let nextEventId = 1;
  const waitingAcks = new Map(); // event _id -> callback

  function log(direction, text) {
    const item = document.createElement("li");
    item.textContent = `${direction} ${text}`;
    document.getElementById("protocol-log").append(item);
  }

  function send(message) {
    const text = JSON.stringify(message);
    frame.contentWindow.postMessage(text, podOrigin);
    log("screen → pod", text);
  }

  function sendEvent(event, data, onAck) {
    const id = nextEventId++;
    if (onAck) waitingAcks.set(id, onAck);
    send({ event, _id: id, data: data || {} });
  }

  function text(id, value) {
    document.getElementById(id).textContent = value === null || value === undefined ? "—" : String(value);
  }

  async function loadScreen() {
    const url = `/_sim/ticket/${ticketId}/screen-data?member=${encodeURIComponent(member)}`;
    const response = await fetch(url, { cache: "no-store" });
    if (!response.ok) {
      text("sim-summary", `(could not load: ${response.status})`);
      return;
    }
    const data = await response.json();
    auth = data.auth;
    const t = data.ticket;
    text("sim-summary", t.summary);
    text("sim-company", t.company);
    text("sim-contact", t.contact);
    text("sim-board", t.board);
    text("sim-status", t.status);
    text("sim-closed", t.closed ? (t.merged_into ? `Yes (merged into #${t.merged_into})` : "Yes") : "No");
    text("sim-updated-by", t.updated_by);
    const notes = document.getElementById("sim-notes");
    notes.replaceChildren();
    for (const note of data.notes) {
      const item = document.createElement("li");
      item.className = `note ${note.kind.toLowerCase()}`;
      const head = document.createElement("div");
      head.className = "note-head";
      // ConnectWise shows who the note is by (its member); the API member entered it.
      const by = note.member && note.member !== note.created_by
        ? `${note.member} (entered by ${note.created_by})`
        : note.member || note.created_by || "";
      head.textContent = `${note.kind} · ${by}`;
      const bodyText = document.createElement("pre");
      bodyText.textContent = note.text;
      item.append(head, bodyText);
      notes.append(item);
    }
    if (!data.notes.length) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = "No notes yet.";
      notes.append(empty);
    }
    loads += 1;
    text("sim-loads", loads);
  }

  window.addEventListener("message", (event) => {
    if (event.origin !== podOrigin || event.source !== frame.contentWindow) return;
    let message = null;
    try {
      message = typeof event.data === "string" ? JSON.parse(event.data) : null;
    } catch (_) {
      return;
    }
    if (!message || typeof message !== "object") return;
    log("pod → screen", event.data);

    if (message.message === "ready") {
      send({ MessageFrameID: frameId });
      sendEvent("onLoad", { screenObject: { screen: body.dataset.screen, id: ticketId } });
    } else if (message.hosted_request === "getMemberAuthentication" && message.frameID === frameId) {
      send({ response: "getmemberauthentication", data: auth });
    } else if (message.hosted_request === "refreshScreen" && message.frameID === frameId) {
      loadScreen();
    } else if (message.event && message.result && waitingAcks.has(message._id)) {
      const onAck = waitingAcks.get(message._id);
      waitingAcks.delete(message._id);
      onAck(message.result);
    }
  });

  document.getElementById("sim-save").addEventListener("click", () => {
    // ConnectWise only saves once every pod answered beforeSave.
    const status = document.getElementById("sim-save-state");
    status.textContent = "Saving…";
    sendEvent("beforeSave", { screenObject: { screen: body.dataset.screen, id: ticketId } }, (result) => {
      status.textContent = result === "success" ? "Saved" : `Not saved (${result})`;
    });
  });

  // The pod asks for the member authentication right away: have it before framing the pod.
  loadScreen().then(() => {
    frame.src = podUrl;
  });
})();
