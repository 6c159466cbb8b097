"""ConnectWise's signed callbacks as a `CallbackSource`: the pure functions of `callbacks`
plus the one network call, fetching a signing key from the account's own hosts."""

from __future__ import annotations

from typing import Any

from providers.psa.base import CallbackEnvelope, PSAError, PSAValidationError, Ticket
from providers.psa.connectwise import callbacks
from providers.psa.connectwise.client import ConnectWiseClient
from providers.psa.connectwise.config import ConnectWiseConfig
from providers.psa.connectwise.mapping import ticket_from_cw


class ConnectWiseCallbacks:
    signature_header = callbacks.SIGNATURE_HEADER

    def __init__(self, config: ConnectWiseConfig, client: ConnectWiseClient) -> None:
        self._config = config
        self._client = client

    def parse(self, raw: bytes) -> CallbackEnvelope:
        return callbacks.parse_callback(raw)

    def dedupe_key(self, envelope: CallbackEnvelope, raw: bytes) -> str:
        return callbacks.dedupe_key(envelope, raw)

    def key_url_allowed(self, key_url: str | None) -> bool:
        return callbacks.key_url_allowed(key_url, self._config.api_url)

    def signature_well_formed(self, signature: str | None) -> bool:
        return callbacks.signature_well_formed(signature)

    def verify_signature(self, raw: bytes, signature: str | None, signing_key: str) -> bool:
        return callbacks.verify_signature(raw, signature, signing_key)

    async def get_signing_key(self, key_url: str) -> str:
        """Fetch a callback signing key. Refuses any URL off the account's own hosts."""
        if not self.key_url_allowed(key_url):
            raise PSAValidationError("callback key_url is not on this account's ConnectWise host")
        response = await self._client.request("GET", key_url)
        data = response.data if isinstance(response.data, dict) else {}
        key = {k.lower(): v for k, v in data.items()}.get("signing_key")
        if not isinstance(key, str) or not key:
            raise PSAError("ConnectWise returned no signing key")
        return key

    def ticket_from_record(self, record: dict[str, Any]) -> Ticket:
        return ticket_from_cw(record)

    def is_own_echo(self, record: dict[str, Any]) -> bool:
        info = record.get("_info") if isinstance(record, dict) else None
        updated_by = info.get("updatedBy") if isinstance(info, dict) else None
        if not isinstance(updated_by, str) or not updated_by.strip():
            return False
        own = {self._config.public_key.lower()}
        if self._config.api_member_id:
            own.add(self._config.api_member_id.lower())
        return updated_by.strip().lower() in own
