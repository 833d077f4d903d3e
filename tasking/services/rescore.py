"""Rescore many cases at once: one query in, one engine call, bulk writes out.

A rescore works on id-range chunks. Each chunk is one write transaction
(BEGIN IMMEDIATE on SQLite): it loads the chunk's inputs with their factor
codes packed into one integer, scores them in one `score_arrays` call,
writes back only the rows whose score changed, raising their score version
on the condition that nobody else did first, and keeps history for band
changes. Running a chunk twice, or twice at once, changes nothing more.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, text
from sqlmodel import Session

import scoring
from tasking.db import driver_datetime, fetch_rows, sql_true, writer
from tasking.models import ASSET_TYPES, as_utc, utcnow
from tasking.services import bulk
from tasking.services.bulkwrite import copy_out, write_scores
from tasking.services.errors import Invalid
from tasking.services.history import keep_replaced_scores, write_history
from tasking.services.scores import (
    SECONDS_PER_DAY,
    ages_at,
    current_model,
    epoch_seconds,
    score_columns,
    unpack_inputs,
)

# One table, one pass: the packed inputs and intelligence time are stored on the score.
_LOAD_SQL = """
SELECT CAST(s.case_id AS BIGINT), s.inputs, s.intel_epoch, s.priority, s.band, s.position,
       CAST(s.model_version_id AS BIGINT), CAST(s.score_version AS BIGINT), s.freshness
FROM case_score s WHERE s.on_board = {true} AND s.case_id BETWEEN {lo} AND {hi}{where}{unsettled}
"""
# Every open case of the range, and of those how many were scored after this rescore's moment.
_COUNT_SQL = (
    "SELECT COUNT(*), COALESCE(SUM(CASE WHEN s.scored_at > {moment} THEN 1 ELSE 0 END), 0)"
    " FROM case_score s WHERE s.on_board = {true} AND s.case_id BETWEEN {lo} AND {hi}{where}"
)
# The same columns as PostgreSQL sends them in a binary COPY.
_LOAD_WIRE = [">i8", ">i8", ">f8", ">f8", ">i2", ">i2", ">i8", ">i8", ">f8"]
_LOAD_DTYPE = np.dtype(
    [
        ("case_id", np.int64),
        ("inputs", np.int64),
        ("intel_epoch", np.float64),
        ("priority", np.float64),
        ("band", np.int8),
        ("position", np.int8),
        ("model_version_id", np.int64),
        ("score_version", np.int64),
        ("freshness", np.float64),
    ]
)


@dataclass
class RescoreStats:
    """What a rescore did, with the time spent in each phase (seconds)."""

    cases: int = 0
    settled: int = 0  # of those, left unread: they could not change (unsettled_sql)
    newer: int = 0  # of those, left unread: scored at a later moment than this rescore's
    changed: int = 0
    band_changes: int = 0
    load_s: float = 0.0
    score_s: float = 0.0
    write_s: float = 0.0
    seconds: float = 0.0
    completes_run: bool = False  # set by runs.run_chunk for the chunk that was the run's last

    def add(self, other: RescoreStats) -> None:
        """Fold a chunk's figures into a run's."""
        for name in ("cases", "settled", "newer", "changed", "band_changes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("load_s", "score_s", "write_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


# Board filters a rescore may be limited to: case_score columns and their types.
FILTER_COLUMNS: dict[str, type] = {
    "hub_id": int, "bcu_id": int, "theme_id": int, "kind": int, "asset_type": str,
}  # fmt: skip


def filter_sql(board_filter: Mapping[str, Any] | None) -> str:
    """SQL conditions on `s` (case_score) for a board filter; validated, so safe to inline."""
    parts = []
    for key, value in sorted((board_filter or {}).items()):
        kind = FILTER_COLUMNS.get(key)
        if kind is None:
            raise Invalid(f"filter: unknown key {key!r}", fields={"filter": f"unknown key {key}"})
        if kind is str:
            if value not in ASSET_TYPES:
                raise Invalid("filter: unknown asset type", fields={"asset_type": "unknown"})
            parts.append(f" AND s.{key} = '{value}'")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise Invalid(f"filter: {key} must be a positive whole number", fields={key: "bad"})
        else:
            parts.append(f" AND s.{key} = {value}")
    return "".join(parts)


def board_id_range(engine: Engine, where: str = "") -> tuple[int, int, int] | None:
    """Lowest and highest id, and count, of the cases on the boards (None when there are none)."""
    truth = sql_true(engine)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT MIN(s.case_id), MAX(s.case_id), COUNT(*) FROM case_score s"  # noqa: S608 - fragments built in code from trusted literals; values are bound
                f" WHERE s.on_board = {truth}{where}"
            )
        ).one()
    return None if row[0] is None else (int(row[0]), int(row[1]), int(row[2]))


def id_chunks(lo: int, hi: int, size: int) -> Iterator[tuple[int, int]]:
    """Inclusive id ranges of at most `size` ids covering lo..hi."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    for start in range(lo, hi + 1, size):
        yield start, min(start + size - 1, hi)


