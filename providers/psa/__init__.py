"""PSA providers: the interface (`base`), a registry of vendor factories, and the vendors.

A factory takes the account's PSA settings (a mapping: for ConnectWise `api_url`,
`company_id`, `public_key`, `private_key`, `client_id`, optional `api_member_id` and the
tuning fields of `ConnectWiseConfig`) and an optional shared `aiohttp.ClientSession`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from providers.psa.base import (
    MemberIdentity,
    NoteKind,
    PSAAuthError,
    PSAError,
    PSANote,
    PSANotFound,
    PSAPermissionError,
    PSAProvider,
    PSARateLimited,
    PSAStatusVerificationError,
    PSAUnavailable,
    PSAValidationError,
    Ticket,
    TicketStatus,
)
from providers.psa.local import LocalProvider

PSAProviderFactory = Callable[..., PSAProvider]
"""`factory(settings: Mapping[str, Any], *, session: aiohttp.ClientSession | None = None)`"""

PSA_PROVIDERS: dict[str, PSAProviderFactory] = {}


def register_psa_provider(slug: str, factory: PSAProviderFactory) -> None:
    PSA_PROVIDERS[slug] = factory


def _local_factory(
    settings: Mapping[str, Any] | None = None, *, session: aiohttp.ClientSession | None = None
) -> PSAProvider:
    return LocalProvider()


def _connectwise_factory(
    settings: Mapping[str, Any], *, session: aiohttp.ClientSession | None = None
) -> PSAProvider:
    # Imported here so importing the interface doesn't pull in the HTTP client stack.
    from providers.psa.connectwise import ConnectWiseConfig, ConnectWiseProvider

    return ConnectWiseProvider(ConnectWiseConfig.from_mapping(settings), session=session)


register_psa_provider("local", _local_factory)
register_psa_provider("connectwise", _connectwise_factory)

__all__ = [
    "PSA_PROVIDERS",
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
    "PSAStatusVerificationError",
    "PSAUnavailable",
    "PSAValidationError",
    "Ticket",
    "TicketStatus",
    "register_psa_provider",
]
