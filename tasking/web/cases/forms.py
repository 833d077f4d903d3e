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
)
DECISION_OPTIONAL = ("chair_id", "asset_id", "owner_id", "hours_granted", "next_review")
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
    """MoRiLE inputs and rationale (AssessmentIn)."""
    values = {key: _text(form, key) for key in (*ASSESSMENT_KEYS, "rationale")}
    return values, dict(values)


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


def moderation(form: MultiDict[str, str]) -> dict[str, Any]:
    """Agree or vary, and the note (the varied inputs when the service takes them)."""
    values = {key: _text(form, key) for key in ("decision", "note", *ASSESSMENT_KEYS)}
    return values


def transition(form: MultiDict[str, str]) -> dict[str, Any]:
    """The state asked for, the reason and (closing active work) the outcome."""
    return {key: _text(form, key) for key in ("to_state", "reason", "outcome")}


def decision(form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A tasking decision (DecisionIn)."""
    values: dict[str, Any] = {key: _text(form, key) for key in (*DECISION_TEXT, "score_version")}
    values.update({key: _text(form, key) for key in DECISION_OPTIONAL})
    values["strands"] = form.getlist("strands")[:8]
    values["grading_varied"] = form.get("grading_varied") == "1"
    data = {key: value for key, value in values.items() if key not in DECISION_OPTIONAL}
    data.update({key: values[key] for key in DECISION_OPTIONAL if values[key] != ""})
    return values, data


def utc_now_field() -> str:
    """Now, as a datetime-local field's value in UTC (minutes)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")
