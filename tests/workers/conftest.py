"""Worker tests reuse the database fixtures of the service tests; the live fault fixtures.

The service tests themselves (runs, chunks, bulk runs, the sweep, what-if) are
in tests/tasking/: nothing there starts a broker or a worker.

The live tests (test_faults*.py) each get their own Redis server, real worker
processes (`crew`, killed at teardown) and a copy of a database holding a few
thousand generated cases and a new model version (`db`, tests/workers/livedb.py).
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasking.db import make_engine
from tests.support import start_or_skip
from tests.support.postgres import ThrowawayPostgres
from tests.support.redis import ThrowawayRedis
from tests.tasking.conftest import engine, password_hash, pg_template, sqlite_template

__all__ = ["engine", "password_hash", "pg_template", "sqlite_template"]

from tests.workers.live import Crew
from tests.workers.livedb import LiveDb, build_template

CASES = 30_000  # about 25,500 open: three chunks of a few tenths of a second each
PG_TEMPLATE = "tasking_live_template"
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def sqlite_live_template(tmp_path_factory: pytest.TempPathFactory, password_hash: str) -> Path:
    path = tmp_path_factory.mktemp("live") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    build_template(engine, cases=CASES, password_hash=password_hash)
    engine.dispose()  # checkpoints the WAL into the file before it is copied
    return path


@pytest.fixture(scope="session")
def pg_live_template(postgres_server: ThrowawayPostgres, password_hash: str) -> str:
    engine = make_engine(postgres_server.create_database(PG_TEMPLATE, replace=True))
    build_template(engine, cases=CASES, password_hash=password_hash)
    engine.dispose()
    return PG_TEMPLATE


@pytest.fixture(params=["sqlite"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveDb]:
    """A copy of the live template (SQLite unless the test parametrises `db` indirectly)."""
    if request.param == "sqlite":
        path = tmp_path / "tasking.db"
        shutil.copyfile(request.getfixturevalue("sqlite_live_template"), path)
        url = f"sqlite:///{path}"
        live = LiveDb(url=url, engine=make_engine(url), path=path)
        yield live
        live.engine.dispose()
        return
    server: ThrowawayPostgres = request.getfixturevalue("postgres_server")
    name = f"live_{next(_numbers)}"
    url = server.create_database(name, template=request.getfixturevalue("pg_live_template"))
    live = LiveDb(url=url, engine=make_engine(url))
    yield live
    live.engine.dispose()
    server.drop_database(name)


@pytest.fixture
def broker() -> Iterator[ThrowawayRedis]:
    """This test's own Redis server (append-only file on, fsync every second)."""
    server = start_or_skip(ThrowawayRedis())
    yield server
    server.close()


@pytest.fixture
def crew(tmp_path: Path) -> Iterator[Crew]:
    workers = Crew(tmp_path)
    try:
        yield workers
    finally:
        workers.kill()
        print(workers.tails())  # shown by pytest only when the test failed
