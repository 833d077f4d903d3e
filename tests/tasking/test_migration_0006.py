"""Migration 0006 goes down and up again under data, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlmodel import SQLModel

from tasking.db import session_scope
from tasking.migrate import downgrade, upgrade
from tasking.services.demo import seed_demo


def test_migration_0006_down_and_up_with_the_demo_loaded(engine: Engine) -> None:
    with session_scope(engine) as session:
        seed_demo(session=session)
    with engine.connect() as conn:
        tasked = conn.execute(text("SELECT COUNT(*) FROM decision_asset")).scalar_one()
        first = conn.execute(text("SELECT COUNT(asset_id) FROM decision")).scalar_one()
    assert tasked > first > 0  # REQ-013 tasks two assets
    downgrade(engine, "0005")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(asset_id) FROM decision")).scalar_one() == first
    upgrade(engine)
    with engine.connect() as conn:
        # The single asset column becomes each decision's first decision_asset row again.
        assert conn.execute(text("SELECT COUNT(*) FROM decision_asset")).scalar_one() == first
        moderated = conn.execute(
            text("SELECT COUNT(*) FROM assessment WHERE moderation <> 'pending'")
        ).scalar_one()
        current = conn.execute(
            text("SELECT COUNT(*) FROM assessment WHERE moderated_version = version")
        ).scalar_one()
        assert current == moderated > 0
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
