"""Each account's PSA: its validated connection, the one answer to "has it a PSA?", and the
provider built for it through the vendor registry.

The connection's secrets (a ConnectWise private key) are stored sealed with the instance
secret and opened only here, where the provider that uses them is built; everywhere else
a connection holds a placeholder in their place."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import aiohttp
import structlog
from pydantic import BaseModel, SecretStr, ValidationError

from plugin.kernel.preferences import StatusTarget, boards_to_read
from plugin.kernel.secret_memory import InstanceKeys, SecretBox, is_sealed, seal, unseal
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


SEALED_PLACEHOLDER = "(sealed)"


def secret_fields(model: type[BaseModel]) -> list[str]:
    """The fields of a vendor's connection model that hold secrets (stored sealed)."""
    return [name for name, info in model.model_fields.items() if info.annotation is SecretStr]


def psa_connection(account: Account, box: SecretBox | None = None) -> BaseModel | None:
    """The account's PSA connection, validated by its vendor's model; None without one (or
    with one that no longer validates, which is logged: the account works as local).

    Its sealed secrets are opened with `box`; without one they read as a placeholder
    (enough to tell that there is a connection, and to show it masked)."""
    vendor = vendor_of(account)
    if vendor is None or not account.psa_config:
        return None
    config = dict(account.psa_config)
    for name, value in config.items():
        if is_sealed(value):
            opened = unseal(box, value) if box is not None else None
            if opened is None and box is not None:
                # Sealed under another instance secret: the PSA will refuse the
                # placeholder, and `doctor` says why.
                log.error("psa_secret_unreadable", account=account.slug, field=name)
            config[name] = opened if opened is not None else SEALED_PLACEHOLDER
    try:
        return vendor.connection.model_validate(config)
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


def set_psa_connection(
    account: Account, provider: str, connection: BaseModel | None, *, box: SecretBox
) -> None:
    """Store the connection, its secrets sealed with the instance secret (`box`)."""
    account.psa_provider = provider if connection is not None else LOCAL
    account.psa_config = sealed_connection(connection, box) if connection is not None else None


def sealed_connection(connection: BaseModel, box: SecretBox) -> dict[str, Any]:
    stored = stored_connection(connection)
    for name in secret_fields(type(connection)):
        if isinstance(stored.get(name), str) and not is_sealed(stored[name]):
            stored[name] = seal(box, stored[name])
    return stored


def reseal_connection(account: Account, box: SecretBox) -> tuple[int, int]:
    """Seal the account's secrets under the box's first secret (plain ones, and ones sealed
    under another secret of the box). Returns (resealed, unreadable)."""
    vendor = vendor_of(account)
    if vendor is None or not account.psa_config:
        return 0, 0
    config, resealed, unreadable = dict(account.psa_config), 0, 0
    for name in secret_fields(vendor.connection):
        value = config.get(name)
        if not isinstance(value, str):
            continue
        plain = unseal(box, value)
        if plain is None:
            unreadable += 1
            continue
        config[name] = seal(box, plain)
        resealed += 1
    if resealed:
        account.psa_config = config
    return resealed, unreadable


class PSAConnections:
    """One provider per account and connection, sharing one HTTP connection pool."""

    def __init__(self, settings: Settings, instance: InstanceKeys | None = None) -> None:
        self.settings = settings
        # Opens the connections' sealed secrets; its key is loaded at start-up.
        self.instance = instance if instance is not None else InstanceKeys()
        self._http: aiohttp.ClientSession | None = None
        # account id → (connection fingerprint, provider)
        self._providers: dict[int, tuple[str, PSAProvider]] = {}
        self._retired: list[PSAProvider] = []

    def for_account(self, account: Account) -> PSAProvider:
        vendor = vendor_of(account)
        if vendor is None or not account.psa_config:
            return LocalProvider()
        options: dict[str, Any] = {
            "rate_limit_per_minute": self.settings.cw_rate_limit_per_minute,
            **self.settings.psa_client_options,
        }
        # The fingerprint changes when the connection does: an edited account gets a new
        # client (the old one may still be finishing a request, so it is closed at exit).
        fingerprint = connection_fingerprint(account, options)
        if not self.instance.loaded:  # a client built before the key is loaded is not reused
            fingerprint += ":unopened"
        current = self._providers.get(account.id)
        if current is not None and current[0] == fingerprint:
            return current[1]
        # Opened only to build the client: the private key lives in the client, not here.
        connection = psa_connection(account, self.instance.box() if self.instance.loaded else None)
        if connection is None:
            return LocalProvider()
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
