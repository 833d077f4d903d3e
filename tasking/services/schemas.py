"""Data models that validate input before anything is stored (never table models)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scoring.vector import KEY_RANGES
from tasking.models import ASSET_TYPES, Marking, OutcomeGrade, Strand
from tasking.services.errors import Invalid

TEXT_SHORT = 200
TEXT_LONG = 10_000


def _factor(key: str) -> Any:
    """An integer MoRiLE input within its contract range (scoring.vector.KEY_RANGES)."""
    low, high = KEY_RANGES[key]
    return Field(ge=low, le=high)


class StrictIn(BaseModel):
    """Unknown fields are refused, so a body cannot set what it may not (bcu, score, state...)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AssessmentIn(StrictIn):
    """The MoRiLE inputs of a case as a person enters them."""

    P: int = _factor("P")
    Ps: int = _factor("Ps")
    F: int = _factor("F")
    C: int = _factor("C")
    S: int = _factor("S")
    V: int = _factor("V")
    L: int = _factor("L")
    Cf: Literal["H", "M", "L"]
    Ca: int = _factor("Ca")
    Cb: int = _factor("Cb")
    O: int = _factor("O")  # noqa: E741 - the contract's key name
    T: int = _factor("T")
    rationale: str = Field(default="", max_length=TEXT_LONG)


class CaseFactsIn(StrictIn):
    """Facts shared by every kind of case."""

    title: str = Field(min_length=3, max_length=TEXT_SHORT)
    codename: str | None = Field(default=None, max_length=64)
    summary: str = Field(default="", max_length=TEXT_LONG)
    justification: str = Field(default="", max_length=TEXT_LONG)
    theme_id: int = Field(gt=0)
    strands: list[str] = Field(default_factory=list, max_length=4)
    hub_id: int | None = Field(default=None, gt=0)
    asset_type: str | None = None
    requested_hours: int = Field(default=0, ge=0, le=10_000)
    opportunity_deadline: date | None = None
    next_review: date | None = None

    @field_validator("strands")
    @classmethod
    def _known_strands(cls, value: list[str]) -> list[str]:
        Strand.parse(value)
        return value

    @field_validator("asset_type")
    @classmethod
    def _known_asset_type(cls, value: str | None) -> str | None:
        if value is not None and value not in ASSET_TYPES:
            raise ValueError(f"unknown asset type; choose one of {', '.join(ASSET_TYPES)}")
        return value


class _ThreatToLifeOrAssessment(CaseFactsIn):
    """A MoRiLE assessment, or a threat to life submitted with the facts alone."""

    # Threat to life (T=1): may come without an assessment; it goes to the top of the
    # boards at once and an analyst completes the assessment afterwards.
    threat_to_life: bool = False
    assessment: AssessmentIn | None = None

    @model_validator(mode="after")
    def _assessment_unless_threat_to_life(self) -> _ThreatToLifeOrAssessment:
        if self.assessment is None and not self.threat_to_life:
            raise ValueError("assessment: required unless submitted as a threat to life")
        if self.threat_to_life and self.assessment is not None and self.assessment.T != 1:
            raise ValueError("assessment.T must be 1 for a threat to life")
        return self


class AssetRequestIn(_ThreatToLifeOrAssessment):
    """A BCU's request for a specialist asset, with its MoRiLE assessment."""

    asset_type: str
    requested_hours: int = Field(ge=1, le=10_000)
    justification: str = Field(min_length=10, max_length=TEXT_LONG)


class CaseIn(_ThreatToLifeOrAssessment):
    """An operation or intelligence case opened by the centre."""

    kind: Literal["operation", "intelligence"]
    bcu_id: int | None = Field(default=None, gt=0)


class IntelIn(StrictIn):
    """A graded (3x5x2) intelligence log entry."""

    source_grade: int = Field(ge=1, le=3)
    info_grade: Literal["A", "B", "C", "D", "E"]
    handling: Literal["P", "C"]
    summary: str = Field(min_length=3, max_length=TEXT_LONG)
    received_at: datetime


class DecisionAssetIn(StrictIn):
    """One asset a decision tasks, with the hours granted to it."""

    asset_id: int = Field(gt=0)
    hours: int = Field(ge=1, le=10_000)


