"""The task outbox: work for the Celery workers, written in the transaction that needs it.

A row is written in the same transaction as the change that needs the task
(a published model and its rescore), so the two commit or roll back
together. It is sent after the commit and marked sent; a row still unsent
(the broker was down) is sent again by the beat (`tasking.send_outbox`).
The Celery task id is derived from the row id, so a row sent twice starts
its work once.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from tasking.models.base import utcnow


class TaskOutbox(SQLModel, table=True):
    """One task to send once the transaction that wrote it has committed."""

    __tablename__ = "task_outbox"

    id: int | None = Field(default=None, primary_key=True)
    task_name: str = Field(max_length=64)
    args: str = Field(default="[]", max_length=200)  # JSON list of ids and short codes
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = Field(default=None, index=True)
    attempts: int = 0
    last_error: str = Field(default="", max_length=500)

    @property
    def celery_task_id(self) -> str:
        """The Celery task id of this row's message (the same on every re-send)."""
        return f"outbox-{self.id}"
