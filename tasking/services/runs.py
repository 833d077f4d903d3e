"""Scoring runs: a rescore split into id-range chunks that any worker may take.

A run row and its chunk rows are written first (one transaction); workers
then take chunks in any order, any number of times: each chunk transaction
locks its chunk row, does nothing if the chunk is done or the run is over,
and otherwise rescores, marks the chunk done and counts it on the run, all
in one commit. Whoever completes the last chunk finishes the run (once,
guarded by a conditional update): summary, and for nightly runs the rank
snapshot and the review lists.
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime
from typing import Any

import numpy as np
import sqlmodel
from sqlalchemy import Connection, Engine, Table, func, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

import scoring
from scoring.rank import (
    biggest_moves,
    decode_priorities,
    encode_priorities,
    encode_snapshot,
    rank_moves,
)
from scoring.rank import decode_snapshot as decode_snapshot  # board and case pages read it
from tasking.db import fetch_rows, sql_true, writer
from tasking.models import (
    BOARD_ORDER,
    OPEN_STATES,
    Case,
    CaseScore,
    RankSnapshot,
    RunChunk,
    RunKind,
    RunStatus,
    ScoreHistory,
    ScoringRun,
    pk,
    utcnow,
)
from tasking.services import audit, bulk
from tasking.services.errors import NotFound
from tasking.services.rescore import (
    RescoreStats,
    board_id_range,
    filter_sql,
    id_chunks,
    rescore_in,
)
from tasking.services.scores import current_model
from tasking.services.sweep import fail_run, quick_writer

DEFAULT_CHUNK = 20_000
TOP_MOVERS = 10
# Core tables, for row reads and conditional updates inside a chunk's own transaction.
RUNS: Table = ScoringRun.__table__  # type: ignore[attr-defined]
CHUNKS: Table = RunChunk.__table__  # type: ignore[attr-defined]
SNAPSHOTS: Table = RankSnapshot.__table__  # type: ignore[attr-defined]


def start_run(
    *,
    engine: Engine,
    kind: str,
    reason: str = "",
    run_date: date | None = None,
    task_id: str | None = None,
    board_filter: dict[str, Any] | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    bulk_min: int | None = None,
    now: datetime | None = None,
) -> ScoringRun | None:
    """Create a run and its chunks; None when a run of this kind already exists for the date.

    With a `task_id`, a redelivered task gets the run it already started. A run
    over `bulk_min` open cases or more sets the board index aside (see bulk.py).
    """
    now = now or utcnow()
    if task_id is not None:  # a redelivered task: no need to count the board again
        with Session(engine) as session:
            existing = _run_of_task(session, task_id)
            if existing is not None:
                return existing
    scope = board_id_range(engine, filter_sql(board_filter))
    with writer(engine).connect() as conn, conn.begin(), Session(bind=conn) as session:
        if task_id is not None:  # again under the write lock: the first copy may just have won
            existing = _run_of_task(session, task_id)
            if existing is not None:
                return existing
        version, _ = current_model(session=session)
        run = ScoringRun(
            kind=kind, run_date=run_date, reason=reason[:200], model_version_id=pk(version),
            as_of=now, started_at=utcnow(), task_id=task_id,
            board_filter=json.dumps(board_filter or {}, sort_keys=True),
        )  # fmt: skip
        try:
            with session.begin_nested():
                session.add(run)
                session.flush()
        except IntegrityError:
            return None  # another trigger already started this date's run
        chunks = (
            [RunChunk(run_id=pk(run), lo=lo, hi=hi) for lo, hi in id_chunks(*scope[:2], chunk_size)]
            if scope
            else []
        )
        session.add_all(chunks)
        run.chunks_total = len(chunks)
        session.add(run)
        session.flush()
        if scope and bulk_min is not None and scope[2] >= bulk_min and kind != RunKind.WHATIF:
            run.bulk = bulk.set_aside(conn)
            session.add(run)
            session.flush()
        else:
            bulk.heal(conn)
        session.expunge_all()
    return run


def _run_of_task(session: Session, task_id: str) -> ScoringRun | None:
    run = session.exec(
        sqlmodel.select(ScoringRun).where(col(ScoringRun.task_id) == task_id)
    ).first()
    if run is not None:
        session.expunge(run)
    return run


def chunk_ids(*, engine: Engine, run_id: int) -> list[int]:
    """The chunk ids of a run, in id order (what the fan-out enqueues)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(col(RunChunk.id))
            .where(col(RunChunk.run_id) == run_id)
            .order_by(col(RunChunk.lo))
        )
        return [int(r[0]) for r in rows if r[0] is not None]


