"""Data models that validate input before anything is stored (never table models)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tasking.models import ASSET_TYPES, Strand
from tasking.services.errors import Invalid

TEXT_SHORT = 200
TEXT_LONG = 10_000


class StrictIn(BaseModel):
    """Unknown fields are refused, so a body cannot set what it may not (bcu, score, state...)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AssessmentIn(StrictIn):
    """The MoRiLE inputs of a case as a person enters them."""

    P: int = Field(ge=0, le=4)
    Ps: int = Field(ge=0, le=4)
    F: int = Field(ge=0, le=4)
    C: int = Field(ge=0, le=4)
    S: int = Field(ge=1, le=5)
    V: int = Field(ge=0, le=2)
    L: int = Field(ge=1, le=5)
    Cf: Literal["H", "M", "L"]
    Ca: int = Field(ge=0, le=2)
    Cb: int = Field(ge=0, le=2)
    O: int = Field(ge=0, le=2)  # noqa: E741 - the contract's key name
    T: int = Field(ge=0, le=1)
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


class AssetRequestIn(CaseFactsIn):
    """A BCU's request for a specialist asset, with its MoRiLE assessment."""

    asset_type: str
    requested_hours: int = Field(ge=1, le=10_000)
    justification: str = Field(min_length=10, max_length=TEXT_LONG)
    assessment: AssessmentIn


class CaseIn(CaseFactsIn):
    """An operation or intelligence case opened by the centre."""

    kind: Literal["operation", "intelligence"]
    bcu_id: int | None = Field(default=None, gt=0)
    assessment: AssessmentIn


class IntelIn(StrictIn):
    """A graded (3x5x2) intelligence log entry."""

    source_grade: int = Field(ge=1, le=3)
    info_grade: Literal["A", "B", "C", "D", "E"]
    handling: Literal["P", "C"]
    summary: str = Field(min_length=3, max_length=TEXT_LONG)
    received_at: datetime


class DecisionIn(StrictIn):
    """A tasking meeting decision under the National Decision Model headings."""

    outcome: Literal["adopted", "deferred", "declined", "referred"]
    score_version: int = Field(ge=1)
    information: str = Field(min_length=3, max_length=TEXT_LONG)
    threat_risk: str = Field(min_length=3, max_length=TEXT_LONG)
    powers_policy: str = Field(default="", max_length=TEXT_LONG)
    options: str = Field(default="", max_length=TEXT_LONG)
    action: str = Field(min_length=3, max_length=TEXT_LONG)
    chair_id: int | None = Field(default=None, gt=0)
    asset_id: int | None = Field(default=None, gt=0)
    hours_granted: int = Field(default=0, ge=0, le=10_000)
    conditions: str = Field(default="", max_length=TEXT_LONG)
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
