"""Records reviews: each decision to keep or dispose of a case (DPA 2018 s.39)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 17:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("due", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("decision", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("next_review", sa.Date(), nullable=True),
        sa.CheckConstraint("decision IN ('keep', 'dispose')", name="ck_record_review_decision"),
        sa.ForeignKeyConstraint(["case_id"], ["case_record.id"]),
        sa.ForeignKeyConstraint(["reviewer_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("record_review", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_record_review_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("record_review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_review_case_id"))
    op.drop_table("record_review")
