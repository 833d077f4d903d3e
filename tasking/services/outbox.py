"""The task outbox: tasks written in the transaction that needs them, sent after it commits.

Only the database side lives here (services never import Celery): adding a
row, reading the unsent ones and marking them sent. tasking/dispatch.py
sends them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from tasking.db import writer
from tasking.models import TaskOutbox, utcnow

# Short codes only in a message (never free text): enforced here, where every one is written.
MAX_ARG_LENGTH = 60


def add_task(*, session: Session, task_name: str, args: Iterable[int | str]) -> TaskOutbox:
    """Keep a task to send once the session's transaction commits; the flushed row."""
    values = list(args)
    for value in values:
        if isinstance(value, str) and len(value) > MAX_ARG_LENGTH:
            raise ValueError(f"task arguments are ids and short codes, not {value[:20]!r}...")
    row = TaskOutbox(task_name=task_name, args=json.dumps(values))
    session.add(row)
    session.flush()
    return row


def unsent(
    *, engine: Engine, ids: Iterable[int] | None = None, limit: int = 100
) -> list[TaskOutbox]:
    """Rows not yet sent, oldest first (only those of `ids` when given)."""
    query = select(TaskOutbox).where(col(TaskOutbox.sent_at).is_(None))
    if ids is not None:
        wanted = list(ids)
        if not wanted:
            return []
        query = query.where(col(TaskOutbox.id).in_(wanted))
    with Session(engine, expire_on_commit=False) as session:
        rows = list(session.exec(query.order_by(col(TaskOutbox.id)).limit(limit)).all())
        session.expunge_all()
    return rows


def mark_sent(*, engine: Engine, row_id: int) -> None:
    """Note that a row's message is with the broker."""
    with writer(engine).begin() as conn:
        conn.execute(
            update(TaskOutbox)
            .where(col(TaskOutbox.id) == row_id)
            .values(sent_at=utcnow(), attempts=col(TaskOutbox.attempts) + 1)
        )


def mark_failed(*, engine: Engine, row_id: int, error: str) -> None:
    """Note a failed send (the row stays unsent, for the beat to send again)."""
    with writer(engine).begin() as conn:
        conn.execute(
            update(TaskOutbox)
            .where(col(TaskOutbox.id) == row_id)
            .values(attempts=col(TaskOutbox.attempts) + 1, last_error=error[:500])
        )


def pending(*, session: Session) -> list[TaskOutbox]:
    """Every unsent row, oldest first (what `tasking runs` warns about)."""
    query = select(TaskOutbox).where(col(TaskOutbox.sent_at).is_(None))
    return list(session.exec(query.order_by(col(TaskOutbox.id))).all())
