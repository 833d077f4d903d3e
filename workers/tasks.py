"""Thin, named, idempotent tasks: ids and primitives in, one service call, no results.

Business rules live in tasking.services.runs; these only translate between
Celery and the services: validate the message, retry transient database
errors with a jittered exponential backoff, record exhausted retries, and drop
what cannot succeed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import sqlite3
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import redis
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from config.settings import Settings, load_settings
from tasking import dispatch
from tasking.db import engine_from_settings
from tasking.models import RunKind, RunStatus
from tasking.services import runs, sweep, whatif
from tasking.services.errors import Invalid, NotFound

log = logging.getLogger(__name__)
# The bulk paths use the raw driver cursor, whose errors SQLAlchemy does not wrap.
TRANSIENT = (OperationalError, sqlite3.OperationalError, psycopg.OperationalError)
MAX_RETRIES = 5
RETRY_BACKOFF_MAX_S = 600.0
# A nightly trigger finding the lock held waits for it to expire, this many times more.
LOCK_RETRIES = 3
LONDON = ZoneInfo("Europe/London")
RUN_KINDS = {RunKind.RESCORE.value, RunKind.MODEL.value}


class BadMessage(ValueError):
    """A task message that can never succeed (logged and dropped, never retried)."""


@cache
def settings() -> Settings:
    """This worker process's settings (read once from the environment)."""
    return load_settings()


@cache
def engine() -> Engine:
    """This worker process's engine (created after the fork, on first use)."""
    return engine_from_settings(settings())


