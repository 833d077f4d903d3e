"""workflow rules: moderation of the current assessment, decision records, need-to-know

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 16:00:00.000000

Assessments carry a version (human edits only) and the version a moderation
applies to; decisions store the exact score the meeting saw (vector with age,
model name, number and hash, rank) and task several assets (decision_asset,
filled from the single asset column, which stays as the first asset); users
carry a clearance and asset owners their asset; cases keep a retention date
apart from the review date, graded outcomes per 4P strand; BCUs answer
requests for more information.

Every change is an added column, index or table: no SQLite table is rebuilt
(a rebuild of a table that others refer to fails under foreign keys once it
holds data). The downgrade drops columns in place (SQLite 3.35 and later).
"""

from __future__ import annotations

from typing import Any

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
    for table, column in _columns():
        op.add_column(table, column)
    op.create_index("ix_case_record_retain_until", "case_record", ["retain_until"])
    # A moderation already given applies to the assessment as it stands.
    op.execute("UPDATE assessment SET moderated_version = 1 WHERE moderation <> 'pending'")
    # The one asset a decision could name becomes its first decision_asset row.
    op.execute(
        "INSERT INTO decision_asset (decision_id, asset_id, hours)"
        " SELECT id, asset_id, CASE WHEN hours_granted > 0 THEN hours_granted ELSE 1 END"
        " FROM decision WHERE asset_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_case_record_retain_until", table_name="case_record")
    for table, column in reversed(_columns()):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column.name}")
    op.drop_index("ix_decision_asset_decision_id", table_name="decision_asset")
    op.drop_index("ix_decision_asset_asset_id", table_name="decision_asset")
    op.drop_table("decision_asset")
    op.drop_index("ix_info_request_case_id", table_name="info_request")
    op.drop_table("info_request")


def _text(name: str, length: int | None = None, default: str = "") -> sa.Column[str]:
    kind = _STR(length=length) if length else sa.Text()
    return sa.Column(name, kind, nullable=False, server_default=default)


def _int(name: str, default: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=False, server_default=default)


def _flag(name: str) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())


def _columns() -> tuple[tuple[str, sa.Column[Any]], ...]:
    """The added columns, made afresh for each run (a Column belongs to one table)."""
    return (
        ("app_user", _text("clearance", 32, "OFFICIAL-SENSITIVE")),
        ("app_user", sa.Column("asset_id", sa.Integer(), nullable=True)),
        ("assessment", _int("version", "1")),
        ("assessment", sa.Column("moderated_version", sa.Integer(), nullable=True)),
        ("assessment", _text("varied_from", 128)),
        ("assessment", _flag("provisional")),
        ("case_record", sa.Column("retain_until", sa.Date(), nullable=True)),
        ("case_record", _text("outcome_grades", 200, "{}")),
        ("case_record", sa.Column("closed_at", _TIME(), nullable=True)),
        ("decision", _int("assessment_version", "0")),
        ("decision", sa.Column("papers_score_version", sa.Integer(), nullable=True)),
        ("decision", _text("vector_shown", 160)),
        ("decision", sa.Column("age_days_shown", sa.Float(), nullable=False, server_default="0")),
        ("decision", sa.Column("rank_shown", sa.Integer(), nullable=True)),
        ("decision", _text("model_name", 64)),
        ("decision", _int("model_number", "0")),
        ("decision", _text("model_hash", 64)),
        ("decision", _text("asset_type_reason")),
        ("decision", sa.Column("referral_destination", _STR(length=32), nullable=True)),
        ("decision", _text("decline_reason")),
        ("decision", _flag("immediate")),
    )
