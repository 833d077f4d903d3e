"""Cases: the factual record, the MoRiLE assessment kept apart from it, and graded intelligence.

DPA 2018 s.38: facts and assessments are held apart. `Case` holds what is
known and asked for; `Assessment` holds the analyst's MoRiLE judgement; the
score derived from it lives in `CaseScore` (tasking.models.scores).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index, SmallInteger, Text
from sqlmodel import Field, SQLModel

from scoring.vector import KEY_RANGES
from tasking.models.base import utcnow
from tasking.models.enums import Marking, ModerationState, State


class Case(SQLModel, table=True):
    """An operation, intelligence case or BCU asset request: the facts."""

    __tablename__ = "case_record"
    __table_args__ = (
        CheckConstraint("requested_hours >= 0 AND requested_hours <= 10000", name="ck_case_hours"),
        # The nightly review lists walk review dates in order and test the state from
        # the index alone, stopping at the first few hundred matches. (No index on the
        # state alone: boards filter scores, and a planner would pick it for these lists.)
        Index("ix_case_record_review_state", "next_review", "state"),
        # The retention list walks the dates set on closing (DPA 2018 s.39).
        Index("ix_case_record_retain_until", "retain_until"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=32, unique=True)
    kind: int = Field(sa_type=SmallInteger)  # CaseKind
    codename: str | None = Field(default=None, max_length=64)
    title: str = Field(max_length=200)
    summary: str = Field(default="", sa_type=Text)
    justification: str = Field(default="", sa_type=Text)
    theme_id: int = Field(foreign_key="theme.id")
    strands: int = Field(default=0, sa_type=SmallInteger)  # Strand bit set
    bcu_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    hub_id: int | None = Field(default=None, foreign_key="unit.id")
    asset_type: str | None = Field(default=None, max_length=32)
    requested_hours: int = Field(default=0)
    allocated_hours: int = Field(default=0)
    opportunity_deadline: date | None = None
    # Operational review (decisions, active work); cleared when the case closes.
    next_review: date | None = Field(default=None)
    # Records retention: set on closing from the schedule in config/workflow.toml.
    retain_until: date | None = Field(default=None)
    marking: str = Field(default=Marking.OFFICIAL_SENSITIVE.value, max_length=32)
    state: str = Field(default=State.DRAFT.value, max_length=24)
    outcome: str | None = Field(default=None, max_length=200)
    # On closing: JSON {strand name: OutcomeGrade} for the 4P strands the work served.
    outcome_grades: str = Field(default="{}", max_length=200)
    closed_at: datetime | None = None
    lead_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_by_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    submitted_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
    # Optimistic lock for human edits of the case or its assessment.
    version: int = Field(default=1)


# Each MoRiLE key of docs/scoring.md is stored in the column of its lower-case name
# (Cf as its code), within the contract's range (scoring.vector.KEY_RANGES).
ASSESSMENT_COLUMNS = {key: key.lower() for key in KEY_RANGES}
_IN_RANGE = " AND ".join(
    f"{ASSESSMENT_COLUMNS[key]} BETWEEN {low} AND {high}" for key, (low, high) in KEY_RANGES.items()
)


class Assessment(SQLModel, table=True):
    """The MoRiLE inputs of one case (an assessment, not a fact), one row per case."""

    __tablename__ = "assessment"
    __table_args__ = (CheckConstraint(_IN_RANGE, name="ck_assessment_ranges"),)

    case_id: int = Field(foreign_key="case_record.id", primary_key=True)
    p: int = Field(sa_type=SmallInteger)
    ps: int = Field(sa_type=SmallInteger)
    f: int = Field(sa_type=SmallInteger)
    c: int = Field(sa_type=SmallInteger)
    s: int = Field(sa_type=SmallInteger)
    v: int = Field(sa_type=SmallInteger)
    l: int = Field(sa_type=SmallInteger)  # noqa: E741 - the contract's key name
    cf: int = Field(sa_type=SmallInteger)  # 0 = L, 1 = M, 2 = H
    ca: int = Field(sa_type=SmallInteger)
    cb: int = Field(sa_type=SmallInteger)
    o: int = Field(sa_type=SmallInteger)
    t: int = Field(sa_type=SmallInteger)
    vector: str = Field(max_length=128)  # canonical, without age
    # Newest corroborating intelligence: the age A is measured from here at scoring time.
    intel_at: datetime = Field(default_factory=utcnow)
    rationale: str = Field(default="", sa_type=Text)
    assessed_by_id: int = Field(foreign_key="app_user.id")
    assessed_at: datetime = Field(default_factory=utcnow)
    moderation: str = Field(default=ModerationState.PENDING.value, max_length=16)
    moderated_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    moderated_at: datetime | None = None
    moderation_note: str = Field(default="", sa_type=Text)
    # Raised by every change of the inputs or the intelligence time (human edits only,
    # never by ageing): a decision names the version its papers showed.
    version: int = Field(default=1)
    # The assessment version a moderation (agreed or varied) applies to; the meeting
    # needs it to equal `version`.
    moderated_version: int | None = None
    # When moderation varied the inputs: the assessor's vector before the variation.
    varied_from: str = Field(default="", max_length=128)
    # Threat to life submitted with the facts alone: placeholder inputs (T=1) until an
    # analyst completes the assessment.
    provisional: bool = Field(default=False)


class IntelEntry(SQLModel, table=True):
    """A graded intelligence log entry (3x5x2) attached to a case."""

    __tablename__ = "intel_entry"
    __table_args__ = (
        CheckConstraint("source_grade BETWEEN 1 AND 3", name="ck_intel_source"),
        CheckConstraint("info_grade IN ('A','B','C','D','E')", name="ck_intel_info"),
        CheckConstraint("handling IN ('P','C')", name="ck_intel_handling"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_record.id", index=True)
    source_grade: int = Field(sa_type=SmallInteger)
    info_grade: str = Field(max_length=1)
    handling: str = Field(max_length=1)
    summary: str = Field(sa_type=Text)
    received_at: datetime
    logged_by_id: int = Field(foreign_key="app_user.id")
    logged_at: datetime = Field(default_factory=utcnow)


class InfoRequest(SQLModel, table=True):
    """A coordinator's question to the requesting BCU during triage, and the BCU's answer."""

    __tablename__ = "info_request"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_record.id", index=True)
    question: str = Field(sa_type=Text)
    asked_by_id: int = Field(foreign_key="app_user.id")
    asked_at: datetime = Field(default_factory=utcnow)
    answer: str | None = Field(default=None, sa_type=Text)
    answered_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    answered_at: datetime | None = None
