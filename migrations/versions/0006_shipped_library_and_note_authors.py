"""The shipped script library by version, admins' edits recorded, and who wrote each note.

- `script_templates.library_version`: the shipped library's version a row holds (null for
  an account's own templates); `script_templates.edited_at`: when an admin changed it (a
  changed shipped template keeps the admin's version). Existing rows stay unversioned: the
  shipped library adopts the ones whose text is exactly its own at the next start.
- `writebacks.author_member_id`: the PSA member who wrote the note (the note is attributed
  to them in the PSA where it allows it). Filled for existing writebacks made by a pod
  member (their `created_by` is the member; an API token's is `token:<id>`).

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("script_templates") as batch_op:
        batch_op.add_column(sa.Column("library_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("writebacks") as batch_op:
        batch_op.add_column(sa.Column("author_member_id", sa.String(length=100), nullable=True))
    writebacks = sa.table(
        "writebacks",
        sa.column("created_by", sa.String),
        sa.column("author_member_id", sa.String),
    )
    op.execute(
        writebacks.update()
        .where(writebacks.c.created_by.is_not(None), ~writebacks.c.created_by.like("token:%"))
        .values(author_member_id=writebacks.c.created_by)
    )


def downgrade() -> None:
    with op.batch_alter_table("writebacks") as batch_op:
        batch_op.drop_column("author_member_id")
    with op.batch_alter_table("script_templates") as batch_op:
        batch_op.drop_column("edited_at")
        batch_op.drop_column("library_version")
