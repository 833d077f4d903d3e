"""Celery configuration and the one beat schedule (pinned by tests/workers/test_config.py)."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from config.settings import Settings


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
        },
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
        "beat_schedule": {
            "nightly-rescore": {
                "task": "scoring.nightly_run",
                "schedule": crontab(hour=2, minute=0),
                "options": {"queue": "scoring"},
            },
        },
    }
