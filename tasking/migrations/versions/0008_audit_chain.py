"""The audit log: context and reason columns, the hash chain, append-only triggers

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 17:05:00.000000

Existing audit rows are chained in id order (origin "system", no context) before
the triggers that refuse UPDATE and DELETE on audit_event are created.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
_STRING = sqlmodel.sql.sqltypes.AutoString
_NEW_COLUMNS = (
    ("seq", sa.Integer(), "0"),
    ("reason_code", _STRING(length=32), ""),
    ("origin", _STRING(length=16), "system"),
    ("address", _STRING(length=64), ""),
    ("user_agent", _STRING(length=256), ""),
    ("credential", _STRING(length=64), ""),
    ("prev_hash", _STRING(length=64), ""),
    ("row_hash", _STRING(length=64), ""),
)
SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event"
    " BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event"
    " BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: DELETE refused'); END",
)
PG_TRIGGERS = (
    "CREATE FUNCTION audit_event_refuse() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP; END $$",
    "CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event"
    " FOR EACH ROW EXECUTE FUNCTION audit_event_refuse()",
    "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse()",
)


def upgrade() -> None:
    for name, kind, default in _NEW_COLUMNS:
        op.add_column(
            "audit_event",
            sa.Column(name, kind, nullable=False, server_default=sa.text(repr(default))),
        )
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("row_hash", _STRING(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "audit_verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("origin", _STRING(length=16), nullable=False),
        sa.Column("from_seq", sa.Integer(), nullable=False),
        sa.Column("through_seq", sa.Integer(), nullable=False),
        sa.Column("through_hash", _STRING(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_verification", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_verification_at"), ["at"], unique=False)
    seq, last = _chain_existing_rows()
    op.execute(
        sa.text("INSERT INTO audit_chain_head (id, seq, row_hash) VALUES (1, :seq, :h)").bindparams(
            seq=seq, h=last
        )
    )
    op.create_index("ix_audit_event_seq", "audit_event", ["seq"], unique=True)
    bind = op.get_bind()
    for statement in PG_TRIGGERS if bind.dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)


def _chain_existing_rows() -> tuple[int, str]:
    """Number and hash the rows already written, oldest first (version 1 canonical form)."""
    from tasking.services.audit import canonical_sql

    bind = op.get_bind()
    ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM audit_event ORDER BY id"))]
    for number, row_id in enumerate(ids, start=1):
        bind.execute(
            sa.text("UPDATE audit_event SET seq = :seq WHERE id = :id"),
            {"seq": number, "id": row_id},
        )
    last = GENESIS
    texts = bind.execute(
        sa.text(f"SELECT id, {canonical_sql(bind.dialect.name)} FROM audit_event ORDER BY seq")
    ).all()
    for row_id, hashed in texts:
        # prev_hash is '' in the selected text: put the real one in front of the content.
        content = hashed.split("\x1e", 1)[1]
        row_hash = hashlib.sha256(f"{last}\x1e{content}".encode()).hexdigest()
        bind.execute(
            sa.text("UPDATE audit_event SET prev_hash = :p, row_hash = :h WHERE id = :id"),
            {"p": last, "h": row_hash, "id": row_id},
        )
        last = row_hash
    return len(ids), last


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_change ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_refuse()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
    op.drop_index("ix_audit_event_seq", table_name="audit_event")
    with op.batch_alter_table("audit_verification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_verification_at"))
    op.drop_table("audit_verification")
    op.drop_table("audit_chain_head")
    for name, _kind, _default in reversed(_NEW_COLUMNS):
        op.drop_column("audit_event", name)
