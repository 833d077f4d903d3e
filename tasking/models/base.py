"""Shared helpers for table models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


def utcnow() -> datetime:
    """Now in UTC as a naive datetime (stored the same way on SQLite and PostgreSQL)."""
    return datetime.now(UTC).replace(tzinfo=None)


class HasId(Protocol):
    """A table row with an integer primary key named id."""

    id: int | None


def pk(row: HasId) -> int:
    """The primary key of a row that has been flushed (raises if it has not)."""
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no id yet: flush it first")
    return row.id
