"""An account's PSA connection is its vendor's configuration, stored as JSON.

The `cw_*` columns become `psa_config` (the ConnectWise connection model's fields), and
`psa_provider` loses its CHECK: the vendor registry validates it, so adding a PSA needs no
migration. Downgrade carries ConnectWise connections back into the columns (other vendors'
connections have no columns to go to and are refused).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# column → field of the ConnectWise connection model
CW_COLUMNS = {
    "cw_api_url": "api_url",
    "cw_company_id": "company_id",
    "cw_public_key": "public_key",
    "cw_private_key": "private_key",
    "cw_client_id": "client_id",
    "cw_api_member_id": "api_member_id",
}
COLUMN_SIZES = {
    "cw_api_url": 500,
    "cw_company_id": 100,
    "cw_public_key": 200,
    "cw_private_key": 500,
    "cw_client_id": 100,
    "cw_api_member_id": 100,
}
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(sa.Column("psa_config", JSON_TYPE, nullable=True))
    accounts = sa.table(
        "accounts",
        sa.column("id", sa.Integer),
        sa.column("psa_provider", sa.String),
        sa.column("psa_config", JSON_TYPE),
        *(sa.column(name, sa.String) for name in CW_COLUMNS),
    )
    bind = op.get_bind()
    for row in bind.execute(sa.select(accounts)).mappings().all():
        fields = {CW_COLUMNS[name]: row[name] for name in CW_COLUMNS if row[name] is not None}
        connected = row["psa_provider"] == "connectwise" and row["cw_api_url"]
        bind.execute(
            accounts.update()
            .where(accounts.c.id == row["id"])
            .values(
                psa_provider="connectwise" if connected else "local",
                psa_config={"client_id": "", **fields} if connected else sa.null(),
            )
        )
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_constraint(op.f("ck_accounts_psa_provider"), type_="check")
        for name in CW_COLUMNS:
            batch_op.drop_column(name)


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        for name, size in COLUMN_SIZES.items():
            batch_op.add_column(sa.Column(name, sa.String(length=size), nullable=True))
    accounts = sa.table(
        "accounts",
        sa.column("id", sa.Integer),
        sa.column("slug", sa.String),
        sa.column("psa_provider", sa.String),
        sa.column("psa_config", JSON_TYPE),
        *(sa.column(name, sa.String) for name in CW_COLUMNS),
    )
    bind = op.get_bind()
    for row in bind.execute(sa.select(accounts)).mappings().all():
        config = row["psa_config"]
        if isinstance(config, str):  # SQLite hands JSON back as text in some drivers
            config = json.loads(config)
        if row["psa_provider"] not in ("connectwise", "local"):
            raise RuntimeError(
                f"account {row['slug']!r} uses the PSA {row['psa_provider']!r}, which revision "
                "0002 cannot store; remove it or move it to ConnectWise before downgrading"
            )
        values = {name: (config or {}).get(field) for name, field in CW_COLUMNS.items()}
        bind.execute(accounts.update().where(accounts.c.id == row["id"]).values(**values))
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_accounts_psa_provider"), "psa_provider IN ('connectwise', 'local')"
        )
        batch_op.drop_column("psa_config")
