"""Writing generated batches with the raw driver: executemany on SQLite, COPY on PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine

from tasking.db import SQLITE_DATETIME, is_sqlite
from tasking.models import (
    Marking,
    as_utc,
    utcnow,
)
from tasking.services.errors import Invalid
from tasking.services.generator.draw import Batch, draw_batch
from tasking.services.generator.org import Org, load_org
from tasking.services.generator.vocab import EPOCH, SUMMARY

CASE_COLUMNS = (
    "id", "reference", "kind", "codename", "title", "summary", "justification", "theme_id",
    "strands", "bcu_id", "hub_id", "asset_type", "requested_hours", "allocated_hours",
    "opportunity_deadline", "next_review", "marking", "state", "outcome", "lead_id",
    "created_by_id", "created_at", "submitted_at", "updated_at", "version",
)  # fmt: skip
ASSESSMENT_COLUMNS = (
    "case_id", "p", "ps", "f", "c", "s", "v", "l", "cf", "ca", "cb", "o", "t", "vector",
    "intel_at", "rationale", "assessed_by_id", "assessed_at", "moderation", "moderated_by_id",
    "moderated_at", "moderation_note", "moderated_version",
)  # fmt: skip
SCORE_COLUMNS = (
    "case_id", "on_board", "state", "kind", "bcu_id", "hub_id", "theme_id", "asset_type",
    "harm_base", "total_harm", "risk", "freshness", "age_days", "priority", "band", "position",
    "position_grade", "threat", "vector", "inputs", "intel_epoch", "model_version_id",
    "scored_at", "score_version", "bk_threat", "bk_priority", "bk_position", "bk_deadline",
    "bk_submitted",
)  # fmt: skip


TABLES = (
    ("case_record", CASE_COLUMNS),
    ("assessment", ASSESSMENT_COLUMNS),
    ("case_score", SCORE_COLUMNS),
)
# One decision per decided case (the score it saw is the stored one), and the asset
# each adopted case was tasked (decision_asset ids come from the database).
DECISION_COLUMNS = (
    "id", "case_id", "score_version", "assessment_version", "vector_shown", "age_days_shown",
    "priority_shown", "band_shown", "grading_shown", "model_version_id", "model_name",
    "model_number", "model_hash", "outcome", "grading_varied", "variation_rationale",
    "information", "threat_risk", "powers_policy", "options", "action", "chair_id",
    "recorded_by_id", "decided_at", "asset_id", "hours_granted", "asset_type_reason",
    "referral_destination", "decline_reason", "conditions", "immediate", "strands",
    "next_review", "dissent",
)  # fmt: skip
DECISION_ASSET_COLUMNS = ("decision_id", "asset_id", "hours")


def _constants(org: Org, now: datetime) -> dict[str, Any]:
    """Columns whose value is the same for every generated case."""
    return {
        "summary": SUMMARY,
        "justification": "",
        "marking": Marking.OFFICIAL_SENSITIVE.value,
        "version": 1,
        "rationale": "",
        "model_version_id": org.model_version_id,
        "scored_at": now.strftime(SQLITE_DATETIME),  # text: valid input for PostgreSQL too
        "score_version": 1,
        "assessment_version": 1,
        "model_name": org.model.name,
        "model_number": org.model.version,
        "model_hash": org.model.content_hash,
        "grading_varied": 0,
        "variation_rationale": "",
        "information": "Generated intelligence picture (fictional).",
        "threat_risk": "Harm assessed through MoRiLE; see the score shown.",
        "powers_policy": "",
        "options": "",
        "action": "As recorded in the outcome (generated).",
        "asset_type_reason": "",
        "conditions": "",
        "immediate": 0,
        "dissent": "",
    }


def _number(batch: Batch, first_id: int, first_decision: int) -> None:
    """Give the batch its case and decision ids (from the firsts on) and the references."""
    ids = list(range(first_id, first_id + batch.n))
    batch.columns["id"] = batch.columns["case_id"] = ids
    batch.columns["reference"] = [f"GEN-{i:07d}" for i in ids]
    decision_ids = list(range(first_decision, first_decision + len(batch.decision_rows)))
    batch.decisions["id"] = decision_ids
    batch.decisions["case_id"] = [ids[i] for i in batch.decision_rows]
    of_case = dict(zip(batch.decision_rows, decision_ids, strict=True))
    batch.assets["decision_id"] = [of_case[i] for i in batch.asset_rows]


def _tables(batch: Batch) -> Iterator[tuple[str, tuple[str, ...], Batch]]:
    """Each table of a batch with its columns, as a batch of that table's rows."""
    for table, names in TABLES:
        yield table, names, batch
    yield "decision", DECISION_COLUMNS, Batch(batch.decisions, len(batch.decision_rows))
    yield "decision_asset", DECISION_ASSET_COLUMNS, Batch(batch.assets, len(batch.asset_rows))


