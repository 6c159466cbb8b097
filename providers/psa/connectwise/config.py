"""Connection settings for one ConnectWise account."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

# Pin the REST model version so ConnectWise upgrades don't change response shapes under us.
ACCEPT_HEADER = "application/vnd.connectwise.com+json; version=2025.1"


@dataclass(frozen=True, repr=False)
class ConnectWiseConfig:
    api_url: str  # full API base, e.g. https://api-na.myconnectwise.net/v4_6_release/apis/3.0/
    company_id: str
    public_key: str
    private_key: str
    client_id: str
    # The identifier ConnectWise records in `_info.updatedBy` for this integration's writes
    # (the API member's identifier). When unset, only a match on the public key counts.
    api_member_id: str | None = None
    rate_limit_per_minute: int = 600
    timeout: float = 15.0  # seconds per attempt
    max_attempts: int = 4
    max_retry_wait: float = 30.0  # cap on any single wait, including Retry-After
    retry_backoff: float = 0.5  # first exponential backoff wait (no Retry-After); doubles

    def __post_init__(self) -> None:
        parts = urlsplit(self.api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("ConnectWise api_url must be an absolute http(s) URL")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    @property
    def base_url(self) -> str:
        """The API base URL with exactly one trailing slash, so relative paths join under it."""
        return self.api_url.rstrip("/") + "/"

    @property
    def site_url(self) -> str:
        """scheme://host[:port] of the ConnectWise site (for login/companyinfo)."""
        parts = urlsplit(self.api_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def authorization(self) -> str:
        return basic_authorization(self.company_id, self.public_key, self.private_key)

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> ConnectWiseConfig:
        """Build from an account's PSA settings; keys that are not fields are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in settings.items() if k in known and v is not None})

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={'***' if f.name == 'private_key' else repr(getattr(self, f.name))}"
            for f in fields(self)
        )
        return f"ConnectWiseConfig({shown})"


class ConnectWiseConnection(BaseModel):
    """One account's ConnectWise connection, as stored with the account."""

    model_config = ConfigDict(extra="forbid")

    api_url: str = Field(
        description="The full API base URL, e.g. "
        "https://api-na.myconnectwise.net/v4_6_release/apis/3.0/"
    )
    company_id: str = Field(min_length=1, max_length=100)
    public_key: str = Field(min_length=1, max_length=200)
    private_key: SecretStr = Field(min_length=1, max_length=500)
    client_id: str = Field("", max_length=100)
    # The identifier ConnectWise records in `_info.updatedBy` for this integration's writes.
    api_member_id: str | None = Field(None, max_length=100)

    @field_validator("api_url")
    @classmethod
    def _absolute_http(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value


def basic_authorization(company_id: str, username: str, secret: str) -> str:
    """ConnectWise Basic auth: base64("{company}+{username}:{secret}")."""
    token = base64.b64encode(f"{company_id}+{username}:{secret}".encode()).decode("ascii")
    return f"Basic {token}"
