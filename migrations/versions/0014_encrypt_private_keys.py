"""PSA private keys sealed at rest with the instance secret.

Each account's connection secrets (a ConnectWise private key: the fields its vendor's model
marks secret) were stored in plain text in `psa_config`; they are sealed (Fernet, keys
derived from the instance secret, as the session secret memory does). The instance secret
is the service's: FIXPILOT_SECRET_KEY, else the file FIXPILOT_SECRET_KEY_FILE, else the one
generated on first start (created here if the service never started). A secret configured
only in a TOML file is not seen here: the keys are then sealed with the generated one, and
`serve` re-seals them under the configured one at its next start. Downgrade opens them
again (and refuses, naming the account, when the secret at hand does not open them).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

import json
import os
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
)
ACCOUNTS = sa.table(
    "accounts",
    sa.column("id", sa.Integer),
    sa.column("slug", sa.String),
    sa.column("psa_provider", sa.String),
    sa.column("psa_config", JSON_TYPE),
)
INSTANCE_SECRETS = sa.table(
    "instance_secrets",
    sa.column("name", sa.String),
    sa.column("value", sa.Text),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    from plugin.kernel.secret_memory import is_sealed, seal

    bind = op.get_bind()
    pending = [
        (row, config, names)
        for row, config, names in _connections(bind)
        if any(isinstance(config.get(n), str) and not is_sealed(config[n]) for n in names)
    ]
    if not pending:
        return
    box = _box(bind, create=True)
    for row, config, names in pending:
        for name in names:
            if isinstance(config.get(name), str) and not is_sealed(config[name]):
                config[name] = seal(box, config[name])
        _store(bind, row["id"], config)


def downgrade() -> None:
    from plugin.kernel.secret_memory import is_sealed, unseal

    bind = op.get_bind()
    pending = [
        (row, config, names)
        for row, config, names in _connections(bind)
        if any(is_sealed(config.get(n)) for n in names)
    ]
    if not pending:
        return
    box = _box(bind, create=False)
    for row, config, names in pending:
        for name in names:
            if is_sealed(config.get(name)):
                opened = unseal(box, config[name]) if box is not None else None
                if opened is None:
                    raise RuntimeError(
                        f"account {row['slug']!r}: its {name} is sealed with another instance "
                        "secret; set FIXPILOT_SECRET_KEY to the service's secret and downgrade "
                        "again"
                    )
                config[name] = opened
        _store(bind, row["id"], config)


def _connections(bind):
    from plugin.kernel.psa import secret_fields
    from providers.psa import PSA_VENDORS

    for row in bind.execute(sa.select(ACCOUNTS)).mappings().all():
        config = row["psa_config"]
        if isinstance(config, str):  # SQLite hands JSON back as text in some drivers
            config = json.loads(config)
        vendor = PSA_VENDORS.get(row["psa_provider"])
        if not config or vendor is None:
            continue
        yield row, dict(config), secret_fields(vendor.connection)


def _store(bind, account_id: int, config: dict) -> None:
    bind.execute(ACCOUNTS.update().where(ACCOUNTS.c.id == account_id).values(psa_config=config))


def _box(bind, *, create: bool):
    """The service's instance secret, as `serve` finds it (environment, file, database)."""
    from plugin.kernel.secret_memory import SecretBox

    secret = os.environ.get("FIXPILOT_SECRET_KEY") or None
    if secret is None and os.environ.get("FIXPILOT_SECRET_KEY_FILE"):
        secret = Path(os.environ["FIXPILOT_SECRET_KEY_FILE"]).read_text(encoding="utf-8").strip()
    if secret is None:
        stored = sa.select(INSTANCE_SECRETS.c.value).where(INSTANCE_SECRETS.c.name == "secret_key")
        secret = bind.execute(stored).scalar_one_or_none()
    if secret is None and create:
        secret = secrets.token_urlsafe(48)
        now = datetime.now(UTC)
        if bind.dialect.name == "sqlite":  # stored naive there, as the service does
            now = now.replace(tzinfo=None)
        bind.execute(
            INSTANCE_SECRETS.insert().values(name="secret_key", value=secret, created_at=now)
        )
    return SecretBox(secret) if secret else None
