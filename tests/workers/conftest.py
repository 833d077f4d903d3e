"""Worker tests reuse the database fixtures of the service tests."""

from tests.tasking.conftest import (
    engine,
    org,
    password_hash,
    pg_template,
    request_data,
    sqlite_template,
)

__all__ = ["engine", "org", "password_hash", "pg_template", "request_data", "sqlite_template"]