def unsettled_sql(model: scoring.Model, version_id: int, now: datetime) -> str:
    """A condition on `s` leaving out the cases a rescore at `now` cannot change.

    A case already scored under this model at or beyond the age where freshness
    settles, and still beyond it now, would score the same bits again (13% of the
    generated 1M board): the nightly run leaves it unread. A second of margin keeps
    the rounding of ages (`ages_at`) on the safe side.
    """
    settled = float(model.settled_age_days)
    cutoff = epoch_seconds(now) - settled * SECONDS_PER_DAY - 1.0
    return (
        f" AND NOT (s.model_version_id = {int(version_id)} AND s.age_days >= {settled!r}"
        f" AND s.intel_epoch < {cutoff!r})"
    )


def moment_sql(conn: Connection, moment: datetime) -> str:
    """A trusted SQL literal of a moment, comparable with the stored `scored_at`."""
    utc = as_utc(moment)
    if conn.dialect.name == "sqlite":
        return f"'{driver_datetime(conn, utc)}'"  # how SQLAlchemy stores it: text in UTC
    return f"TIMESTAMPTZ '{utc.isoformat()}'"


def not_newer_sql(conn: Connection, now: datetime) -> str:
    """A condition on `s` leaving out scores computed at a later moment than `now`.

    A late chunk of an older run (redelivered after a worker died, say) must not
    write its older ages over a newer run's or an edit's scores; a chunk scores
    under the current model, so a later moment is also never an older model.
    """
    return f" AND s.scored_at <= {moment_sql(conn, now)}"


def _load(conn: Connection, lo: int, hi: int, where: str, unsettled: str) -> np.ndarray:
    sql = _LOAD_SQL.format(
        where=where, unsettled=unsettled, true=sql_true(conn), lo=int(lo), hi=int(hi)
    )
    if conn.dialect.name == "postgresql":
        columns = copy_out(conn, sql, _LOAD_WIRE)
        data = np.empty(len(columns[0]), dtype=_LOAD_DTYPE)
        for name, column in zip(_LOAD_DTYPE.names or (), columns, strict=True):
            data[name] = column
        return data
    rows = fetch_rows(conn, sql)
    # fromiter over tuples is far faster than np.array(rows) for big chunks.
    return np.fromiter(rows, dtype=_LOAD_DTYPE, count=len(rows))


def rescore_range(
    *,
    engine: Engine,
    lo: int,
    hi: int,
    reason: str,
    now: datetime | None = None,
    run_id: int | None = None,
) -> RescoreStats:
    """Rescore the open cases with ids lo..hi in one transaction; returns what changed."""
    with writer(engine).connect() as conn, conn.begin():
        return rescore_in(conn, lo=lo, hi=hi, reason=reason, now=now or utcnow(), run_id=run_id)


