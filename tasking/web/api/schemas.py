"""Request and response models of /api/v1 (the OpenAPI document is generated from them).

Request bodies reuse the services' own input models (tasking.services.schemas),
which refuse unknown fields, so a body cannot set a BCU, a score, a state or a
version it may not. The case operations' models are in case_schemas.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tasking.models import State
from tasking.services.audit import REASON_TEXT_MAX, REASONS
from tasking.services.schemas import TEXT_SHORT, AssetRequestIn, StrictIn
from tasking.web.api.spec import MAX_ID

MAX_VECTORS = 10_000
VectorText = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Out(BaseModel):
    """Base of response models."""

    model_config = ConfigDict(extra="forbid")


# Score preview


class PreviewIn(StrictIn):
    """Vectors to score without storing anything (docs/scoring.md, 'The vector string')."""

    vectors: list[VectorText] = Field(min_length=1, max_length=MAX_VECTORS)


class ModelInfo(Out):
    """The scoring model a score was made with."""

    name: str
    version: int
    hash: str


class BandMoveOut(Out):
    """The smallest change of one factor that moves a case to another band."""

    factor: str
    before: str
    after: str
    band_before: str
    band_after: str
    priority_after: float
    text: str


class PreviewResult(Out):
    """One vector's score (the fields of `scoring.score_vectors`) and what would move its band."""

    vector: str
    harm_base: float
    total_harm: float
    risk: float
    freshness: float
    priority: float
    band: Literal["P0", "P1", "P2", "P3"]
    position: int
    position_grade: Literal["Weak", "Adequate", "Strong"]
    grading: str
    model: str
    moves: list[BandMoveOut]


class PreviewOut(Out):
    """Scores of every vector, in the order sent."""

    model: ModelInfo
    results: list[PreviewResult]


# Asset requests


class RequestsQuery(StrictIn):
    """Paging of a BCU's requests (newest first)."""

    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=25, ge=1, le=200)


class QuestionOut(Out):
    """A question to the requesting BCU, and its answer once given."""

    id: int
    question: str
    asked_by_id: int
    asked_at: datetime
    answer: str | None
    answered_by_id: int | None
    answered_at: datetime | None


class RequestDecisionOut(Out):
    """A decision as the requesting BCU is told it."""

    outcome: str
    decided_at: datetime
    reason: str


class RequestHistoryOut(Out):
    """One past score of a request."""

    score_version: int
    priority: float
    band: str
    scored_at: datetime
    reason: str


class RequestLineOut(Out):
    """One of a BCU's requests in a list."""

    id: int
    reference: str
    title: str
    state: str
    theme: str
    asset_type: str | None
    requested_hours: int
    allocated_hours: int
    submitted_at: datetime | None
    created_at: datetime
    band: str | None
    priority: float | None
    threat_to_life: bool
    outcome: str | None
    decided_at: date | None
    reason: str


class RequestPageOut(Out):
    """A page of the caller's BCU's requests."""

    requests: list[RequestLineOut]
    page: int
    pages: int
    total: int


class RequestOut(RequestLineOut):
    """One request in full, as its BCU sees it."""

    summary: str
    justification: str
    opportunity_deadline: date | None
    version: int
    decisions: list[RequestDecisionOut]
    history: list[RequestHistoryOut]
    questions: list[QuestionOut]


class WithdrawIn(StrictIn):
    """Why the BCU withdraws its request, against the version read."""

    version: int = Field(ge=1, le=MAX_ID)
    reason: str = Field(min_length=3, max_length=TEXT_SHORT)


class WithdrawnOut(Out):
    """A request just withdrawn: closed, with the reason as its outcome."""

    id: int
    reference: str
    state: str
    outcome: str | None
    version: int


class SubmittedOut(Out):
    """A request just submitted: on the board, scored."""

    id: int
    reference: str
    state: str
    priority: float
    band: str
    grading: str
    version: int
    created_at: datetime


class IdempotencyHeaders(BaseModel):
    """An optional key that makes a retried submission return the first answer."""

    model_config = ConfigDict(extra="allow")

    idempotency_key: str | None = Field(
        default=None,
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique string (e.g. a UUID); kept 24 hours per user.",
    )


