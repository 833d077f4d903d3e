"""Request and response models of the case operations of /api/v1.

Each change carries the case `version` the caller read: a stale one is a 409.
The bodies wrap the services' own input models, which refuse unknown fields.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from tasking.models import State
from tasking.services.schemas import TEXT_LONG, AssessmentIn, DecisionIn, IntelIn, StrictIn
from tasking.web.api.schemas import BandMoveOut, ModelInfo, Out, QuestionOut
from tasking.web.api.spec import MAX_ID


class AssessmentOut(Out):
    """A case's MoRiLE inputs (an assessment, not a fact) and their moderation."""

    P: int
    Ps: int
    F: int
    C: int
    S: int
    V: int
    L: int
    Cf: str
    Ca: int
    Cb: int
    O: int  # noqa: E741 - the contract's key name
    T: int
    vector: str
    intel_at: datetime
    rationale: str
    assessed_by_id: int
    assessed_at: datetime
    moderation: str
    moderated_by_id: int | None
    moderated_at: datetime | None
    moderation_note: str
    version: int
    moderated_version: int | None
    varied_from: str
    provisional: bool


class ScoreOut(Out):
    """The current score and how it was made (an assessment product, DPA s.38)."""

    score_version: int
    model: ModelInfo
    vector: str
    age_days: float
    harm_contributions: dict[str, float]
    harm_base: float
    scope_multiplier: float
    vulnerability_multiplier: float
    total_harm: float
    likelihood: int
    risk: float
    confidence_multiplier: float
    freshness: float
    priority: float
    band: str
    position: int
    position_grade: str
    grading: str
    scored_at: datetime
    moves: list[BandMoveOut]


class HistoryOut(Out):
    """One past score of a case."""

    score_version: int
    priority: float
    band: str
    position: int
    vector: str
    model_version_id: int
    reason: str
    explanation: str
    scored_at: datetime


class IntelOut(Out):
    """A graded (3x5x2) intelligence log entry."""

    id: int
    source_grade: int
    info_grade: str
    handling: str
    summary: str
    received_at: datetime
    logged_by_id: int
    logged_at: datetime


class DecisionAssetOut(Out):
    """An asset a decision tasks, with the hours granted."""

    asset_id: int
    code: str
    name: str
    hours: int


class DecisionOut(Out):
    """A tasking decision, with the exact score the meeting saw."""

    id: int
    outcome: str
    assessment_version: int
    score_version: int
    papers_score_version: int | None
    vector_shown: str
    age_days_shown: float
    priority_shown: float
    band_shown: str
    grading_shown: str
    rank_shown: int | None
    model_name: str
    model_number: int
    model_hash: str
    grading_varied: bool
    variation_rationale: str
    information: str
    threat_risk: str
    powers_policy: str
    options: str
    action: str
    chair_id: int
    recorded_by_id: int
    decided_at: datetime
    hours_granted: int
    assets: list[DecisionAssetOut]
    asset_type_reason: str
    referral_destination: str | None
    decline_reason: str
    conditions: str
    immediate: bool
    owner_id: int | None
    strands: list[str]
    next_review: date | None
    dissent: str


class CaseOut(Out):
    """A case: its facts, its assessment, its score with the breakdown, and its history."""

    id: int
    reference: str
    kind: str
    codename: str | None
    title: str
    summary: str
    justification: str
    theme_id: int
    strands: list[str]
    bcu_id: int | None
    hub_id: int | None
    asset_type: str | None
    requested_hours: int
    allocated_hours: int
    opportunity_deadline: date | None
    next_review: date | None
    marking: str
    state: str
    outcome: str | None
    lead_id: int | None
    created_at: datetime
    submitted_at: datetime | None
    updated_at: datetime
    version: int
    allowed_transitions: list[str]
    assessment: AssessmentOut
    score: ScoreOut | None
    history: list[HistoryOut]
    intelligence: list[IntelOut]
    decisions: list[DecisionOut]
    questions: list[QuestionOut]


class AssessmentUpdateIn(StrictIn):
    """New MoRiLE inputs for a case, against the version read."""

    version: int = Field(ge=1, le=MAX_ID)
    assessment: AssessmentIn


class IntelBodyIn(StrictIn):
    """Graded intelligence to log on a case, against the version read."""

    version: int = Field(ge=1, le=MAX_ID)
    intelligence: IntelIn


class TransitionIn(StrictIn):
    """A change of state, with the reason recorded."""

    version: int = Field(ge=1, le=MAX_ID)
    to_state: State
    reason: str = Field(min_length=1, max_length=TEXT_LONG)
    outcome: str | None = Field(default=None, max_length=200)


class ModerationIn(StrictIn):
    """A second analyst agrees with the score, or varies it: new inputs and a note saying why."""

    version: int = Field(ge=1, le=MAX_ID)
    agree: bool
    note: str = Field(default="", max_length=TEXT_LONG)
    varied: AssessmentIn | None = None


class QuestionBodyIn(StrictIn):
    """A question to the requesting BCU (the request goes to `information_requested`)."""

    version: int = Field(ge=1, le=MAX_ID)
    question: str = Field(min_length=3, max_length=TEXT_LONG)


class AnswerBodyIn(StrictIn):
    """The BCU's answer to the open question (the request goes back to triage)."""

    version: int = Field(ge=1, le=MAX_ID)
    answer: str = Field(min_length=3, max_length=TEXT_LONG)


class DecisionBodyIn(StrictIn):
    """The meeting's decision, against the case version and the score version shown."""

    version: int = Field(ge=1, le=MAX_ID)
    decision: DecisionIn


class QuestionCreatedOut(Out):
    """A question or answer just recorded, and the case after it."""

    question: QuestionOut
    version: int
    state: str


class DecisionCreatedOut(Out):
    """A decision just recorded, and the case after it."""

    decision: DecisionOut
    case_version: int
    state: str


class CaseChangeOut(Out):
    """A case after a change: its new version and state (read it again for the rest)."""

    id: int
    reference: str
    version: int
    state: str
    moderation: str
    score_version: int | None
    priority: float | None
    band: str | None


class IntelCreatedOut(Out):
    """An intelligence entry just logged, and the case after it."""

    entry: IntelOut
    case: CaseChangeOut
