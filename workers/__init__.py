"""The Celery app: the `celery -A workers` target (worker and beat).

A setting that cannot work stops the worker or beat before it starts, with one
line on stderr naming the environment variable (exit status 3), not a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

from celery import Celery
from celery.signals import worker_ready

from config.celery_config import celery_settings
from config.settings import Settings, SettingsError, load_settings
from tasking.broker import BrokerWatch, broker_url


def settings_or_exit() -> Settings:
    """The environment's settings, or one line on stderr and exit status 3."""
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"tasking worker: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(3) from None


def create_celery() -> Celery:
    """The Celery app configured from the environment (starts embedded Redis if needed)."""
    settings = settings_or_exit()
    settings.instance_path.mkdir(parents=True, exist_ok=True)  # the beat's schedule lives there
    celery = Celery("tasking")
    celery.conf.update(celery_settings(settings, broker_url(settings)))
    celery.autodiscover_tasks(["workers"], related_name="tasks", force=True)
    return celery


def watch_broker(**_kwargs: Any) -> None:
    """In the worker's main process: log when the broker goes (and restart an embedded one)."""
    BrokerWatch(load_settings()).start()


worker_ready.connect(watch_broker, weak=False)


app = create_celery()

__all__ = ["app"]
