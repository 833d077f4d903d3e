"""Score history: the one rule, the bulk writers and the read.

The rule (docs/scoring.md, "The model file and versioning": earlier scores stay readable):
- every human change (submission, assessment edit, moderation variation,
  graded intelligence) keeps a row for the score it replaces and for the
  score it makes (tasking.services.scores.score_case);
- every model publish keeps a row for each score the new model replaces
  (`keep_replaced_scores`, one INSERT ... SELECT per chunk: no Python per case);
- nightly ageing keeps a row only when a case changes band (`write_history`).
  An aged score within a band needs no row: it is reproducible exactly from
  its inputs (the nearest earlier row: inputs only change by human changes,
  which always keep rows), its model (ditto: model changes keep rows) and
  the date (the run's `as_of` gives the age, rounded as `scores.ages_at`).
The score version rises whenever the scored vector (inputs or age) or the
model changes, so (case, version) names one score for ever.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, text
from sqlmodel import Session, col, select

import scoring
from tasking.db import driver_datetime, execute_many, is_sqlite, sql_true
from tasking.models import ScoreHistory, User
from tasking.services.access import require
from tasking.services.cases import get_case
from tasking.services.scores import KEPT_REASON

# An age (days, stored rounded to 4 decimals) as scoring.format_age writes it.
AGE_TEXT = {
    "sqlite": "rtrim(rtrim(printf('%.4f', s.age_days), '0'), '.')",
    "postgresql": "rtrim(rtrim(to_char(s.age_days, 'FM999999999990.0000'), '0'), '.')",
}
_KEEP_SQL = """
INSERT INTO score_history (case_id, score_version, priority, band, position, vector,
                           model_version_id, reason, run_id, explanation, scored_at)
SELECT s.case_id, s.score_version, s.priority, s.band, s.position,
       s.vector || CASE WHEN s.age_days = 0 THEN '' ELSE '/A:' || {age} END,
       s.model_version_id, :reason, :run_id, :why, s.scored_at
FROM case_score s
WHERE s.on_board = {true} AND s.case_id BETWEEN :lo AND :hi
  AND s.model_version_id <> :version{where}
ON CONFLICT (case_id, score_version) DO NOTHING
"""


def keep_replaced_scores(
    conn: Connection, *, lo: int, hi: int, where: str, version_id: int, run_id: int | None
) -> None:
    """Keep in history every score of ids lo..hi that a new model version is about to replace.

    Call inside the chunk's write transaction, before the new scores are written;
    `where` is the run's `rescore.filter_sql`. Already kept versions are left as they are.
    """
    sql = _KEEP_SQL.format(age=AGE_TEXT[conn.dialect.name], true=sql_true(conn), where=where)
    conn.execute(
        text(sql),
        {
            "reason": KEPT_REASON, "run_id": run_id, "lo": int(lo), "hi": int(hi),
            "version": int(version_id), "why": "kept when a new model version replaced it",
        },
    )  # fmt: skip


def case_history(*, session: Session, actor: User, case_id: int) -> list[ScoreHistory]:
    """Every kept score of a case the actor may see, oldest version first (logged as a view)."""
    require(actor, "case.view")
    case = get_case(session=session, actor=actor, case_id=case_id)
    return list(
        session.exec(
            select(ScoreHistory)
            .where(ScoreHistory.case_id == case.id)
            .order_by(col(ScoreHistory.score_version))
        ).all()
    )


def write_history(
    conn: Connection,
    data: np.ndarray,
    codes: dict[str, np.ndarray],
    scores: dict[str, np.ndarray],
    idx: np.ndarray,
    *,
    version_id: int,
    now: datetime,
    reason: str,
    run_id: int | None,
) -> None:
    """One history row for each of a chunk's rows `idx` (already written back)."""
    scored_at = driver_datetime(conn, now)
    rows = []
    for i in idx.tolist():
        inputs = {key: int(codes[key][i]) for key in scoring.INTEGER_KEYS}
        age = float(scores["age_days"][i])
        rows.append(
            (
                int(data["case_id"][i]),
                int(data["score_version"][i]) + 1,
                float(scores["priority"][i]),
                int(scores["band"][i]),
                int(scores["position"][i]),
                scoring.format_vector({**inputs, "A": age}),
                version_id,
                reason,
                run_id,
                why_it_moved(data[i], scores, i),
                scored_at,
            )
        )
    marks = ", ".join(["?" if is_sqlite(conn.engine) else "%s"] * 11)
    sql = (
        "INSERT INTO score_history (case_id, score_version, priority, band, position, vector,"  # noqa: S608 - fragments built in code from trusted literals; values are bound
        f" model_version_id, reason, run_id, explanation, scored_at) VALUES ({marks})"
        " ON CONFLICT (case_id, score_version) DO NOTHING"
    )
    execute_many(conn, sql, rows)


def why_it_moved(old: Any, scores: dict[str, np.ndarray], i: int) -> str:
    """A short stored explanation of a band change, e.g. for the morning board."""
    band_from, band_to = scoring.BANDS[int(old["band"])], scoring.BANDS[int(scores["band"][i])]
    text_parts = []
    fresh_old, fresh_new = float(old["freshness"]), float(scores["freshness"][i])
    if fresh_old != fresh_new:
        text_parts.append(
            f"intelligence now {scores['age_days'][i]:.0f} days old:"
            f" freshness {fresh_old:.2f} -> {fresh_new:.2f}"
        )
    text_parts.append(
        f"priority {float(old['priority']):.1f} -> {float(scores['priority'][i]):.1f}"
    )
    text_parts.append(f"{band_from} -> {band_to}")
    return ", ".join(text_parts)
