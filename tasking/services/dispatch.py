"""Sending work to the Celery workers, only once the transaction that makes it visible commits.

Tasks are sent by name through a small client app configured like the
workers, so the web app and the CLI never import the workers package.
Messages carry ids and short codes only: never free text or personal data.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from celery import Celery
from sqlalchemy import event
from sqlmodel import Session

from config.celery_config import celery_settings
from config.settings import load_settings
from tasking.broker import broker_url


@cache
def _client(url: str) -> Celery:
    client = Celery("tasking-client")
    client.conf.update(celery_settings(load_settings(), url))
    return client


def send(task_name: str, *args: int | str) -> None:
    """Send a task now (ids and short codes only)."""
    _client(broker_url(load_settings())).send_task(task_name, args=list(args))


def enqueue_after_commit(session: Session, task_name: str, *args: int | str) -> None:
    """Send the task when the session's current transaction commits; never on rollback."""

    def _send(_session: Any) -> None:
        send(task_name, *args)

    event.listen(session, "after_commit", _send, once=True)
