"""Score history written by bulk rescores: one row per band change, with why it moved."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection

import scoring
from tasking.db import driver_datetime, execute_many, is_sqlite


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
        "INSERT INTO score_history (case_id, score_version, priority, band, position, vector,"
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
