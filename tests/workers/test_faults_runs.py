"""No run lost, stuck or half-done (issue 10), with real workers, Redis and SQLite.

Each test reproduces one fault of the issue with real processes and short
timings (task limit, visibility timeout, busy timeout, retry backoff and
stall time come from the environment): a worker killed while it holds the
nightly lock; retries spent while the failure cannot be recorded; a model
published while the broker is down; the embedded Redis killed under a
running worker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from tasking.cli import main
from tasking.db import session_scope
from tasking.services import bulk
from tasking.services.runs import chunk_ids, start_run
from tasking.services.scores import store_model_text
from tests.support import free_port, wait_for
from tests.support.redis import ThrowawayRedis
from tests.workers.conftest import CASES
from tests.workers.live import Crew, client_for, send_chunks, worker_env
from tests.workers.livedb import MODEL_V3, WAIT, LiveDb, new_run, wait_finished

pytestmark = pytest.mark.slow


def has_index(db: LiveDb) -> bool:
    with db.engine.connect() as conn:
        return bulk.has_board_index(conn)


@contextlib.contextmanager
def write_locked(db: LiveDb):  # type: ignore[no-untyped-def]
    """Another process's connection holding SQLite's write lock for the block."""
    assert db.path is not None
    holder = sqlite3.connect(db.path, timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_worker_killed_holding_the_nightly_lock_loses_no_night(
    db: LiveDb, broker: ThrowawayRedis, crew: Crew, tmp_path: Path
) -> None:
    """Finding 1: the redelivered trigger must not be dropped for a dead worker's lock."""
    day = "2031-04-01"
    env = worker_env(database_url=db.url, redis_url=broker.url, instance=tmp_path,
                     visibility_timeout=8, time_limit=7,
                     TASKING_SQLITE_BUSY_TIMEOUT_MS="60000")  # fmt: skip
    first = crew.start("w1", env)
    bands = db.bands()
    with write_locked(db):  # the trigger waits for it in start_run, holding the Redis lock
        with client_for(broker.url) as client:
            client.send_task("scoring.nightly_run", args=[day])
        with broker.client() as redis:
            wait_for(
                lambda: redis.exists(f"tasking:nightly:{day}"),
                timeout=WAIT, what="the trigger to hold the nightly lock", details=crew.tails,
            )  # fmt: skip
        first.kill()
    assert db.all("SELECT id FROM scoring_run") == []
    crew.start("w2", env)  # the trigger comes back after the visibility timeout
    wait_for(
        lambda: db.all("SELECT id FROM scoring_run WHERE kind = 'nightly'"),
        timeout=WAIT, what="the night's run to start", details=crew.tails,
    )  # fmt: skip
    ((run_id, run_date),) = db.all("SELECT id, run_date FROM scoring_run")
    assert str(run_date) == day
    wait_finished(db, run_id, crew)
    assert crew.count(rf"nightly run {day}.*skipped") == 0
    db.assert_done_once(run_id, bands)


def test_spent_retries_with_the_failure_unrecorded_are_swept_and_the_run_completes(
    db: LiveDb, broker: ThrowawayRedis, crew: Crew, tmp_path: Path
) -> None:
    """Finding 2: a long-held SQLite lock outlasts every retry and the failure note."""
    env = worker_env(database_url=db.url, redis_url=broker.url, instance=tmp_path,
                     visibility_timeout=20, time_limit=15,
                     TASKING_SQLITE_BUSY_TIMEOUT_MS="200", TASKING_RETRY_BACKOFF_S="0.05",
                     TASKING_RUN_STALL_S="1")  # fmt: skip
    crew.start("w1", env)
    bands = db.bands()
    run = start_run(engine=db.engine, kind="rescore", reason="live test",
                    chunk_size=CASES + 100, bulk_min=1)  # fmt: skip
    assert run is not None
    assert run.id is not None
    assert run.bulk
    assert not has_index(db)
    (chunk,) = chunk_ids(engine=db.engine, run_id=run.id)
    with write_locked(db):
        with client_for(broker.url) as client:
            send_chunks(client, [chunk])
        wait_for(
            lambda: crew.count(rf"rescore_chunk {chunk}: failure not recorded; left for the sweep"),
            timeout=WAIT, what="the retries to be spent", details=crew.tails,
        )  # fmt: skip
    assert crew.count(rf"rescore_chunk {chunk}: retries exhausted") == 1
    assert db.status(run.id) == "running"  # no message left, and nothing noted
    assert db.one("SELECT attempts FROM run_chunk WHERE id = :c", c=chunk)[0] == 0
    with client_for(broker.url) as client:  # what the beat sends every half minute
        client.send_task("scoring.sweep_runs")
    wait_finished(db, run.id, crew)
    # The sweep found it stalled and sent its chunk again (done once on that try: attempts 1).
    assert db.run(run.id).swept_at is not None
    assert has_index(db)
    db.assert_done_once(run.id, bands)


