"""Scoring one case inline, and the published scoring model versions.

Every write that touches a case's assessment or board facts calls
`score_case` in the same transaction, so the board is right the moment the
change commits; bulk rescoring lives in tasking.services.rescore.

History (the one rule, see tasking.services.history): a human change keeps
both the score it replaces and the score it makes in `score_history`; the
score version rises whenever the scored vector (inputs or age) or the model
changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from threading import Lock
from typing import Any

import numpy as np
from sqlmodel import Session, select

import scoring
from config.settings import load_settings
from tasking.models import (
    ASSESSMENT_COLUMNS,
    NO_DEADLINE,
    OPEN_STATES,
    Assessment,
    Case,
    CaseScore,
    ModelVersion,
    ScoreHistory,
    User,
    utcnow,
)
from tasking.services.access import require
from tasking.services.audit import record_event
from tasking.services.errors import Invalid, NotFound

SECONDS_PER_DAY = 86_400.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Stored packed inputs: three bits per factor code, in docs/scoring.md key order (P lowest).
INPUT_SHIFTS = {key: 3 * i for i, key in enumerate(scoring.INTEGER_KEYS)}
_models: dict[str, scoring.Model] = {}
_models_lock = Lock()


def engine_model(version: ModelVersion) -> scoring.Model:
    """The validated engine model of a stored version (parsed once per process)."""
    with _models_lock:
        model = _models.get(version.content_hash)
        if model is None:
            model = scoring.load_model_text(version.content, source=version.label)
            _models[version.content_hash] = model
        return model


def store_model_text(*, session: Session, content: str, actor: User | None = None) -> ModelVersion:
    """Validate model text and keep it as a version (not current); returns the stored row.

    The same name and version with other content is refused: a changed model
    needs a new version number.
    """
    try:
        model = scoring.load_model_text(content, source="model file")
    except scoring.ModelError as exc:
        raise Invalid(str(exc), fields={"model": str(exc)}) from None
    existing = session.exec(
        select(ModelVersion).where(
            ModelVersion.name == model.name, ModelVersion.version == model.version
        )
    ).first()
    if existing is not None:
        if existing.content_hash != model.content_hash:
            raise Invalid(
                f"model {model.label} is already stored with different content;"
                " a changed model needs a new version",
                fields={"version": "already stored with different content"},
            )
        return existing
    row = ModelVersion(
        name=model.name,
        version=model.version,
        content_hash=model.content_hash,
        content=content,
        published_by_id=actor.id if actor else None,
    )
    session.add(row)
    session.flush()
    return row


def publish_model_text(
    *, session: Session, content: str, actor: User | None = None
) -> ModelVersion:
    """Validate model text and make it the current version (no-op if already current)."""
    row = store_model_text(session=session, content=content, actor=actor)
    if not row.is_current:
        _make_current(session, row)
    return row


def publish_model_version(
    *, session: Session, version_id: int, actor: User, reason: str = ""
) -> ModelVersion:
    """Make a stored model version current (the boards are then rescored under it)."""
    require(actor, "model.publish")
    row = session.get(ModelVersion, version_id)
    if row is None:
        raise NotFound(f"no model version {version_id}")
    if not row.is_current:
        _make_current(session, row)
        record_event(
            session=session, actor=actor, category="alteration", action="model.publish",
            entity_type="model_version", entity_id=row.id, reason=reason,
            detail={"model": row.label},
        )  # fmt: skip
    return row


def _make_current(session: Session, row: ModelVersion) -> None:
    for other in session.exec(select(ModelVersion).where(ModelVersion.is_current)).all():
        other.is_current = False
        session.add(other)
    session.flush()
    row.is_current = True
    session.add(row)
    session.flush()


def current_model(*, session: Session) -> tuple[ModelVersion, scoring.Model]:
    """The current model version row and its engine model.

    With none published yet, publishes the configured default (TASKING_MODEL_FILE).
    """
    row = session.exec(select(ModelVersion).where(ModelVersion.is_current)).first()
    if row is None:
        row = publish_model_text(
            session=session, content=load_settings().model_file.read_text("utf-8")
        )
    return row, engine_model(row)


AGE_DECIMALS = 4  # ages are stored to ~9 seconds so a stored vector reproduces its score


def ages_at(intel_epochs: np.ndarray, now_epoch: float) -> np.ndarray:
    """Intelligence ages in days (all in epoch seconds), rounded as stored, never negative.

    The one age rule: inline scoring, bulk rescores, what-if and the generator use it.
    """
    return np.round(np.maximum(0.0, (now_epoch - intel_epochs) / SECONDS_PER_DAY), AGE_DECIMALS)


def age_days(intel_at: datetime, now: datetime) -> float:
    """One intelligence age in days at `now`."""
    return float(ages_at(np.array([epoch_seconds(intel_at)]), epoch_seconds(now))[0])


def epoch_seconds(moment: datetime) -> float:
    """Seconds since 1970 of an aware datetime (what `intel_epoch` stores)."""
    return (moment - EPOCH).total_seconds()


def pack_inputs(inputs: Mapping[str, int]) -> int:
    """One case's factor codes packed into one integer, as stored in `case_score.inputs`."""
    return sum(int(inputs[key]) << shift for key, shift in INPUT_SHIFTS.items())


