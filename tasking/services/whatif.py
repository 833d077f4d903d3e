"""What-if: how every open case would move under another model, without writing a score."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine
from sqlmodel import Session

import scoring
from tasking.db import fetch_rows, session_scope, sql_true
from tasking.models import ModelVersion, RunKind, RunStatus, ScoringRun, utcnow
from tasking.services.errors import NotFound
from tasking.services.scores import (
    ages_at,
    current_model,
    engine_model,
    epoch_seconds,
    unpack_inputs,
)

TOP = 20
_TIEBREAKS = {
    "sqlite": (
        "julianday(s.bk_deadline)",
        # Whole seconds from the text without its fraction (SQLite would round .9996 up).
        "CAST(strftime('%s', substr(s.bk_submitted, 1, 19)) AS INTEGER)"
        " + CAST(substr(s.bk_submitted, 20) AS REAL)",
    ),
    "postgresql": (
        "CAST(s.bk_deadline - DATE '1970-01-01' AS DOUBLE PRECISION)",
        "CAST(EXTRACT(EPOCH FROM s.bk_submitted) AS DOUBLE PRECISION)",
    ),
}
_DTYPE = np.dtype(
    [
        ("case_id", np.int64), ("inputs", np.int64), ("intel", np.float64),
        ("deadline", np.float64), ("submitted", np.float64),
    ]
)  # fmt: skip


def _load(conn: Connection) -> np.ndarray:
    deadline, submitted = _TIEBREAKS[conn.dialect.name]
    truth = sql_true(conn)
    sql = (
        f"SELECT s.case_id, s.inputs, s.intel_epoch, {deadline}, {submitted}"  # noqa: S608 - fragments built in code from trusted literals; values are bound
        f" FROM case_score s WHERE s.on_board = {truth}"
    )
    rows = fetch_rows(conn, sql)
    return np.fromiter(rows, dtype=_DTYPE, count=len(rows))


def _per_band(bands: np.ndarray) -> dict[str, int]:
    counts = np.bincount(bands, minlength=4).tolist()
    return dict(zip(scoring.BANDS, counts, strict=True))


def preview(*, engine: Engine, model: scoring.Model, current: scoring.Model) -> dict[str, Any]:
    """Counts per band under the current and the candidate model, band changes, biggest moves."""
    now = utcnow()
    with engine.connect() as conn:
        data = _load(conn)
    ages = ages_at(data["intel"], epoch_seconds(now))
    columns = unpack_inputs(data["inputs"])
    # Both sides at the same moment, so only the model differs (not the ageing).
    before = scoring.score_arrays({**columns, "A": ages}, model=current)
    after = scoring.score_arrays({**columns, "A": ages}, model=model)
    tiebreak = {
        "deadline": data["deadline"],
        "submitted": data["submitted"],
        "ids": data["case_id"],
    }
    rank_before = scoring.ranks(
        scoring.rank_order(before["priority"], columns["T"], before["position"], **tiebreak)
    )
    rank_after = scoring.ranks(
        scoring.rank_order(after["priority"], columns["T"], after["position"], **tiebreak)
    )
    moved = rank_before - rank_after
    top = np.argsort(-np.abs(moved), kind="stable")[:TOP]
    transitions = np.zeros((4, 4), dtype=np.int64)
    np.add.at(transitions, (before["band"], after["band"]), 1)
    return {
        "model": model.label,
        "cases": len(data),
        "bands_before": _per_band(before["band"]),
        "bands_after": _per_band(after["band"]),
        "band_changes": int((before["band"] != after["band"]).sum()),
        "transitions": {
            f"{scoring.BANDS[i]}->{scoring.BANDS[j]}": int(transitions[i, j])
            for i in range(4) for j in range(4) if i != j and transitions[i, j]
        },
        "biggest_moves": [
            {
                "case_id": int(data["case_id"][i]),
                "rank_before": int(rank_before[i]),
                "rank_after": int(rank_after[i]),
                "priority_before": round(float(before["priority"][i]), 1),
                "priority_after": round(float(after["priority"][i]), 1),
            }
            for i in top if moved[i] != 0
        ],
    }  # fmt: skip


def run_whatif(*, engine: Engine, model_version_id: int) -> ScoringRun:
    """Preview a stored model version against the live board and keep the result as a run."""
    with Session(engine) as session:
        version = session.get(ModelVersion, model_version_id)
        if version is None:
            raise NotFound(f"no model version {model_version_id}")
        model = engine_model(version)
        _, current = current_model(session=session)
    started = utcnow()
    summary = preview(engine=engine, model=model, current=current)
    with session_scope(engine) as session:
        run = ScoringRun(
            kind=RunKind.WHATIF.value, status=RunStatus.COMPLETED.value,
            reason=f"what-if {model.label}",
            model_version_id=model_version_id, as_of=started, started_at=started,
            finished_at=utcnow(), cases_total=summary["cases"],
            band_changes=summary["band_changes"], summary=json.dumps(summary),
        )  # fmt: skip
        session.add(run)
        session.flush()
    return run
