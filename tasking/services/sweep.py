"""Runs that stopped moving: found by the sweep (beat), finished, sent again or failed.

A run is left running with no message when a chunk's retries are spent and
its failure could not be noted (the database was what failed), when a
message is lost with a broker, or when the worker finishing it dies. The
sweep finds such runs; a failed run always gets its reason and its board
index back. Notes about failures wait only briefly for the database's locks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select, update
from sqlmodel import col

from tasking.db import writer
from tasking.models import RunChunk, RunKind, RunStatus, ScoringRun, utcnow
from tasking.services import bulk

# How long a note about a failure may wait for the database's locks (ms).
NOTE_WAIT_MS = 500
RUNS: Table = ScoringRun.__table__  # type: ignore[attr-defined]
CHUNKS: Table = RunChunk.__table__  # type: ignore[attr-defined]


@contextlib.contextmanager
def quick_writer(engine: Engine, wait_ms: int = NOTE_WAIT_MS) -> Iterator[Connection]:
    """A write transaction that waits at most `wait_ms` for locks (then OperationalError).

    For notes about a failure: the database may be what is failing, and the
    caller must not spend another long busy wait finding that out.
    """
    with writer(engine).connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        raw: Any = conn.connection.driver_connection if sqlite else None
        usual = raw.execute("PRAGMA busy_timeout").fetchone()[0] if sqlite else 0
        if sqlite:  # before BEGIN IMMEDIATE, which is the wait to bound
            raw.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
        try:
            with conn.begin():
                if not sqlite:
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(wait_ms)}")
                yield conn
        finally:
            if sqlite:
                raw.execute(f"PRAGMA busy_timeout = {int(usual)}")


def fail_run(conn: Connection, *, run_id: int, error: str) -> bool:
    """Fail a running run with its reason and bring the board index back; True if this did."""
    failed = conn.execute(
        update(ScoringRun)
        .where(col(ScoringRun.id) == run_id, col(ScoringRun.status) == RunStatus.RUNNING.value)
        .values(status=RunStatus.FAILED.value, finished_at=utcnow(), error=error[:500])
        .returning(col(ScoringRun.bulk))
    ).first()
    if failed is not None and failed[0]:
        bulk.build(conn)  # the scores written so far stand; boards need their index
    return failed is not None


@dataclass
class Sweep:
    """What a sweep found: chunks to send again by run, runs to finish, runs it failed."""

    resend: dict[int, list[int]] = field(default_factory=dict)
    finish: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def sweep_runs(
    *, engine: Engine, stall_s: float, give_up_s: float, now: datetime | None = None
) -> Sweep:
    """Find running runs that stopped moving (their messages lost or their retries spent).

    A run whose chunks are all done but which nobody finished is to be finished.
    A run with no chunk done for `stall_s` has its unfinished chunks sent again
    (at most once per `stall_s`; a duplicate of a chunk still queued is a no-op).
    A run with none done for `give_up_s` fails with its reason, and its board
    index comes back.
    """
    now = now or utcnow()
    found = Sweep()
    last_done = (
        select(func.max(CHUNKS.c.done_at)).where(CHUNKS.c.run_id == RUNS.c.id).scalar_subquery()
    )
    with quick_writer(engine) as conn:
        rows = conn.execute(
            select(RUNS.c.id, RUNS.c.started_at, RUNS.c.swept_at, RUNS.c.chunks_done,
                   RUNS.c.chunks_total, last_done.label("last_done"))
            .where(RUNS.c.status == RunStatus.RUNNING.value, RUNS.c.kind != RunKind.WHATIF.value)
            .order_by(RUNS.c.id)
        ).all()  # fmt: skip
        for run in rows:
            moved = max(run.started_at, run.last_done or run.started_at)
            quiet = (now - moved).total_seconds()
            if run.chunks_done >= run.chunks_total:
                found.finish.append(run.id)
            elif quiet >= give_up_s:
                error = (
                    f"stalled: no chunk done for {quiet:.0f} s"
                    f" ({run.chunks_done}/{run.chunks_total} chunks done)"
                )
                if fail_run(conn, run_id=run.id, error=error):
                    found.failed.append(run.id)
            elif quiet >= stall_s and (
                run.swept_at is None or (now - run.swept_at).total_seconds() >= stall_s
            ):
                found.resend[run.id] = [
                    int(r[0])
                    for r in conn.execute(
                        select(CHUNKS.c.id)
                        .where(CHUNKS.c.run_id == run.id, CHUNKS.c.done_at.is_(None))
                        .order_by(CHUNKS.c.lo)
                    )
                ]
                conn.execute(update(RUNS).where(RUNS.c.id == run.id).values(swept_at=now))
    return found
