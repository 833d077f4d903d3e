"""Case links: two cases linked for deconfliction, each pair once (a combination of records)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:35:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("low_case_id", sa.Integer(), nullable=False),
        sa.Column("high_case_id", sa.Integer(), nullable=False),
        sa.Column("link_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("linked_by_id", sa.Integer(), nullable=False),
        sa.Column("linked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "link_type IN ('same_subject', 'same_location', 'same_ocg', 'duplicate', 'other')",
            name="ck_case_link_type",
        ),
        sa.CheckConstraint("low_case_id < high_case_id", name="ck_case_link_order"),
        sa.ForeignKeyConstraint(["high_case_id"], ["case_record.id"]),
        sa.ForeignKeyConstraint(["linked_by_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["low_case_id"], ["case_record.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("low_case_id", "high_case_id", name="uq_case_link_pair"),
    )
    with op.batch_alter_table("case_link", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_link_high_case_id"), ["high_case_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("case_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_link_high_case_id"))
    op.drop_table("case_link")
