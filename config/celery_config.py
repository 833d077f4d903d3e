"""Celery configuration and the one beat schedule (pinned by tests/workers/test_config.py)."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from config.settings import Settings

# How often the beat sweeps for stalled runs and sends the outbox (seconds).
SWEEP_EVERY_S = 30.0


def celery_settings(settings: Settings, broker: str) -> dict[str, Any]:
    """Celery settings: late acks, no lost work, JSON only, results ignored."""
    return {
        "broker_url": broker,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            # Above the longest task, so a slow task is never handed to a second worker.
            "visibility_timeout": settings.visibility_timeout_s,
            # Sweep for a dead worker's unacked messages every second (kombu's default
            # of 10 s x a throttle of 10 leaves them waiting about 100 s).
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
            # A broker that accepts but never answers fails within seconds, not never.
            "socket_connect_timeout": settings.broker_timeout_s,
            "socket_timeout": settings.broker_timeout_s,
        },
        "broker_connection_timeout": settings.broker_timeout_s,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_ignore_result": True,
        "result_backend": None,
        "task_time_limit": settings.task_time_limit_s,
        "task_soft_time_limit": settings.task_soft_time_limit_s,
        "task_default_queue": "tasking",
        "task_routes": {"scoring.*": {"queue": "scoring"}},
        "worker_send_task_events": False,
        "timezone": "Europe/London",
        "enable_utc": True,
        # The beat keeps its schedule beside the rest of the instance (TASKING_INSTANCE).
        "beat_schedule_filename": str(settings.instance_path / "celerybeat-schedule"),
        "beat_schedule": {
            "nightly-rescore": {
                "task": "scoring.nightly_run",
                "schedule": crontab(hour=2, minute=0),
                "options": {"queue": "scoring"},
            },
            # Runs that stopped moving (lost messages, spent retries) are found again.
            "sweep-runs": {
                "task": "scoring.sweep_runs",
                "schedule": SWEEP_EVERY_S,
                "options": {"queue": "scoring", "expires": SWEEP_EVERY_S},
            },
            # Tasks committed while the broker was away (tasking/dispatch.py) are sent.
            "send-outbox": {
                "task": "tasking.send_outbox",
                "schedule": SWEEP_EVERY_S,
                "options": {"queue": "tasking", "expires": SWEEP_EVERY_S},
            },
        },
    }
