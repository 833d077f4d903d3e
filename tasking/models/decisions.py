"""Decisions of the tasking meeting and the audit log."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Float, SmallInteger, Text
from sqlmodel import Field, SQLModel

from tasking.models.base import utcnow


class Decision(SQLModel, table=True):
    """A tasking decision, against the exact score version the meeting saw (NDM headings)."""

    __tablename__ = "decision"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_record.id", index=True)
    score_version: int
    priority_shown: float = Field(sa_type=Float)
    band_shown: int = Field(sa_type=SmallInteger)
    grading_shown: str = Field(max_length=64)
    model_version_id: int = Field(foreign_key="model_version.id")
    outcome: str = Field(max_length=16)  # DecisionOutcome
    grading_varied: bool = Field(default=False)
    variation_rationale: str = Field(default="", sa_type=Text)
    information: str = Field(sa_type=Text)
    threat_risk: str = Field(sa_type=Text)
    powers_policy: str = Field(default="", sa_type=Text)
    options: str = Field(default="", sa_type=Text)
    action: str = Field(sa_type=Text)
    chair_id: int = Field(foreign_key="app_user.id")
    recorded_by_id: int = Field(foreign_key="app_user.id")
    decided_at: datetime = Field(default_factory=utcnow)
    asset_id: int | None = Field(default=None, foreign_key="asset.id")
    hours_granted: int = 0
    conditions: str = Field(default="", sa_type=Text)
    owner_id: int | None = Field(default=None, foreign_key="app_user.id")
    strands: int = Field(default=0, sa_type=SmallInteger)
    next_review: date | None = None
    dissent: str = Field(default="", sa_type=Text)


class AuditEvent(SQLModel, table=True):
    """One logged act on records (DPA 2018 s.62): who, when, what, why."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    # collection, alteration, consultation, disclosure, combination or erasure
    category: str = Field(max_length=16)
    action: str = Field(max_length=48)  # e.g. "case.submit"
    entity_type: str = Field(max_length=32)
    entity_id: int | None = Field(default=None, index=True)
    reason: str = Field(default="", sa_type=Text)
    detail: str = Field(default="{}", sa_type=Text)  # JSON, never free-text intelligence
