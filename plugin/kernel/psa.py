"""Each account's PSA: its validated connection, the one answer to "has it a PSA?", and the
provider built for it through the vendor registry."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import aiohttp
import structlog
from pydantic import BaseModel, ValidationError

from plugin.kernel.preferences import StatusTarget, boards_to_read
from plugin.kernel.settings import Settings
from plugin.kernel.tenancy import Account
from providers.psa import (
    LOCAL,
    PSA_VENDORS,
    LocalProvider,
    PSAProvider,
    PSAVendor,
    TicketStatus,
    stored_connection,
)

log = structlog.get_logger("fixpilot.psa")


def vendor_of(account: Account) -> PSAVendor | None:
    return PSA_VENDORS.get(account.psa_provider) if account.psa_provider != LOCAL else None


def psa_connection(account: Account) -> BaseModel | None:
    """The account's PSA connection, validated by its vendor's model; None without one (or
    with one that no longer validates, which is logged: the account works as local)."""
    vendor = vendor_of(account)
    if vendor is None or not account.psa_config:
        return None
    try:
        return vendor.connection.model_validate(account.psa_config)
    except ValidationError as exc:
        log.warning(
            "psa_connection_invalid",
            account=account.slug,
            provider=account.psa_provider,
            fields=[".".join(map(str, e["loc"])) for e in exc.errors()],
        )
        return None


def has_psa(account: Account) -> bool:
    return psa_connection(account) is not None


def psa_label(account: Account) -> str:
    vendor = vendor_of(account)
    return vendor.label if vendor is not None else "the PSA"


def set_psa_connection(account: Account, provider: str, connection: BaseModel | None) -> None:
    account.psa_provider = provider if connection is not None else LOCAL
    account.psa_config = stored_connection(connection) if connection is not None else None


class PSAConnections:
    """One provider per account and connection, sharing one HTTP connection pool."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._http: aiohttp.ClientSession | None = None
        # account id → (connection fingerprint, provider)
        self._providers: dict[int, tuple[str, PSAProvider]] = {}
        self._retired: list[PSAProvider] = []

    def for_account(self, account: Account) -> PSAProvider:
        connection = psa_connection(account)
        vendor = vendor_of(account)
        if connection is None or vendor is None:
            return LocalProvider()
        options: dict[str, Any] = {
            "rate_limit_per_minute": self.settings.cw_rate_limit_per_minute,
            **self.settings.psa_client_options,
        }
        # The fingerprint changes when the connection does: an edited account gets a new
        # client (the old one may still be finishing a request, so it is closed at exit).
        fingerprint = connection_fingerprint(account, options)
        current = self._providers.get(account.id)
        if current is not None and current[0] == fingerprint:
            return current[1]
        if current is not None:
            self._retired.append(current[1])
        if self._http is None or self._http.closed:
            # No cookie jar: accounts on one ConnectWise host must not share its cookies.
            self._http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        provider = vendor.factory(connection, options, self._http)
        self._providers[account.id] = (fingerprint, provider)
        return provider

    async def aclose(self) -> None:
        for provider in [p for _, p in self._providers.values()] + self._retired:
            await provider.aclose()
        self._providers.clear()
        self._retired.clear()
        if self._http is not None:
            await self._http.close()


def connection_fingerprint(account: Account, extra: dict[str, Any] | None = None) -> str:
    """A digest that changes whenever the account's PSA connection does."""
    material = json.dumps(
        [account.psa_provider, account.psa_config, extra or {}], sort_keys=True, default=str
    )
    return hashlib.sha256(material.encode()).hexdigest()


async def read_board_statuses(
    psa: PSAProvider, targets: list[StatusTarget]
) -> dict[int, list[TicketStatus]]:
    """The statuses of every existing board the targets need (a missing board is absent)."""
    boards = await psa.list_boards()
    existing = {board.id for board in boards}
    return {
        board_id: await psa.list_board_statuses(board_id)
        for board_id in boards_to_read(targets, boards)
        if board_id in existing
    }
