"""Each account's PSA provider, built from its stored connection through the registry."""

from __future__ import annotations

from typing import Any

import aiohttp

from plugin.accounts.models import Account
from plugin.settings import Settings
from providers.psa import PSA_PROVIDERS, PSAProvider


def connection_settings(account: Account, settings: Settings) -> dict[str, Any]:
    return {
        "api_url": account.cw_api_url,
        "company_id": account.cw_company_id,
        "public_key": account.cw_public_key,
        "private_key": account.cw_private_key,
        "client_id": account.cw_client_id or "",
        "api_member_id": account.cw_api_member_id,
        "rate_limit_per_minute": settings.cw_rate_limit_per_minute,
        **settings.psa_client_options,
    }


class PSAProviders:
    """One provider per account and connection, sharing one HTTP connection pool."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        # account id → (connection fingerprint, provider)
        self._providers: dict[int, tuple[str, PSAProvider]] = {}
        self._retired: list[PSAProvider] = []

    def for_account(self, account: Account) -> PSAProvider:
        slug = account.psa_provider if account.cw_api_url else "local"
        options = connection_settings(account, self.settings)
        # The fingerprint changes when the connection does: an edited account gets a new
        # client (the old one may still be finishing a request, so it is closed at exit).
        fingerprint = repr((slug, sorted((k, str(v)) for k, v in options.items())))
        current = self._providers.get(account.id)
        if current is not None and current[0] == fingerprint:
            return current[1]
        if current is not None:
            self._retired.append(current[1])
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        provider = PSA_PROVIDERS[slug](options, session=self._session)
        self._providers[account.id] = (fingerprint, provider)
        return provider

    async def aclose(self) -> None:
        for provider in [p for _, p in self._providers.values()] + self._retired:
            await provider.aclose()
        self._providers.clear()
        self._retired.clear()
        if self._session is not None:
            await self._session.close()
