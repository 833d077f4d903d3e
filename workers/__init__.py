"""The Celery app: the `celery -A workers` target (worker and beat)."""

from __future__ import annotations

from celery import Celery

from config.celery_config import celery_settings
from config.settings import load_settings
from tasking.broker import broker_url


def create_celery() -> Celery:
    """The Celery app configured from the environment (starts embedded Redis if needed)."""
    settings = load_settings()
    celery = Celery("tasking")
    celery.conf.update(celery_settings(settings, broker_url(settings)))
    celery.autodiscover_tasks(["workers"], related_name="tasks", force=True)
    return celery


app = create_celery()

__all__ = ["app"]