def rescore_in(
    conn: Connection,
    *,
    lo: int,
    hi: int,
    reason: str,
    now: datetime,
    run_id: int | None,
    where: str = "",
) -> RescoreStats:
    """Rescore ids lo..hi (within a `filter_sql` filter) inside the caller's write transaction."""
    stats = RescoreStats()
    with Session(bind=conn) as session:
        version, model = current_model(session=session)
        session.flush()
    assert version.id is not None
    started = time.perf_counter()
    skip = unsettled_sql(model, version.id, now) + not_newer_sql(conn, now)
    data = _load(conn, lo, hi, where, skip)
    # Every open case in the range counts as rescored: the settled ones were checked in SQL.
    count = _COUNT_SQL.format(
        where=where, true=sql_true(conn), lo=int(lo), hi=int(hi), moment=moment_sql(conn, now)
    )
    total, newer = conn.exec_driver_sql(count).one()
    stats.cases, stats.newer = int(total), int(newer)
    stats.settled = stats.cases - stats.newer - len(data)
    stats.load_s = time.perf_counter() - started
    if not len(data):
        return stats
    started = time.perf_counter()
    codes = unpack_inputs(data["inputs"])
    ages = ages_at(data["intel_epoch"], epoch_seconds(now))
    scores = scoring.score_arrays({**codes, "A": ages}, model=model)
    scores["age_days"] = ages
    changed = (
        (scores["priority"] != data["priority"])
        | (scores["band"] != data["band"])
        | (scores["position"] != data["position"])
        | (data["model_version_id"] != version.id)
    )
    band_moved = scores["band"] != data["band"]
    stats.score_s = time.perf_counter() - started
    started = time.perf_counter()
    idx = np.flatnonzero(changed)
    if (data["model_version_id"] != version.id).any():  # a new model: keep what it replaces
        keep_replaced_scores(conn, lo=lo, hi=hi, where=where, version_id=version.id, run_id=run_id)
    if idx.size:
        updated = write_scores(
            conn, case_ids=data["case_id"][idx], old_versions=data["score_version"][idx],
            old_models=data["model_version_id"][idx], values=score_columns(scores, idx),
            version_id=version.id, now=now, lo=lo, hi=hi,
        )  # fmt: skip
        stats.changed = int(updated.sum())
        history = idx[updated & band_moved[idx]]
        stats.band_changes = len(history)
        if history.size:
            write_history(conn, data, codes, scores, history, version_id=version.id, now=now,
                          reason=reason, run_id=run_id)  # fmt: skip
    stats.write_s = time.perf_counter() - started
    stats.seconds = stats.load_s + stats.score_s + stats.write_s
    return stats


def rescore_all(
    *,
    engine: Engine,
    reason: str = "rescore",
    now: datetime | None = None,
    chunk_size: int = 50_000,
    run_id: int | None = None,
    bulk_min: int | None = None,
    progress: Callable[[RescoreStats], None] | None = None,
) -> RescoreStats:
    """Rescore every open case inline, chunk by chunk (the CLI and tests use this).

    With `bulk_min` open cases or more, the board index is set aside meanwhile (bulk.py).
    """
    now = now or utcnow()
    total = RescoreStats()
    scope = board_id_range(engine)
    if scope is None:
        return total
    started = time.perf_counter()
    aside = False
    if bulk_min is not None and scope[2] >= bulk_min:
        with writer(engine).connect() as conn, conn.begin():
            aside = bulk.set_aside(conn)
    try:
        for lo, hi in id_chunks(*scope[:2], chunk_size):
            chunk = rescore_range(
                engine=engine, lo=lo, hi=hi, reason=reason, now=now, run_id=run_id
            )
            total.add(chunk)
            if progress:
                progress(chunk)
    finally:
        if aside:
            with writer(engine).connect() as conn, conn.begin():
                bulk.build(conn)
    total.seconds = time.perf_counter() - started
    return total
