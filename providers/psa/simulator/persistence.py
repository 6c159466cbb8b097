"""Saving and loading the simulator's records as JSON, so a demo keeps its tickets, notes and
registrations across restarts beside its own database.

Saved: the site identity, records, registrations, signing keys, rules and the id counter.
Not saved: what belongs to one run (faults, deliveries, the request log, the site URL, which
the runner sets for the address it listens on).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from providers.psa.simulator.records import SimBoard, SimMember, SimStatus

if TYPE_CHECKING:
    from providers.psa.simulator.state import SimulatorState

FORMAT_VERSION = 1
_IDENTITY = ("company_id", "public_key", "private_key", "client_id", "api_member_id", "cloud")
# Records kept as ConnectWise JSON, by integer id.
_RECORDS = (
    "companies",
    "contacts",
    "tickets",
    "notes",
    "callbacks",
    "hosted_setups",
    "kb_articles",
)


def state_to_json(state: SimulatorState) -> dict[str, Any]:
    data: dict[str, Any] = {"format": FORMAT_VERSION}
    data.update({name: getattr(state, name) for name in _IDENTITY})
    data.update({name: _by_str_id(getattr(state, name)) for name in _RECORDS})
    data["boards"] = [asdict(board) for board in state.boards.values()]
    data["members"] = [asdict(member) for member in state.members.values()]
    data["signing_keys"] = _by_str_id(state.signing_keys)
    data["signing_key_guids"] = _by_str_id(state.signing_key_guids)
    data["denied_paths"] = sorted(state.denied_paths)
    data["workflow_revert_status"] = _by_str_id(state.workflow_revert_status)
    data["next_id"] = state.next_id
    return data


def state_from_json(cls: type[SimulatorState], data: dict[str, Any]) -> SimulatorState:
    if data.get("format") != FORMAT_VERSION:
        raise ValueError(f"unknown simulator state format {data.get('format')!r}")
    state = cls(**{name: data[name] for name in _IDENTITY})
    for name in _RECORDS:
        setattr(state, name, _by_int_id(data.get(name, {})))  # files older than a record
    state.boards = {b["id"]: _board(b) for b in data["boards"]}
    state.members = {m["identifier"].lower(): SimMember(**m) for m in data["members"]}
    state.signing_keys = _by_int_id(data["signing_keys"])
    state.signing_key_guids = _by_int_id(data["signing_key_guids"])
    state.denied_paths = set(data["denied_paths"])
    state.workflow_revert_status = _by_int_id(data["workflow_revert_status"])
    state.next_id = int(data["next_id"])
    return state


def save_state(state: SimulatorState, path: Path) -> None:
    """Write atomically: a crash mid-write leaves the previous file in place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(state_to_json(state), indent=1), encoding="utf-8")
    os.replace(temporary, path)


def load_state(cls: type[SimulatorState], path: Path) -> SimulatorState:
    return state_from_json(cls, json.loads(path.read_text(encoding="utf-8")))


def _board(data: dict[str, Any]) -> SimBoard:
    return SimBoard(data["id"], data["name"], [SimStatus(**s) for s in data["statuses"]])


def _by_str_id(records: dict[int, Any]) -> dict[str, Any]:
    return {str(key): value for key, value in records.items()}  # JSON keys are strings


def _by_int_id(records: dict[str, Any]) -> dict[int, Any]:
    return {int(key): value for key, value in records.items()}
