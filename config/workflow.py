"""The workflow vocabularies and schedules in config/workflow.toml, validated at load."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

WORKFLOW_FILE = Path(__file__).resolve().parent / "workflow.toml"
PARTNER_KINDS = ("regional", "national", "partner")
CASE_KINDS = ("operation", "intelligence", "request")
RETENTION_OUTCOMES = ("adopted", "deferred", "declined", "referred", "none")
# States with an operational review date (every state but draft and closed).
REVIEW_STATES = (
    "submitted", "triage", "information_requested", "scoring", "moderation",
    "awaiting_meeting", "adopted", "deferred", "declined", "referred", "active", "under_review",
)  # fmt: skip
MAX_REVIEW_DAYS = 3650


@dataclass(frozen=True)
class PartnerAgency:
    """A body the tasking meeting may refer work to."""

    code: str
    name: str
    kind: str  # one of PARTNER_KINDS


@dataclass(frozen=True)
class Workflow:
    """Partner agencies, the review and retention schedules and the draft expiry age."""

    partner_agencies: tuple[PartnerAgency, ...]
    retention_years: dict[str, dict[str, int]]  # case kind -> outcome -> years
    draft_max_age_days: int
    review_days: dict[str, dict[str, int]]  # case kind -> state -> days to the next review

    def review_after(self, kind: str, state: str) -> int | None:
        """Days from entering `state` to the next review for this kind, or None (no review)."""
        return self.review_days.get(kind, {}).get(state)

    def partner(self, code: str) -> PartnerAgency | None:
        """The partner agency with this code, or None."""
        return next((p for p in self.partner_agencies if p.code == code), None)


class WorkflowConfigError(ValueError):
    """The workflow file is missing a value or holds a wrong one."""


def parse_workflow(data: dict[str, Any], source: str = "workflow.toml") -> Workflow:
    """A validated Workflow from parsed TOML; raises WorkflowConfigError naming the problem."""

    def fail(message: str) -> WorkflowConfigError:
        return WorkflowConfigError(f"{source}: {message}")

    partners = []
    for i, raw in enumerate(data.get("partner_agency", [])):
        if not isinstance(raw, dict) or set(raw) != {"code", "name", "kind"}:
            raise fail(f"partner_agency[{i}] needs exactly code, name and kind")
        if raw["kind"] not in PARTNER_KINDS:
            raise fail(f"partner_agency[{i}].kind must be one of {', '.join(PARTNER_KINDS)}")
        if not str(raw["code"]).strip() or len(str(raw["code"])) > 32:
            raise fail(f"partner_agency[{i}].code must be 1-32 characters")
        partners.append(PartnerAgency(str(raw["code"]), str(raw["name"]), str(raw["kind"])))
    if not partners:
        raise fail("at least one partner_agency is needed")
    if len({p.code for p in partners}) != len(partners):
        raise fail("partner_agency codes must be unique")
    schedule = data.get("retention_years")
    if not isinstance(schedule, dict):
        raise fail("missing [retention_years]")
    retention: dict[str, dict[str, int]] = {}
    for kind in CASE_KINDS:
        table = schedule.get(kind)
        if not isinstance(table, dict) or set(table) != set(RETENTION_OUTCOMES):
            raise fail(f"retention_years.{kind} needs exactly {', '.join(RETENTION_OUTCOMES)}")
        for outcome, years in table.items():
            if isinstance(years, bool) or not isinstance(years, int) or not 0 < years <= 100:
                raise fail(f"retention_years.{kind}.{outcome} must be 1-100 years")
        retention[kind] = dict(table)
    age = data.get("draft_max_age_days")
    if isinstance(age, bool) or not isinstance(age, int) or age < 1:
        raise fail("draft_max_age_days must be a whole number of days, at least 1")
    return Workflow(tuple(partners), retention, age, _review_days(data.get("review_days"), fail))


def _review_days(schedule: Any, fail: Any) -> dict[str, dict[str, int]]:
    """The review schedule: every kind names every reviewed state, 1 to 3650 days."""
    if not isinstance(schedule, dict):
        raise fail("missing [review_days]")
    review: dict[str, dict[str, int]] = {}
    for kind in CASE_KINDS:
        table = schedule.get(kind)
        if not isinstance(table, dict) or set(table) != set(REVIEW_STATES):
            raise fail(f"review_days.{kind} needs exactly {', '.join(REVIEW_STATES)}")
        for state, days in table.items():
            if isinstance(days, bool) or not isinstance(days, int):
                raise fail(f"review_days.{kind}.{state} must be a whole number of days")
            if not 0 < days <= MAX_REVIEW_DAYS:
                raise fail(f"review_days.{kind}.{state} must be 1-{MAX_REVIEW_DAYS} days")
        review[kind] = dict(table)
    return review


@cache
def load_workflow(path: Path = WORKFLOW_FILE) -> Workflow:
    """The workflow configuration (read and validated once per process)."""
    with path.open("rb") as handle:
        return parse_workflow(tomllib.load(handle), source=str(path.name))
