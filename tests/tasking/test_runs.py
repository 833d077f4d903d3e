"""Runs and chunks (docs/reliability.md, C1 and C4) on SQLite and PostgreSQL, without a broker."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import psycopg
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from scoring.rank import decode_snapshot
from tasking.db import session_scope
from tasking.models import (
    Case,
    CaseScore,
    RankSnapshot,
    RunChunk,
    ScoreHistory,
    ScoringRun,
    utcnow,
)
from tasking.services.cases import submit_asset_request
from tasking.services.errors import Invalid, NotFound
from tasking.services.runs import (
    chunk_ids,
    finish_if_complete,
    record_chunk_failure,
    run_chunk,
    start_run,
)
from tests.support.intel import set_intel_at
from tests.support.runs import completed_run
from tests.tasking.conftest import HIGH, Org, RequestData


def history_rows(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(ScoreHistory)).one()


def test_c1_chunk_twice_and_eight_copies_at_once_do_the_work_once(
    engine: Engine, cases: list[int]
) -> None:
    run = start_run(engine=engine, kind="nightly", run_date=date(2030, 1, 1), chunk_size=5,
                    now=utcnow() + timedelta(days=200))  # fmt: skip
    assert run is not None
    assert run.id is not None
    ids = chunk_ids(engine=engine, run_id=run.id)
    assert len(ids) == 3
    before = history_rows(engine)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda chunk: run_chunk(engine=engine, chunk_id=chunk), ids[:1] * 8)
        )
    done = [stats for _, stats in results if stats is not None]
    assert len(done) == 1
    for chunk in ids:
        run_chunk(engine=engine, chunk_id=chunk)
        assert run_chunk(engine=engine, chunk_id=chunk) == (run.id, None)
    after = history_rows(engine)
    assert after - before == 6  # the six P1 cases dropped to P2, each recorded once
    with Session(engine) as session:
        stored = session.get(ScoringRun, run.id)
        assert stored is not None
        assert (stored.chunks_done, stored.chunks_total, stored.cases_total) == (3, 3, 12)
        assert stored.band_changes == 6
        versions = session.exec(select(CaseScore.score_version)).all()
        assert set(versions) == {2}


def test_c1_stale_run_is_a_no_op(engine: Engine, cases: list[int]) -> None:
    run = start_run(
        engine=engine, kind="rescore", chunk_size=100, now=utcnow() + timedelta(days=90)
    )
    assert run is not None
    assert run.id is not None
    (chunk,) = chunk_ids(engine=engine, run_id=run.id)
    record_chunk_failure(engine=engine, chunk_id=chunk, error="gave up", final=True)
    assert run_chunk(engine=engine, chunk_id=chunk) == (run.id, None)
    with Session(engine) as session:
        assert set(session.exec(select(CaseScore.score_version)).all()) == {1}
        failed = session.get(ScoringRun, run.id)
        assert failed is not None
        assert failed.status == "failed"
        assert session.get(RunChunk, chunk).last_error == "gave up"  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        run_chunk(engine=engine, chunk_id=10_000)


def test_c4_second_nightly_run_for_a_date_is_skipped(engine: Engine, cases: list[int]) -> None:
    first = start_run(engine=engine, kind="nightly", run_date=date(2030, 2, 1))
    second = start_run(engine=engine, kind="nightly", run_date=date(2030, 2, 1))
    assert first is not None
    assert second is None
    assert start_run(engine=engine, kind="nightly", run_date=date(2030, 2, 2)) is not None
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(ScoringRun)).one() == 2


def test_start_run_with_same_task_id_returns_the_same_run(engine: Engine, cases: list[int]) -> None:
    first = start_run(engine=engine, kind="rescore", task_id="abc-123")
    again = start_run(engine=engine, kind="rescore", task_id="abc-123")
    assert first is not None
    assert again is not None
    assert first.id == again.id


def test_nightly_finish_summarises_snapshots_and_lists_reviews(
    engine: Engine, cases: list[int], org: Org, request_data: RequestData
) -> None:
    with session_scope(engine) as session:
        # Every case gets a review date from the schedule when it is submitted: put the
        # others' beyond these runs, so that only one is overdue.
        for case_id in cases:
            case = session.get(Case, case_id)
            assert case is not None
            case.next_review = date(2029, 12, 1) if case_id == cases[0] else date(2031, 1, 1)
            session.add(case)
    first = start_run(engine=engine, kind="nightly", run_date=date(2030, 1, 1), chunk_size=4)
    assert first is not None
    assert first.id is not None
    for chunk in chunk_ids(engine=engine, run_id=first.id):
        assert not finish_if_complete(engine=engine, run_id=first.id)
        run_chunk(engine=engine, chunk_id=chunk)
    assert finish_if_complete(engine=engine, run_id=first.id)
    assert not finish_if_complete(engine=engine, run_id=first.id)  # once only
    later_now = utcnow() + timedelta(days=200)
    # New intelligence on the last of the six P1 cases (ranked 6th): it alone keeps its priority.
    set_intel_at(engine, cases[-1], later_now)
    later = completed_run(engine, kind="nightly", run_date=date(2030, 1, 2), now=later_now)
    with Session(engine) as session:
        summary = json.loads(later.summary)
        assert summary["bands"] == {"P0": 0, "P1": 1, "P2": 5, "P3": 6}
        assert len(summary["movers"]) == 5
        assert all("P1 -> P2" in m["why"] for m in summary["movers"])
        assert summary["overdue_reviews"] == [cases[0]]
        # the aged P1 cases dropped below the fresh low cases' ... and each move is explained
        assert summary["rank_moves"]
        assert all(
            m["why"].startswith(f"rank {m['from']} -> {m['to']}: ") for m in summary["rank_moves"]
        )
        snapshots = session.exec(select(RankSnapshot).order_by(RankSnapshot.id)).all()
        assert [s.cases for s in snapshots] == [12, 12]
        order = decode_snapshot(snapshots[-1].case_ids).tolist()
        board = session.exec(
            select(CaseScore.case_id).order_by(CaseScore.bk_threat, CaseScore.bk_priority,
                                               CaseScore.bk_position, CaseScore.bk_deadline,
                                               CaseScore.bk_submitted, CaseScore.case_id)
        ).all()  # fmt: skip
        assert order == list(board)
        phases = summary["finish_phases"]
        # no bulk run: no index phase; the nightly run also checks the audit chain
        assert set(phases) == {"summary_s", "snapshot_s", "reviews_s", "audit_s"}
        assert summary["seconds"] >= sum(phases.values())
        assert summary["cases_settled"] == 0
    # A day on, the eleven cases 200 days old are settled: checked, left unread, unchanged.
    third = completed_run(engine, kind="nightly", run_date=date(2030, 1, 3),
                          now=later_now + timedelta(days=1))  # fmt: skip
    assert (third.cases_total, third.cases_changed) == (12, 1)
    assert json.loads(third.summary)["cases_settled"] == 11


def test_filtered_run_rescores_only_that_board(
    engine: Engine, org: Org, request_data: RequestData, cases: list[int]
) -> None:
    with session_scope(engine) as session:
        other = submit_asset_request(
            session=session, actor=org.users["bcu_b"], data=request_data(assessment=HIGH)
        ).id
    run = start_run(engine=engine, kind="rescore", board_filter={"bcu_id": org.bcu_b.id},
                    now=utcnow() + timedelta(days=200))  # fmt: skip
    assert run is not None
    assert run.id is not None
    for chunk in chunk_ids(engine=engine, run_id=run.id):
        run_chunk(engine=engine, chunk_id=chunk)
    with Session(engine) as session:
        versions = dict(session.exec(select(CaseScore.case_id, CaseScore.score_version)).all())
    assert versions.pop(other) == 2
    assert set(versions.values()) == {1}  # BCU A's twelve cases untouched
    with pytest.raises(Invalid):
        start_run(engine=engine, kind="rescore", board_filter={"bcu_id": "1; DROP TABLE x"})
    with pytest.raises(Invalid):
        start_run(engine=engine, kind="rescore", board_filter={"state": "open"})


def test_only_the_last_chunk_reports_that_it_completes_the_run(
    engine: Engine, cases: list[int]
) -> None:
    run = start_run(engine=engine, kind="rescore", chunk_size=4, now=utcnow() + timedelta(days=9))
    assert run is not None
    assert run.id is not None
    flags = []
    for chunk in chunk_ids(engine=engine, run_id=run.id):
        _, stats = run_chunk(engine=engine, chunk_id=chunk)
        assert stats is not None
        flags.append(stats.completes_run)
    assert flags == [False, False, True]
    assert finish_if_complete(engine=engine, run_id=run.id)


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
@pytest.mark.parametrize(
    ("timeouts", "error"),
    [({"lock_timeout_ms": 200}, "LockNotAvailable"),
     ({"statement_timeout_ms": 300}, "QueryCanceled")],
    ids=["lock", "statement"],
)  # fmt: skip
def test_postgres_chunk_gives_up_on_a_held_row_lock_and_can_run_again(
    engine: Engine, cases: list[int], timeouts: dict[str, int], error: str
) -> None:
    run = start_run(engine=engine, kind="rescore", now=utcnow() + timedelta(days=200))
    assert run is not None
    assert run.id is not None
    (chunk,) = chunk_ids(engine=engine, run_id=run.id)
    with engine.connect() as holder, holder.begin():
        holder.exec_driver_sql(f"SELECT 1 FROM case_score WHERE case_id = {cases[3]} FOR UPDATE")  # noqa: S608 - test SQL over fixed table and column names
        # Without the timeout this would wait for the lock for ever. The bulk write goes
        # through the raw driver cursor: psycopg's own error (transient to the task).
        with pytest.raises(psycopg.OperationalError) as failed:
            run_chunk(engine=engine, chunk_id=chunk, **timeouts)
    assert type(failed.value).__name__ == error
    # Nothing of the failed try stayed; once the lock is gone the chunk is done, once.
    with Session(engine) as session:
        assert session.exec(select(func.max(CaseScore.score_version))).one() == 1
    _, stats = run_chunk(engine=engine, chunk_id=chunk, **timeouts)
    assert stats is not None
    assert stats.changed == len(cases)