def test_publish_with_the_broker_down_keeps_its_rescore_and_runs_it_later(
    db: LiveDb, broker: ThrowawayRedis, crew: Crew, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Finding 3: the model and its rescore commit together; the rescore is sent later."""
    with session_scope(db.engine) as session:
        version = store_model_text(session=session, content=MODEL_V3)
        version_id, label = version.id, version.label
    for name in [k for k in os.environ if k.startswith("TASKING_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("TASKING_INSTANCE", str(tmp_path))
    monkeypatch.setenv("TASKING_BROKER_TIMEOUT_S", "1")
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nobody listens
    runner = CliRunner()
    published = runner.invoke(main, ["model", "publish", str(version_id), "--admin", "admin"])
    assert published.exit_code == 0, published.output
    assert f"{label} is now current" in published.output
    assert "warning: the broker did not take the rescore" in published.output
    listing = runner.invoke(main, ["runs"])
    assert listing.exit_code == 0, listing.output
    assert "! not yet sent: scoring.rescore_queue" in listing.output
    assert f"! model {label} is current but" in listing.output

    env = worker_env(database_url=db.url, redis_url=broker.url, instance=tmp_path)
    crew.start("w1", env)
    with client_for(broker.url) as client:  # what the beat sends every half minute
        client.send_task("tasking.send_outbox")
    wait_for(
        lambda: db.all("SELECT id FROM scoring_run WHERE kind = 'model' AND status = 'completed'"),
        timeout=WAIT, what="the model's rescore to complete", details=crew.tails,
    )  # fmt: skip
    stale = "SELECT count(*) FROM case_score WHERE on_board = :t AND model_version_id != :v"
    assert db.one(stale, t=True, v=version_id)[0] == 0
    monkeypatch.setenv("REDIS_URL", broker.url)
    after = runner.invoke(main, ["runs"])
    assert after.exit_code == 0, after.output
    assert "!" not in after.output


def test_embedded_redis_killed_under_a_worker_is_restarted_and_work_resumes(
    db: LiveDb, crew: Crew, tmp_path: Path
) -> None:
    """Finding 5: whoever started the embedded Redis (the worker) restarts it."""
    port = free_port()
    env = worker_env(database_url=db.url, redis_url="", instance=tmp_path,
                     TASKING_REDIS_PORT=str(port))  # fmt: skip
    pidfile = tmp_path / "redis" / "redis.pid"
    try:
        worker = crew.start("w1", env)
        os.kill(int(pidfile.read_text()), signal.SIGKILL)
        wait_for(
            lambda: worker.count(r"embedded Redis restarted"),
            timeout=WAIT, what="the worker to restart its Redis", details=crew.tails,
        )  # fmt: skip
        assert worker.count(r"broker gone: the embedded Redis does not answer") >= 1
        bands = db.bands()
        run_id, chunks = new_run(db, chunk=10_000)
        with client_for(f"redis://127.0.0.1:{port}/0") as client:
            send_chunks(client, chunks)
        wait_finished(db, run_id, crew)
        assert worker.running
        db.assert_done_once(run_id, bands)
    finally:
        crew.kill()
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
