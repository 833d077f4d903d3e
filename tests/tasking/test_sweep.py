"""No run left running for ever (issue 10, findings 2 and 4), on SQLite and PostgreSQL.

The sweep (services/sweep.py, on the beat) finishes runs whose chunks are all done, sends again the
chunks of runs that stopped moving, and fails with its reason a run stalled
past the give-up time, building its board index again. A failure note waits
briefly, and a late chunk of an older run leaves newer scores alone.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from tasking.db import make_engine
from tasking.models import CaseScore, ScoringRun, utcnow
from tasking.services import bulk
from tasking.services.runs import (
    chunk_ids,
    finish_if_complete,
    record_chunk_failure,
    run_chunk,
    start_run,
)
from tasking.services.sweep import sweep_runs
from tests.support import wait_for

STALL, GIVE_UP = 300, 3600


def run_row(engine: Engine, run_id: int) -> ScoringRun:
    with Session(engine) as session:
        run = session.get(ScoringRun, run_id)
        assert run is not None
        return run


def has_index(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bulk.has_board_index(conn)


def scores(engine: Engine) -> dict[int, tuple[float, float, int]]:
    with Session(engine) as session:
        rows = session.exec(select(CaseScore)).all()
        return {r.case_id: (r.age_days, r.priority, r.score_version) for r in rows}


def new_run(engine: Engine, *, days: int = 9, bulk_min: int | None = None) -> tuple[int, list[int]]:
    run = start_run(engine=engine, kind="rescore", chunk_size=5, bulk_min=bulk_min,
                    now=utcnow() + timedelta(days=days))  # fmt: skip
    assert run is not None
    assert run.id is not None
    return run.id, chunk_ids(engine=engine, run_id=run.id)


def test_sweep_leaves_a_moving_run_alone(engine: Engine, cases: list[int]) -> None:
    run_id, _ = new_run(engine)
    found = sweep_runs(engine=engine, stall_s=STALL, give_up_s=GIVE_UP)
    assert (found.resend, found.finish, found.failed) == ({}, [], [])
    assert run_row(engine, run_id).swept_at is None


def test_sweep_resends_the_unfinished_chunks_of_a_stalled_run_once_a_period(
    engine: Engine, cases: list[int]
) -> None:
    """Retries spent with the failure unrecorded: no message left, the run still running."""
    run_id, (first, *rest) = new_run(engine)
    run_chunk(engine=engine, chunk_id=first)
    later = utcnow() + timedelta(seconds=STALL + 1)
    found = sweep_runs(engine=engine, stall_s=STALL, give_up_s=GIVE_UP, now=later)
    assert found.resend == {run_id: rest}
    assert run_row(engine, run_id).swept_at is not None
    again = sweep_runs(engine=engine, stall_s=STALL, give_up_s=GIVE_UP, now=later)
    assert again.resend == {}  # not every minute: once a stall period
    next_period = later + timedelta(seconds=STALL)
    assert sweep_runs(engine=engine, stall_s=STALL, give_up_s=GIVE_UP, now=next_period).resend
    for chunk in rest:  # the re-sent chunks complete the run as usual
        run_chunk(engine=engine, chunk_id=chunk)
    assert finish_if_complete(engine=engine, run_id=run_id)
    assert run_row(engine, run_id).status == "completed"


def test_sweep_finishes_a_run_whose_finisher_died(engine: Engine, cases: list[int]) -> None:
    run_id, ids = new_run(engine)
    for chunk in ids:
        run_chunk(engine=engine, chunk_id=chunk)  # the finishing call never came
    found = sweep_runs(engine=engine, stall_s=STALL, give_up_s=GIVE_UP)
    assert found.finish == [run_id]
    assert finish_if_complete(engine=engine, run_id=run_id)


def test_sweep_fails_a_run_stalled_past_give_up_with_its_reason_and_index(
    engine: Engine, cases: list[int]
) -> None:
    run_id, (first, *_rest) = new_run(engine, bulk_min=1)
    assert not has_index(engine)
    run_chunk(engine=engine, chunk_id=first)
    much_later = utcnow() + timedelta(seconds=GIVE_UP + 1)
    found = sweep_runs(engine=engine, stall_s=STALL, give_up_s=GIVE_UP, now=much_later)
    assert found.failed == [run_id]
    run = run_row(engine, run_id)
    assert run.status == "failed"
    assert run.finished_at is not None
    assert run.error.startswith("stalled: no chunk done for")
    assert f"(1/{run.chunks_total} chunks done)" in run.error
    assert has_index(engine)  # the board index is back at once, not in two hours
    assert sweep_runs(engine=engine, stall_s=STALL, give_up_s=GIVE_UP, now=much_later).failed == []


def test_exhausted_retries_fail_the_run_with_the_chunk_and_reason(
    engine: Engine, cases: list[int]
) -> None:
    run_id, (first, second, *_) = new_run(engine, bulk_min=1)
    run_chunk(engine=engine, chunk_id=first)
    record_chunk_failure(engine=engine, chunk_id=second, error="database is locked", final=True)
    run = run_row(engine, run_id)
    assert run.status == "failed"
    assert run.error.startswith(f"chunk {second} (cases ")
    assert run.error.endswith("retries exhausted: database is locked")
    assert has_index(engine)


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_failure_note_waits_briefly_not_the_whole_busy_timeout(
    engine: Engine, cases: list[int]
) -> None:
    """The lock that failed the chunk is still held: the note gives up, the engine keeps its wait.

    The engine waits ten minutes for SQLite's lock: a note taking that long would
    outlast the bounded wait below.
    """
    patient = make_engine(str(engine.url), busy_ms=600_000)
    run_id, (chunk, *_) = new_run(patient)
    holder = sqlite3.connect(str(engine.url.database), timeout=0, isolation_level=None)
    outcome: list[BaseException | None] = []

    def note() -> None:
        try:
            record_chunk_failure(engine=patient, chunk_id=chunk, error="locked", final=True)
            outcome.append(None)
        except Exception as exc:
            outcome.append(exc)

    try:
        holder.execute("BEGIN IMMEDIATE")
        thread = threading.Thread(target=note, daemon=True)
        thread.start()
        wait_for(lambda: outcome, timeout=60, what="the failure note to give up")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    (raised,) = outcome
    assert raised is not None
    assert "locked" in str(raised)
    assert run_row(patient, run_id).status == "running"  # the sweep's to find
    with patient.connect() as conn:  # the pooled connection waits as long as before
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 600_000
    patient.dispose()


def test_a_late_chunk_of_an_older_run_leaves_a_newer_runs_scores(
    engine: Engine, cases: list[int]
) -> None:
    """An older run redelivered after a newer one finished: no score goes back in time."""
    older_id, older_chunks = new_run(engine, days=100)
    newer_id, newer_chunks = new_run(engine, days=200)
    for chunk in newer_chunks:
        run_chunk(engine=engine, chunk_id=chunk)
    assert finish_if_complete(engine=engine, run_id=newer_id)
    newer = scores(engine)
    for chunk in older_chunks:
        _, stats = run_chunk(engine=engine, chunk_id=chunk)
        assert stats is not None
        assert stats.changed == 0
        assert stats.newer == stats.cases
    assert finish_if_complete(engine=engine, run_id=older_id)
    assert scores(engine) == newer
    assert run_row(engine, older_id).cases_changed == 0
