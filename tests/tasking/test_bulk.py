"""Bulk runs: the board index set aside for a big run and built again whatever happens."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import numpy as np
import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from tasking.db import SQLITE_CACHE_KIB, session_scope, writer
from tasking.migrate import downgrade, upgrade
from tasking.models import Assessment, CaseScore, ScoringRun, utcnow
from tasking.services import bulk
from tasking.services.board import board_page
from tasking.services.bulkwrite import copy_out, copy_payload
from tasking.services.rescore import rescore_all
from tasking.services.runs import (
    board_order,
    chunk_ids,
    finish_if_complete,
    record_chunk_failure,
    run_chunk,
    start_run,
)
from tasking.services.scores import assessment_inputs, epoch_seconds, pack_inputs
from tests.tasking.conftest import Org

LATER = timedelta(days=200)


def has_index(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bulk.has_board_index(conn)


def board_ids(engine: Engine, org: Org) -> list[int]:
    with Session(engine) as session:
        page = board_page(session=session, actor=org.users["coordinator"], limit=100)
        return [row.case_id for row in page.rows]


def test_a_bulk_run_sets_the_index_aside_and_builds_it_again_at_the_end(
    engine: Engine, cases: list[int], org: Org
) -> None:
    run = start_run(engine=engine, kind="nightly", run_date=date(2030, 3, 1), chunk_size=5,
                    bulk_min=12, now=utcnow() + LATER)  # fmt: skip
    assert run is not None
    assert run.id is not None
    assert run.bulk
    assert not has_index(engine)
    ids = chunk_ids(engine=engine, run_id=run.id)
    run_chunk(engine=engine, chunk_id=ids[0])
    # Boards still answer while the index is aside (from the table).
    assert len(board_ids(engine, org)) == 12
    for chunk in ids[1:]:
        run_chunk(engine=engine, chunk_id=chunk)
    assert finish_if_complete(engine=engine, run_id=run.id)
    assert has_index(engine)
    with Session(engine) as session:
        scores = session.exec(select(CaseScore)).all()
        assert {s.band for s in scores if s.case_id in cases[1::2]} == {2}  # aged P1 -> P2
        assert {s.score_version for s in scores} == {2}
    with engine.connect() as conn:
        ids_in_order, _ = board_order(conn)
    assert ids_in_order.tolist() == board_ids(engine, org)


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_sqlite_set_aside_and_build_restore_the_connection_settings(
    engine: Engine, cases: list[int]
) -> None:
    with writer(engine).connect() as conn, conn.begin():
        assert bulk.set_aside(conn)
        assert bulk.build(conn)
        settings = [
            conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()
            for name in ("secure_delete", "cache_size", "threads")
        ]
    assert settings == [1, -SQLITE_CACHE_KIB, 0]


def test_small_runs_keep_the_index(engine: Engine, cases: list[int]) -> None:
    run = start_run(engine=engine, kind="rescore", bulk_min=13, now=utcnow() + LATER)
    assert run is not None
    assert not run.bulk
    assert has_index(engine)


def test_a_failed_bulk_run_still_builds_the_index(engine: Engine, cases: list[int]) -> None:
    run = start_run(engine=engine, kind="rescore", chunk_size=6, bulk_min=1, now=utcnow() + LATER)
    assert run is not None
    assert run.id is not None
    first, second = chunk_ids(engine=engine, run_id=run.id)
    run_chunk(engine=engine, chunk_id=first)
    assert not has_index(engine)
    record_chunk_failure(engine=engine, chunk_id=second, error="gave up", final=True)
    assert has_index(engine)
    with Session(engine) as session:
        failed = session.get(ScoringRun, run.id)
        assert failed is not None
        assert failed.status == "failed"


def test_the_next_run_heals_an_abandoned_bulk_run(engine: Engine, cases: list[int]) -> None:
    abandoned = start_run(engine=engine, kind="rescore", bulk_min=1)
    assert abandoned is not None
    assert abandoned.bulk
    # While the bulk run is under way, a small run leaves the index aside ...
    assert start_run(engine=engine, kind="rescore", bulk_min=None) is not None
    assert not has_index(engine)
    # ... but once it is long abandoned, the next run builds it again.
    with engine.begin() as conn:
        conn.execute(
            ScoringRun.__table__.update().values(  # type: ignore[attr-defined]
                started_at=utcnow() - bulk.ABANDONED_AFTER - timedelta(minutes=1)
            )
        )
    assert start_run(engine=engine, kind="rescore") is not None
    assert has_index(engine)


def test_inline_bulk_rescore_gives_the_same_scores_and_keeps_the_index(
    engine: Engine, cases: list[int], org: Org
) -> None:
    now = utcnow() + LATER
    stats = rescore_all(engine=engine, now=now, chunk_size=5, bulk_min=1)
    assert stats.changed == 12
    assert has_index(engine)
    # The same rescore again, incremental this time, finds nothing left to change.
    assert rescore_all(engine=engine, now=now, chunk_size=5).changed == 0
    assert len(board_ids(engine, org)) == 12


def test_scores_carry_packed_inputs_and_the_intelligence_time(
    engine: Engine, cases: list[int]
) -> None:
    with Session(engine) as session:
        for case_id in cases:
            assessment = session.get(Assessment, case_id)
            score = session.get(CaseScore, case_id)
            assert assessment is not None
            assert score is not None
            assert score.inputs == pack_inputs(assessment_inputs(assessment))
            assert score.intel_epoch == epoch_seconds(assessment.intel_at)


def test_migration_0003_fills_packed_inputs_from_the_assessments(
    engine: Engine, cases: list[int]
) -> None:
    with Session(engine) as session:
        stored = {s.case_id: (s.inputs, s.intel_epoch) for s in session.exec(select(CaseScore))}
    downgrade(engine, "0002")
    upgrade(engine)
    with Session(engine) as session:
        again = {s.case_id: (s.inputs, s.intel_epoch) for s in session.exec(select(CaseScore))}
    assert again.keys() == stored.keys()
    for case_id, (inputs, epoch) in stored.items():
        assert again[case_id][0] == inputs
        assert again[case_id][1] == pytest.approx(epoch, abs=1e-6)


def test_copy_payload_is_postgres_binary_copy_format() -> None:
    payload = copy_payload([(">i8", np.array([7, 8])), (">f8", np.array([1.5, -2.0]))])
    assert payload.startswith(b"PGCOPY\n\xff\r\n\x00" + bytes(8))
    assert payload.endswith(b"\xff\xff")
    row = payload[19:-2][:30]  # 2 + (4 + 8) + (4 + 8) bytes per row
    assert row[:2] == b"\x00\x02"
    assert int.from_bytes(row[2:6], "big") == 8
    assert int.from_bytes(row[6:14], "big") == 7
    assert np.frombuffer(row[18:26], dtype=">f8")[0] == 1.5
    assert len(payload) == 19 + 2 * 26 + 2


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_copy_out_reads_columns_in_order_and_refuses_nulls(engine: Engine) -> None:
    rows = "SELECT * FROM (VALUES (3::int8, 1.5::float8), (-1, -0.25)) AS t(a, b)"
    with engine.connect() as conn:
        ids, values = copy_out(conn, rows + " ORDER BY a", [">i8", ">f8"])
        assert ids.tolist() == [-1, 3]
        assert values.tolist() == [-0.25, 1.5]
        empty = copy_out(conn, rows + " WHERE a > 10", [">i8", ">f8"])
        assert [column.tolist() for column in empty] == [[], []]
        with pytest.raises(ValueError, match="NULLs"):
            copy_out(conn, "SELECT 1::int8, NULL::float8 UNION ALL SELECT 2, 2.0", [">i8", ">f8"])


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_postgres_keeps_the_index_when_boards_hold_the_table(
    engine: Engine, cases: list[int]
) -> None:
    """The drop gives up while the board reader still holds the table: it does not wait it out.

    The reader lets go only when told to (or after a minute): had set_aside waited
    for the lock instead, it would have dropped the index once the reader was gone.
    """
    held = threading.Event()
    release = threading.Event()
    reader_pid: list[int] = []

    def reader() -> None:
        with engine.connect() as conn, conn.begin():
            reader_pid.append(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
            conn.execute(text("SELECT count(*) FROM case_score")).scalar()
            held.set()
            release.wait(60)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert held.wait(10)
        with writer(engine).connect() as conn, conn.begin():
            assert not bulk.set_aside(conn)
        # Given up while the reader was still inside its transaction, holding the table.
        assert thread.is_alive()
        with engine.connect() as conn:
            holding = conn.execute(
                text(
                    "SELECT l.granted FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                    " WHERE c.relname = 'case_score' AND l.pid = :pid"
                    " AND l.mode = 'AccessShareLock'"
                ),
                {"pid": reader_pid[0]},
            ).scalar_one()
        assert holding is True
    finally:
        release.set()
        thread.join()
    assert has_index(engine)
    with session_scope(engine) as session:
        assert session.exec(select(CaseScore)).first() is not None
