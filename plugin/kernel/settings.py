"""Service settings: environment variables (FIXPILOT_*, ANTHROPIC_*) over an optional TOML file."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./fixpilot.db"
SUPPORTED_DRIVERS = {"sqlite+aiosqlite", "postgresql+asyncpg"}


def normalise_database_url(value: str) -> str:
    """Accept the plain forms admins type and turn them into the async drivers we run on."""
    try:
        url = make_url(value)
    except ArgumentError as exc:
        raise ValueError(f"not a database URL ({exc})") from None
    driver = url.drivername
    if driver in ("sqlite", "sqlite+pysqlite"):
        url = url.set(drivername="sqlite+aiosqlite")
    elif driver in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        url = url.set(drivername="postgresql+asyncpg")
    if url.drivername not in SUPPORTED_DRIVERS:
        raise ValueError(
            f"unsupported database driver {driver!r}; use sqlite+aiosqlite:///path "
            "or postgresql+asyncpg://user@host/db"
        )
    if url.drivername.startswith("postgresql") and not url.database:
        raise ValueError("a PostgreSQL URL needs a database name")
    if url.drivername.startswith("sqlite") and not url.database:
        raise ValueError("a SQLite URL needs a file path, e.g. sqlite+aiosqlite:///./fixpilot.db")
    return url.render_as_string(hide_password=False)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIXPILOT_", extra="ignore", populate_by_name=True)

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str | None = None
    secret_key: SecretStr | None = None
    log_format: Literal["json", "console"] | None = None  # None: console on a terminal
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    # The `default` account's ConnectWise connection (single-tenant installs).
    cw_url: str | None = None
    cw_company_id: str | None = None
    cw_public_key: str | None = None
    cw_private_key: SecretStr | None = None
    cw_client_id: str | None = None
    cw_api_member_id: str | None = None
    cw_rate_limit_per_minute: int = Field(600, ge=1, le=1000)
    # Extra ConnectWiseConfig options (timeout, max_attempts, retry_backoff...), for tests
    # and unusual networks.
    psa_client_options: dict[str, float] = Field(default_factory=dict)

    anthropic_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("ANTHROPIC_API_KEY", "FIXPILOT_ANTHROPIC_API_KEY")
    )
    anthropic_base_url: str | None = Field(
        None, validation_alias=AliasChoices("ANTHROPIC_BASE_URL", "FIXPILOT_ANTHROPIC_BASE_URL")
    )
    llm_model: str = "claude-sonnet-5-5"
    llm_timeout_seconds: float = Field(60.0, gt=0)
    llm_max_attempts: int = Field(4, ge=1, le=10)
    llm_retry_backoff_seconds: float = Field(1.0, ge=0)
    llm_max_total_seconds: float = Field(90.0, gt=0)

    # Load the shipped script library into every account (added, and upgraded by version;
    # an admin's edits are kept). Off: each account has only the templates it is given.
    shipped_library: bool = True

    nudge_after_minutes: float = Field(15.0, gt=0)
    chat_history_token_budget: int = Field(6000, ge=500)
    worker_poll_seconds: float = Field(1.0, gt=0)
    shutdown_timeout_seconds: float = Field(30.0, ge=0)
    # A client has this long from connecting (or from its previous answer) to send a whole
    # request head; a half-sent request is then dropped, so slow or stalled clients can't
    # hold connections. It is also the idle keep-alive limit: keep a proxy's upstream
    # keep-alive shorter than this.
    header_read_timeout_seconds: float = Field(20.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("cw_url", "public_url", "anthropic_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def connectwise_configured(self) -> bool:
        return bool(
            self.cw_url and self.cw_company_id and self.cw_public_key and self.cw_private_key
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
        if _config_file is not None:
            sources += (TomlConfigSettingsSource(settings_cls, toml_file=_config_file),)
        return sources

    # --- pod sign-in and keys at rest (issue 15) ---
    # Reverse proxies whose X-Forwarded-For is believed (CIDRs, comma-separated or a JSON
    # list). Empty: the peer's own address is the client's.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # A file holding the instance secret (e.g. a mounted secret); FIXPILOT_SECRET_KEY wins.
    secret_key_file: Path | None = None
    # Earlier (or next) instance secrets that open what they sealed but seal nothing: set
    # while rotating the secret without stopping the replicas (README, "Keys at rest").
    # Separated by whitespace, or one per line in the file.
    secret_key_fallbacks: SecretStr | None = None
    secret_key_fallbacks_file: Path | None = None

    @property
    def instance_secret_configured(self) -> bool:
        """The instance secret comes from the environment or a file, not the database."""
        return self.secret_key is not None or self.secret_key_file is not None

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not an IP address or CIDR network") from None
        return value


_config_file: Path | None = None


class SettingsError(Exception):
    """A setting is wrong; `str()` is one line naming it."""


def load_settings(config_file: Path | None = None, **overrides: object) -> Settings:
    global _config_file
    if config_file is not None and not config_file.is_file():
        raise SettingsError(f"config file {config_file} does not exist")
    _config_file = config_file
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None
    except (ValueError, OSError) as exc:  # e.g. unparsable TOML
        raise SettingsError(f"cannot read settings: {exc}") from None
    finally:
        _config_file = None


_ALIASES = {"anthropic_api_key": "ANTHROPIC_API_KEY", "anthropic_base_url": "ANTHROPIC_BASE_URL"}


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    field = str(err["loc"][0]) if err["loc"] else "?"
    env = _ALIASES.get(field, f"FIXPILOT_{field.upper()}")
    message = err["msg"].removeprefix("Value error, ")
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"invalid setting {env}: {message}{more}"
