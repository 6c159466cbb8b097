"""A simulated ConnectWise Service Ticket screen that hosts a pod.

`GET /_sim/tickets` lists the tickets, each linked to its screen (`?pod=` and `?member=`
are passed on). `GET /_sim/ticket/{id}?pod=<pod url>&member=jsmith` shows the ticket and
frames the pod,
playing the parent side of the Hosted API postMessage protocol in `hosted.js`: it answers
`ready` with a MessageFrameID, answers getMemberAuthentication with the member's id and
memberHash, sends onLoad (and beforeSave on Save), and reloads the ticket on refreshScreen.

The page is served from the simulator's origin, which is the ConnectWise origin a pod
configured for this simulator must accept. Without `pod`, the first hosted setup of type
Pod registered on the Service Ticket screen is used (what `fixpilot connectwise install`
registers); as in ConnectWise, a pod registered on another screen does not show here.
`[cw_id]` and `[cw_screen]` in the pod URL are substituted as ConnectWise does.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from providers.psa.simulator.context import state_of
from providers.psa.simulator.records import (
    HUMAN_MEMBER,
    SERVICE_TICKET_SCREEN_ID,
    SimError,
)
from providers.psa.simulator.state import SimulatorState

_HERE = Path(__file__).parent
_ASSETS = {"hosted.js": "text/javascript", "hosted.css": "text/css"}
POD_HEIGHT = 640
SCREEN = "ticket"


async def ticket_screen(request: web.Request) -> web.Response:
    state = state_of(request)
    ticket_id = int(request.match_info["id"])
    try:
        ticket = state.ticket(ticket_id)
    except SimError as exc:
        return _problem(404, exc.message)
    member = state.member(request.query.get("member", HUMAN_MEMBER))
    if member is None or not member.member_hash:
        return _problem(404, "No such member, or the member cannot use pods.")
    pod_url = request.query.get("pod") or _registered_pod_url(state)
    if not pod_url:
        return _problem(400, _no_pod_message(state))
    pod_url = pod_url.replace("[cw_id]", str(ticket_id)).replace("[cw_screen]", SCREEN)
    pod_origin = _origin(pod_url)
    if pod_origin is None:
        return _problem(400, "The pod URL must be an absolute http(s) URL.")
    page = _page(ticket, member.identifier, pod_url)
    return web.Response(
        text=page,
        content_type="text/html",
        headers={
            "Content-Security-Policy": (
                "default-src 'none'; script-src 'self'; style-src 'self'; "
                f"connect-src 'self'; img-src 'self' data:; frame-src {pod_origin}; "
                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
            ),
            "Cache-Control": "no-store",
        },
    )


async def screen_data(request: web.Request) -> web.Response:
    """What the screen shows, and the member authentication it hands the pod."""
    state = state_of(request)
    try:
        ticket = state.ticket(int(request.match_info["id"]))
    except SimError as exc:
        return web.json_response({"message": exc.message}, status=404)
    member = state.member(request.query.get("member", HUMAN_MEMBER))
    if member is None or not member.member_hash:
        return web.json_response({"message": "unknown member"}, status=404)
    return web.json_response(
        {
            "ticket": _ticket_view(ticket),
            "notes": [_note_view(n) for n in state.notes.get(ticket["id"], [])],
            # getMemberAuthentication's data: memberContext travels with the hash.
            "auth": {
                "site": request.host,
                "companyid": state.company_id,
                "memberid": member.identifier,
                "memberHash": member.member_hash,
                "memberContext": member.member_context,
                "memberEmail": member.email,
            },
        },
        headers={"Cache-Control": "no-store"},
    )


async def asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in _ASSETS:
        return _problem(404, "No such file.")
    return web.FileResponse(
        _HERE / name, headers={"Content-Type": _ASSETS[name], "Cache-Control": "no-cache"}
    )


async def ticket_list(request: web.Request) -> web.Response:
    """Every ticket, each linked to its screen with the pod (the registered one, or the
    `pod` URL this page was given)."""
    state = state_of(request)
    query = {k: v for k, v in request.query.items() if k in ("pod", "member") and v}
    rows = "\n".join(_ticket_row(ticket, query) for _, ticket in sorted(state.tickets.items()))
    pod = query.get("pod") or _registered_pod_url(state)
    hint = (
        f"Each ticket opens with the pod {html.escape(pod)}."
        if pod
        else html.escape(_no_pod_message(state))
    )
    return web.Response(
        text=_list_page(rows, hint),
        content_type="text/html",
        headers={
            "Content-Security-Policy": (
                "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; "
                "frame-ancestors 'none'"
            ),
            "Cache-Control": "no-store",
        },
    )


HOSTED_ROUTES = [
    web.get("/_sim/tickets", ticket_list),
    web.get(r"/_sim/ticket/{id:\d+}", ticket_screen),
    web.get(r"/_sim/ticket/{id:\d+}/screen-data", screen_data),
    web.get("/_sim/static/{name}", asset),
]


def _pod_setups(state: SimulatorState) -> list[dict[str, Any]]:
    return [
        setup
        for setup in state.hosted_setups.values()
        if str(setup.get("type", "")).lower() == "pod" and setup.get("url")
    ]


def _registered_pod_url(state: SimulatorState) -> str | None:
    for setup in _pod_setups(state):
        if str(setup.get("screenId")) == str(SERVICE_TICKET_SCREEN_ID):
            return str(setup["url"])
    return None


def _no_pod_message(state: SimulatorState) -> str:
    message = (
        f"No pod is registered on the Service Ticket screen (screen id "
        f"{SERVICE_TICKET_SCREEN_ID}). Register one, or pass the pod URL as "
        "?pod=http://…/pod?id=[cw_id]&screen=[cw_screen]."
    )
    elsewhere = sorted({str(setup.get("screenId")) for setup in _pod_setups(state)})
    if elsewhere:
        message += f" Pods are registered on other screens: {', '.join(elsewhere)}."
    return message


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _ticket_view(ticket: dict[str, Any]) -> dict[str, Any]:
    def name(key: str) -> str | None:
        value = ticket.get(key)
        return value.get("name") if isinstance(value, dict) else None

    merged = ticket.get("mergedParentTicket")
    return {
        "id": ticket["id"],
        "summary": ticket.get("summary"),
        "status": name("status"),
        "status_id": (ticket.get("status") or {}).get("id"),
        "board": name("board"),
        "company": name("company"),
        "contact": name("contact"),
        "closed": bool(ticket.get("closedFlag")),
        "merged_into": merged.get("id") if isinstance(merged, dict) else None,
        "updated_by": (ticket.get("_info") or {}).get("updatedBy"),
    }


def _note_view(note: dict[str, Any]) -> dict[str, Any]:
    kind = (
        "Resolution"
        if note.get("resolutionFlag")
        else "Internal"
        if note.get("internalAnalysisFlag")
        else "Discussion"
    )
    return {
        "id": note.get("id"),
        "kind": kind,
        "text": note.get("text"),
        "member": (note.get("member") or {}).get("name")
        or (note.get("member") or {}).get("identifier"),
        "created_by": note.get("createdBy"),
        "date": note.get("dateCreated"),
    }


def _page(ticket: dict[str, Any], member: str, pod_url: str) -> str:
    e = html.escape
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>#{ticket["id"]} {e(str(ticket.get("summary") or ""))} · ConnectWise (simulated)</title>
  <link rel="stylesheet" href="/_sim/static/hosted.css">
  <script src="/_sim/static/hosted.js" defer></script>
</head>
<body data-ticket-id="{ticket["id"]}" data-member="{e(member)}" data-pod-url="{e(pod_url)}"
      data-screen="{SCREEN}">
  <header class="nav">ConnectWise PSA <span class="sim">simulated</span>
    <a class="all" href="/_sim/tickets">All tickets</a>
    <span class="who">Signed in as {e(member)}</span></header>
  <main class="screen">
    <section class="ticket" aria-labelledby="sim-summary">
      <div class="ticket-head">
        <h1>Service Ticket #{ticket["id"]} <span id="sim-summary"></span></h1>
        <span class="save"><button id="sim-save" type="button">Save</button>
          <span id="sim-save-state" role="status"></span></span>
      </div>
      <dl class="fields">
        <div><dt>Company</dt><dd id="sim-company"></dd></div>
        <div><dt>Contact</dt><dd id="sim-contact"></dd></div>
        <div><dt>Board</dt><dd id="sim-board"></dd></div>
        <div><dt>Status</dt><dd id="sim-status"></dd></div>
        <div><dt>Closed</dt><dd id="sim-closed"></dd></div>
        <div><dt>Last updated by</dt><dd id="sim-updated-by"></dd></div>
      </dl>
      <p class="refreshed">Screen loaded <span id="sim-loads">0</span> time(s)</p>
    </section>
    <section class="pod" aria-label="Fixpilot pod">
      <iframe id="pod-frame" title="Fixpilot" height="{POD_HEIGHT}"
              allow="clipboard-write"></iframe>
    </section>
    <section class="notes" aria-labelledby="notes-title">
      <h2 id="notes-title">Notes</h2>
      <ol id="sim-notes"></ol>
    </section>
    <details class="log">
      <summary>Hosted API messages</summary>
      <ol id="protocol-log"></ol>
    </details>
  </main>
</body>
</html>
"""


