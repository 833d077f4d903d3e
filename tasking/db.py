"""Database engines and sessions for SQLite (embedded) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout and foreign keys on; writers open
their transaction with BEGIN IMMEDIATE so two processes never both hold a read
lock and then deadlock upgrading it ("database is locked"). Readers use a
plain deferred BEGIN and never block writers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

from config.settings import Settings

_WRITE_OPTION = "tasking_write"
SQLITE_CACHE_KIB = 256 * 1024  # per connection, allocated only as pages are used
SQLITE_CHECKPOINT_PAGES = 50_000
# How SQLAlchemy stores datetimes in SQLite: raw driver writes must use the same text.
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
    pool_timeout: float = 3.0,
    busy_ms: int = 15_000,
    connect_timeout_s: int = 5,
) -> Engine:
    """An engine for `url` with the project's SQLite pragmas or PostgreSQL pool settings.

    A PostgreSQL server that accepts but never answers fails the connection after
    `connect_timeout_s` (libpq's connect_timeout), instead of hanging the caller.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": busy_ms / 1000, "check_same_thread": False}
        )
        _configure_sqlite(engine, busy_ms)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=pool_timeout,  # fail fast when the pool is exhausted
        pool_pre_ping=True,
        connect_args=(
            {"connect_timeout": max(1, int(connect_timeout_s))}
            if parsed.get_backend_name() == "postgresql"
            else {}
        ),
    )


def _configure_sqlite(engine: Engine, busy_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN itself (pysqlite's own is deferred only).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Erased records leave no readable remains in free pages, whatever SQLite's
        # build default (bulk.set_aside relaxes it for the board index alone).
        cursor.execute("PRAGMA secure_delete=ON")
        # A rescore rewrites every score row and its board-index entry; with SQLite's
        # default 2 MB cache those pages spill and are re-read.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        # Checkpoint the WAL every ~200 MB, not every 4 MB: each rescore chunk dirties
        # board-index pages all over the index, and checkpointing after every chunk
        # rewrote them again and again.
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def is_sqlite(engine: Engine) -> bool:
    """True when the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def writer(engine: Engine) -> Engine:
    """The same engine, opening write transactions (BEGIN IMMEDIATE on SQLite)."""
    return engine.execution_options(**{_WRITE_OPTION: True})


@contextmanager
def session_scope(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error, always close."""
    session = Session(writer(engine) if write else engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def engine_from_settings(settings: Settings) -> Engine:
    """The engine for the configured database (embedded SQLite when DATABASE_URL is unset)."""
    return make_engine(
        settings.effective_database_url,
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout,
        busy_ms=settings.sqlite_busy_timeout_ms,
        connect_timeout_s=settings.db_connect_timeout_s,
    )


def sql_true(bind: Connection | Engine) -> str:
    """The literal for TRUE in trusted raw SQL (SQLite's `1` matches the partial board index)."""
    return "1" if bind.dialect.name == "sqlite" else "TRUE"


def execute_many(conn: Connection, sql: str, rows: Iterable[Sequence[Any]]) -> None:
    """Trusted SQL once per row through the raw driver cursor (bulk writes, no ORM)."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def driver_datetime(conn: Connection, moment: datetime) -> Any:
    """A datetime as the raw driver cursor should receive it (it bypasses SQLAlchemy's types)."""
    return moment.strftime(SQLITE_DATETIME) if conn.dialect.name == "sqlite" else moment


def fetch_rows(conn: Connection, sql: str) -> list[tuple[Any, ...]]:
    """All rows of trusted SQL through the raw driver cursor (bulk reads, no Row objects)."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows
    finally:
        cursor.close()
