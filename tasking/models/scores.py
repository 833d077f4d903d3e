"""Stored scores: the current score of each case, its history, models and runs.

`CaseScore` is deliberately narrow and carries the board's sort keys and
filters, so a board is one indexed query and a rescore rewrites small rows.
The sort keys are stored ascending (threat first as 0, priority negated,
position negated, no deadline as a far date) so that keyset pagination is one
row-value comparison on one index, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Float,
    Index,
    LargeBinary,
    SmallInteger,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from scoring.vector import format_age
from tasking.models.base import utcnow

NO_DEADLINE = date(9999, 12, 31)
BOARD_ORDER = ("bk_threat", "bk_priority", "bk_position", "bk_deadline", "bk_submitted", "case_id")
# Carried at the tail of the board index so that a filtered or BCU-scoped board
# tests each entry from the index itself and reads only the rows it returns.
# (Asset type, state, total harm and inputs were tried here too: the nightly run's
# rebuild of the index took 3.8 s instead of 1.6 s at 1M, over the 10 s goal.)
BOARD_FILTER_COLUMNS = ("bcu_id", "hub_id", "theme_id", "band", "kind")
# Filter indexes over the case facts a rescore never writes, so they need no upkeep
# in a nightly run: a filter matching few cases finds them here (tasking.services.board)
# instead of walking the board index. Each stable filter leads one; the columns after
# it are the pairs most likely to narrow a combination. Partial on `on_board > 0`, not
# `= 1`, so that on SQLite (no ANALYZE) the board's own walk, which says `on_board = 1`,
# can never pick one of them and sort instead of walking the board index.
FILTER_INDEXES = {
    "ix_case_score_f_theme": ("theme_id", "asset_type", "state", "kind", "hub_id", "bcu_id"),
    "ix_case_score_f_bcu": ("bcu_id", "state", "asset_type", "theme_id", "kind", "hub_id"),
    "ix_case_score_f_asset": ("asset_type", "hub_id", "kind", "state", "theme_id", "bcu_id"),
    "ix_case_score_f_state": ("state", "kind", "hub_id", "theme_id", "asset_type", "bcu_id"),
    "ix_case_score_f_hub": ("hub_id", "kind", "theme_id", "bcu_id", "state", "asset_type"),
}
FILTER_INDEX_WHERE = {"sqlite_where": "on_board > 0", "postgresql_where": "on_board"}


class CaseScore(SQLModel, table=True):
    """The current score of one case (an assessment product), plus board keys."""

    __tablename__ = "case_score"
    __table_args__ = (
        Index(
            "ix_case_score_board",
            *BOARD_ORDER,
            *BOARD_FILTER_COLUMNS,
            sqlite_where=text("on_board = 1"),
            postgresql_where=text("on_board"),
        ),
        *(
            Index(
                name,
                *columns,
                sqlite_where=text(FILTER_INDEX_WHERE["sqlite_where"]),
                postgresql_where=text(FILTER_INDEX_WHERE["postgresql_where"]),
            )
            for name, columns in FILTER_INDEXES.items()
        ),
    )

    case_id: int = Field(foreign_key="case_record.id", primary_key=True)
    # Filters, copied from the case by the services whenever it changes.
    on_board: bool = Field(default=False)
    state: str = Field(max_length=24)
    kind: int = Field(sa_type=SmallInteger)
    bcu_id: int | None = Field(default=None)
    hub_id: int | None = Field(default=None)
    theme_id: int
    asset_type: str | None = Field(default=None, max_length=32)
    # The score.
    harm_base: float = Field(sa_type=Float)
    total_harm: float = Field(sa_type=Float)
    risk: float = Field(sa_type=Float)
    freshness: float = Field(sa_type=Float)
    age_days: float = Field(sa_type=Float)
    priority: float = Field(sa_type=Float)
    band: int = Field(sa_type=SmallInteger)  # 0..3 = P0..P3
    position: int = Field(sa_type=SmallInteger)
    position_grade: int = Field(sa_type=SmallInteger)  # 0 Weak, 1 Adequate, 2 Strong
    threat: int = Field(sa_type=SmallInteger)
    vector: str = Field(max_length=128)  # canonical inputs; the age used is age_days
    # The same inputs packed for bulk loads (scores.pack_inputs), and the moment the
    # intelligence age counts from, as epoch seconds: a rescore reads only this table.
    inputs: int = Field(default=0, sa_type=BigInteger)
    intel_epoch: float = Field(default=0.0, sa_type=Float)
    model_version_id: int = Field(foreign_key="model_version.id")
    scored_at: datetime = Field(default_factory=utcnow)
    # Raised whenever the numbers change; a decision names the version it saw.
    score_version: int = Field(default=1)
    # Board sort keys (ascending), see the module docstring.
    bk_threat: int = Field(sa_type=SmallInteger)
    bk_priority: float = Field(sa_type=Float)
    bk_position: int = Field(sa_type=SmallInteger)
    bk_deadline: date = Field(default=NO_DEADLINE)
    bk_submitted: datetime

    @property
    def scored_vector(self) -> str:
        """The exact vector that produced this score (inputs plus the age used)."""
        # The stored vector is canonical and A comes last, so appending it is exact.
        if self.age_days == 0:
            return self.vector
        return f"{self.vector}/A:{format_age(self.age_days)}"


class ScoreHistory(SQLModel, table=True):
    """One past score of a case; one row per score version."""

    __tablename__ = "score_history"
    __table_args__ = (UniqueConstraint("case_id", "score_version"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_record.id")
    score_version: int
    priority: float = Field(sa_type=Float)
    band: int = Field(sa_type=SmallInteger)
    position: int = Field(sa_type=SmallInteger)
    vector: str = Field(max_length=160)  # with the age used
    model_version_id: int = Field(foreign_key="model_version.id")
    reason: str = Field(max_length=16)  # RunKind
    run_id: int | None = Field(default=None, foreign_key="scoring_run.id")
    explanation: str = Field(default="", sa_type=Text)
    scored_at: datetime = Field(default_factory=utcnow)


class ModelVersion(SQLModel, table=True):
    """A published scoring model: its file content and hash, kept for ever."""

    __tablename__ = "model_version"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    version: int
    content_hash: str = Field(max_length=64)
    content: str = Field(sa_type=Text)
    is_current: bool = Field(default=False)
    published_at: datetime = Field(default_factory=utcnow)
    published_by_id: int | None = Field(default=None, foreign_key="app_user.id")

    @property
    def label(self) -> str:
        """Name and version, e.g. 'sctac-default:1'."""
        return f"{self.name}:{self.version}"


class ScoringRun(SQLModel, table=True):
    """A rescore of many cases (on demand, nightly, for a new model) or a what-if preview."""

    __tablename__ = "scoring_run"
    __table_args__ = (UniqueConstraint("kind", "run_date"), UniqueConstraint("task_id"))

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # RunKind
    run_date: date | None = None  # set for nightly runs: one per date
    status: str = Field(default="running", max_length=16)  # running, finishing, completed, failed
    reason: str = Field(default="", max_length=200)
    # The Celery task that started the run: a redelivered message finds its run again.
    task_id: str | None = Field(default=None, max_length=64)
    board_filter: str = Field(default="{}", max_length=200)  # JSON; {} = every open case
    # The board index was set aside for this run and is built again when it ends.
    bulk: bool = False
    model_version_id: int = Field(foreign_key="model_version.id")
    # Every chunk of a run scores "as of" this moment, so a redelivered chunk repeats exactly.
    as_of: datetime = Field(default_factory=utcnow)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    chunks_total: int = 0
    chunks_done: int = 0
    cases_total: int = 0
    cases_changed: int = 0
    band_changes: int = 0
    summary: str = Field(default="{}", sa_type=Text)  # JSON
    # Why a failed run failed (e.g. a chunk's retries exhausted, or stalled past its sweeps).
    error: str = Field(default="", max_length=500)
    # When the sweep last re-sent this run's unfinished chunks (services/sweep.py).
    swept_at: datetime | None = None


class RunChunk(SQLModel, table=True):
    """One id-range chunk of a run; done once, whatever the redeliveries."""

    __tablename__ = "run_chunk"
    __table_args__ = (UniqueConstraint("run_id", "lo"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="scoring_run.id", index=True)
    lo: int
    hi: int
    done_at: datetime | None = None
    cases: int = 0
    settled: int = 0  # of those, checked in SQL and left unread: they could not change
    changed: int = 0
    band_changes: int = 0
    seconds: float = Field(default=0.0, sa_type=Float)
    attempts: int = 0
    last_error: str = Field(default="", max_length=500)


class RankSnapshot(SQLModel, table=True):
    """The whole board's order at one moment (nightly or a tasking meeting), compactly stored.

    `case_ids` holds the open case ids in board order as zlib-compressed
    little-endian int64 (rank = position + 1) and `priorities` their priorities;
    one row per snapshot keeps a nightly snapshot of a million cases to one write.
    """

    __tablename__ = "rank_snapshot"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, foreign_key="scoring_run.id", unique=True)
    kind: str = Field(max_length=16)  # nightly or meeting
    taken_at: datetime = Field(default_factory=utcnow, index=True)
    cases: int = 0
    case_ids: bytes = Field(sa_type=LargeBinary)
    priorities: bytes = Field(sa_type=LargeBinary)  # zlib float64, same order as case_ids