def run_chunk(
    *,
    engine: Engine,
    chunk_id: int,
    lock_timeout_ms: int | None = None,
    statement_timeout_ms: int | None = None,
) -> tuple[int, RescoreStats | None]:
    """Do one chunk exactly once: (run id, stats), stats None if done already or the run is over.

    On PostgreSQL the timeouts bound the chunk's waits for row locks and each of its
    statements: past them the database gives up (an OperationalError, retried by the
    task) instead of working on after the worker has.
    """
    with writer(engine).connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            for name, value in (("lock_timeout", lock_timeout_ms),
                                ("statement_timeout", statement_timeout_ms)):  # fmt: skip
                if value is not None:
                    conn.exec_driver_sql(f"SET LOCAL {name} = {int(value)}")
        chunk = conn.execute(
            select(CHUNKS).where(CHUNKS.c.id == chunk_id).with_for_update()
        ).first()
        if chunk is None:
            raise NotFound(f"no run chunk {chunk_id}")
        if chunk.done_at is not None:
            return chunk.run_id, None
        run = conn.execute(select(RUNS).where(RUNS.c.id == chunk.run_id)).one()
        if run.status != RunStatus.RUNNING:
            return chunk.run_id, None
        stats = rescore_in(
            conn, lo=chunk.lo, hi=chunk.hi, reason=run.kind, now=run.as_of, run_id=run.id,
            where=filter_sql(json.loads(run.board_filter)),
        )  # fmt: skip
        conn.execute(
            update(RunChunk)
            .where(col(RunChunk.id) == chunk_id)
            .values(
                done_at=utcnow(), cases=stats.cases, settled=stats.settled, changed=stats.changed,
                band_changes=stats.band_changes, seconds=stats.seconds,
                attempts=col(RunChunk.attempts) + 1,
            )
        )  # fmt: skip
        counted = conn.execute(
            update(ScoringRun)
            .where(col(ScoringRun.id) == run.id)
            .values(
                chunks_done=col(ScoringRun.chunks_done) + 1,
                cases_total=col(ScoringRun.cases_total) + stats.cases,
                cases_changed=col(ScoringRun.cases_changed) + stats.changed,
                band_changes=col(ScoringRun.band_changes) + stats.band_changes,
            )
            .returning(col(ScoringRun.chunks_done), col(ScoringRun.chunks_total))
        ).one()
        # Row locks serialise these updates: exactly one chunk sees the last count.
        stats.completes_run = counted[0] >= counted[1]
    return run.id, stats


def record_chunk_failure(*, engine: Engine, chunk_id: int, error: str, final: bool) -> None:
    """Note a failed attempt on the chunk; a final failure fails the run too, with its reason.

    Waits at most NOTE_WAIT_MS for locks: if the note cannot be written, the caller
    logs it, and the sweep (sweep_runs) finds the run again.
    """
    with quick_writer(engine) as conn:
        conn.execute(
            update(RunChunk)
            .where(col(RunChunk.id) == chunk_id)
            .values(attempts=col(RunChunk.attempts) + 1, last_error=error[:500])
        )
        if final:
            chunk = conn.execute(select(CHUNKS).where(CHUNKS.c.id == chunk_id)).first()
            if chunk is not None:
                reason = f"chunk {chunk_id} (cases {chunk.lo}-{chunk.hi}): retries exhausted: "
                fail_run(conn, run_id=chunk.run_id, error=reason + error)


def nightly_run_of(*, engine: Engine, day: date) -> ScoringRun | None:
    """The nightly run of a date, if there is one."""
    with Session(engine) as session:
        run = session.exec(
            sqlmodel.select(ScoringRun).where(
                col(ScoringRun.kind) == RunKind.NIGHTLY.value, col(ScoringRun.run_date) == day
            )
        ).first()
        if run is not None:
            session.expunge(run)
        return run


def finish_if_complete(*, engine: Engine, run_id: int) -> bool:
    """Finish the run if every chunk is done and nobody finished it yet; True if this call did."""
    with writer(engine).connect() as conn, conn.begin():
        claimed = conn.execute(
            update(ScoringRun)
            .where(
                col(ScoringRun.id) == run_id,
                col(ScoringRun.status) == RunStatus.RUNNING.value,
                col(ScoringRun.chunks_done) >= col(ScoringRun.chunks_total),
            )
            .values(status=RunStatus.FINISHING.value)
        )
        if claimed.rowcount != 1:
            return False
        run = conn.execute(select(RUNS).where(RUNS.c.id == run_id)).one()
        clock = time.perf_counter()
        phases: dict[str, float] = {}

        def lap(name: str) -> None:
            nonlocal clock
            phases[name] = round(time.perf_counter() - clock, 3)
            clock = time.perf_counter()

        if run.bulk:
            bulk.build(conn)
            lap("index_s")
        summary: dict[str, Any] = {
            "bands": _band_counts(conn),
            "cases_settled": _cases_settled(conn, run_id),
            "movers": _band_movers(conn, run_id),
        }
        lap("summary_s")
        if run.kind == RunKind.NIGHTLY:
            summary["rank_moves"] = take_snapshot(
                conn, run_id=run_id, kind="nightly", taken_at=run.as_of
            )
            lap("snapshot_s")
            summary.update(_review_lists(conn, run.run_date or run.as_of.date()))
            lap("reviews_s")
            # The audit chain's rows added since the last good walk (kept in audit_verification).
            summary["audit_chain"] = audit.summary_of(audit.check_and_record(conn))
            lap("audit_s")
        finished = utcnow()
        # The whole run, started to finished; the phases are the finishing steps alone.
        summary["seconds"] = round((finished - run.started_at).total_seconds(), 3)
        summary["finish_phases"] = phases
        conn.execute(
            update(ScoringRun)
            .where(col(ScoringRun.id) == run_id)
            .values(
                status=RunStatus.COMPLETED.value,
                finished_at=finished,
                summary=json.dumps(summary, default=str),
            )
        )
    return True


