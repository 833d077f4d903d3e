"""Alembic environment: runs migrations against the connection the CLI hands over."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import tasking.models  # noqa: F401 - registers every table on the metadata

target_metadata = SQLModel.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `tasking init-db` (tasking.migrate.upgrade)")
context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