class DecisionIn(StrictIn):
    """A tasking meeting decision under the National Decision Model headings."""

    outcome: Literal["adopted", "deferred", "declined", "referred"]
    # The assessment version the meeting's papers showed: the decision is refused if a
    # person changed the assessment since (never because the nightly run aged the score).
    assessment_version: int = Field(ge=1)
    # The score version the papers showed (kept on the record for reference).
    score_version: int | None = Field(default=None, ge=1)
    information: str = Field(min_length=3, max_length=TEXT_LONG)
    threat_risk: str = Field(min_length=3, max_length=TEXT_LONG)
    powers_policy: str = Field(default="", max_length=TEXT_LONG)
    options: str = Field(default="", max_length=TEXT_LONG)
    action: str = Field(min_length=3, max_length=TEXT_LONG)
    chair_id: int | None = Field(default=None, gt=0)
    # Adopted: at least one asset; other outcomes task none.
    assets: list[DecisionAssetIn] = Field(default_factory=list, max_length=20)
    # Required when a tasked asset's type is not the type the case asked for.
    asset_type_reason: str = Field(default="", max_length=TEXT_LONG)
    # Referred: a partner agency code from config/workflow.toml.
    referral_destination: str | None = Field(default=None, max_length=32)
    # Declined: the reason the requesting BCU is told (required).
    decline_reason: str = Field(default="", max_length=TEXT_LONG)
    conditions: str = Field(default="", max_length=TEXT_LONG)
    # Threat to life: the chair, as duty senior officer, decides before moderation.
    immediate: bool = False
    owner_id: int | None = Field(default=None, gt=0)
    strands: list[str] = Field(default_factory=list, max_length=4)
    next_review: date | None = None
    dissent: str = Field(default="", max_length=TEXT_LONG)
    grading_varied: bool = False
    variation_rationale: str = Field(default="", max_length=TEXT_LONG)

    @field_validator("strands")
    @classmethod
    def _known_strands(cls, value: list[str]) -> list[str]:
        Strand.parse(value)
        return value

    @field_validator("assets")
    @classmethod
    def _each_asset_once(cls, value: list[DecisionAssetIn]) -> list[DecisionAssetIn]:
        if len({a.asset_id for a in value}) != len(value):
            raise ValueError("each asset at most once")
        return value


class ModerationIn(StrictIn):
    """A second analyst's moderation: agree, or vary the inputs with a rationale."""

    agree: bool
    note: str = Field(default="", max_length=TEXT_LONG)
    # Varying: the inputs the moderator sets (they become the score).
    varied: AssessmentIn | None = None

    @model_validator(mode="after")
    def _variation_complete(self) -> ModerationIn:
        if self.agree and self.varied is not None:
            raise ValueError("varied: only when the moderator varies the score")
        if not self.agree and (self.varied is None or not self.note):
            raise ValueError("varied and note: varying needs the varied inputs and a rationale")
        return self


class MarkingIn(StrictIn):
    """A new handling marking for a case, and why."""

    marking: Marking
    reason: str = Field(min_length=3, max_length=TEXT_SHORT)


class QuestionIn(StrictIn):
    """A coordinator's request to the BCU for more information."""

    question: str = Field(min_length=3, max_length=TEXT_LONG)


class AnswerIn(StrictIn):
    """The BCU's answer to a request for more information."""

    answer: str = Field(min_length=3, max_length=TEXT_LONG)


class OutcomeIn(StrictIn):
    """How closed work ended: a short outcome and a grade per 4P strand it served."""

    outcome: str = Field(min_length=3, max_length=TEXT_SHORT)
    grades: dict[str, OutcomeGrade] = Field(min_length=1, max_length=4)

    @field_validator("grades")
    @classmethod
    def _strand_names(cls, value: dict[str, OutcomeGrade]) -> dict[str, OutcomeGrade]:
        return {Strand.parse([name]).names()[0]: grade for name, grade in value.items()}


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: Any) -> M:
    """Validate input into a data model; raises Invalid naming every bad field."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]) or "body"
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = "unknown field"
            fields.setdefault(name, message)
        summary = "; ".join(f"{name}: {reason}" for name, reason in fields.items())
        raise Invalid(f"invalid input: {summary}", fields=fields) from None
