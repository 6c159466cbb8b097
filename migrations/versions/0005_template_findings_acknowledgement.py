"""A template records who accepted its high-severity lint findings.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("script_templates") as batch_op:
        batch_op.add_column(sa.Column("findings_acknowledgement", JSON_TYPE, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("script_templates") as batch_op:
        batch_op.drop_column("findings_acknowledgement")
