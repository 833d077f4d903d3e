"""run chunks count the cases they left unread as settled

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 15:33:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run_chunk", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("settled", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("run_chunk", schema=None) as batch_op:
        batch_op.drop_column("settled")