def positive_id(value: Any, name: str) -> int:
    """An id from a message, or BadMessage."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadMessage(f"{name} must be a positive integer, got {value!r}")
    return value


def backoff(retries: int) -> float:
    """Seconds before the next try: between half and all of 1, 2, 4, 8, 16 (x the setting).

    The doubling is TASKING_RETRY_BACKOFF_S x 2**retries, at most RETRY_BACKOFF_MAX_S
    (Celery's retry_backoff_max); the wait is drawn at random from its upper half
    ("equal jitter"), so chunks that failed together on one lock do not all try
    again together and fail together again.
    """
    ceiling = min(settings().retry_backoff_s * 2**retries, RETRY_BACKOFF_MAX_S)
    return round(random.uniform(ceiling / 2, ceiling), 3)


def fan_out(run_id: int) -> int:
    """Enqueue every chunk of a run (duplicates are harmless no-ops); returns how many."""
    ids = runs.chunk_ids(engine=engine(), run_id=run_id)
    for chunk_id in ids:
        rescore_chunk.delay(chunk_id)
    if not ids:
        runs.finish_if_complete(engine=engine(), run_id=run_id)
    return len(ids)


def _board_filter(value: Any) -> dict[str, Any] | None:
    """'all' or a JSON object of board filters (validated again by the service)."""
    if value == "all":
        return None
    try:
        parsed = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise BadMessage(f"board filter must be 'all' or a JSON object, got {value!r}")
    return parsed


@shared_task(name="scoring.rescore_queue", bind=True, max_retries=MAX_RETRIES)
def rescore_queue(
    self: Any, board_filter: Any = "all", reason: Any = "rescore", kind: Any = RunKind.RESCORE.value
) -> None:
    """Rescore a board's open cases ('all' or a filter): create a run, fan its chunks out."""
    try:
        if kind not in RUN_KINDS or not isinstance(reason, str):
            raise BadMessage(f"kind {kind!r} / reason {reason!r}")
        run = runs.start_run(
            engine=engine(), kind=kind, reason=reason[:60], task_id=self.request.id,
            board_filter=_board_filter(board_filter), chunk_size=settings().rescore_chunk_size,
            bulk_min=settings().bulk_rescore_min,
        )  # fmt: skip
    except (BadMessage, Invalid) as exc:
        log.error("rescore_queue: dropped malformed message: %s", exc)
        return
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
    if run is not None and run.id is not None and run.status == RunStatus.RUNNING:
        # A redelivered or re-sent message (outbox) gets its run again: chunks sent again.
        log.info("rescore run %s: %s chunks", run.id, fan_out(run.id))


@shared_task(name="scoring.rescore_chunk", bind=True, max_retries=MAX_RETRIES)
def rescore_chunk(self: Any, chunk_id: Any) -> None:
    """Rescore one id-range chunk of a run exactly once, then finish the run if it was the last."""
    try:
        chunk = positive_id(chunk_id, "chunk_id")
        run_id, stats = runs.run_chunk(
            engine=engine(),
            chunk_id=chunk,
            lock_timeout_ms=settings().chunk_lock_timeout_ms,
            statement_timeout_ms=settings().chunk_statement_timeout_ms,
        )
        if stats is not None:
            log.info("chunk %s: %s cases, %s changed", chunk, stats.cases, stats.changed)
        # Only the run's last chunk finishes it. Inside the try: if finishing fails
        # transiently the task is retried, and the retry (a no-op for the chunk, which
        # is done, so stats is None) tries to finish the run again.
        if stats is None or stats.completes_run:
            runs.finish_if_complete(engine=engine(), run_id=run_id)
    except (BadMessage, NotFound) as exc:
        log.error("rescore_chunk: dropped: %s", exc)
        return
    except (*TRANSIENT, SoftTimeLimitExceeded) as exc:
        final = self.request.retries >= self.max_retries
        noted = _record_failure(chunk_id, str(exc), final=final)
        if final:
            log.error("rescore_chunk %s: retries exhausted: %s", chunk_id, exc)
            if not noted:  # the run stays running with no message: the sweep finds it
                log.error("rescore_chunk %s: failure not recorded; left for the sweep", chunk_id)
            return
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc


def _record_failure(chunk_id: int, error: str, *, final: bool) -> bool:
    """Note a failed attempt, waiting briefly (the database may be what fails); True if noted."""
    try:
        runs.record_chunk_failure(engine=engine(), chunk_id=chunk_id, error=error, final=final)
    except TRANSIENT as exc:  # e.g. still locked: the retry must not be lost for want of a note
        log.warning("rescore_chunk %s: could not record the failure: %s", chunk_id, exc)
        return False
    return True


def _run_date(value: Any) -> date:
    if value is None:
        return datetime.now(LONDON).date()
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BadMessage(f"run_date must be YYYY-MM-DD, got {value!r}") from None


@shared_task(name="scoring.nightly_run", bind=True, max_retries=MAX_RETRIES)
def nightly_run(self: Any, run_date: Any = None) -> None:
    """Once per date: rescore every open case at today's age, snapshot ranks, list reviews."""
    try:
        day = _run_date(run_date)
    except BadMessage as exc:
        log.error("nightly_run: dropped: %s", exc)
        return
    # The lock stops two beats racing; the unique (kind, date) row makes it once per date.
    # It lasts no longer than the task may (the hard time limit): a trigger that finds it
    # held tries again once it has expired, as its holder may have died holding it (a
    # redelivered trigger must not be dropped for a dead worker's lock).
    key = f"tasking:nightly:{day.isoformat()}"
    with redis_client(self.app.conf.broker_url) as client:
        lock = client.lock(key, timeout=settings().task_time_limit_s, blocking=False)
        if not lock.acquire():
            # Soon (the holder usually lets go within seconds), then less often, never
            # later than the lock's expiry: a dead holder's lock is waited out.
            wait = min(max(1.0, client.pttl(key) / 1000 + 0.5), 2.0**self.request.retries)
            log.info(
                "nightly run %s: another trigger holds the lock; trying again in %.0f s", day, wait
            )
            raise self.retry(countdown=wait, max_retries=self.max_retries + LOCK_RETRIES)
        try:
            run = runs.start_run(
                engine=engine(), kind=RunKind.NIGHTLY.value, run_date=day,
                reason=f"nightly {day}", chunk_size=settings().rescore_chunk_size,
                bulk_min=settings().bulk_rescore_min, task_id=self.request.id,
            )  # fmt: skip
        except DBAPIError as exc:
            raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
        finally:
            with contextlib.suppress(redis.RedisError):  # expired meanwhile: nothing to release
                lock.release()
    if run is None or run.id is None or run.status != RunStatus.RUNNING:
        log.info("nightly run %s already exists; skipped", day)
        return
    # A redelivered trigger gets the run it started (same task id) and sends its chunks again.
    log.info("nightly run %s (%s): %s chunks", run.id, day, fan_out(run.id))


def redis_client(url: str) -> redis.Redis:
    """A Redis client that gives up within the broker timeouts instead of hanging."""
    seconds = settings().broker_timeout_s
    return redis.Redis.from_url(url, socket_connect_timeout=seconds, socket_timeout=seconds)


@shared_task(name="scoring.sweep_runs", bind=True, max_retries=MAX_RETRIES)
def sweep_runs(self: Any) -> None:
    """Find runs that stopped moving: finish, re-send their chunks, or fail them with a reason."""
    try:
        found = sweep.sweep_runs(
            engine=engine(), stall_s=settings().run_stall_s, give_up_s=settings().run_give_up_s
        )
        for run_id in found.finish:
            runs.finish_if_complete(engine=engine(), run_id=run_id)
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
    for run_id, chunk_ids in found.resend.items():
        for chunk_id in chunk_ids:
            rescore_chunk.delay(chunk_id)
        log.warning("run %s stalled: %s chunks sent again", run_id, len(chunk_ids))
    for run_id in found.failed:
        log.error("run %s failed: stalled past TASKING_RUN_GIVE_UP_S", run_id)


@shared_task(name="tasking.send_outbox", bind=True, max_retries=MAX_RETRIES)
def send_outbox(self: Any) -> None:
    """Send the outbox rows still unsent (their commit happened while the broker was away)."""
    try:
        sent, left = dispatch.send_outbox(engine())
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
    if sent or left:
        log.info("outbox: %s sent, %s still unsent", sent, left)


@shared_task(name="scoring.whatif_preview", bind=True, max_retries=MAX_RETRIES)
def whatif_preview(self: Any, model_version_id: Any) -> None:
    """Preview a stored model version over the whole board; writes no score, keeps a summary."""
    try:
        version_id = positive_id(model_version_id, "model_version_id")
        run = whatif.run_whatif(engine=engine(), model_version_id=version_id)
    except (BadMessage, NotFound) as exc:
        log.error("whatif_preview: dropped: %s", exc)
        return
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
    log.info("what-if run %s: %s band changes", run.id, run.band_changes)
