"""task outbox; failed runs keep their reason; the sweep's last re-send of a run

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 15:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("args", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("task_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_outbox_sent_at"), ["sent_at"], unique=False)
    with op.batch_alter_table("scoring_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "error",
                sqlmodel.sql.sqltypes.AutoString(length=500),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(
            sa.Column("swept_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("scoring_run", schema=None) as batch_op:
        batch_op.drop_column("swept_at")
        batch_op.drop_column("error")
    with op.batch_alter_table("task_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_outbox_sent_at"))
    op.drop_table("task_outbox")
