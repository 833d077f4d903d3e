"""docs/reliability.md C2-C5, with real processes: Celery workers, Redis, SQLite and PostgreSQL.

Each test starts its own Redis (tests.support.redis.ThrowawayRedis) and real
`celery -A workers worker` subprocesses (tests/workers/live.py) on a copy of
a database holding a few thousand generated cases and a new model version,
so every rescore changes every open case (tests/workers/livedb.py). Nothing
in production code is slowed down or hooked: a chunk is caught mid-way by
watching the database for its transaction, and faults are real signals,
real server restarts and real locks. Every wait is bounded; worker logs are
printed when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tasking.db import session_scope
from tasking.services.scores import publish_model_text
from tests.support import start_or_skip, wait_for
from tests.support.redis import ThrowawayRedis
from tests.workers.conftest import CASES
from tests.workers.live import ROOT, Crew, client_for, received, send_chunks, worker_env
from tests.workers.livedb import (
    MODEL_V3,
    WAIT,
    LiveDb,
    kill_mid_chunk,
    new_run,
    wait_finished,
)
from workers.tasks import MAX_RETRIES

pytestmark = pytest.mark.slow

CHUNK = 10_000


# --- C2: kill -9 mid-rescore ------------------------------------------------------------


@pytest.mark.parametrize(
    "db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_c2_killed_pool_child_chunk_redelivered_and_done_once(
    db: LiveDb, broker: ThrowawayRedis, crew: Crew, tmp_path: Path
) -> None:
    """kill -9 of the child running a chunk: the worker requeues it (reject_on_worker_lost).

    The visibility timeout is 60 s and every wait is shorter, so the redelivery
    can only come from the requeue on the lost worker, not from a restore.
    """
    env = worker_env(database_url=db.url, redis_url=broker.url, instance=tmp_path,
                     visibility_timeout=60, time_limit=30)  # fmt: skip
    worker = crew.start("w1", env)
    bands = db.bands()
    run_id, chunks = new_run(db, chunk=CHUNK)
    assert len(chunks) == 3
    with client_for(broker.url) as client:
        task_ids = send_chunks(client, chunks)
    kill_mid_chunk(db, run_id, worker.kill_child, crew)
    wait_finished(db, run_id, crew, timeout=30)
    assert worker.running
    assert crew.count(r"exited with 'signal 9 \(SIGKILL\)'") == 1
    assert [received(crew.workers, t) for t in task_ids] == [2, 1, 1]  # the first was killed
    db.assert_done_once(run_id, bands)


def test_c2_killed_whole_worker_message_restored_and_done_once(
    db: LiveDb, broker: ThrowawayRedis, crew: Crew, tmp_path: Path
) -> None:
    """kill -9 of the whole worker: the unacked message is restored after the visibility timeout."""
    env = worker_env(database_url=db.url, redis_url=broker.url, instance=tmp_path,
                     visibility_timeout=8, time_limit=7)  # fmt: skip
    first = crew.start("w1", env)
    bands = db.bands()
    run_id, chunks = new_run(db, chunk=CHUNK)
    with client_for(broker.url) as client:
        task_ids = send_chunks(client, chunks)
    kill_mid_chunk(db, run_id, first.kill, crew)
    assert not first.running
    with broker.client() as redis:  # the killed chunk's message waits out its visibility timeout
        unacked = [json.loads(raw)[0]["headers"]["id"] for raw in redis.hvals("unacked")]
    assert unacked == task_ids[:1]
    second = crew.start("w2", env)
    wait_finished(db, run_id, crew)
    assert [received([first], t) for t in task_ids] == [1, 0, 0]
    assert [received([second], t) for t in task_ids] == [1, 1, 1]
    db.assert_done_once(run_id, bands)


# --- C3: Redis restart with queued work -------------------------------------------------


@pytest.mark.parametrize(
    ("how", "appendfsync"), [("clean", "everysec"), ("kill", "always"), ("kill", "everysec")]
)
def test_c3_queued_work_survives_redis_restart(
    db: LiveDb, crew: Crew, tmp_path: Path, how: str, appendfsync: str
) -> None:
    server = start_or_skip(ThrowawayRedis(appendfsync=appendfsync))
    try:
        bands = db.bands()
        run_id, chunks = new_run(db, chunk=CHUNK)
        with client_for(server.url) as client:
            send_chunks(client, chunks)
        with server.client() as redis:
            assert redis.llen("scoring") == len(chunks)
        if appendfsync == "everysec" and how == "kill":
            time.sleep(1.1)  # everysec promises the file is at most one second behind
        server.stop(kill=how == "kill")
        server.start()
        with server.client() as redis:
            assert redis.llen("scoring") == len(chunks)
        env = worker_env(database_url=db.url, redis_url=server.url, instance=tmp_path)
        crew.start("w1", env)
        wait_finished(db, run_id, crew)
        db.assert_done_once(run_id, bands)
    finally:
        crew.kill()  # before the server goes, or they would keep retrying it
        server.close()


def test_c3_running_worker_resumes_after_redis_kill(db: LiveDb, crew: Crew, tmp_path: Path) -> None:
    server = start_or_skip(ThrowawayRedis(appendfsync="always"))
    try:
        env = worker_env(database_url=db.url, redis_url=server.url, instance=tmp_path)
        worker = crew.start("w1", env)
        server.stop(kill=True)
        wait_for(
            lambda: worker.count(r"Cannot connect to redis|Connection to broker lost") > 0,
            timeout=WAIT,
            what="the worker to notice the broker is gone",
            details=crew.tails,
        )
        # The worker's log says plainly that the operator's broker is gone.
        wait_for(
            lambda: worker.count(r"broker gone: REDIS_URL redis://127\.0\.0\.1:\d+/0 does not"),
            timeout=WAIT, what="the worker to say the broker is gone", details=crew.tails,
        )  # fmt: skip
        server.start()
        bands = db.bands()
        run_id, chunks = new_run(db, chunk=CHUNK)
        with client_for(server.url) as client:
            send_chunks(client, chunks)
        wait_finished(db, run_id, crew)
        assert worker.running
        db.assert_done_once(run_id, bands)
    finally:
        crew.kill()
        server.close()


# --- C4: one nightly run per date -------------------------------------------------------

SENDER = """
import sys, time
from tests.workers.live import celery_client
url, day, at = sys.argv[1], sys.argv[2], float(sys.argv[3])
client = celery_client(url)
while time.time() < at:
    time.sleep(0.001)
