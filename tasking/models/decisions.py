"""Decisions of the tasking meeting and the audit log."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Float, SmallInteger, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from tasking.models.base import utcnow


class Decision(SQLModel, table=True):
    """A tasking decision and the exact score the meeting saw (NDM headings).

    The record alone reproduces that score: `vector_shown` (inputs and the
    intelligence age used) scored under the model named by name, version and
    content hash gives `priority_shown` and `band_shown` exactly.
    """

    __tablename__ = "decision"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_record.id", index=True)
    score_version: int
    # The assessment version the meeting's papers showed (the decision is refused if a
    # person changed the assessment since) and the score version the papers showed.
    assessment_version: int = Field(default=0)
    papers_score_version: int | None = None
    vector_shown: str = Field(default="", max_length=160)  # with the age used
    age_days_shown: float = Field(default=0.0, sa_type=Float)
    priority_shown: float = Field(sa_type=Float)
    band_shown: int = Field(sa_type=SmallInteger)
    grading_shown: str = Field(max_length=64)
    rank_shown: int | None = None  # on the whole centre's board
    model_version_id: int = Field(foreign_key="model_version.id")
    model_name: str = Field(default="", max_length=64)
    model_number: int = Field(default=0)  # the model's version number
    model_hash: str = Field(default="", max_length=64)
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
    # Every asset tasked, with its hours, is a DecisionAsset row; `asset_id` repeats the
    # first one (the single asset older records named) and `hours_granted` is the total.
    asset_id: int | None = Field(default=None, foreign_key="asset.id")
    hours_granted: int = 0
    # Why the chair tasked another asset type than the one asked for.
    asset_type_reason: str = Field(default="", sa_type=Text)
    # Referred: a partner agency code from config/workflow.toml.
    referral_destination: str | None = Field(default=None, max_length=32)
    # Declined: the reason sent to the requesting BCU (with the conditions, it is visible
    # to them).
    decline_reason: str = Field(default="", sa_type=Text)
    conditions: str = Field(default="", sa_type=Text)
    # Threat to life: taken at once by the duty senior officer, before moderation.
    immediate: bool = Field(default=False)
    owner_id: int | None = Field(default=None, foreign_key="app_user.id")
    strands: int = Field(default=0, sa_type=SmallInteger)
    next_review: date | None = None
    dissent: str = Field(default="", sa_type=Text)


class DecisionAsset(SQLModel, table=True):
    """An asset a decision tasks, with the hours granted to it."""

    __tablename__ = "decision_asset"
    __table_args__ = (UniqueConstraint("decision_id", "asset_id"),)

    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    asset_id: int = Field(foreign_key="asset.id", index=True)
    hours: int = Field(ge=1, le=10_000)


class AuditEvent(SQLModel, table=True):
    """One logged act on records (DPA 2018 s.62): who, when, what, from where and why.

    Rows are append-only (database triggers refuse UPDATE and DELETE) and
    chained: `row_hash` is SHA-256 over the row's canonical content and the
    previous row's hash (`prev_hash`), in the one serialised order `seq`
    (tasking/services/audit.py writes and verifies it).
    """

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    # The position in the hash chain: 1, 2, 3... with no gaps.
    seq: int = Field(unique=True, index=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    # collection, alteration, consultation, disclosure, combination or erasure
    category: str = Field(max_length=16)
    action: str = Field(max_length=48)  # e.g. "case.submit"
    entity_type: str = Field(max_length=32)
    entity_id: int | None = Field(default=None, index=True)
    # Why: a code from the short list (audit.REASONS) when one was asked for, and text.
    reason_code: str = Field(default="", max_length=32)
    reason: str = Field(default="", sa_type=Text)
    detail: str = Field(default="{}", sa_type=Text)  # JSON, never free-text intelligence
    # From where: web, api, cli, worker or system; the address, the browser, and the
    # sign-in session (id prefix) or API token (id) the act came through.
    origin: str = Field(default="system", max_length=16)
    address: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=256)
    credential: str = Field(default="", max_length=64)
    prev_hash: str = Field(default="", max_length=64)
    row_hash: str = Field(default="", max_length=64)
