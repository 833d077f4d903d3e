"""Big rescores without row-by-row upkeep of the board index.

Every changed priority moves its board index entry: a delete and an insert at
another place in a B-tree of a million entries. When a run rewrites most of the
board, that upkeep costs more than everything else in the run together (about
10 s per million changed rows on SQLite, and on PostgreSQL it also turns every
update into a non-HOT one). So a run over many open cases sets the board index
aside when it starts and builds it again in one sorted pass when it ends,
completed or failed. Boards keep answering meanwhile, from the table (slower,
never wrong).

Any run that starts while no bulk run is under way builds a missing index
again, so a run abandoned for good (every worker lost) leaves the boards slow
only until the next run, and `tasking init-db` does the same.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import Connection, Index, Table, inspect, select
from sqlalchemy.exc import OperationalError

from tasking.db import SQLITE_CACHE_KIB
from tasking.models import CaseScore, RunStatus, ScoringRun, utcnow

log = logging.getLogger(__name__)

_TABLE: Table = CaseScore.__table__  # type: ignore[attr-defined]
BOARD_INDEX: Index = next(ix for ix in _TABLE.indexes if ix.name == "ix_case_score_board")
# How long a run waits for boards being read before it gives up setting the index aside.
LOCK_WAIT_MS = 2000
# A bulk run older than this is taken as abandoned (far beyond any chunk's time limit).
ABANDONED_AFTER = timedelta(hours=2)
_RUNS: Table = ScoringRun.__table__  # type: ignore[attr-defined]
# SQLite's sort for the build: helper threads and the size of each sorted run.
SORT_THREADS = 2
SORT_RUN_KIB = 16 * 1024


def has_board_index(conn: Connection) -> bool:
    """Whether the board index is there (in the caller's transaction)."""
    return bool(inspect(conn).has_index(_TABLE.name, str(BOARD_INDEX.name)))


def set_aside(conn: Connection) -> bool:
    """Drop the board index in the caller's write transaction; False if it stays.

    On PostgreSQL the drop waits at most LOCK_WAIT_MS for boards being read;
    if it cannot have the table by then, the run keeps the index (and is slower).
    """
    if not has_board_index(conn):
        return True
    postgres = conn.dialect.name == "postgresql"
    if not postgres:
        # The board index holds ids and sort keys only, nothing to shred: zeroing every
        # freed page (secure_delete ON, tasking.db) made the drop much slower.
        conn.exec_driver_sql("PRAGMA secure_delete = FAST")
    try:
        with conn.begin_nested():
            if postgres:
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {LOCK_WAIT_MS}")
            BOARD_INDEX.drop(conn)
    except OperationalError as exc:
        log.warning("board index kept for this run: %s", exc.orig)
        return False
    finally:
        if postgres:
            conn.exec_driver_sql("SET LOCAL lock_timeout = DEFAULT")
        else:
            conn.exec_driver_sql("PRAGMA secure_delete = ON")
    return True


def build(conn: Connection) -> bool:
    """Build the board index in one pass if it is missing; True if this call built it."""
    if has_board_index(conn):
        return False
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        BOARD_INDEX.create(conn)
        return True
    # SQLite sorts in memory up to the page cache's size, on one thread. Sorted runs
    # of SORT_RUN_KIB handed to helper threads, then merged, build it faster.
    conn.exec_driver_sql(f"PRAGMA threads = {SORT_THREADS}")
    conn.exec_driver_sql(f"PRAGMA cache_size = -{SORT_RUN_KIB}")
    try:
        BOARD_INDEX.create(conn)
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        conn.exec_driver_sql("PRAGMA threads = 0")
    return True


def bulk_run_under_way(conn: Connection) -> bool:
    """Whether a recent bulk run is still running (its index must stay aside)."""
    since = utcnow() - ABANDONED_AFTER
    row = conn.execute(
        select(_RUNS.c.id)
        .where(
            _RUNS.c.bulk.is_(True),
            _RUNS.c.status == RunStatus.RUNNING.value,
            _RUNS.c.started_at > since,
        )
        .limit(1)
    ).first()
    return row is not None


def heal(conn: Connection) -> bool:
    """Build a missing board index unless a bulk run needs it aside; True if built."""
    if has_board_index(conn) or bulk_run_under_way(conn):
        return False
    log.warning("board index was missing with no bulk run under way: building it")
    return build(conn)