print(client.send_task("scoring.nightly_run", args=[day]).id)
client.close()
"""


def test_c4_double_nightly_trigger_gives_one_completed_run(
    db: LiveDb, broker: ThrowawayRedis, crew: Crew, tmp_path: Path
) -> None:
    """Two senders trigger the same date at the same moment, to two workers; then a third."""
    day = "2031-03-14"
    env = worker_env(database_url=db.url, redis_url=broker.url, instance=tmp_path)
    crew.start("w1", env)
    crew.start("w2", env)
    bands = db.bands()
    at = time.time() + 3.0  # both senders are connected by then
    argv = [sys.executable, "-c", SENDER, broker.url, day, str(at)]
    senders = [
        subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        outputs = [sender.communicate(timeout=WAIT) for sender in senders]
    finally:
        for sender in senders:
            if sender.poll() is None:
                sender.kill()
                sender.communicate()
    assert [s.returncode for s in senders] == [0, 0], outputs
    task_ids = [out.strip() for out, _ in outputs]

    def handled(ids: list[str]) -> bool:
        return all(crew.count(rf"nightly_run\[{t}\] succeeded") == 1 for t in ids)

    wait_for(lambda: handled(task_ids), timeout=WAIT, what="both triggers", details=crew.tails)
    runs = db.all("SELECT id, run_date FROM scoring_run")
    assert len(runs) == 1
    run_id, run_date = runs[0].id, runs[0].run_date
    assert str(run_date) == day
    wait_finished(db, run_id, crew)
    assert crew.count(rf"nightly run {run_id} \({day}\): 3 chunks") == 1
    assert crew.count(rf"nightly run {day}.*skipped") == 1
    with client_for(broker.url) as client:
        third = client.send_task("scoring.nightly_run", args=[day]).id
    wait_for(lambda: handled([third]), timeout=WAIT, what="the third trigger", details=crew.tails)
    assert crew.count(rf"nightly run {day} already exists; skipped") >= 1
    assert len(db.all("SELECT id FROM scoring_run")) == 1
    db.assert_done_once(run_id, bands)


# --- C5: retries ------------------------------------------------------------------------


def test_c5_sqlite_locked_is_retried_with_backoff_then_done_once(
    db: LiveDb, broker: ThrowawayRedis, crew: Crew, tmp_path: Path
) -> None:
    """Another connection holds the write lock longer than the busy timeout, then lets go."""
    assert db.path is not None
    env = worker_env(database_url=db.url, redis_url=broker.url, instance=tmp_path,
                     visibility_timeout=20, time_limit=15,
                     TASKING_SQLITE_BUSY_TIMEOUT_MS="300")  # fmt: skip
    crew.start("w1", env)
    bands = db.bands()
    run_id, chunks = new_run(db, chunk=CASES + 100)
    (chunk,) = chunks
    lock = db.engine.raw_connection()
    try:
        lock.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
        with client_for(broker.url) as client:
            (task_id,) = send_chunks(client, chunks)
        wait_for(
            lambda: len(crew.retry_waits(task_id)) == 2,
            timeout=WAIT, what="two failed attempts", details=crew.tails,
        )  # fmt: skip
    finally:
        lock.driver_connection.execute("ROLLBACK")  # type: ignore[union-attr]
        lock.close()
    wait_finished(db, run_id, crew)
    # Twice, each wait drawn from the upper half of 1 s then 2 s (jitter), then done.
    first, second = crew.retry_waits(task_id)
    assert 0.5 <= first <= 1.0
    assert 1.0 <= second <= 2.0
    assert crew.count(rf"\[{task_id}\] retry: Retry in [\d.]+s: OperationalError.*locked") == 2
    assert received(crew.workers, task_id) == 3
    # The failures could not be noted (the lock that failed the chunk also blocks the note):
    # the chunk row shows the one success only.
    db.assert_done_once(run_id, bands)
    (row,) = db.all("SELECT attempts, last_error FROM run_chunk WHERE id = :c", c=chunk)
    assert (row.attempts, row.last_error) == (1, "")


@pytest.mark.postgres
@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_c5_postgres_lock_timeout_retried_then_exhausted_retries_recorded(
    db: LiveDb, broker: ThrowawayRedis, crew: Crew, tmp_path: Path
) -> None:
    """A row lock outlasting the chunk's lock timeout fails its bulk update."""
    env = worker_env(database_url=db.url, redis_url=broker.url, instance=tmp_path,
                     visibility_timeout=20, time_limit=15,
                     TASKING_CHUNK_LOCK_TIMEOUT_MS="300")  # fmt: skip
    crew.start("w1", env)
    bands = db.bands()
    locked_case = min(bands)

    @contextlib.contextmanager
    def row_locked() -> Iterator[None]:
        with db.engine.connect() as conn, conn.begin():
            conn.exec_driver_sql(
                f"SELECT 1 FROM case_score WHERE case_id = {locked_case} FOR UPDATE"  # noqa: S608 - test SQL over fixed table and column names
            )
            yield

    def chunk_row(chunk_id: int) -> Any:
        return db.one("SELECT * FROM run_chunk WHERE id = :c", c=chunk_id)

    # A transient failure: noted on the chunk, retried, then done once when the lock is gone.
    run_id, (chunk,) = new_run(db, chunk=CASES + 100)
    with row_locked(), client_for(broker.url) as client:
        send_chunks(client, [chunk])
        failed = wait_for(
            lambda: (row := chunk_row(chunk)).attempts >= 1 and row,
            timeout=WAIT, what="a failed attempt noted on the chunk", details=crew.tails,
        )  # fmt: skip
        assert failed.done_at is None
        assert "lock timeout" in failed.last_error
        assert db.status(run_id) == "running"
    wait_finished(db, run_id, crew)
    db.assert_done_once(run_id, bands, attempts=None)
    row = chunk_row(chunk)
    assert row.done_at is not None
    assert row.attempts >= 2  # each failure noted, then the one success
    assert "lock timeout" in row.last_error

    # The last allowed try fails too: recorded on the chunk and the run, and not retried.
    with session_scope(db.engine) as session:
        publish_model_text(session=session, content=MODEL_V3)
    versions = db.all("SELECT case_id, score_version FROM case_score ORDER BY case_id")
    failed_run, (last_chunk,) = new_run(db, chunk=CASES + 100)
    with row_locked(), client_for(broker.url) as client:
        (last_task,) = send_chunks(client, [last_chunk], retries=MAX_RETRIES)
        wait_for(
            lambda: db.status(failed_run) == "failed",
            timeout=WAIT, what="the run to fail", details=crew.tails,
        )  # fmt: skip
        wait_for(
            lambda: crew.count(rf"\[{last_task}\] succeeded") == 1,
            timeout=WAIT, what="the task to end", details=crew.tails,
        )  # fmt: skip
    assert received(crew.workers, last_task) == 1
    row = chunk_row(last_chunk)  # one failed try noted, no retry
    assert (row.attempts, row.done_at) == (1, None)
    assert "lock timeout" in row.last_error
    run = db.run(failed_run)
    assert run.finished_at is not None
    assert run.error.startswith(f"chunk {last_chunk} (cases ")
    assert "retries exhausted" in run.error
    assert "lock timeout" in run.error
    # A late duplicate of the message finds the run over and changes nothing.
    with client_for(broker.url) as client:
        (again,) = send_chunks(client, [last_chunk])
    wait_for(
        lambda: crew.count(rf"\[{again}\] succeeded") == 1,
        timeout=WAIT, what="the duplicate", details=crew.tails,
    )  # fmt: skip
    assert db.all("SELECT case_id, score_version FROM case_score ORDER BY case_id") == versions
    assert db.status(failed_run) == "failed"


