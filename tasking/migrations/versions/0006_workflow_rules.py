"""workflow rules: moderation of the current assessment, decision records, need-to-know

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 16:00:00.000000

Assessments carry a version (human edits only) and the version a moderation
applies to; decisions store the exact score the meeting saw (vector with age,
model name, number and hash, rank) and task several assets (decision_asset,
filled from the old single asset column); users carry a clearance and asset
owners their asset; cases keep a retention date apart from the review date,
graded outcomes per 4P strand; BCUs answer requests for more information.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_STR = sqlmodel.sql.sqltypes.AutoString
_TIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "info_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("asked_by_id", sa.Integer(), nullable=False),
        sa.Column("asked_at", _TIME(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", _TIME(), nullable=True),
        sa.ForeignKeyConstraint(["answered_by_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["asked_by_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["case_record.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_info_request_case_id", "info_request", ["case_id"])
    op.create_table(
        "decision_asset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["asset.id"]),
        sa.ForeignKeyConstraint(["decision_id"], ["decision.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("decision_id", "asset_id"),
    )
    op.create_index("ix_decision_asset_asset_id", "decision_asset", ["asset_id"])
    op.create_index("ix_decision_asset_decision_id", "decision_asset", ["decision_id"])

    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "clearance", _STR(length=32), nullable=False, server_default="OFFICIAL-SENSITIVE"
            )
        )
        batch_op.add_column(sa.Column("asset_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_app_user_asset_id", "asset", ["asset_id"], ["id"])

    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("moderated_version", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("varied_from", _STR(length=128), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("provisional", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # A moderation already given applies to the assessment as it stands.
    op.execute("UPDATE assessment SET moderated_version = 1 WHERE moderation <> 'pending'")

    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retain_until", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("outcome_grades", _STR(length=200), nullable=False, server_default="{}")
        )
        batch_op.add_column(sa.Column("closed_at", _TIME(), nullable=True))
        batch_op.create_index("ix_case_record_retain_until", ["retain_until"], unique=False)

    with op.batch_alter_table("decision", schema=None) as batch_op:
        for name, column_type, default in (
            ("assessment_version", sa.Integer(), "0"),
            ("vector_shown", _STR(length=160), ""),
            ("age_days_shown", sa.Float(), "0"),
            ("model_name", _STR(length=64), ""),
            ("model_number", sa.Integer(), "0"),
            ("model_hash", _STR(length=64), ""),
            ("asset_type_reason", sa.Text(), ""),
            ("decline_reason", sa.Text(), ""),
        ):
            batch_op.add_column(
                sa.Column(name, column_type, nullable=False, server_default=default)
            )
        batch_op.add_column(sa.Column("papers_score_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rank_shown", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("referral_destination", _STR(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("immediate", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # The one asset a decision could name becomes its first decision_asset row.
    op.execute(
        "INSERT INTO decision_asset (decision_id, asset_id, hours)"
        " SELECT id, asset_id, CASE WHEN hours_granted > 0 THEN hours_granted ELSE 1 END"
        " FROM decision WHERE asset_id IS NOT NULL"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("decision_asset_id_fkey", "decision", type_="foreignkey")
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_column("asset_id")


def downgrade() -> None:
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.add_column(sa.Column("asset_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("decision_asset_id_fkey", "asset", ["asset_id"], ["id"])
    op.execute(
        "UPDATE decision SET asset_id = (SELECT MIN(a.asset_id) FROM decision_asset a"
        " WHERE a.decision_id = decision.id)"
    )
    with op.batch_alter_table("decision", schema=None) as batch_op:
        for name in (
            "immediate", "referral_destination", "rank_shown", "papers_score_version",
            "decline_reason", "asset_type_reason", "model_hash", "model_number", "model_name",
            "age_days_shown", "vector_shown", "assessment_version",
        ):  # fmt: skip
            batch_op.drop_column(name)
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.drop_index("ix_case_record_retain_until")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("outcome_grades")
        batch_op.drop_column("retain_until")
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        for name in ("provisional", "varied_from", "moderated_version", "version"):
            batch_op.drop_column(name)
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_constraint("fk_app_user_asset_id", type_="foreignkey")
        batch_op.drop_column("asset_id")
        batch_op.drop_column("clearance")
    op.drop_index("ix_decision_asset_decision_id", table_name="decision_asset")
    op.drop_index("ix_decision_asset_asset_id", table_name="decision_asset")
    op.drop_table("decision_asset")
    op.drop_index("ix_info_request_case_id", table_name="info_request")
    op.drop_table("info_request")