# Why a restricted case is read

REASON_CODE_HEADER = "X-Access-Reason-Code"
REASON_TEXT_HEADER = "X-Access-Reason"


class AccessReasonHeaders(BaseModel):
    """Why the caller needs a case marked above OFFICIAL-SENSITIVE (kept in the audit log).

    Required for such a case (a 422 naming the header without it, before anything of
    the case is sent); optional, and kept with the consultation if sent, for any other.
    """

    model_config = ConfigDict(extra="allow")

    reason_code: str | None = Field(
        default=None,
        alias=REASON_CODE_HEADER,
        max_length=32,
        description="Why you need the case, one of: "
        + "; ".join(f"`{code}` ({words})" for code, words in REASONS)
        + ". The same short list as the web page asks from.",
        json_schema_extra={"enum": [code for code, _ in REASONS]},
    )
    reason: str | None = Field(
        default=None,
        alias=REASON_TEXT_HEADER,
        max_length=3 * REASON_TEXT_MAX,
        description=(
            f"Your words, at least 5 characters when the code is `other` (at most"
            f" {REASON_TEXT_MAX}); percent-encode (UTF-8) anything but printable ASCII."
        ),
    )


# Boards


class BoardQuery(StrictIn):
    """Board filters (as on the web board) and the keyset cursor of the next page."""

    hub_id: Id | None = None
    bcu_id: Id | None = None
    theme_id: Id | None = None
    asset_type: Annotated[str, StringConstraints(max_length=32)] | None = None
    band: Literal["P0", "P1", "P2", "P3"] | None = None
    state: State | None = None
    kind: Literal["operation", "intelligence", "request"] | None = None
    harm: int | None = Field(default=None, ge=0, le=4, description="total harm band 0..4")
    likelihood: int | None = Field(default=None, ge=1, le=5)
    cursor: Annotated[str, StringConstraints(max_length=512)] | None = Field(
        default=None, description="a page's next_cursor: the page after it"
    )
    before: Annotated[str, StringConstraints(max_length=512)] | None = Field(
        default=None, description="a page's prev_cursor: the page before it"
    )
    limit: int = Field(default=50, ge=1, le=200)


class BoardRowOut(Out):
    """One line of a ranked board."""

    rank: int
    id: int
    reference: str
    codename: str | None
    title: str
    kind: str
    state: str
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
    lead_id: int | None
    moderation: str
    threat_to_life: bool
    vector: str
    age_days: float
    harm_base: float
    total_harm: float
    risk: float
    freshness: float
    priority: float
    band: str
    position: int
    position_grade: str
    score_version: int
    scored_at: datetime


class BoardOut(Out):
    """A page of a ranked board: `next_cursor` as `cursor`, or `prev_cursor` as `before`."""

    rows: list[BoardRowOut]
    next_cursor: str | None
    prev_cursor: str | None
    band_counts: dict[str, int]


# Runs and models


class RunsQuery(StrictIn):
    """How many of the latest runs to list."""

    limit: int = Field(default=20, ge=1, le=200)


class RunOut(Out):
    """A scoring run (a rescore, nightly run, new model or what-if)."""

    id: int
    kind: str
    status: str
    reason: str
    run_date: date | None
    model_version_id: int
    started_at: datetime
    finished_at: datetime | None
    chunks_total: int
    chunks_done: int
    cases_total: int
    cases_changed: int
    band_changes: int
    error: str
    summary: dict[str, object]


class RunListOut(Out):
    """The latest scoring runs, newest first."""

    runs: list[RunOut]


class ModelVersionOut(Out):
    """A published scoring model version."""

    id: int
    name: str
    version: int
    hash: str
    is_current: bool
    published_at: datetime
    published_by_id: int | None


class ModelVersionDetailOut(ModelVersionOut):
    """A model version with its model file (TOML)."""

    content: str


class ModelListOut(Out):
    """Every stored model version, newest first."""

    models: list[ModelVersionOut]


__all__ = ["AssetRequestIn"]  # re-exported: the submission body is the service's own model