def test_c5_malformed_messages_are_dropped_not_retried(
    db: LiveDb, broker: ThrowawayRedis, crew: Crew, tmp_path: Path
) -> None:
    env = worker_env(database_url=db.url, redis_url=broker.url, instance=tmp_path)
    worker = crew.start("w1", env)
    bands = db.bands()
    run_id, chunks = new_run(db, chunk=CHUNK)
    bad = [
        ("scoring.rescore_chunk", ["abc"]),
        ("scoring.rescore_chunk", [-1]),
        ("scoring.rescore_chunk", [999_999]),
        ("scoring.rescore_chunk", [None]),
        ("scoring.nightly_run", ["2031-13-45"]),
        ("scoring.rescore_queue", ["x", "no-such-kind"]),
    ]
    with client_for(broker.url) as client:
        bad_ids = [client.send_task(name, args=args).id for name, args in bad]
        send_chunks(client, chunks)
    wait_finished(db, run_id, crew)
    wait_for(
        lambda: all(crew.count(rf"\[{t}\] succeeded") == 1 for t in bad_ids),
        timeout=WAIT, what="every malformed message to be handled", details=crew.tails,
    )  # fmt: skip
    assert [received(crew.workers, t) for t in bad_ids] == [1] * len(bad)
    assert crew.count(r"rescore_chunk: dropped: chunk_id must be a positive integer") == 3
    assert crew.count(r"rescore_chunk: dropped: no run chunk 999999") == 1
    assert crew.count(r"nightly_run: dropped: run_date must be YYYY-MM-DD") == 1
    assert crew.count(r"rescore_queue: dropped malformed message") == 1
    assert crew.count(r"retry:") == 0
    assert worker.running
    db.assert_done_once(run_id, bands)
