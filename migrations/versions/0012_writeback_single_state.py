"""One state field for writebacks: `state` says exactly where a writeback is (pending,
note_posted, status_requested, waiting_retry, failed, cancelled, done) instead of `stage`
(how far it got) beside `state` (in its queue), which could disagree and reported a failed
writeback as queued.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = "('in_progress', 'queued', 'done', 'failed')"
STAGES = "('pending', 'note_posted', 'status_requested', 'done')"
NEW_STATES = (
    "('pending', 'note_posted', 'status_requested', 'waiting_retry', 'failed', 'cancelled', 'done')"
)


def upgrade() -> None:
    with op.batch_alter_table("writebacks") as batch_op:
        batch_op.drop_constraint(op.f("ck_writebacks_state"), type_="check")
    # A runner holds its row in the stage it reached; a finished stage wins over the queue.
    op.execute(
        "UPDATE writebacks SET state = CASE "
        "WHEN stage = 'done' OR state = 'done' THEN 'done' "
        "WHEN state = 'queued' THEN 'waiting_retry' "
        "WHEN state = 'failed' THEN 'failed' "
        "ELSE stage END"
    )
    with op.batch_alter_table("writebacks") as batch_op:
        batch_op.drop_constraint(op.f("ck_writebacks_stage"), type_="check")
        batch_op.drop_column("stage")
        batch_op.create_check_constraint(op.f("ck_writebacks_state"), f"state IN {NEW_STATES}")


def downgrade() -> None:
    with op.batch_alter_table("writebacks") as batch_op:
        batch_op.drop_constraint(op.f("ck_writebacks_state"), type_="check")
        batch_op.add_column(sa.Column("stage", sa.String(length=32), nullable=True))
    # How far a waiting or failed writeback got is in what it recorded. The old model has
    # no cancelled writeback: failed is the state nothing retries on its own.
    op.execute(
        "UPDATE writebacks SET stage = CASE "
        "WHEN state IN ('pending', 'note_posted', 'status_requested', 'done') THEN state "
        "WHEN target_status_id IS NOT NULL THEN 'status_requested' "
        "WHEN note_external_id IS NOT NULL THEN 'note_posted' "
        "ELSE 'pending' END"
    )
    op.execute(
        "UPDATE writebacks SET state = CASE "
        "WHEN state IN ('pending', 'note_posted', 'status_requested') THEN 'in_progress' "
        "WHEN state = 'waiting_retry' THEN 'queued' "
        "WHEN state = 'done' THEN 'done' "
        "ELSE 'failed' END"
    )
    with op.batch_alter_table("writebacks") as batch_op:
        batch_op.alter_column("stage", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_check_constraint(op.f("ck_writebacks_stage"), f"stage IN {STAGES}")
        batch_op.create_check_constraint(op.f("ck_writebacks_state"), f"state IN {OLD_STATES}")
