"""Records reviews (DPA 2018 s.39): each decision to keep or dispose of a case."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Text
from sqlmodel import Field, SQLModel

from tasking.models.base import utcnow


class RecordReview(SQLModel, table=True):
    """A reviewer's decision on one case: keep it (why, and until when) or dispose of it."""

    __tablename__ = "record_review"
    __table_args__ = (
        CheckConstraint("decision IN ('keep', 'dispose')", name="ck_record_review_decision"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_record.id", index=True)
    # Which list the case was on: review (operational), retention (closed) or draft.
    due: str = Field(max_length=16)
    decision: str = Field(max_length=8)  # keep or dispose
    reason: str = Field(sa_type=Text)
    reviewer_id: int = Field(foreign_key="app_user.id")
    decided_at: datetime = Field(default_factory=utcnow)
    # Keep: the next review (an open case's next_review, a closed case's retain_until).
    next_review: date | None = None
