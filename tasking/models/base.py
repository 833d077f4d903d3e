"""Shared helpers for table models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


def utcnow() -> datetime:
    """Now, as an aware UTC datetime (every stored time is aware UTC)."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class HasId(Protocol):
    """A table row with an integer primary key named id."""

    id: int | None


def pk(row: HasId) -> int:
    """The primary key of a row that has been flushed (raises if it has not)."""
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no id yet: flush it first")
    return row.id
