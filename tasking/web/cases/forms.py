"""Form fields of the case page mapped to the services' input (their data models validate).

Each function returns what the user typed (`values`, kept for a re-render)
and the data for the service. Nothing is checked here that a service checks;
empty optional fields are left out so the data model's default applies.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from werkzeug.datastructures import MultiDict

ASSESSMENT_KEYS = ("P", "Ps", "F", "C", "S", "V", "L", "Cf", "Ca", "Cb", "O", "T")
INTEL_KEYS = ("source_grade", "info_grade", "handling", "summary", "received_at")
DECISION_TEXT = (
    "outcome",
    "information",
    "threat_risk",
    "powers_policy",
    "options",
    "action",
    "conditions",
    "dissent",
    "variation_rationale",
    "asset_type_reason",
    "decline_reason",
)
DECISION_OPTIONAL = ("chair_id", "owner_id", "next_review", "referral_destination")
DECISION_VERSIONS = ("assessment_version", "score_version")
ASSET_ROWS = 3  # asset lines on the decision form (each an asset and its hours)
STRAND_NAMES = ("Pursue", "Prevent", "Protect", "Prepare")
MAX_FIELD = 20_000  # longer than any service limit: the data model names the field


def _text(form: MultiDict[str, str], name: str) -> str:
    return form.get(name, "")[:MAX_FIELD]


def version(form: MultiDict[str, str]) -> int:
    """The case version the form was read at (a tampered value is simply stale)."""
    try:
        return int(form.get("version", ""))
    except ValueError:
        return -1


def assessment(form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """MoRiLE inputs and rationale (AssessmentIn), and the reason for the change."""
    values = {key: _text(form, key) for key in (*ASSESSMENT_KEYS, "rationale", "reason")}
    data = {key: values[key] for key in (*ASSESSMENT_KEYS, "rationale")}
    return values, data


def intelligence(form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A graded intelligence entry (IntelIn); the time received is entered in UTC."""
    values = {key: _text(form, key) for key in INTEL_KEYS}
    data: dict[str, Any] = dict(values)
    received = values["received_at"]
    if received:
        # Left as typed when it does not parse: the data model names the field.
        with suppress(ValueError):
            data["received_at"] = datetime.fromisoformat(received).replace(tzinfo=UTC)
    return values, data


def moderation(form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Agree or vary; the note; when varying, the varied inputs (ModerationIn.varied)."""
    values = {key: _text(form, key) for key in ("decision", "note")}
    values.update({f"varied.{key}": _text(form, f"varied.{key}") for key in ASSESSMENT_KEYS})
    varied = None
    if values["decision"] == "vary":
        varied = {key: values[f"varied.{key}"] for key in ASSESSMENT_KEYS}
    return values, varied


def transition(form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The state asked for and the reason; closing worked cases, the outcome and its grades."""
    values = {key: _text(form, key) for key in ("to_state", "reason", "outcome")}
    grades = {name: _text(form, f"grade.{name}") for name in STRAND_NAMES}
    values.update({f"grade.{name}": grade for name, grade in grades.items()})
    outcome = None
    if values["outcome"] or any(grades.values()):
        outcome = {
            "outcome": values["outcome"],
            "grades": {name: grade for name, grade in grades.items() if grade},
        }
    return values, outcome


def question(form: MultiDict[str, str]) -> dict[str, Any]:
    """A question to the requesting BCU (QuestionIn)."""
    return {"question": _text(form, "question")}


def decision(form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A tasking decision (DecisionIn), its assets as lines of asset and hours."""
    values: dict[str, Any] = {key: _text(form, key) for key in DECISION_TEXT}
    values.update({key: _text(form, key) for key in (*DECISION_OPTIONAL, *DECISION_VERSIONS)})
    values["strands"] = [s for s in form.getlist("strands")[:8] if s]
    values["grading_varied"] = form.get("grading_varied") == "1"
    values["immediate"] = form.get("immediate") == "1"
    # Filled asset lines, first ones first: their indices are the data model's indices,
    # so an error on `assets.1.hours` lands beside the second line shown again.
    lines = [
        (_text(form, f"assets.{i}.asset_id"), _text(form, f"assets.{i}.hours"))
        for i in range(ASSET_ROWS)
    ]
    filled = [(asset, hours) for asset, hours in lines if asset or hours]
    for i in range(ASSET_ROWS):
        asset, hours = filled[i] if i < len(filled) else ("", "")
        values[f"assets.{i}.asset_id"], values[f"assets.{i}.hours"] = asset, hours
    data = {key: values[key] for key in (*DECISION_TEXT, "strands", "grading_varied", "immediate")}
    data.update({key: values[key] for key in DECISION_OPTIONAL if values[key] != ""})
    data.update({key: values[key] for key in DECISION_VERSIONS if values[key] != ""})
    data["assets"] = [{"asset_id": asset, "hours": hours} for asset, hours in filled]
    return values, data


def utc_now_field() -> str:
    """Now, as a datetime-local field's value in UTC (minutes)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")
