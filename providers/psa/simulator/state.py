"""The ConnectWise simulator's world: the site's identity and credentials, its records,
what integrations registered, fault settings, and what happened (requests, deliveries).

The operations live in mixins by concern: `TicketOperations` (tickets and notes) and
`Registrations` (callbacks, hosted setups, signing keys). `save`/`load` keep the records
across restarts (see `persistence`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from providers.psa.simulator.faults import Faults
from providers.psa.simulator.records import (
    API_PREFIX,
    CLASSIC_CODEBASE,
    CLOUD_CODEBASE,
    SimBoard,
    SimMember,
)
from providers.psa.simulator.registrations import Registrations
from providers.psa.simulator.tickets import TicketOperations

if TYPE_CHECKING:
    from providers.psa.simulator.emitter import CallbackEmitter


@dataclass
class Delivery:
    """One callback POST the simulator made (for tests and the demo)."""

    url: str
    action: str
    record_id: int
    status: int | None
    error: str | None = None


@dataclass
class SimulatorState(TicketOperations, Registrations):
    company_id: str = "fixpilot_demo"
    public_key: str = "SimPublicKey0001"
    private_key: str = "SimPrivateKey0001"
    client_id: str = "7c1f8c53-2d3e-4f5a-9b6c-0d1e2f3a4b5c"
    api_member_id: str = "fixpilot_api"
    # scheme://host:port as clients reach the simulator; learned from the first request
    # when unset (callbacks sent before any request then carry no usable key_url).
    site_url: str | None = None
    # Answer companyinfo as ConnectWise Cloud does (a versioned codebase, IsCloud true).
    cloud: bool = False
    # Whether a member's hash is accepted over Basic `company+member:hash`; a site that
    # insists on the Hosted API's cookies (with memberContext) refuses it.
    member_hash_over_basic: bool = True
    companies: dict[int, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    boards: dict[int, SimBoard] = field(default_factory=dict)
    members: dict[str, SimMember] = field(default_factory=dict)  # by lowercased identifier
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # by ticket id
    kb_articles: dict[int, dict[str, Any]] = field(default_factory=dict)
    callbacks: dict[int, dict[str, Any]] = field(default_factory=dict)
    hosted_setups: dict[int, dict[str, Any]] = field(default_factory=dict)
    signing_keys: dict[int, str] = field(default_factory=lambda: {1: secrets.token_urlsafe(32)})
    signing_key_guids: dict[int, str] = field(default_factory=dict)  # key id → GUID in its URL
    # Paths (relative to the API base) the API member may not use → 403. An entry is either
    # "system/callbacks" (any method) or "POST system/callbacks" (that method only).
    denied_paths: set[str] = field(default_factory=set)
    # A workflow rule: after a save leaves a ticket in status K, move it to status V.
    workflow_revert_status: dict[int, int] = field(default_factory=dict)
    emit_callbacks: bool = True
    faults: Faults = field(default_factory=Faults)
    deliveries: list[Delivery] = field(default_factory=list)
    # (method, path) of every request to the site: API paths relative to `apis/3.0/`, other
    # paths (the callback key) relative to the codebase.
    requests: list[tuple[str, str]] = field(default_factory=list)
    emitter: CallbackEmitter | None = field(default=None, repr=False)
    next_id: int = field(default=90000, repr=False)  # the last id handed out

    @classmethod
    def demo(cls, *, history: bool = False) -> SimulatorState:
        """The demo site; with `history`, a few hundred closed tickets with their notes."""
        from providers.psa.simulator.history_seed import seed_history
        from providers.psa.simulator.seed import seed_demo

        state = cls()
        seed_demo(state)
        if history:
            seed_history(state)
        return state

    # --- identity ------------------------------------------------------------------------

    @property
    def api_url(self) -> str | None:
        # Cloud sites too keep serving the API under the classic codebase.
        return f"{self.site_url}{API_PREFIX}/" if self.site_url else None

    @property
    def codebase(self) -> str:
        """The codebase companyinfo names: versioned on Cloud, classic otherwise."""
        return CLOUD_CODEBASE if self.cloud else CLASSIC_CODEBASE

    @property
    def served_codebases(self) -> set[str]:
        return {CLASSIC_CODEBASE, self.codebase}

    @property
    def site_host(self) -> str | None:
        """The bare host[:port] ConnectWise puts in a callback's `FromUrl`."""
        return (urlsplit(self.site_url).netloc or None) if self.site_url else None

    def member(self, identifier: str) -> SimMember | None:
        return self.members.get(identifier.lower())

    def actor_ref(self, identifier: str) -> str:
        member = self.member(identifier)
        return member.identifier if member else identifier

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    # --- persistence -------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the records (not faults, deliveries or the request log) to a JSON file."""
        from providers.psa.simulator.persistence import save_state

        save_state(self, Path(path))

    @classmethod
    def load(cls, path: str | Path) -> SimulatorState:
        from providers.psa.simulator.persistence import load_state

        return load_state(cls, Path(path))

    async def drain_callbacks(self) -> None:
        """Wait until every callback POST started so far has finished (for tests)."""
        if self.emitter is not None:
            await self.emitter.drain()
