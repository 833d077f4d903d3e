"""Users given a one-time password must choose their own at their next sign-in

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 18:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch table copy): every table refers to app_user, and SQLite
    # cannot drop and rebuild it under data with foreign keys on.
    op.add_column(
        "app_user",
        sa.Column("password_expired", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("app_user", "password_expired")  # SQLite 3.35+ drops a column in place
