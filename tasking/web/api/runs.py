"""Scoring runs and model versions over the API (read only)."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import col, select

from tasking.models import Case, ModelVersion, Role, ScoringRun, pk
from tasking.services.access import case_scope
from tasking.services.errors import NotFound
from tasking.services.runs import get_run
from tasking.web.api import bp
from tasking.web.api.schemas import (
    ModelListOut,
    ModelVersionDetailOut,
    ModelVersionOut,
    RunListOut,
    RunOut,
    RunsQuery,
)
from tasking.web.api.spec import operation
from tasking.web.db import db
from tasking.web.security import ANY_ROLE, BOARD_ROLES, actor

RUN_READERS = BOARD_ROLES | {Role.ADMIN}


# Summary entries that name cases: each is cut to the cases the caller may know of.
_CASE_LISTS = ("movers", "rank_moves", "overdue_reviews", "retention_due")


def _case_id(entry: Any) -> Any:
    return entry.get("case_id") if isinstance(entry, dict) else entry


def _need_to_know(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary without the cases the caller may not see (need-to-know, access.case_scope):
    a run's movers and review lists span the whole board."""
    named = {_case_id(e) for key in _CASE_LISTS for e in summary.get(key) or [] if _case_id(e)}
    ids = [i for i in named if isinstance(i, int)]
    visible = set(
        db().exec(select(Case.id).where(col(Case.id).in_(ids), case_scope(actor()))).all()
    )
    for key in _CASE_LISTS:
        if isinstance(summary.get(key), list):
            summary[key] = [e for e in summary[key] if _case_id(e) in visible]
    return summary


def run_out(run: ScoringRun) -> RunOut:
    """A run as the API shows it (its stored summary as an object, cut to need-to-know)."""
    try:
        summary: Any = json.loads(run.summary or "{}")
    except ValueError:
        summary = {}
    if isinstance(summary, dict):
        summary = _need_to_know(summary)
    return RunOut(
        id=pk(run),
        kind=run.kind,
        status=run.status,
        reason=run.reason,
        run_date=run.run_date,
        model_version_id=run.model_version_id,
        started_at=run.started_at,
        finished_at=run.finished_at,
        chunks_total=run.chunks_total,
        chunks_done=run.chunks_done,
        cases_total=run.cases_total,
        cases_changed=run.cases_changed,
        band_changes=run.band_changes,
        error=run.error,
        summary=summary if isinstance(summary, dict) else {},
    )


def model_out(row: ModelVersion) -> ModelVersionOut:
    """A model version as the API lists it."""
    return ModelVersionOut(
        id=pk(row),
        name=row.name,
        version=row.version,
        hash=row.content_hash,
        is_current=row.is_current,
        published_at=row.published_at,
        published_by_id=row.published_by_id,
    )


@bp.get("/runs")
@operation(RUN_READERS, tag="scoring", resp=RunListOut, query=RunsQuery)
def list_runs(query: RunsQuery) -> RunListOut:
    """The latest scoring runs, newest first, with their summaries."""
    rows = db().exec(select(ScoringRun).order_by(col(ScoringRun.id).desc()).limit(query.limit))
    return RunListOut(runs=[run_out(run) for run in rows.all()])


@bp.get("/runs/<int:run_id>")
@operation(RUN_READERS, tag="scoring", resp=RunOut)
def read_run(run_id: int) -> RunOut:
    """One scoring run: progress, counts per band, movers and review lists."""
    return run_out(get_run(session=db(), run_id=run_id))


@bp.get("/models")
@operation(ANY_ROLE, tag="scoring", resp=ModelListOut)
def list_models() -> ModelListOut:
    """Every stored scoring model version, newest first; one is current."""
    rows = db().exec(select(ModelVersion).order_by(col(ModelVersion.id).desc())).all()
    return ModelListOut(models=[model_out(row) for row in rows])


@bp.get("/models/<int:model_id>")
@operation(ANY_ROLE, tag="scoring", resp=ModelVersionDetailOut)
def read_model(model_id: int) -> ModelVersionDetailOut:
    """One model version with its model file (TOML): every number the scores use."""
    row = db().get(ModelVersion, model_id)
    if row is None:
        raise NotFound(f"no model version {model_id}")
    return ModelVersionDetailOut(**model_out(row).model_dump(), content=row.content)