def _rows(
    batch: Batch, names: Iterable[str], constants: dict[str, Any]
) -> Iterator[tuple[Any, ...]]:
    """Row tuples for one table, constants repeated."""
    lists = [
        itertools.repeat(constants[name], batch.n) if name in constants else batch.columns[name]
        for name in names
    ]
    return zip(*lists, strict=True)


def _literal(value: Any) -> str:
    """A constant as an SQL literal (strings and whole numbers only)."""
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _write_sqlite(dbapi: Any, batch: Batch, constants: dict[str, Any]) -> None:
    """Insert one batch in one BEGIN IMMEDIATE transaction (executemany per table)."""
    cursor = dbapi.cursor()
    # BEGIN IMMEDIATE takes the write lock first, so the max id read below stays ours.
    cursor.execute("BEGIN IMMEDIATE")
    try:
        first = cursor.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM case_record").fetchone()[0]
        first_decision = cursor.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM decision")
        _number(batch, int(first), int(first_decision.fetchone()[0]))
        for table, names, rows in _tables(batch):
            # Constants go in the statement, so each row binds only what varies.
            bound = [name for name in names if name not in constants]
            values = [_literal(constants[n]) if n in constants else "?" for n in names]
            sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(values)})"  # noqa: S608 - table and column names from the code; values are bound
            cursor.executemany(sql, _rows(rows, bound, {}))
        cursor.execute("COMMIT")
    except BaseException:
        cursor.execute("ROLLBACK")
        raise
    finally:
        cursor.close()


def _write_postgres(dbapi: Any, batch: Batch, constants: dict[str, Any]) -> None:
    """Insert one batch in one transaction with COPY per table."""
    try:
        with dbapi.cursor() as cursor:
            # Timestamps are sent as UTC text. The lock keeps concurrent inserts (and so
            # their nextval) out while we take ids above both the max id and the sequence.
            cursor.execute("SET LOCAL TIME ZONE 'UTC'")
            first = _take_ids(cursor, "case_record", batch.n)
            _number(batch, first, _take_ids(cursor, "decision", len(batch.decision_rows)))
            for table, names, rows in _tables(batch):
                with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                    for row in _rows(rows, names, constants):
                        copy.write_row(row)
        dbapi.commit()
    except BaseException:
        dbapi.rollback()
        raise


def _take_ids(cursor: Any, table: str, n: int) -> int:
    """The first of `n` ids taken for `table` on PostgreSQL, above its max id and sequence.

    The lock keeps concurrent inserts (and so their nextval) out meanwhile.
    """
    cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
    cursor.execute(
        f"SELECT GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}) + 1,"  # noqa: S608 - table and column names from the code; values are bound
        f" nextval(pg_get_serial_sequence('{table}', 'id')))"
    )
    first = int(cursor.fetchone()[0])
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", (first + max(n, 1) - 1,)
    )
    return first


def generate_cases(
    *,
    engine: Engine,
    count: int,
    seed: int = 0,
    now: datetime | None = None,
    batch: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Insert `count` scored fictional cases (current score only, no history); returns count."""
    if count < 0:
        raise Invalid("count: must not be negative", fields={"count": "must not be negative"})
    if batch < 1:
        raise Invalid("batch: must be at least 1", fields={"batch": "must be at least 1"})
    # Naive UTC from here on: the stored text formats carry no offset.
    now = as_utc(now or utcnow()).replace(tzinfo=None)
    now_us = (now - EPOCH) // timedelta(microseconds=1)
    rng = np.random.default_rng(seed)
    org = load_org(engine, rng)
    constants = _constants(org, now)
    sqlite = is_sqlite(engine)
    # SQLite stores a bound NaN as NULL; binding None instead costs ~1 us per value in
    # the sqlite3 module's adapter look-up, which was most of the insert time.
    null = float("nan") if sqlite else None
    raw = engine.raw_connection()
    try:
        dbapi: Any = raw.driver_connection  # with the engine's page cache (tasking.db)
        for start in range(0, count, batch):
            drawn = draw_batch(rng, org, min(batch, count - start), now_us, null)
            if sqlite:
                _write_sqlite(dbapi, drawn, constants)
            else:
                _write_postgres(dbapi, drawn, constants)
            if progress is not None:
                progress(drawn.n)
    finally:
        raw.close()
    return count