def _band_counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        select(col(CaseScore.band), func.count())
        .where(col(CaseScore.on_board) == true())  # "= 1" on SQLite: the partial board index
        .group_by(col(CaseScore.band))
    ).all()
    counts = {int(band): int(n) for band, n in rows}
    return {name: counts.get(code, 0) for code, name in enumerate(scoring.BANDS)}


def _cases_settled(conn: Connection, run_id: int) -> int:
    """How many of the run's cases were left unread, as they could not change."""
    return int(
        conn.execute(
            select(func.coalesce(func.sum(col(RunChunk.settled)), 0)).where(
                col(RunChunk.run_id) == run_id
            )
        ).scalar_one()
    )


def _band_movers(conn: Connection, run_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(col(ScoreHistory.case_id), col(Case.reference), col(ScoreHistory.explanation))
        .join(Case, col(Case.id) == col(ScoreHistory.case_id))
        .where(col(ScoreHistory.run_id) == run_id)
        .order_by(col(ScoreHistory.band), col(ScoreHistory.priority).desc())
        .limit(TOP_MOVERS)
    ).all()
    return [{"case_id": r[0], "reference": r[1], "why": r[2]} for r in rows]


def board_order(conn: Connection) -> tuple[np.ndarray, np.ndarray]:
    """Every open case id in board order, with its priority, straight off the board index."""
    order = ", ".join(BOARD_ORDER)
    truth = sql_true(conn)
    # bk_priority is the priority negated (exactly): the index alone answers this.
    query = (
        "SELECT CAST(case_id AS BIGINT), bk_priority FROM case_score"  # noqa: S608 - fragments built in code from trusted literals; values are bound
        f" WHERE on_board = {truth} ORDER BY {order}"
    )
    # (A binary COPY is slower here than fetching: PostgreSQL sends one message per row,
    # which only pays off with many columns, as in a chunk's load.)
    rows = fetch_rows(conn, query)
    data = np.fromiter(rows, dtype=[("id", np.int64), ("key", np.float64)], count=len(rows))
    return data["id"], -data["key"]


def take_snapshot(
    conn: Connection, *, run_id: int | None, kind: str, taken_at: datetime
) -> list[dict[str, Any]]:
    """Store the board order; returns the biggest rank moves since the last snapshot of its kind."""
    ids, priorities = board_order(conn)
    previous = conn.execute(
        select(col(RankSnapshot.case_ids), col(RankSnapshot.priorities))
        .where(col(RankSnapshot.kind) == kind)
        .order_by(col(RankSnapshot.taken_at).desc(), col(RankSnapshot.id).desc())
        .limit(1)
    ).first()
    conn.execute(
        SNAPSHOTS.insert().values(
            run_id=run_id, kind=kind, taken_at=taken_at, cases=len(ids),
            case_ids=encode_snapshot(ids), priorities=encode_priorities(priorities),
        )
    )  # fmt: skip
    if previous is None:
        return []
    before_ids, before_priorities = decode_snapshot(previous[0]), decode_priorities(previous[1])
    moves = rank_moves(before_ids, ids)
    top = biggest_moves(moves["delta"], TOP_MOVERS).tolist()
    result = []
    for i in top:
        was = float(before_priorities[moves["before"][i] - 1])
        now = float(priorities[moves["after"][i] - 1])
        rank_from, rank_to = int(moves["before"][i]), int(moves["after"][i])
        why = f"rank {rank_from} -> {rank_to}: "
        why += (
            f"priority {was:.1f} -> {now:.1f}"
            if round(was, 1) != round(now, 1)
            else f"priority unchanged at {now:.1f}; cases around it moved"
        )
        result.append(
            {"case_id": int(moves["case_id"][i]), "from": rank_from, "to": rank_to, "why": why}
        )
    return result


def _review_lists(conn: Connection, day: date) -> dict[str, Any]:
    open_states = [s.value for s in OPEN_STATES]
    # Both walk ix_case_record_review_state in date order, testing the state from the index.
    state = col(Case.state)
    overdue = conn.execute(
        select(col(Case.id))
        .where(state.in_(open_states), col(Case.next_review) < day)
        .order_by(col(Case.next_review))
        .limit(500)
    ).all()
    # Retention (set on closing, tasking.services.workflow) walks ix_case_record_retain_until.
    retention = conn.execute(
        select(col(Case.id))
        .where(col(Case.retain_until) <= day)
        .order_by(col(Case.retain_until))
        .limit(500)
    ).all()
    return {"overdue_reviews": [r[0] for r in overdue], "retention_due": [r[0] for r in retention]}


def get_run(*, session: Session, run_id: int) -> ScoringRun:
    """A run by id; NotFound otherwise."""
    run = session.get(ScoringRun, run_id)
    if run is None:
        raise NotFound(f"no scoring run {run_id}")
    return run
