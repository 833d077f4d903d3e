"""bulk runs: board index set aside, packed inputs on scores, review index, HOT room

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 18:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_CODES = ("p", "ps", "f", "c", "s", "v", "l", "cf", "ca", "cb", "o", "t")
_EPOCH = {
    # Whole seconds from the text without its fraction: SQLite reads fractions to the
    # millisecond and would round .9996 up into the next second.
    "sqlite": "CAST(strftime('%s', substr(a.intel_at, 1, 19)) AS INTEGER)"
    " + CAST(substr(a.intel_at, 20) AS REAL)",
    "postgresql": "CAST(EXTRACT(EPOCH FROM a.intel_at) AS DOUBLE PRECISION)",
}


def upgrade() -> None:
    with op.batch_alter_table("scoring_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bulk", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("case_score", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("inputs", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("intel_epoch", sa.Float(), nullable=False, server_default="0")
        )
    # Existing scores: factor codes 3 bits each in docs/scoring.md key order (P in the low bits).
    packed = " + ".join(f"CAST(a.{c} AS BIGINT) * {1 << 3 * i}" for i, c in enumerate(_CODES))
    epoch = _EPOCH[op.get_bind().dialect.name]
    op.execute(
        f"UPDATE case_score SET inputs = (SELECT {packed} FROM assessment a"
        " WHERE a.case_id = case_score.case_id),"
        f" intel_epoch = (SELECT {epoch} FROM assessment a WHERE a.case_id = case_score.case_id)"
        " WHERE EXISTS (SELECT 1 FROM assessment a WHERE a.case_id = case_score.case_id)"
    )
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.drop_index("ix_case_record_next_review")
        batch_op.drop_index("ix_case_record_state")
        batch_op.create_index("ix_case_record_review_state", ["next_review", "state"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # Free room on each page lets PostgreSQL update a score in place (HOT) when
        # no indexed column changes, as in a bulk run. Applies to pages written from now.
        op.execute("ALTER TABLE case_score SET (fillfactor = 70)")


def downgrade() -> None:
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.drop_index("ix_case_record_review_state")
        batch_op.create_index("ix_case_record_next_review", ["next_review"], unique=False)
        batch_op.create_index("ix_case_record_state", ["state"], unique=False)
    with op.batch_alter_table("case_score", schema=None) as batch_op:
        batch_op.drop_column("intel_epoch")
        batch_op.drop_column("inputs")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE case_score RESET (fillfactor)")
    with op.batch_alter_table("scoring_run", schema=None) as batch_op:
        batch_op.drop_column("bulk")
