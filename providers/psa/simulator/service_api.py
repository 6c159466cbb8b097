"""REST handlers for ConnectWise's service module: tickets, their notes, boards, statuses."""

from __future__ import annotations

from aiohttp import web

from providers.psa.simulator.context import actor_of, drop_connection, path_id, read_json, state_of
from providers.psa.simulator.listing import count_response, list_response
from providers.psa.simulator.records import SimBoard, SimError


async def list_tickets(request: web.Request) -> web.Response:
    return list_response(request, _tickets_by_id(request))


async def count_tickets(request: web.Request) -> web.Response:
    return count_response(request, _tickets_by_id(request))


async def get_ticket(request: web.Request) -> web.Response:
    return web.json_response(state_of(request).ticket(path_id(request)))


async def patch_ticket(request: web.Request) -> web.Response:
    state = state_of(request)
    ticket = state.patch_ticket(path_id(request), await read_json(request), actor_of(request))
    return web.json_response(ticket)


async def list_notes(request: web.Request) -> web.Response:
    state = state_of(request)
    ticket_id = path_id(request)
    state.ticket(ticket_id)  # 404 for an unknown ticket
    return list_response(request, state.notes.get(ticket_id, []))


async def post_note(request: web.Request) -> web.Response:
    state = state_of(request)
    note = state.add_note(path_id(request), await read_json(request), actor_of(request))
    if state.faults.drop_after_note_stored > 0:
        state.faults.drop_after_note_stored -= 1
        return drop_connection(request)
    return web.json_response(note, status=201)


async def list_boards(request: web.Request) -> web.Response:
    boards = state_of(request).boards
    return list_response(request, [b.to_cw() for _, b in sorted(boards.items())])


async def get_board(request: web.Request) -> web.Response:
    return web.json_response(_board(request).to_cw())


async def list_board_statuses(request: web.Request) -> web.Response:
    board = _board(request)
    return list_response(request, [s.to_cw(board) for s in board.statuses])


def _tickets_by_id(request: web.Request) -> list[dict]:
    return sorted(state_of(request).tickets.values(), key=lambda t: t["id"])


def _board(request: web.Request) -> SimBoard:
    board = state_of(request).boards.get(path_id(request))
    if board is None:
        raise SimError(404, "NotFound", f"Board ID {path_id(request)} not found")
    return board


# (method, path template, handler); paths are matched case-insensitively.
SERVICE_ROUTES = [
    ("GET", "service/tickets", list_tickets),
    ("GET", "service/tickets/count", count_tickets),
    ("GET", "service/tickets/{id}", get_ticket),
    ("PATCH", "service/tickets/{id}", patch_ticket),
    ("GET", "service/tickets/{id}/notes", list_notes),
    ("POST", "service/tickets/{id}/notes", post_note),
    ("GET", "service/boards", list_boards),
    ("GET", "service/boards/{id}", get_board),
    ("GET", "service/boards/{id}/statuses", list_board_statuses),
]
