"""Board filters: partial filter indexes on the case facts a rescore never writes

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 18:50:00.000000

Five partial indexes over case facts a rescore never writes let a filter that
matches few cases find them without walking the board index (the board index
itself is unchanged: a nightly run rebuilds it). The column lists are written
out here (not imported) so this revision stays as it was when the models change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

FILTER_INDEXES = {
    "ix_case_score_f_theme": ["theme_id", "asset_type", "state", "kind", "hub_id", "bcu_id"],
    "ix_case_score_f_bcu": ["bcu_id", "state", "asset_type", "theme_id", "kind", "hub_id"],
    "ix_case_score_f_asset": ["asset_type", "hub_id", "kind", "state", "theme_id", "bcu_id"],
    "ix_case_score_f_state": ["state", "kind", "hub_id", "theme_id", "asset_type", "bcu_id"],
    "ix_case_score_f_hub": ["hub_id", "kind", "theme_id", "bcu_id", "state", "asset_type"],
}


def upgrade() -> None:
    for name, columns in FILTER_INDEXES.items():
        op.create_index(
            name,
            "case_score",
            columns,
            unique=False,
            sqlite_where=sa.text("on_board > 0"),
            postgresql_where=sa.text("on_board"),
        )


def downgrade() -> None:
    for name in FILTER_INDEXES:
        op.drop_index(name, table_name="case_score")
