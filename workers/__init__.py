"""The Celery app: the `celery -A workers` target (worker and beat)."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_ready

from config.celery_config import celery_settings
from config.settings import load_settings
from tasking.broker import BrokerWatch, broker_url


def create_celery() -> Celery:
    """The Celery app configured from the environment (starts embedded Redis if needed)."""
    settings = load_settings()
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
