"""The database side of the live fault tests: a fixture template, probes and exactly-once checks.

A template holds a small fictional organisation, generated cases scored
under model version 1, and a published version 2 (physical harm weighted
double), so a rescore changes every open case and moves some bands. Tests
copy the template, start a run with `start_run`, and check the result with
`assert_done_once`.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

import scoring
from tasking.db import session_scope
from tasking.migrate import upgrade
from tasking.services.generator import generate_cases
from tasking.services.runs import chunk_ids, start_run
from tasking.services.scores import KEPT_REASON, publish_model_text
from tests.support import wait_for
from tests.tasking.conftest import Org
from tests.workers.live import Crew

SEED = 20240611
WAIT = 60.0  # the longest any single wait may take
MODEL_V2 = (
    scoring.model.DEFAULT_MODEL_PATH.read_text("utf-8")
    .replace("version = 1", "version = 2")
    .replace("P = 1.0 ", "P = 2.0 ")
)
MODEL_V3 = MODEL_V2.replace("version = 2", "version = 3").replace("P = 2.0 ", "P = 3.0 ")


def build_template(engine: Engine, *, cases: int, password_hash: str) -> None:
    """Migrate, add the small organisation and `cases` cases, then publish model version 2."""
    upgrade(engine)
    with session_scope(engine) as session:
        Org(session, password_hash)
    generate_cases(engine=engine, count=cases, seed=SEED)
    with session_scope(engine) as session:
        publish_model_text(session=session, content=MODEL_V2)


@dataclass
class LiveDb:
    """One test's database, as the workers see it (`url`) and as the test reads it."""

    url: str
    engine: Engine
    path: Path | None = None  # the file, for SQLite

    @property
    def sqlite(self) -> bool:
        return self.path is not None

    def one(self, sql: str, **params: Any) -> Any:
        """The single row of a query."""
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).one()

    def all(self, sql: str, **params: Any) -> list[Any]:
        """Every row of a query."""
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())

    def run(self, run_id: int) -> Any:
        """The run row."""
        return self.one("SELECT * FROM scoring_run WHERE id = :r", r=run_id)

    def chunks_done(self, run_id: int) -> int:
        """Chunks of the run committed as done."""
        return int(
            self.one(
                "SELECT count(*) FROM run_chunk WHERE run_id = :r AND done_at IS NOT NULL",
                r=run_id,
            )[0]
        )

    def status(self, run_id: int) -> str:
        return str(self.run(run_id).status)

    def bands(self) -> dict[int, int]:
        """Band of every case on a board, by case id."""
        rows = self.all("SELECT case_id, band FROM case_score WHERE on_board = :t", t=True)
        return {int(row[0]): int(row[1]) for row in rows}

    @contextlib.contextmanager
    def chunk_probe(self, run_id: int) -> Iterator[Callable[[], bool]]:
        """A check that is true while a worker is inside a chunk transaction of the run.

        SQLite: a chunk holds the write lock, so BEGIN IMMEDIATE with no busy wait
        fails. PostgreSQL: a chunk holds its chunk row locked FOR UPDATE, so
        SKIP LOCKED leaves it out of the not-done chunks.
        """
        if self.path is not None:
            with contextlib.closing(
                sqlite3.connect(self.path, timeout=0, isolation_level=None)
            ) as conn:

                def sqlite_busy() -> bool:
                    try:
                        conn.execute("BEGIN IMMEDIATE")
                    except sqlite3.OperationalError as exc:
                        return "locked" in str(exc)
                    conn.execute("ROLLBACK")
                    return False

                yield sqlite_busy
            return

        def postgres_busy() -> bool:
            with self.engine.connect() as conn, conn.begin():
                pending = conn.execute(
                    text("SELECT id FROM run_chunk WHERE run_id = :r AND done_at IS NULL"),
                    {"r": run_id},
                ).scalars()
                free = conn.execute(
                    text(
                        "SELECT id FROM run_chunk WHERE run_id = :r AND done_at IS NULL"
                        " FOR UPDATE SKIP LOCKED"
                    ),
                    {"r": run_id},
                ).scalars()
                return bool(set(pending) - set(free))

        yield postgres_busy

    def assert_done_once(
        self, run_id: int, bands_before: dict[int, int], *, attempts: int | None = 1
    ) -> None:
        """The run completed and did every chunk, every case and every history row once.

        Every open case went from score version 1 to 2 (model version 2 changes
        them all); closed cases were not touched; one history row per band change,
        no duplicates. `attempts`: what each chunk row must show (None: not checked).
        """
        run = self.run(run_id)
        assert run.status == "completed", f"run {run_id} is {run.status}"
        assert run.finished_at is not None
        assert run.chunks_total > 0
        assert run.chunks_done == run.chunks_total
        chunks = self.all("SELECT * FROM run_chunk WHERE run_id = :r ORDER BY lo", r=run_id)
        assert len(chunks) == run.chunks_total
        assert all(c.done_at is not None for c in chunks)
        if attempts is not None:
            assert [c.attempts for c in chunks] == [attempts] * len(chunks)
        open_cases = len(bands_before)
        assert sum(c.cases for c in chunks) == run.cases_total == open_cases
        assert run.cases_changed == open_cases
        versions = self.all(
            "SELECT on_board, score_version, count(*) FROM case_score"
            " GROUP BY on_board, score_version"
        )
        by_version = {(bool(row[0]), int(row[1])): int(row[2]) for row in versions}
        assert by_version.get((True, 2)) == open_cases, by_version
        assert {key for key in by_version if key[0]} == {(True, 2)}, by_version
        assert {key for key in by_version if not key[0]} <= {(False, 1)}, by_version
        moved = {c for c, band in self.bands().items() if band != bands_before[c]}
        history = self.all("SELECT case_id, score_version, run_id, reason FROM score_history")
        moves = [h for h in history if h.reason != KEPT_REASON]
        kept = [h for h in history if h.reason == KEPT_REASON]
        assert len(moved) > 0
        assert sorted(h.case_id for h in moves) == sorted(moved)  # once each, no others
        assert {(h.score_version, h.run_id) for h in moves} == {(2, run_id)}
        # The new model keeps each score it replaced in history, once (history.py's rule).
        assert sorted(h.case_id for h in kept) == sorted(bands_before)
        assert {(h.score_version, h.run_id) for h in kept} == {(1, run_id)}
        assert run.band_changes == sum(c.band_changes for c in chunks) == len(moved)


def new_run(db: LiveDb, *, chunk: int) -> tuple[int, list[int]]:
    """A rescore run made as the rescore_queue task makes it; its id and chunk ids."""
    run = start_run(engine=db.engine, kind="rescore", reason="live test", chunk_size=chunk)
    assert run is not None
    assert run.id is not None
    return run.id, chunk_ids(engine=db.engine, run_id=run.id)


def wait_finished(db: LiveDb, run_id: int, crew: Crew, timeout: float = WAIT) -> None:
    """Wait until the run is completed or failed."""
    wait_for(
        lambda: db.status(run_id) in {"completed", "failed"},
        timeout=timeout,
        what=f"run {run_id} to finish",
        details=crew.tails,
    )


def kill_mid_chunk(db: LiveDb, run_id: int, kill: Callable[[], object], crew: Crew) -> None:
    """Wait until a worker is inside a chunk transaction, then `kill`; check nothing committed."""
    with db.chunk_probe(run_id) as busy:
        wait_for(busy, timeout=WAIT, what="a chunk in progress", interval=0.005, details=crew.tails)
        kill()
    # The killed transaction must not have committed, or the test proves nothing.
    assert db.chunks_done(run_id) == 0, "the kill came after the chunk had committed"
