"""PSA providers: the interface (`base`), a registry of vendors, and the vendors.

A vendor is registered once with its slug, a display label, the pydantic model of one
account's connection (validated when an account is saved, stored with the account) and a
factory that builds a provider from a validated connection. The service never names a
vendor: adding Autotask or HaloPSA is a new package here and one `register_psa_vendor`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, SecretStr

from providers.psa.base import (
    Board,
    CallbackEnvelope,
    CallbackParseError,
    CallbackSource,
    ClosedTicket,
    HostedPod,
    KnowledgeBase,
    MemberIdentity,
    NoteKind,
    PSAAuthError,
    PSAError,
    PSANote,
    PSANotFound,
    PSAPermissionError,
    PSAProvider,
    PSARateLimited,
    PSASetup,
    PSAStatusVerificationError,
    PSAUnavailable,
    PSAValidationError,
    Ticket,
    TicketHistory,
    TicketStatus,
)
from providers.psa.connectwise import ConnectWiseConfig, ConnectWiseConnection, ConnectWiseProvider
from providers.psa.local import LocalProvider

PSAProviderFactory = Callable[[Any, Mapping[str, Any], aiohttp.ClientSession | None], PSAProvider]
"""`factory(connection, options, session)`: `connection` is an instance of the vendor's
connection model; `options` are the service's tuning knobs for it (rate limit, timeouts)."""


@dataclass(frozen=True)
class PSAVendor:
    slug: str
    label: str  # what users call it: "ConnectWise"
    connection: type[BaseModel]
    factory: PSAProviderFactory


PSA_VENDORS: dict[str, PSAVendor] = {}
LOCAL = "local"


def register_psa_vendor(vendor: PSAVendor) -> None:
    PSA_VENDORS[vendor.slug] = vendor


def stored_connection(connection: BaseModel) -> dict[str, Any]:
    """A connection as plain JSON for the database, secrets included (the caller stores it
    where only the service reads it)."""
    return {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name, value in connection.model_dump(mode="python").items()
    }


def masked_connection(connection: BaseModel) -> dict[str, Any]:
    """A connection for people to read: every secret masked."""
    return {
        name: _mask(value.get_secret_value()) if isinstance(value, SecretStr) else value
        for name, value in connection.model_dump(mode="python").items()
    }


def _mask(secret: str) -> str | None:
    if not secret:
        return None
    return "****" + secret[-4:] if len(secret) >= 12 else "****"


class NoConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _local_factory(
    connection: Any, options: Mapping[str, Any], session: aiohttp.ClientSession | None
) -> PSAProvider:
    return LocalProvider()


def _connectwise_factory(
    connection: Any, options: Mapping[str, Any], session: aiohttp.ClientSession | None
) -> PSAProvider:
    config = ConnectWiseConfig.from_mapping({**stored_connection(connection), **options})
    return ConnectWiseProvider(config, session=session)


register_psa_vendor(PSAVendor(LOCAL, "no PSA", NoConnection, _local_factory))
register_psa_vendor(
    PSAVendor("connectwise", "ConnectWise", ConnectWiseConnection, _connectwise_factory)
)

__all__ = [
    "LOCAL",
    "PSA_VENDORS",
    "Board",
    "CallbackEnvelope",
    "CallbackParseError",
    "CallbackSource",
    "ClosedTicket",
    "HostedPod",
    "KnowledgeBase",
    "LocalProvider",
    "MemberIdentity",
    "NoteKind",
    "PSAAuthError",
    "PSAError",
    "PSANote",
    "PSANotFound",
    "PSAPermissionError",
    "PSAProvider",
    "PSAProviderFactory",
    "PSARateLimited",
    "PSASetup",
    "PSAStatusVerificationError",
    "PSAUnavailable",
    "PSAValidationError",
    "PSAVendor",
    "Ticket",
    "TicketHistory",
    "TicketStatus",
    "masked_connection",
    "register_psa_vendor",
    "stored_connection",
]