def _ticket_row(ticket: dict[str, Any], query: dict[str, str]) -> str:
    e = html.escape
    view = _ticket_view(ticket)
    link = f"/_sim/ticket/{ticket['id']}" + (f"?{urlencode(query)}" if query else "")
    return (
        f'<tr><td><a href="{e(link)}">#{ticket["id"]}</a></td>'
        f"<td>{e(str(view['summary'] or ''))}</td><td>{e(str(view['company'] or ''))}</td>"
        f"<td>{e(str(view['board'] or ''))}</td><td>{e(str(view['status'] or ''))}</td>"
        f"<td>{'closed' if view['closed'] else ''}</td></tr>"
    )


def _list_page(rows: str, hint: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Service tickets · ConnectWise (simulated)</title>
  <link rel="stylesheet" href="/_sim/static/hosted.css">
</head>
<body>
  <header class="nav">ConnectWise PSA <span class="sim">simulated</span></header>
  <main class="screen">
    <section class="tickets" aria-labelledby="tickets-title">
      <h1 id="tickets-title">Service tickets</h1>
      <p class="refreshed">{hint}</p>
      <table>
        <thead><tr><th>Ticket</th><th>Summary</th><th>Company</th><th>Board</th>
          <th>Status</th><th></th></tr></thead>
        <tbody>
{rows}
        </tbody>
      </table>
    </section>
  </main>
</body>
</html>
"""


def _problem(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message, content_type="text/plain")