def pack_input_columns(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """`pack_inputs` over whole columns of factor codes."""
    packed = np.zeros(len(columns["P"]), dtype=np.int64)
    for key, shift in INPUT_SHIFTS.items():
        packed |= columns[key].astype(np.int64) << shift
    return packed


def unpack_inputs(packed: np.ndarray) -> dict[str, np.ndarray]:
    """Engine input columns (int8) from stored packed inputs."""
    return {key: ((packed >> shift) & 7).astype(np.int8) for key, shift in INPUT_SHIFTS.items()}


def assessment_inputs(a: Assessment) -> dict[str, int]:
    """The engine inputs (docs/scoring.md keys, Cf as its code) of an assessment row."""
    return {key: getattr(a, column) for key, column in ASSESSMENT_COLUMNS.items()}


def refresh_vector(assessment: Assessment) -> None:
    """Recompute the stored canonical vector (without age) after an input changed."""
    assessment.vector = scoring.format_vector(assessment_inputs(assessment))


def assessment_columns(assessment: Assessment, age: float) -> dict[str, np.ndarray]:
    """One-row engine columns for an assessment at a given age."""
    columns = {
        key: np.array([value], dtype=np.int8)
        for key, value in assessment_inputs(assessment).items()
    }
    columns["A"] = np.array([age], dtype=np.float64)
    return columns


def board_fields(case: Case) -> dict[str, object]:
    """The case facts copied onto its score row for board filtering and ordering."""
    return {
        "on_board": case.state in OPEN_STATES,
        "state": case.state,
        "kind": case.kind,
        "bcu_id": case.bcu_id,
        "hub_id": case.hub_id,
        "theme_id": case.theme_id,
        "asset_type": case.asset_type,
        "bk_deadline": case.opportunity_deadline or NO_DEADLINE,
        "bk_submitted": case.submitted_at or case.created_at,
    }


def score_columns(scores: dict[str, np.ndarray], idx: Any) -> dict[str, np.ndarray]:
    """The stored `case_score` columns for rows `idx` of an engine result, sort keys included.

    The one place the board keys are derived from a score (inline, bulk and generated).
    """
    values = {
        name: scores[name][idx]
        for name in ("harm_base", "total_harm", "risk", "freshness", "age_days", "priority")
    }
    for name in ("band", "position", "position_grade"):
        values[name] = scores[name][idx].astype(np.int64)
    values["bk_priority"] = -values["priority"]
    values["bk_position"] = -values["position"]
    return values


def score_case(
    *,
    session: Session,
    case: Case,
    assessment: Assessment,
    reason: str,
    now: datetime | None = None,
    run_id: int | None = None,
) -> CaseScore:
    """Score one case with the current model, store it, and keep history when it changes."""
    now = now or utcnow()
    version, model = current_model(session=session)
    age = age_days(assessment.intel_at, now)
    numbers = _score_numbers(assessment, version, model, age)
    row = session.get(CaseScore, case.id)
    changed = row is None or any(getattr(row, key) != numbers[key] for key in _SCORE_IDENTITY)
    if row is None:
        row = CaseScore(case_id=case.id, scored_at=now, **numbers, **board_fields(case))  # type: ignore[arg-type]
    else:
        if changed:
            keep_score(session=session, row=row, why=f"kept when replaced ({reason})")
        for key, value in {**numbers, **board_fields(case)}.items():
            setattr(row, key, value)
        row.scored_at = now
        if changed:
            row.score_version += 1
    session.add(row)
    if changed:
        assert case.id is not None
        assert version.id is not None
        session.add(
            ScoreHistory(
                case_id=case.id,
                score_version=row.score_version,
                priority=row.priority,
                band=row.band,
                position=row.position,
                vector=scoring.format_vector({**assessment_inputs(assessment), "A": age}),
                model_version_id=version.id,
                reason=reason,
                run_id=run_id,
                scored_at=now,
            )
        )
    session.flush()
    return row


# A stored score changes (a new score version, a history row) when one of these does.
_SCORE_IDENTITY = ("vector", "age_days", "priority", "band", "position", "model_version_id")


def _score_numbers(
    assessment: Assessment, version: ModelVersion, model: scoring.Model, age: float
) -> dict[str, Any]:
    """The `case_score` columns of one assessment scored at `age` days by `model`."""
    result = scoring.score_arrays(assessment_columns(assessment, age), model=model)
    stored = score_columns({**result, "age_days": np.array([age])}, 0)
    return {
        **{name: value.item() for name, value in stored.items()},
        "threat": assessment.t,
        "vector": assessment.vector,
        "inputs": pack_inputs(assessment_inputs(assessment)),
        "intel_epoch": epoch_seconds(assessment.intel_at),
        "model_version_id": version.id,
        "bk_threat": 1 - assessment.t,
    }


KEPT_REASON = "kept"  # a score kept in history when a human change or a model replaced it


def keep_score(*, session: Session, row: CaseScore, why: str) -> None:
    """Keep the score a case holds now in history (unless that version is there already)."""
    kept = session.exec(
        select(ScoreHistory.id).where(
            ScoreHistory.case_id == row.case_id, ScoreHistory.score_version == row.score_version
        )
    ).first()
    if kept is None:
        session.add(
            ScoreHistory(
                case_id=row.case_id,
                score_version=row.score_version,
                priority=row.priority,
                band=row.band,
                position=row.position,
                vector=row.scored_vector,
                model_version_id=row.model_version_id,
                reason=KEPT_REASON,
                explanation=why[:200],
                scored_at=row.scored_at,
            )
        )


def sync_board_row(*, session: Session, case: Case) -> None:
    """Copy changed case facts (state, deadline, BCU...) onto its score row."""
    row = session.get(CaseScore, case.id)
    if row is None:
        return
    for key, value in board_fields(case).items():
        setattr(row, key, value)
    session.add(row)
