"""Migrations on both databases; SQLite with several writing processes (docs/reliability.md D2)."""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, inspect, text
from sqlalchemy.exc import StatementError
from sqlmodel import Session, SQLModel, col, select

from tasking.db import make_engine, session_scope
from tasking.migrate import alembic_config, upgrade
from tasking.models import AuditEvent, RankSnapshot, Unit, UnitKind, pk
from tasking.services.audit import record_event

PROCESSES = 4
TRANSACTIONS = 200


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diffs == []
    assert "ix_case_score_board" in {ix["name"] for ix in inspect(engine).get_indexes("case_score")}


def test_migrations_upgrade_is_repeatable(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'again.db'}")
    upgrade(engine)
    upgrade(engine)  # a second run is a no-op, not an error
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    assert head.isdigit()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head
    engine.dispose()


def test_sqlite_pragmas_wal_busy_timeout_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}", busy_ms=7000)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 7000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert (
            conn.exec_driver_sql("PRAGMA secure_delete").scalar_one() == 1
        )  # erasure leaves no remains
    engine.dispose()


def _writer(url: str, worker: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Read-then-write transactions, the pattern that deadlocks deferred SQLite transactions."""
    engine = make_engine(url, busy_ms=30_000)
    errors = 0
    for i in range(TRANSACTIONS):
        try:
            with session_scope(engine) as session:
                unit = session.exec(select(Unit).where(Unit.code == "BCU-X")).one()
                unit.name = f"written by {worker} #{i}"
                session.add(unit)
                record_event(
                    session=session, actor=None, category="alteration", action="test.write",
                    entity_type="unit", entity_id=unit.id, detail={"worker": worker, "i": i},
                )  # fmt: skip
        except Exception as exc:  # count every failure, whatever it is
            errors += 1
            results.put(f"{worker}: {exc}")
    results.put(errors)
    engine.dispose()


def test_d2_sqlite_several_processes_never_locked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        session.add(Unit(code="BCU-X", name="start", kind=UnitKind.BCU.value))
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_writer, args=(url, w, results)) for w in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
    assert all(w.exitcode == 0 for w in workers)
    reports = [results.get(timeout=5) for _ in range(PROCESSES)]
    failures = [r for r in reports if not isinstance(r, int)]
    assert failures == []
    assert sum(r for r in reports if isinstance(r, int)) == 0
    with Session(engine) as session:
        written = session.exec(select(func.count()).select_from(AuditEvent)).one()
    assert written == PROCESSES * TRANSACTIONS
    engine.dispose()


def test_sqlite_cache_and_checkpoint_sized_for_bulk_rescore(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() <= -256 * 1024
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() >= 50_000
    engine.dispose()


def test_stored_times_come_back_aware_in_utc(engine: Engine) -> None:
    """Every datetime column is sqlmodel's UTCDateTime: ORM and Core reads give aware UTC
    times on both databases (so the services compare them without converting), and a naive
    time is refused on the way in rather than stored as if it were UTC."""
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))

    def snapshot_at(taken_at: datetime) -> RankSnapshot:
        return RankSnapshot(
            kind="nightly", taken_at=taken_at, cases=0, case_ids=b"", priorities=b""
        )

    with session_scope(engine) as session:
        snapshot = snapshot_at(moment)
        session.add(snapshot)
        session.flush()
        snapshot_id = pk(snapshot)
    with Session(engine) as session:
        read = session.get(RankSnapshot, snapshot_id)
        assert read is not None
        assert read.taken_at == moment
        assert read.taken_at.utcoffset() == timedelta(0)
        core = session.exec(
            select(col(RankSnapshot.taken_at)).where(col(RankSnapshot.id) == snapshot_id)
        ).one()
        assert core.utcoffset() == timedelta(0)
        assert core == moment
    with Session(engine) as session:
        session.add(snapshot_at(datetime(2026, 1, 1)))
        with pytest.raises(StatementError, match="timezone"):
            session.flush()
